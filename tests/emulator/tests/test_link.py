"""The emulator's slow uplink (``--bandwidth``) and per-request time limit (``--request-timeout``)."""
from __future__ import annotations

import base64
import concurrent.futures
import subprocess
import sys
import time

import requests

from conftest import SERVE
from emu_helpers import create_project, jwt_for, key_for, ok

PROJECTS = "/accounts/{a}/pages/projects"


def upload_body(data: bytes, path: str) -> list:
    return [{"key": key_for(data, path), "value": base64.b64encode(data).decode(),
             "metadata": {"contentType": "application/octet-stream"}, "base64": True}]


def post_upload(emu, jwt, body, timeout=60):
    return requests.post(emu.base_url + "/pages/assets/upload", json=body, timeout=timeout,
                         headers={"Authorization": f"Bearer {jwt}"})


def upload_entries(emu):
    return [e for e in emu.requests_log() if e["path"].endswith("/pages/assets/upload")]


def body_len(body) -> int:
    return len(requests.Request("POST", "http://x/", json=body).prepare().body)


def test_bandwidth_flag_slows_asset_upload_bodies_only(start_emulator):
    emu = start_emulator("--bandwidth", "40000")
    assert emu.config()["bandwidth"] == 40000
    create_project(emu, "slow")
    jwt = jwt_for(emu, "slow")
    body = upload_body(b"x" * 30000, "/a.bin")  # 40,000 base64 characters, ~40 KB of JSON
    size = body_len(body)
    started = time.monotonic()
    ok(emu.api("GET", PROJECTS))
    assert time.monotonic() - started < 0.5  # other requests are not paced
    started = time.monotonic()
    ok(post_upload(emu, jwt, body))
    took = time.monotonic() - started
    assert took >= size / 40000 * 0.9, took
    entry = upload_entries(emu)[-1]
    assert entry["bytes"] == size and entry["seconds"] >= size / 40000 * 0.9
    assert entry["status"] == 200 and entry["keys"] == [body[0]["key"]]


def test_concurrent_uploads_share_the_link(start_emulator):
    emu = start_emulator("--bandwidth", "60000")
    create_project(emu, "shared")
    jwt = jwt_for(emu, "shared")
    bodies = [upload_body(bytes([n]) * 36000, "/f%d.bin" % n) for n in range(2)]
    total = sum(body_len(b) for b in bodies)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda b: post_upload(emu, jwt, b), bodies))
    took = time.monotonic() - started
    assert [a.status_code for a in answers] == [200, 200]
    # One link: both bodies together take total/rate (each alone would take half of that).
    assert took >= total / 60000 * 0.9, took
    entries = upload_entries(emu)
    # ... and they were carried side by side, not one after the other.
    assert min(e["seconds"] for e in entries) >= total / 60000 * 0.6, entries
    first, second = sorted(entries, key=lambda e: e["at"])
    assert second["at"] < first["at"] + first["seconds"]


def test_bandwidth_set_at_run_time_and_reset(emu):
    assert emu.config()["bandwidth"] == 0
    create_project(emu, "runtime")
    jwt = jwt_for(emu, "runtime")
    body = upload_body(b"y" * 30000, "/b.bin")
    started = time.monotonic()
    ok(post_upload(emu, jwt, body))
    assert time.monotonic() - started < 0.5
    assert emu.config(bandwidth=50000)["bandwidth"] == 50000
    body = upload_body(b"z" * 30000, "/c.bin")
    started = time.monotonic()
    ok(post_upload(emu, jwt, body))
    assert time.monotonic() - started >= body_len(body) / 50000 * 0.9
    assert emu.reset()["config"]["bandwidth"] == 0
    for bad in ({"bandwidth": -1}, {"bandwidth": "fast"}, {"request_timeout": -2}):
        r = requests.post(emu.root_url + "/__emulator/config", json=bad)
        assert r.status_code == 400 and "error" in r.json()


def test_request_past_the_timeout_gets_524_and_stores_nothing(emu):
    assert emu.config()["request_timeout"] == 300  # the default, as wrangler's client allows
    create_project(emu, "timeout")
    jwt = jwt_for(emu, "timeout")
    emu.config(bandwidth=20000, request_timeout=1)
    body = upload_body(b"t" * 60000, "/t.bin")  # 4 s at 20 KB/s
    started = time.monotonic()
    try:
        status = post_upload(emu, jwt, body).status_code
    except requests.ConnectionError:  # the connection closed while the body was still being sent
        status = None
    assert time.monotonic() - started < 3.5
    assert status in (524, None)
    entry = upload_entries(emu)[-1]
    assert entry["status"] == 524 and entry["timed_out"] is True and 1 <= entry["seconds"] < 1.5
    assert "keys" not in entry
    missing = ok(requests.post(emu.base_url + "/pages/assets/check-missing", timeout=10,
                               headers={"Authorization": f"Bearer {jwt}"}, json={"hashes": [body[0]["key"]]}))
    assert missing == [body[0]["key"]]
    # A request within the limit is answered as usual and logs how long it took.
    emu.config(request_timeout=10)
    ok(post_upload(emu, jwt, body))
    entry = upload_entries(emu)[-1]
    assert entry["status"] == 200 and "timed_out" not in entry and 3 <= entry["seconds"] < 10


def test_bad_flags_are_refused(tmp_path):
    for flag in ("--bandwidth", "--request-timeout"):
        proc = subprocess.run([sys.executable, str(SERVE), "--data-dir", str(tmp_path), flag, "-1"],
                              capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 2 and flag in proc.stderr
