# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the EXAMPLES of the collection's modules with ansible-playbook against the emulator.

usage: run_examples.py --config INTEGRATION_CONFIG [-v...] [MODULE ...]

Modules: the arguments, else $CFPAGES_EXAMPLE_MODULES (space separated), else every module of
cfpages.cloudflare that ansible-doc lists. For each module, in a fresh temporary directory and
after POST /__emulator/reset:

1. EXAMPLES is read with ``ansible-doc -j`` (the installed collection, as users see it). It may be
   a list of tasks (wrapped in one play on localhost) or a list of plays (their ``hosts`` become
   localhost, fact gathering is turned off).
2. Credentials are substituted, never edited into the examples: every play gets
   ``module_defaults: group/cfpages.cloudflare.pages`` with the emulator's ``api_base_url``,
   ``api_token`` and ``account_id`` (keys a play sets itself are kept), the variables examples use
   for credentials (``cloudflare_api_token``, ``cloudflare_account_id``, ``cloudflare_api_base_url``,
   ``cloudflare_api_email``, ``cloudflare_api_key``) are extra vars, and the CLOUDFLARE_* environment
   variables are set for the modules' fallbacks.
3. Per-module fixtures, all optional, next to this script:
   ``vars/<module>.yml``   extra vars the examples refer to (e.g. a vault variable, a site dir);
   ``setup/<module>.yml``  tasks run first, in a play with the same credentials (e.g. create the
                           project the examples act on);
   ``files/<module>/``     copied into the working directory (e.g. a small site to deploy).
4. ansible-playbook runs the whole thing once; any failed task fails the module.

A summary lists each module as passed/failed; the exit status is non-zero when any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import yaml

COLLECTION = "cfpages.cloudflare"
GROUP = "group/%s.pages" % COLLECTION
HERE = os.path.dirname(os.path.abspath(__file__))


def ansible_doc(*args):
    out = subprocess.run(["ansible-doc", *args], check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def all_modules():
    listed = ansible_doc("-t", "module", "-l", "-j", COLLECTION)
    return sorted(name.split(".")[-1] for name in listed)


def examples_of(module):
    doc = ansible_doc("-t", "module", "-j", "%s.%s" % (COLLECTION, module))
    text = doc["%s.%s" % (COLLECTION, module)].get("examples") or ""
    data = yaml.safe_load(text)
    if not data:
        raise ValueError("%s has no EXAMPLES" % module)
    if not isinstance(data, list):
        raise ValueError("%s: EXAMPLES is not a list of tasks or plays" % module)
    return data


def credentials_defaults(config):
    return {
        "api_base_url": config["cfpages_api_base_url"],
        "api_token": config["cfpages_api_token"],
        "account_id": config["cfpages_account_id"],
    }


def with_credentials(play, config):
    play = dict(play)
    play["hosts"] = "localhost"
    play["gather_facts"] = False
    defaults = dict(play.get("module_defaults") or {})
    group = dict(credentials_defaults(config))
    group.update(defaults.get(GROUP) or {})
    defaults[GROUP] = group
    play["module_defaults"] = defaults
    return play


def build_playbook(module, examples, config):
    setup_tasks = [
        {
            "name": "Reset the emulator",
            "ansible.builtin.uri": {"url": config["cfpages_emulator_url"] + "/__emulator/reset", "method": "POST"},
        }
    ]
    setup_file = os.path.join(HERE, "setup", module + ".yml")
    if os.path.exists(setup_file):
        setup_tasks.append({"name": "Fixtures for the examples", "ansible.builtin.include_tasks": setup_file})
    plays = [with_credentials({"name": "Prepare the examples of %s" % module, "tasks": setup_tasks}, config)]
    if all(isinstance(item, dict) and ("hosts" in item or "import_playbook" in item) for item in examples):
        for play in examples:
            if "import_playbook" in play:
                raise ValueError("%s: EXAMPLES imports a playbook; keep examples self-contained" % module)
            plays.append(with_credentials(play, config))
    else:
        plays.append(with_credentials({"name": "EXAMPLES of %s" % module, "tasks": examples}, config))
    return plays


def extra_vars(module, config):
    values = {
        "cloudflare_api_token": config["cfpages_api_token"],
        "cloudflare_account_id": config["cfpages_account_id"],
        "cloudflare_api_base_url": config["cfpages_api_base_url"],
        "cloudflare_api_email": config.get("cfpages_api_email"),
        "cloudflare_api_key": config.get("cfpages_api_key"),
    }
    values.update({k: v for k, v in config.items() if k.startswith("cfpages_")})
    # The integration targets' directory: a setup may reuse another target's fixture instead of a copy.
    values["module_examples_targets_dir"] = os.path.dirname(HERE)
    vars_file = os.path.join(HERE, "vars", module + ".yml")
    if os.path.exists(vars_file):
        with open(vars_file) as handle:
            values.update(yaml.safe_load(handle) or {})
    return values


def run_module_examples(module, config, verbosity):
    work = tempfile.mkdtemp(prefix="examples-%s-" % module)
    try:
        files = os.path.join(HERE, "files", module)
        if os.path.isdir(files):
            shutil.copytree(files, work, dirs_exist_ok=True)
        playbook = os.path.join(work, "examples-%s.yml" % module)
        with open(playbook, "w") as handle:
            yaml.safe_dump(build_playbook(module, examples_of(module), config), handle, sort_keys=False)
        variables = os.path.join(work, "examples-vars.yml")
        with open(variables, "w") as handle:
            yaml.safe_dump(extra_vars(module, config), handle)
        env = dict(os.environ)
        env.update(
            CLOUDFLARE_API_BASE_URL=config["cfpages_api_base_url"],
            CLOUDFLARE_API_TOKEN=config["cfpages_api_token"],
            CLOUDFLARE_ACCOUNT_ID=config["cfpages_account_id"],
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        )
        cmd = ["ansible-playbook", playbook, "-e", "@" + variables] + verbosity
        print("\n=== EXAMPLES of %s.%s" % (COLLECTION, module), flush=True)
        return subprocess.run(cmd, cwd=work, env=env, check=False).returncode == 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--config", required=True, help="integration_config.yml written by tests/run.sh")
    parser.add_argument("-v", dest="verbose", action="count", default=0)
    parser.add_argument("modules", nargs="*")
    args, unknown = parser.parse_known_args()
    verbosity = ["-" + "v" * args.verbose] if args.verbose else []
    # ansible-test passes -vv as one argument; argparse reads it as -v -v. Anything else is an error.
    if unknown:
        parser.error("unknown arguments: %s" % " ".join(unknown))
    with open(args.config) as handle:
        config = yaml.safe_load(handle)
    modules = args.modules or os.environ.get("CFPAGES_EXAMPLE_MODULES", "").split() or all_modules()
    urllib.request.urlopen(config["cfpages_emulator_url"] + "/__emulator/health", timeout=10).close()

    results = {}
    for module in modules:
        try:
            results[module] = run_module_examples(module, config, verbosity)
        except (ValueError, KeyError, subprocess.CalledProcessError, yaml.YAMLError) as exc:
            print("ERROR: %s: %s" % (module, exc), flush=True)
            results[module] = False
    print("\n=== EXAMPLES summary")
    for module, passed in results.items():
        print("%-20s %s" % (module, "passed" if passed else "FAILED"))
    return 0 if results and all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
