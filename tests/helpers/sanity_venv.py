"""ansible-test's pylint environment from PyPI, for a line whose pylint requirements name a URL.

ansible-test sanity runs pylint in a virtual environment of its own making,
~/.ansible/test/venv/sanity.pylint/<python>/<hash of its pip commands>, and reuses the one found
there when its marker.txt exists (with --local too: pylint is a single-version sanity test, which
always runs in that environment). ansible-core 2.22.0rc1's pylint requirements pin dill to a GitHub
archive ("needed until dill released with 3.15 support", ansible_test/_data/requirements/
sanity.pylint.in), which this network cannot fetch, so ansible-test cannot build that environment.

prepare_pylint_venv builds it where ansible-test will look (the hash from ansible-test's own
functions), from PyPI: every pin exactly as ansible-test's requirements list it, and each URL
requirement replaced by the newest release of the same package (dill 0.4.1, which supports the
Python the line runs on; only Python 3.15 needs the unreleased commit). ansible-test then runs its
own pylint test, its configuration and checkers unchanged. When the requirements name no URL (a
later 2.22 once dill is released) nothing is done and ansible-test builds its environment itself.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import environments as envs

# Run in the line's venv, in the collection tree: the path ansible-test keys the environment by,
# and the pip commands it would run there.
PROBE = """
import json, os, sys, types
from ansible_test._internal.commands.sanity import hash_pip_commands
from ansible_test._internal.python_requirements import collect_requirements
python = types.SimpleNamespace(version=sys.argv[1])
commands = collect_requirements(python=python, controller=True, command=None, ansible=False, coverage=False,
                                minimize=False, sanity="pylint")
print(json.dumps({"path": os.path.join(os.path.expanduser("~/.ansible/test/venv"), "sanity.pylint", sys.argv[1],
                                       hash_pip_commands(commands)),
                  "commands": [command.serialize() for command in commands]}))
"""
URL_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*@\s*\S+.*$", re.M)


def requirements_file(line_python):
    """ansible-test's pylint requirements in the venv of line_python."""
    found = sorted(Path(line_python).parent.parent.glob(
        "lib/python*/site-packages/ansible_test/_data/requirements/sanity.pylint.txt"))
    return found[0] if found else None


def prepare_pylint_venv(line_python, base_python, version, env, cwd, out):
    """Build ansible-test's pylint environment under env["HOME"] from PyPI when its requirements
    name a URL; return a note for the summary (None when ansible-test builds it itself)."""
    reqs = requirements_file(line_python)
    if not reqs or not URL_REQUIREMENT.search(reqs.read_text()):
        return None
    probe = subprocess.run([str(line_python), "-c", PROBE, version], env=env, cwd=cwd, capture_output=True,
                           text=True, check=False)
    if probe.returncode:
        raise envs.SetupError("cannot compute ansible-test's pylint environment: " + probe.stderr.strip()[-400:])
    plan = json.loads(probe.stdout)
    venv = Path(plan["path"])
    installs = [c[1] for c in plan["commands"] if c[0] == "install"]
    text = "".join(body for install in installs for _name, body in install["requirements"])
    pypi_text = URL_REQUIREMENT.sub(r"\1  # was a URL; the newest PyPI release (tests/helpers/sanity_venv.py)", text)
    replaced = URL_REQUIREMENT.findall(text)
    note = "pylint: " + ", ".join(replaced) + " from PyPI"
    if (venv / "marker.txt").is_file():
        print(f"ansible-test pylint environment {venv}: ready ({note})", file=out, flush=True)
        return note
    print(f"ansible-test pylint environment {venv}: building, {note} instead of a URL", file=out, flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(base_python), "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip_env = envs.pip_env()
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    bootstrap = [c[1] for c in plan["commands"] if c[0] == "bootstrap"]
    if bootstrap:
        envs.quiet_pip([*pip, *bootstrap[0]["packages"]], pip_env, out)
    (venv / "requirements.txt").write_text(pypi_text)
    envs.quiet_pip([*pip, "-r", venv / "requirements.txt"], pip_env, out)
    envs.quiet_pip([py, "-m", "pip", "check"], pip_env, out)
    frozen = subprocess.run([str(py), "-m", "pip", "freeze", "--disable-pip-version-check"], env=pip_env,
                            capture_output=True, text=True, check=True).stdout
    print("installed: " + " ".join(frozen.split()), file=out)
    for uninstall in (c[1] for c in plan["commands"] if c[0] == "uninstall"):
        envs.quiet_pip([py, "-m", "pip", "uninstall", "-y", "-q", *uninstall["packages"]], pip_env, out)
    # What ansible-test records beside a environment it built: the commands, and whether PyYAML has libyaml.
    (venv / "meta.install.json").write_text(json.dumps(plan["commands"], indent=4))
    libyaml = subprocess.run([str(py), "-c", "import json, yaml; print(json.dumps(yaml.__with_libyaml__))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (venv / "meta.yaml.json").write_text(libyaml)
    (venv / "marker.txt").touch()
    return note
