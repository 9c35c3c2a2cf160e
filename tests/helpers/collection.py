"""Install the collection under test the way a user gets it, or check a core's version (ansible-compat).

    python collection.py REPO install DEST      build from galaxy.yml (build_ignore applies), install into DEST
    python collection.py REPO check LOWER UPPER  ansible-core within [LOWER, UPPER) and allowed by requires_ansible

Run with the interpreter of an ansible-core line's venv (it needs ansible-compat).
Why not Runtime.prepare_environment(install_local=True): it always installs into
<project>/.ansible/collections; we want trees under .cache/ and call the same primitive it uses
(install_collection_from_disk) with our destination. The Python requirements are pip's job.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml
from ansible_compat.runtime import Runtime
from packaging.specifiers import SpecifierSet


def main(repo, action, *args):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_COLLECTIONS_PATH")}
    runtime = Runtime(Path(repo), isolated=True, environ=environ)
    if action == "install":
        runtime.install_collection_from_disk(Path(repo), destination=Path(args[0]))
        version, path = runtime.require_collection("cfpages.cloudflare", install=False)
        print(f"installed cfpages.cloudflare {version} into {path}")
    elif action == "check":
        lower, upper = args
        requires = yaml.safe_load((Path(repo) / "meta" / "runtime.yml").read_text())["requires_ansible"]
        if not runtime.version_in_range(lower=lower, upper=upper):
            sys.exit(f"ansible-core {runtime.version} is not in [{lower}, {upper})")
        # prereleases=True: 2.22.0rc1 is in ">=2.16.0" (a pre-release of a version the range allows)
        if not SpecifierSet(requires, prereleases=True).contains(str(runtime.version)):
            sys.exit(f"ansible-core {runtime.version} is outside requires_ansible {requires!r}")
        print(f"ansible-core {runtime.version}: in [{lower}, {upper}), allowed by requires_ansible {requires!r}")
    else:
        sys.exit(f"unknown action {action!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
