"""The rulebook extensions/eda/rulebooks/deployments.yml run by ansible-rulebook itself against the emulator.

ansible-rulebook needs a Java runtime (its rules engine is Drools, through drools_jpy): the eda stage of
tests/run.sh installs one with apt when it is missing.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import COLLECTIONS
from emu_helpers import create_project, deploy, get_project, ok, post_deployment

SITE = {"/index.html": (b"<h1>hello</h1>", "text/html")}
BROKEN_WORKER = b"throw new Error('kaput at start-up');\n"
GIT = {"type": "github", "config": {"owner": "acme", "repo_name": "app", "production_branch": "main"}}
BIN = Path(sys.executable).parent


def ansible_env(emu, **extra):
    """The environment of ansible-rulebook and ansible-playbook: this venv, the installed collection and the
    emulator's credentials in the CLOUDFLARE_* variables (what the AWX credential type injects)."""
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "CLOUDFLARE_API_BASE_URL": emu.base_url, "CLOUDFLARE_API_TOKEN": emu.token,
            "CLOUDFLARE_ACCOUNT_ID": emu.account, "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_PYTHON_INTERPRETER": sys.executable, **extra}


def wait_for(check, timeout, what, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(f"{what} did not happen within {timeout}s\n--- ansible-rulebook output ---\n{tail}")


@pytest.fixture
def rulebook(emu, tmp_path):
    """start(): ansible-rulebook on the collection's rulebook (projects site and app, polling every second)."""
    if not shutil.which("java"):
        pytest.fail("ansible-rulebook needs a Java runtime (java on PATH): apt-get install openjdk-17-jre-headless")
    (tmp_path / "inventory.yml").write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    (tmp_path / "vars.yml").write_text("cfpages_projects: [site, app]\ncfpages_interval: 1\n")
    log = tmp_path / "rulebook.log"
    env = ansible_env(emu, HOME=str(tmp_path), PYTHONUNBUFFERED="1")
    procs = []

    def start():
        with open(log, "wb") as out:
            procs.append(subprocess.Popen(
                [BIN / "ansible-rulebook", "-r", "cfpages.cloudflare.deployments", "-i", tmp_path / "inventory.yml",
                 "--vars", tmp_path / "vars.yml", "--print-events"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path,
                start_new_session=True))
        return log

    yield start
    for proc in procs:  # its own process group: ansible-rulebook, its JVM thread and ansible-runner's playbooks
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def polled(emu, project):
    return any(r["method"] == "GET" and r["path"].endswith(f"/projects/{project}/deployments")
               for r in emu.requests_log())


def test_rulebook_reports_a_failed_build_and_keeps_production_on_the_last_good_deployment(emu, rulebook):
    if not emu.workers_executed():
        pytest.fail("the emulator runs no workerd (tests/emulator/node_modules: npm ci), so no deploy stage can fail")
    emu.config(build_seconds=1)
    create_project(emu, "site")
    deploy(emu, "site", SITE)
    good = deploy(emu, "site", {"/index.html": (b"<h1>v2</h1>", "text/html")})
    create_project(emu, "app", "main", source=GIT, build_config={"build_command": "exit 2", "destination_dir": "dist"})
    log = rulebook()
    wait_for(lambda: polled(emu, "site") and polled(emu, "app"), 60, "the first poll", log)

    failed_build = ok(post_deployment(emu, "app", branch="main"))
    bad = deploy(emu, "site", {"/index.html": (b"<h1>v3</h1>", "text/html")}, {"_worker.js": BROKEN_WORKER})
    report = f"Production of site serves {good['id']}, the last deployment that succeeded before the failed {bad['id']}"
    failure = f"Production build {failed_build['short_id']} of app (branch main) failed"

    def flat():
        return " ".join(log.read_text(errors="replace").split())

    # a ruleset runs its actions one after the other: the report and the playbook, in either order
    wait_for(lambda: report in flat() and failure in flat(), 120, "the report and the rollback playbook", log)
    output = log.read_text(errors="replace")
    assert report + " (it already did)" in flat()
    # the rollback task ran (pages_deployment state: rolled_back reads the target) and production is on the good one
    paths = [r["path"] for r in emu.requests_log() if r["method"] == "GET"]
    assert any(p.endswith(f"/projects/site/deployments/{bad['id']}") for p in paths)
    assert any(p.endswith(f"/projects/site/deployments/{good['id']}") for p in paths)
    assert get_project(emu, "site")["canonical_deployment"]["id"] == good["id"]
    assert emu.token not in output


def run_playbook(emu, tmp_path, **extra_vars):
    env = ansible_env(emu)
    args = [a for k, v in extra_vars.items() for a in ("-e", f"{k}={v}")]
    return subprocess.run([BIN / "ansible-playbook", "cfpages.cloudflare.rollback_production", *args], env=env,
                          cwd=tmp_path, capture_output=True, text=True, check=False)


def test_rollback_playbook_moves_production_when_the_failed_deployment_is_live(emu, tmp_path):
    """The branch the emulator cannot reach through a failure (Pages never makes a failed deploy live): told that
    the live deployment failed, the playbook rolls production back to the one that succeeded before it."""
    create_project(emu, "site")
    first = deploy(emu, "site", SITE)
    live = deploy(emu, "site", {"/index.html": (b"<h1>v2</h1>", "text/html")})
    run = run_playbook(emu, tmp_path, rollback_production_project="site",
                       rollback_production_failed_deployment_id=live["id"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert get_project(emu, "site")["canonical_deployment"]["id"] == first["id"]
    assert "(rolled back)" in " ".join(run.stdout.split())
    assert [r for r in emu.requests_log() if r["method"] == "POST" and r["path"].endswith("/rollback")]
    # a production deployment made since the failure is left alone
    newer = deploy(emu, "site", {"/index.html": (b"<h1>v3</h1>", "text/html")})
    run = run_playbook(emu, tmp_path, rollback_production_project="site",
                       rollback_production_failed_deployment_id=live["id"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert get_project(emu, "site")["canonical_deployment"]["id"] == newer["id"]
    assert "deployed or rolled back to since; left alone" in " ".join(run.stdout.split())


def test_rollback_playbook_refuses_a_preview_deployment(emu, tmp_path):
    create_project(emu, "site")
    deploy(emu, "site", SITE)
    preview = deploy(emu, "site", SITE, branch="feature")
    run = run_playbook(emu, tmp_path, rollback_production_project="site",
                       rollback_production_failed_deployment_id=preview["id"])
    assert run.returncode != 0
    assert "is a preview deployment; production is not affected" in " ".join(run.stdout.split())
