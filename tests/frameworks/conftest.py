"""Fixtures of the frameworks stage (tests/run.sh frameworks; the noxfile's frameworks session runs it).

``lane``       the toolchain (node binary, wrangler executable) of this run: apps.lane_from_env().
``emu``        ONE emulator running workerd for the whole run (tests/helpers/emulator.py, random
               credentials); both tools deploy to it.
``deployed``   per app (module scope, parametrized over apps.APPS or CFPAGES_FRAMEWORKS_APPS): the
               app built, its two projects made by pages_project, deployed once with
               pages_deployment through ansible-playbook and once with ``wrangler pages deploy``.

The collection is the one ansible-galaxy installed for the 2.21 line (CFPAGES_COLLECTIONS, the
directory holding ansible_collections/); ansible-playbook is the one beside this interpreter.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "helpers"))
sys.path.insert(0, str(HERE))
import apps  # noqa: E402
import emulator  # noqa: E402  (the one emulator launcher)

COLLECTIONS = Path(os.environ.get("CFPAGES_COLLECTIONS", REPO / ".cache" / "collections")).resolve()
PLAYBOOK = HERE / "deploy.yml"
OUTPUT = REPO / "tests" / "output" / "frameworks"


def pytest_generate_tests(metafunc):
    if "app" in metafunc.fixturenames:
        names = os.environ.get("CFPAGES_FRAMEWORKS_APPS", "").split() or list(apps.APPS)
        unknown = [n for n in names if n not in apps.APPS]
        if unknown:
            raise pytest.UsageError(f"CFPAGES_FRAMEWORKS_APPS: unknown app(s) {unknown} (known: {list(apps.APPS)})")
        metafunc.parametrize("app", [apps.APPS[n] for n in names], ids=names, scope="module")


@pytest.fixture(scope="session")
def lane():
    lane = apps.lane_from_env()
    if not lane.wrangler.exists():
        pytest.fail(f"wrangler not found at {lane.wrangler} (tests/run.sh prepares tests/emulator/node_modules)")
    return lane


class Emu:
    def __init__(self, info):
        self.info = info
        self.base_url = info["base_url"]
        self.root_url = info["root_url"]
        self.token = info["token"]
        self.account = info["account"]

    def api(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        return requests.request(method, self.base_url + path.replace("{a}", self.account),
                                headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def request(self, host, req):
        """One request to a deployed site by Host header; redirects are not followed (they are compared)."""
        return requests.request(req.method, self.root_url + req.path, headers={"Host": host},
                                json=req.json_body, allow_redirects=False, timeout=60)


@pytest.fixture(scope="session")
def emu():
    token = secrets.token_urlsafe(30).replace("-", "A").replace("_", "B")
    account = secrets.token_hex(16)
    run = Path(tempfile.mkdtemp(prefix="cfpages-frameworks-"))
    info = emulator.start(run / "emulator.json", run / "data",
                          ["--token", f"{token}={account}", "--build-seconds", "0.5", "--domain-seconds", "0.5"],
                          python=os.environ.get("CFPAGES_EMULATOR_PYTHON") or sys.executable)
    health = requests.get(info["root_url"] + "/__emulator/health", timeout=10).json()
    try:
        if not (health.get("workers") or {}).get("executed"):
            pytest.fail(f"the emulator does not run workers: {health.get('workers')}")
        yield Emu(info)
    finally:
        emulator.stop(run / "emulator.json")


@dataclass
class Deployed:
    app: apps.App
    lane: apps.Lane
    work: Path
    output: Path
    ours_project: str
    wrangler_project: str
    first_run: dict            # what the playbook's first run registered
    run_playbook: object       # run_playbook() -> what a run registered
    wrangler_output: str
    timings: dict

    def host(self, which):
        return f"{self.ours_project if which == 'ours' else self.wrangler_project}.pages.dev"


def _tool_env(lane, emu, home, **extra):
    """Environment for ansible-playbook and wrangler: the lane's node first on PATH, this emulator's
    credentials, a private HOME (no developer config, no hash cache left behind), no telemetry."""
    return lane.env(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
        CLOUDFLARE_API_BASE_URL=emu.base_url, CLOUDFLARE_API_TOKEN=emu.token, CLOUDFLARE_ACCOUNT_ID=emu.account,
        WRANGLER_SEND_METRICS="false", WRANGLER_SEND_ERROR_REPORTS="false", WRANGLER_HIDE_BANNER="true", CI="true",
        **extra)


@pytest.fixture(scope="module")
def deployed(app, lane, emu, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(app.name)
    home = tmp / "home"
    (home / ".config").mkdir(parents=True)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / f"{lane.name}-{app.name}-build.log"
    log.write_text("")
    timings = {}
    start = time.monotonic()
    try:
        work, output, installed = apps.build(app, lane, log)
    except apps.BuildError as err:
        pytest.fail(str(err))
    timings["build"] = time.monotonic() - start
    timings["npm ci"] = installed
    ours, theirs = f"fw-{app.name}-ours", f"fw-{app.name}-wrangler"
    functions = str(work / app.functions) if app.functions else ""
    env = _tool_env(lane, emu, home, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_LOCALHOST_WARNING="false",
                    ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1",
                    PATH=f"{Path(sys.executable).parent}{os.pathsep}{lane.env()['PATH']}")
    runs = []

    def run_playbook():
        result = tmp / f"run{len(runs) + 1}.json"
        extra = {"fw_projects": [ours, theirs], "fw_deploy_project": ours, "fw_source": str(output),
                 "fw_functions_dir": functions, "fw_wrangler": str(lane.wrangler), "fw_result": str(result),
                 "fw_compatibility_date": apps.COMPATIBILITY_DATE,
                 "fw_compatibility_flags": list(app.compatibility_flags),
                 "ansible_python_interpreter": sys.executable}
        (tmp / "vars.json").write_text(json.dumps(extra))
        begin = time.monotonic()
        proc = subprocess.run([Path(sys.executable).parent / "ansible-playbook", "-i", "localhost,", "-c", "local",
                               str(PLAYBOOK), "-e", f"@{tmp / 'vars.json'}"], cwd=tmp, env=env,
                              capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        (OUTPUT / f"{lane.name}-{app.name}-playbook{len(runs) + 1}.log").write_text(proc.stdout + proc.stderr)
        runs.append(time.monotonic() - begin)
        if proc.returncode:
            pytest.fail(f"ansible-playbook failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
        return json.loads(result.read_text())

    # wrangler deploys while the playbook runs (the two wait on different things; a loaded machine
    # pays less for the overlap), as soon as the playbook's first task made wrangler's project.
    wrangler_run = {}

    def deploy_with_wrangler():
        deadline = time.monotonic() + 300
        while emu.api("GET", f"/accounts/{{a}}/pages/projects/{theirs}").status_code != 200:
            if time.monotonic() > deadline or wrangler_run.get("stop"):
                wrangler_run["error"] = f"the playbook did not create the project {theirs}"
                return
            time.sleep(0.2)
        begin = time.monotonic()
        # As a user deploys with wrangler: from the app's directory (where it finds functions/), the built output.
        wrangler_run["proc"] = subprocess.run(
            [str(lane.wrangler), "pages", "deploy", str(output), "--project-name", theirs, "--branch", "main",
             "--commit-dirty=true"], cwd=work, env=_tool_env(lane, emu, home), capture_output=True, text=True,
            check=False, stdin=subprocess.DEVNULL, timeout=600)
        wrangler_run["seconds"] = time.monotonic() - begin

    thread = threading.Thread(target=deploy_with_wrangler, daemon=True)
    thread.start()
    try:
        first = run_playbook()
    finally:
        wrangler_run["stop"] = True
        thread.join(660)
    timings["pages_deployment"] = runs[0]
    if "error" in wrangler_run:
        pytest.fail(wrangler_run["error"])
    proc = wrangler_run["proc"]
    wrangler_out = proc.stdout + proc.stderr
    (OUTPUT / f"{lane.name}-{app.name}-wrangler.log").write_text(wrangler_out)
    timings["wrangler pages deploy"] = wrangler_run["seconds"]
    if proc.returncode:
        pytest.fail(f"wrangler pages deploy failed ({proc.returncode}):\n{wrangler_out[-6000:]}")
    _wait_live(emu, ours)
    _wait_live(emu, theirs)
    return Deployed(app, lane, work, output, ours, theirs, first, run_playbook, wrangler_out, timings)


def _wait_live(emu, project, timeout=60):
    """Until the project's newest production deployment succeeded (fail on a failed stage)."""
    deadline = time.monotonic() + timeout
    while True:
        deps = emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments").json()["result"]
        stage = deps[0]["latest_stage"] if deps else {}
        if stage.get("name") == "deploy" and stage.get("status") == "success":
            return deps[0]
        if stage.get("status") == "failure" or time.monotonic() > deadline:
            logs = emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments/{deps[0]['id']}/history/logs")
            pytest.fail(f"{project}: the deployment did not go live ({stage}):\n{logs.text[-3000:]}")
        time.sleep(0.3)


def host_free(text, deployed):
    """Text with each deployment's host replaced by HOST, so the two deployments compare."""
    return re.sub(re.escape(deployed.host("ours")) + "|" + re.escape(deployed.host("wrangler")), "HOST", text)
