"""Fixtures of the Event-Driven Ansible tests (tests/run.sh eda; the noxfile's eda session runs them).

``emu``        an emulator (tests/helpers/emulator.py, random credentials), reset before each test; its
               ``api()``, ``config()`` and ``requests_log()`` are those of tests/emulator/tests/conftest.py,
               so the emulator tests' helpers (emu_helpers.py) work with it.
``source``     the event source as ansible-rulebook loads it: ``runpy.run_path`` of the file in the
               installed collection (CFPAGES_COLLECTIONS, the directory that holds ansible_collections/).
``run_source`` ``await run_source(args)``: starts the source's main() and returns a ``Watch`` with
               ``next(timeout)``, ``until(predicate, timeout)`` and ``stop()``.
"""
from __future__ import annotations

import asyncio
import os
import runpy
import secrets
import sys
import tempfile
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "helpers"))
sys.path.insert(0, str(REPO / "tests" / "emulator" / "tests"))
import emulator  # noqa: E402  (the one emulator launcher)

COLLECTIONS = Path(os.environ.get("CFPAGES_COLLECTIONS", REPO / ".cache" / "collections")).resolve()
TREE = COLLECTIONS / "ansible_collections" / "cfpages" / "cloudflare"
SOURCE_FILE = TREE / "extensions" / "eda" / "plugins" / "event_source" / "deployments.py"


class Emu:
    def __init__(self, info, email, key):
        self.info = info
        self.base_url = info["base_url"]
        self.root_url = info["root_url"]
        self.token = info["token"]
        self.account = info["account"]
        self.email = email
        self.key = key

    @property
    def secrets(self):
        return (self.token, self.key)

    def creds(self, **extra):
        """Source arguments with this emulator's token."""
        return {"api_base_url": self.base_url, "api_token": self.token, "account_id": self.account, **extra}

    def api(self, method, path, *, headers=None, auth=True, **kw):
        h = {"Authorization": f"Bearer {self.token}"} if auth else {}
        h.update(headers or {})
        kw.setdefault("timeout", 30)
        return requests.request(method, self.base_url + path.replace("{a}", self.account), headers=h, **kw)

    def config(self, **values):
        r = requests.post(self.root_url + "/__emulator/config", json=values, timeout=10)
        r.raise_for_status()
        return r.json()

    def reset(self):
        requests.post(self.root_url + "/__emulator/reset", timeout=10).raise_for_status()

    def requests_log(self):
        r = requests.get(self.root_url + "/__emulator/requests", timeout=10)
        r.raise_for_status()
        return r.json()

    def workers_executed(self):
        health = requests.get(self.root_url + "/__emulator/health", timeout=10).json()
        return bool((health.get("workers") or {}).get("executed"))


@pytest.fixture(scope="session")
def emulator_instance():
    token = secrets.token_urlsafe(30).replace("-", "A").replace("_", "B")
    account = secrets.token_hex(16)
    email, key = f"eda-{secrets.token_hex(4)}@example.com", secrets.token_hex(19)[:37]
    run = Path(tempfile.mkdtemp(prefix="cfpages-eda-"))
    info = emulator.start(run / "emulator.json", run / "data",
                          ["--token", f"{token}={account}", "--key", f"{email}:{key}={account}"],
                          python=os.environ.get("CFPAGES_EMULATOR_PYTHON") or sys.executable)
    try:
        yield Emu(info, email, key)
    finally:
        emulator.stop(run / "emulator.json")


@pytest.fixture
def emu(emulator_instance):
    emulator_instance.reset()
    return emulator_instance


@pytest.fixture(scope="session")
def source():
    if not SOURCE_FILE.is_file():
        pytest.fail(f"the collection is not installed at {TREE} (tests/run.sh prepares it; CFPAGES_COLLECTIONS)")
    return runpy.run_path(str(SOURCE_FILE))


class Watch:
    def __init__(self, task, queue):
        self.task = task
        self.queue = queue
        self.events = []

    async def next(self, timeout=15):
        get = asyncio.ensure_future(self.queue.get())
        done, _pending = await asyncio.wait({get, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            self.events.append(get.result())
            return self.events[-1]
        get.cancel()
        if self.task in done:
            self.task.result()  # the source's error
            raise AssertionError("the source ended without an error")
        raise AssertionError(f"no event within {timeout}s; events so far: {self.events}")

    async def until(self, predicate, timeout=30):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.next(max(0.1, deadline - loop.time()))
            if predicate(event["cfpages"]):
                return event

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


@pytest.fixture
def run_source(source):
    watches = []

    async def start(args):
        queue = asyncio.Queue()
        watch = Watch(asyncio.create_task(source["main"](queue, args)), queue)
        watches.append(watch)
        return watch

    yield start
    for watch in watches:
        watch.task.cancel()
