"""The rate limiter: per credential, Cloudflare's headers, a blocked window really blocks, runtime config."""
import re
import time

import requests

from conftest import DEV_ACCOUNT, key_headers
from emu_helpers import create_project, error_of, jwt_for, ok

PROJECTS = "/accounts/{a}/pages/projects"
EMAIL, KEY = "rl@example.com", "0123456789abcdef0123456789abcdef01234"
OTHER = "second-token-for-the-same-account"
RATELIMIT_RE = re.compile(r'^"default";r=(\d+);t=(\d+)$')
POLICY_RE = re.compile(r'^"default";q=(\d+);w=(\d+)$')


def remaining(r):
    m = RATELIMIT_RE.match(r.headers["Ratelimit"])
    assert m, r.headers["Ratelimit"]
    return int(m.group(1)), int(m.group(2))


def limited(start_emulator, spec):
    return start_emulator("--rate-limit", spec, "--token", f"{OTHER}={DEV_ACCOUNT}",
                          "--token", f"cfpages-emulator-dev-token-7c1f3a9e={DEV_ACCOUNT}",
                          "--key", f"{EMAIL}:{KEY}={DEV_ACCOUNT}")


def test_headers_on_every_response_and_the_block(start_emulator):
    emu = limited(start_emulator, "5/3")
    seen = []
    for i in range(5):
        # errors carry the headers too, and count like any request
        r = emu.api("GET", PROJECTS + ("/missing" if i == 2 else ""))
        assert r.status_code == (404 if i == 2 else 200)
        assert POLICY_RE.match(r.headers["Ratelimit-Policy"]).groups() == ("5", "3")
        assert "Retry-After" not in r.headers
        seen.append(remaining(r))
    assert [r for r, _ in seen] == [4, 3, 2, 1, 0]
    assert all(0 < t <= 3 for _, t in seen)
    # the 6th request exceeds the window: 429 971 with Retry-After = the whole window
    r = emu.api("GET", PROJECTS)
    assert error_of(r) == (429, 971, "Please wait and consider throttling your request speed")
    assert r.headers["Retry-After"] == "3"
    assert remaining(r) == (0, 3)
    # the block holds even after the original window would have reset
    time.sleep(1.2)
    r = emu.api("GET", PROJECTS)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) in (1, 2)
    time.sleep(int(r.headers["Retry-After"]) + 0.2)
    r = emu.api("GET", PROJECTS)
    assert r.status_code == 200 and remaining(r)[0] == 4
    assert [e["status"] for e in emu.requests_log()].count(429) == 2


def test_blocked_requests_change_nothing(start_emulator):
    emu = limited(start_emulator, "2/30")
    create_project(emu, "kept")
    assert emu.api("GET", PROJECTS).status_code == 200
    r = emu.api("POST", PROJECTS, json={"name": "blocked", "production_branch": "main"})
    assert r.status_code == 429
    r = emu.api("DELETE", PROJECTS + "/kept")
    assert r.status_code == 429
    emu.config(rate_limit=None)
    names = [p["name"] for p in ok(emu.api("GET", PROJECTS))]
    assert names == ["kept"]


def test_per_credential(start_emulator):
    emu = limited(start_emulator, "3/30")
    for _ in range(3):
        assert emu.api("GET", PROJECTS).status_code == 200
    assert emu.api("GET", PROJECTS).status_code == 429
    # another token, and the email + key pair, have windows of their own
    other = {"Authorization": f"Bearer {OTHER}"}
    assert emu.api("GET", PROJECTS, headers=other).status_code == 200
    r = emu.api("GET", PROJECTS, auth=False, headers=key_headers(EMAIL, KEY))
    assert r.status_code == 200 and remaining(r)[0] == 2
    # the first token is still blocked
    assert emu.api("GET", PROJECTS).status_code == 429


def test_upload_jwt_calls_are_their_own_key(start_emulator):
    emu = limited(start_emulator, "3/30")
    create_project(emu, "site")
    jwt = jwt_for(emu, "site")  # 2 of 3 used by the API token
    h = {"Authorization": f"Bearer {jwt}"}
    for _ in range(3):
        r = emu.api("POST", "/pages/assets/check-missing", auth=False, headers=h, json={"hashes": []})
        assert r.status_code == 200
    assert emu.api("POST", "/pages/assets/check-missing", auth=False, headers=h,
                   json={"hashes": []}).status_code == 429
    # the API token's window is untouched by the asset calls
    r = emu.api("GET", PROJECTS)
    assert r.status_code == 200 and remaining(r)[0] == 0


def test_runtime_config_and_reset(start_emulator):
    emu = start_emulator()
    r = emu.api("GET", PROJECTS)
    assert "Ratelimit" not in r.headers  # off by default
    assert emu.config(rate_limit="2/10")["rate_limit"] == "2/10"
    assert remaining(emu.api("GET", PROJECTS))[0] == 1
    assert remaining(emu.api("GET", PROJECTS))[0] == 0
    assert emu.api("GET", PROJECTS).status_code == 429
    # a new limit starts afresh; null switches it off
    emu.config(rate_limit="100/10")
    assert remaining(emu.api("GET", PROJECTS))[0] == 99
    assert emu.config(rate_limit=None)["rate_limit"] is None
    assert "Ratelimit" not in emu.api("GET", PROJECTS).headers
    for bad in ("fast", "0/10", "10/0", 5):
        r = requests.post(emu.root_url + "/__emulator/config", json={"rate_limit": bad}, timeout=10)
        assert r.status_code == 400 and "rate_limit" in r.json()["error"]
    # reset restores the start-up value (none here; --rate-limit below)
    emu.config(rate_limit="1/10")
    emu.reset()
    assert "Ratelimit" not in emu.api("GET", PROJECTS).headers
    started = start_emulator("--rate-limit", "1200/300")
    assert started.config()["rate_limit"] == "1200/300"
    r = started.api("GET", PROJECTS)
    assert r.headers["Ratelimit-Policy"] == '"default";q=1200;w=300'
    assert remaining(r) == (1199, 300)
    started.config(rate_limit=None)
    started.reset()
    assert remaining(started.api("GET", PROJECTS))[0] == 1199
