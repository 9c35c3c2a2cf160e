"""Authentication, account scoping, route misses and the upload JWT."""
import time

import pytest
import requests

from conftest import DEV_ACCOUNT, DEV_TOKEN, key_headers
from emu_helpers import create_project, error_of, jwt_for, ok

DEV_EMAIL = "dev@cfpages-emulator.example"
DEV_KEY = "c0ffee0123456789abcdef0123456789abcde"
PROJECTS = "/accounts/{a}/pages/projects"


def test_dev_token_and_dev_key_work(emu):
    assert ok(emu.api("GET", PROJECTS)) == []
    r = emu.api("GET", PROJECTS, auth=False, headers=key_headers(DEV_EMAIL, DEV_KEY))
    assert ok(r) == []
    # email is case-insensitive
    r = emu.api("GET", PROJECTS, auth=False, headers=key_headers(DEV_EMAIL.upper(), DEV_KEY))
    assert ok(r) == []


@pytest.mark.parametrize("value", [None, "", "Bearer", "Bearer ", "Basic abc", "bearer-token",
                                   "Bearer two words", DEV_TOKEN])
def test_malformed_authorization_is_6003_6111(emu, value):
    headers = {} if value is None else {"Authorization": value}
    r = emu.api("GET", PROJECTS, auth=False, headers=headers)
    assert error_of(r) == (400, 6003, "Invalid request headers")
    assert r.json()["errors"][0]["error_chain"] == [
        {"code": 6111, "message": "Invalid format for Authorization header"}]


@pytest.mark.parametrize("key", ["", "short", DEV_KEY.upper(), DEV_KEY + "0"])
def test_malformed_x_auth_key_is_6003_6103(emu, key):
    r = emu.api("GET", PROJECTS, auth=False, headers=key_headers(DEV_EMAIL, key))
    assert error_of(r)[:2] == (400, 6003)
    assert r.json()["errors"][0]["error_chain"] == [
        {"code": 6103, "message": "Invalid format for X-Auth-Key header"}]


def test_x_auth_key_without_email_is_6102(emu):
    r = emu.api("GET", PROJECTS, auth=False, headers={"X-Auth-Key": DEV_KEY})
    assert error_of(r)[:2] == (400, 6003)
    assert r.json()["errors"][0]["error_chain"][0]["code"] == 6102


def test_unknown_token_and_key_are_403_10000(emu):
    r = emu.api("GET", PROJECTS, auth=False, headers={"Authorization": "Bearer not-a-known-token"})
    assert error_of(r) == (403, 10000, "Authentication error")
    r = emu.api("GET", PROJECTS, auth=False, headers=key_headers("x@example.com", DEV_KEY))
    assert error_of(r) == (403, 10000, "Authentication error")


def test_token_on_another_accounts_path_is_403(emu):
    r = emu.api("GET", "/accounts/0123456789abcdef0123456789abcdef/pages/projects")
    assert error_of(r) == (403, 10000, "Authentication error")


def test_configured_credentials_replace_dev_ones(start_emulator):
    acct_a, acct_b = "a" * 32, "b" * 32
    key = "0" * 37
    emu = start_emulator("--token", f"tok-a={acct_a}", "--token", f"tok-b={acct_b}",
                         "--key", f"ops@example.com:{key}={acct_b}", token="tok-a", account=acct_a)
    create_project(emu, "only-a")
    r = requests.get(f"{emu.base_url}/accounts/{DEV_ACCOUNT}/pages/projects",
                     headers={"Authorization": f"Bearer {DEV_TOKEN}"})
    assert error_of(r)[:2] == (403, 10000)
    # tok-b sees account b only, and account b is empty (projects are per account)
    r = requests.get(f"{emu.base_url}/accounts/{acct_b}/pages/projects",
                     headers={"Authorization": "Bearer tok-b"})
    assert ok(r) == []
    r = requests.get(f"{emu.base_url}/accounts/{acct_a}/pages/projects",
                     headers={"Authorization": "Bearer tok-b"})
    assert error_of(r)[:2] == (403, 10000)
    r = requests.get(f"{emu.base_url}/accounts/{acct_b}/pages/projects",
                     headers=key_headers("ops@example.com", key))
    assert ok(r) == []


def test_unknown_route_is_7003(emu):
    for path in ("/accounts/{a}/pages/nope", "/memberships", "/"):
        r = emu.api("GET", path)
        assert error_of(r)[:2] == (404, 7003)
        assert r.json()["errors"][0]["message"].startswith("Could not route to ")
    r = requests.get(emu.root_url + "/some/where")
    assert error_of(r)[:2] == (404, 7003)
    # route misses answer before auth
    r = emu.api("GET", "/nope", auth=False)
    assert error_of(r)[:2] == (404, 7003)


def test_malformed_account_id_is_400_7003_7000(emu):
    # Cloudflare routes an account path only for a 32-hex account id; anything else is a route miss.
    for account in ("abc", DEV_ACCOUNT[:-1], DEV_ACCOUNT + "0", "g" * 32):
        path = f"/accounts/{account}/pages/projects"
        r = emu.api("GET", path)
        assert error_of(r) == (400, 7003, f"Could not route to /client/v4{path}, perhaps your object "
                                          "identifier is invalid?")
        assert [e["code"] for e in r.json()["errors"]] == [7003, 7000]
    # a well-formed id of another account is an authorisation failure, not a route miss
    r = emu.api("GET", "/accounts/" + "f" * 32 + "/pages/projects")
    assert error_of(r)[:2] == (403, 10000)


def test_wrong_method_on_known_path_is_405_7001(emu):
    r = emu.api("PUT", PROJECTS)
    assert error_of(r)[:2] == (405, 7001)


def test_assets_accept_only_the_upload_jwt(emu):
    create_project(emu, "jwt")
    body = {"hashes": ["a" * 32]}
    for headers in ({}, {"Authorization": f"Bearer {DEV_TOKEN}"}, {"Authorization": "Bearer x.y.z"},
                    key_headers(DEV_EMAIL, DEV_KEY)):
        r = emu.api("POST", "/pages/assets/check-missing", auth=False, headers=headers, json=body)
        status, code, message = error_of(r)
        assert (status, code) == (401, 8000013)
        assert "upload JWT" in message
    jwt = jwt_for(emu, "jwt")
    tampered = jwt[:-2] + ("AA" if jwt[-2:] != "AA" else "BB")
    r = emu.api("POST", "/pages/assets/check-missing", auth=False,
                headers={"Authorization": f"Bearer {tampered}"}, json=body)
    assert error_of(r)[:2] == (401, 8000013)
    r = emu.api("POST", "/pages/assets/check-missing", auth=False,
                headers={"Authorization": f"Bearer {jwt}"}, json=body)
    assert ok(r) == ["a" * 32]


def test_jwt_claims_and_expiry(emu):
    import base64
    import json
    emu.config(jwt_ttl=1, max_file_count=1234)
    create_project(emu, "exp")
    jwt = jwt_for(emu, "exp")
    payload = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
    assert payload["max_file_count_allowed"] == 1234
    assert payload["exp"] - payload["iat"] == 1 and 0 < payload["exp"] - time.time() <= 1.05
    assert payload["account_id"] == emu.account and payload["project_name"] == "exp"
    h = {"Authorization": f"Bearer {jwt}"}
    time.sleep(max(0.0, payload["exp"] - time.time()) + 0.05)
    r = emu.api("POST", "/pages/assets/check-missing", auth=False, headers=h, json={"hashes": []})
    status, code, message = error_of(r)
    assert (status, code) == (401, 8000013) and "expired" in message
    for path in ("/pages/assets/upload", "/pages/assets/upsert-hashes"):
        assert error_of(emu.api("POST", path, auth=False, headers=h, json=[]))[:2] == (401, 8000013)
    # a fractional ttl gives fractional claims (precise expiry for tests)
    emu.config(jwt_ttl=0.3)
    payload = json.loads(base64.urlsafe_b64decode(jwt_for(emu, "exp").split(".")[1] + "=="))
    assert abs(payload["exp"] - payload["iat"] - 0.3) < 0.002


def test_upload_token_for_unknown_project_is_8000007(emu):
    r = emu.api("GET", PROJECTS + "/ghost/upload-token")
    assert error_of(r)[:2] == (404, 8000007)


def test_introspection_is_not_logged(emu):
    emu.api("GET", PROJECTS)
    requests.get(emu.root_url + "/__emulator/health").raise_for_status()
    log = emu.requests_log()
    assert [(e["method"], e["status"]) for e in log] == [("GET", 200)]
    assert log[0]["path"] == f"/client/v4/accounts/{emu.account}/pages/projects"
    assert log[0]["query"] == {}


def test_custom_prefix(tmp_path):
    import subprocess
    import sys
    from conftest import SERVE
    proc = subprocess.Popen([sys.executable, str(SERVE), "--port", "0", "--data-dir", str(tmp_path / "px"),
                             "--prefix", "/api/v9/"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        base = line[line.index("http://"):].split()[0]
        assert base.endswith("/api/v9")
        r = requests.get(base + f"/accounts/{DEV_ACCOUNT}/pages/projects",
                         headers={"Authorization": f"Bearer {DEV_TOKEN}"})
        assert ok(r) == []
        root = base[: -len("/api/v9")]
        r = requests.get(root + f"/client/v4/accounts/{DEV_ACCOUNT}/pages/projects",
                         headers={"Authorization": f"Bearer {DEV_TOKEN}"})
        assert error_of(r)[:2] == (404, 7003)
    finally:
        proc.terminate()
        proc.wait(10)
