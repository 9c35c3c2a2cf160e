"""Shared pytest fixtures for the Pages API emulator tests.

Fixtures
--------
``emulator``        one emulator per test session (started with ``--build-seconds 0.6
                    --domain-seconds 0.6``); do not rely on its state, use ``emu``.
``emu``             the session emulator after ``POST /__emulator/reset`` (clean state and
                    start-up configuration for every test).
``start_emulator``  factory: ``start_emulator(*extra_args, data_dir=None)`` starts a private
                    emulator (e.g. with ``--token``/``--fault-rate``) and stops it after the test.

Every ``Emulator`` object has ``base_url`` (``http://127.0.0.1:PORT/client/v4``), ``root_url``
(``http://127.0.0.1:PORT``), ``port``, ``data_dir``, ``token``, ``account``, ``headers`` (auth
headers for the dev credential) and small helpers: ``api()``, ``reset()``, ``config()``,
``requests_log()``, ``site()`` (GET a deployed site with a ``Host`` header), ``stop()``,
``restart()``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
SERVE = HERE.parent / "serve.py"

DEV_TOKEN = "cfpages-emulator-dev-token-7c1f3a9e"
DEV_ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"

# Fast timings for tests; production-like defaults live in serve.py.
FAST_ARGS = ("--build-seconds", "0.6", "--domain-seconds", "0.6")


def auth_headers(token: str = DEV_TOKEN) -> dict:
    """``Authorization: Bearer`` headers for an API token."""
    return {"Authorization": f"Bearer {token}"}


def key_headers(email: str, key: str) -> dict:
    """``X-Auth-Email`` + ``X-Auth-Key`` headers for a global API key."""
    return {"X-Auth-Email": email, "X-Auth-Key": key}


class Emulator:
    def __init__(self, args, data_dir: Path, token: str = DEV_TOKEN, account: str = DEV_ACCOUNT):
        self.args = list(args)
        self.data_dir = Path(data_dir)
        self.token = token
        self.account = account
        self.proc = None
        self.port = None
        self.base_url = None
        self.root_url = None
        self.output: list[str] = []
        self.start()

    # -- process control -------------------------------------------------
    def start(self, port: int | None = None):
        cmd = [sys.executable, str(SERVE), "--host", "127.0.0.1",
               "--port", str(port or 0), "--data-dir", str(self.data_dir), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "/client/v4" in line and "http://" in line:
                break
        else:  # pragma: no cover
            self.proc.kill()
            raise RuntimeError("emulator did not start: " + "".join(self.output))
        if "/client/v4" not in line:
            self.proc.kill()
            raise RuntimeError("emulator did not start: " + "".join(self.output))
        url = line[line.index("http://"):].split()[0]
        self.base_url = url
        self.root_url = url[: -len("/client/v4")]
        self.port = int(self.root_url.rsplit(":", 1)[1])
        # keep draining output so the child never blocks on a full pipe
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        return self

    def _drain(self, proc):
        for line in proc.stdout:
            self.output.append(line)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait(5)

    def restart(self, same_port: bool = True):
        """Stop and start again on the same data dir (state must survive)."""
        port = self.port
        self.stop()
        return self.start(port if same_port else None)

    # -- helpers ---------------------------------------------------------
    @property
    def headers(self) -> dict:
        return auth_headers(self.token)

    @property
    def account_url(self) -> str:
        return f"{self.base_url}/accounts/{self.account}"

    def api(self, method: str, path: str, *, headers=None, auth=True, **kw) -> requests.Response:
        """Call ``base_url + path`` (``{a}`` in path is replaced by the account id)."""
        h = dict(self.headers) if auth else {}
        h.update(headers or {})
        kw.setdefault("timeout", 30)
        return requests.request(method, self.base_url + path.replace("{a}", self.account),
                                headers=h, **kw)

    def reset(self):
        r = requests.post(self.root_url + "/__emulator/reset", timeout=10)
        r.raise_for_status()
        return r.json()

    def config(self, **values):
        r = requests.post(self.root_url + "/__emulator/config", json=values, timeout=10)
        r.raise_for_status()
        return r.json()

    def requests_log(self):
        r = requests.get(self.root_url + "/__emulator/requests", timeout=10)
        r.raise_for_status()
        return r.json()

    def site(self, host: str, path: str = "/", **kw) -> requests.Response:
        """GET a deployed site: ``host`` like ``abcd1234.proj.pages.dev``."""
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 30)
        headers = {"Host": host, **kw.pop("headers", {})}
        return requests.get(self.root_url + path, headers=headers, **kw)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    emu = Emulator(FAST_ARGS, tmp_path_factory.mktemp("emulator-data"))
    yield emu
    emu.stop()


@pytest.fixture
def emu(emulator):
    emulator.reset()
    return emulator


@pytest.fixture
def start_emulator(tmp_path):
    started = []

    def _start(*extra_args, data_dir=None, token=DEV_TOKEN, account=DEV_ACCOUNT, fast=True):
        args = (*FAST_ARGS, *extra_args) if fast else tuple(extra_args)
        d = Path(data_dir) if data_dir else tmp_path / f"data{len(started)}"
        e = Emulator(args, d, token=token, account=account)
        started.append(e)
        return e

    yield _start
    for e in started:
        e.stop()


if os.environ.get("CFPAGES_EMULATOR_KEEP_OUTPUT"):  # debugging aid
    @pytest.fixture(autouse=True)
    def _dump_output(request, emulator):
        yield
        sys.stderr.write("".join(emulator.output[-50:]))
