"""Fault injection: the mix, determinism with a seed, no state change, retrying clients, config."""
import time

import requests

from emu_helpers import create_project, deploy, error_of, ok, upload

PROJECTS = "/accounts/{a}/pages/projects"


def call(emu, method, path, **kw):
    """One request; returns the status (0 for a dropped connection)."""
    try:
        return emu.api(method, path, timeout=10, **kw).status_code
    except requests.ConnectionError:
        return 0


def fault_statuses(emu, n=60):
    return [call(emu, "GET", PROJECTS) for _ in range(n)]


def test_mix_and_determinism(start_emulator):
    a = start_emulator("--fault-rate", "0.5", "--fault-seed", "42")
    b = start_emulator("--fault-rate", "0.5", "--fault-seed", "42")
    sa, sb = fault_statuses(a), fault_statuses(b)
    assert sa == sb
    assert set(sa) == {200, 429, 500, 502, 503, 524, 0}
    assert 15 < sa.count(200) < 45
    assert [e["status"] for e in a.requests_log()] == sa
    # reset re-seeds: the same sequence again
    a.reset()
    assert fault_statuses(a) == sa
    # another seed, another sequence
    c = start_emulator("--fault-rate", "0.5", "--fault-seed", "7")
    assert fault_statuses(c) != sa


def test_fault_bodies(start_emulator):
    emu = start_emulator("--fault-rate", "1", "--fault-seed", "3")
    seen = {}
    for _ in range(80):
        try:
            r = emu.api("GET", PROJECTS, timeout=10)
        except requests.ConnectionError:
            seen.setdefault(0, None)
            continue
        seen.setdefault(r.status_code, r)
    assert set(seen) == {429, 500, 502, 503, 524, 0}
    r = seen[429]
    assert r.headers["Retry-After"] == "1"
    assert error_of(r) == (429, 971, "Please wait and consider throttling your request speed")
    assert error_of(seen[500])[:2] == (500, 8000000)
    assert error_of(seen[503])[:2] == (503, 8000000)
    assert "502 Bad Gateway" in seen[502].text
    assert "524" in seen[524].text
    log = emu.requests_log()
    assert 0 in [e["status"] for e in log]
    # introspection is never faulted
    for _ in range(10):
        assert requests.get(emu.root_url + "/__emulator/health").status_code == 200


def test_faulted_requests_never_change_state(emu):
    create_project(emu, "keep")
    dep = deploy(emu, "keep", {"/index.html": b"x"}, branch="dev")
    emu.config(fault_rate=1.0, fault_seed=9)
    statuses = []
    statuses.append(call(emu, "POST", PROJECTS, json={"name": "new", "production_branch": "main"}))
    statuses.append(call(emu, "DELETE", PROJECTS + "/keep"))
    statuses.append(call(emu, "PATCH", PROJECTS + "/keep", json={"production_branch": "other"}))
    statuses.append(call(emu, "DELETE", PROJECTS + f"/keep/deployments/{dep['id']}?force=true"))
    statuses.append(call(emu, "POST", PROJECTS + "/keep/domains", json={"name": "x.example.com"}))
    statuses.append(call(emu, "POST", PROJECTS + "/keep/deployments",
                         files={"manifest": (None, "{}")}))
    assert 200 not in statuses
    emu.config(fault_rate=0.0)
    names = [p["name"] for p in ok(emu.api("GET", PROJECTS))]
    assert names == ["keep"]
    p = ok(emu.api("GET", PROJECTS + "/keep"))
    assert p["production_branch"] == "main" and p["domains"] == ["keep.pages.dev"]
    deps = ok(emu.api("GET", PROJECTS + "/keep/deployments"))
    assert [d["id"] for d in deps] == [dep["id"]]


def retrying(emu, method, path, attempts=30, **kw):
    """A correct client: retry 429/5xx/dropped connections (all are faults before any change)."""
    for _ in range(attempts):
        try:
            r = emu.api(method, path, timeout=10, **kw)
        except requests.ConnectionError:
            continue
        if r.status_code == 429 or r.status_code >= 500:
            time.sleep(0.01)  # (a real client honours Retry-After)
            continue
        return r
    raise AssertionError("gave up")


def scenario(emu):
    import base64
    import json
    retrying(emu, "POST", PROJECTS, json={"name": "app", "production_branch": "main"})
    retrying(emu, "PATCH", PROJECTS + "/app", json={"deployment_configs": {"production": {
        "env_vars": {"A": {"value": "1"}}}}})
    jwt = retrying(emu, "GET", PROJECTS + "/app/upload-token").json()["result"]["jwt"]
    h = {"Authorization": f"Bearer {jwt}"}
    files = {f"/f{i}.txt": f"file {i}".encode() for i in range(5)}
    keys = {p: f"{i:032x}" for i, p in enumerate(files)}
    missing = retrying(emu, "POST", "/pages/assets/check-missing", auth=False, headers=h,
                       json={"hashes": list(keys.values())}).json()["result"]
    payload = [{"key": keys[p], "value": base64.b64encode(b).decode(), "metadata": {"contentType": "text/plain"},
                "base64": True} for p, b in files.items() if keys[p] in missing]
    retrying(emu, "POST", "/pages/assets/upload", auth=False, headers=h, json=payload)
    for branch in ("main", "dev"):
        r = retrying(emu, "POST", PROJECTS + "/app/deployments",
                     files={"manifest": (None, json.dumps(keys)), "branch": (None, branch)})
        assert r.status_code == 200
    retrying(emu, "POST", PROJECTS + "/app/domains", json={"name": "app.example.com"})
    emu.config(fault_rate=0.0)
    p = ok(emu.api("GET", PROJECTS + "/app"))
    deps = ok(emu.api("GET", PROJECTS + "/app/deployments"))
    return {
        "env": p["deployment_configs"]["production"]["env_vars"],
        "domains": p["domains"],
        "deployments": [(d["environment"], d["deployment_trigger"]["metadata"]["branch"], d["aliases"] is not None)
                        for d in deps],
        "site": [emu.site(f"{deps[0]['short_id']}.app.pages.dev", path).content for path in files],
    }


def test_retrying_client_reaches_the_fault_free_state(start_emulator):
    clean = scenario(start_emulator())
    faulty_emu = start_emulator("--fault-rate", "0.35", "--fault-seed", "1234")
    faulty = scenario(faulty_emu)
    assert faulty == clean
    assert any(e["status"] != 200 for e in faulty_emu.requests_log())


def test_config_endpoint_and_reset(start_emulator):
    emu = start_emulator("--jwt-ttl", "77", "--max-file-count", "5")
    cfg = requests.get(emu.root_url + "/__emulator/config").json()
    assert cfg["jwt_ttl"] == 77 and cfg["max_file_count"] == 5 and cfg["fault_rate"] == 0
    cfg = emu.config(fault_rate=0.25, fault_seed=3, build_seconds=9, domain_seconds=4, jwt_ttl=5,
                     max_file_count=10)
    assert cfg == {"fault_rate": 0.25, "fault_seed": 3, "jwt_ttl": 5.0, "build_seconds": 9.0,
                   "domain_seconds": 4.0, "max_file_count": 10, "project_delete_limit": 100,
                   "upload_seconds": 0.0, "rate_limit": None, "project_create_cooldown": False,
                   "workers_jwt_ttl": 3600.0, "bandwidth": 0.0, "request_timeout": 300.0}
    for bad in ({"nope": 1}, {"fault_rate": 2}, {"jwt_ttl": "x"}, {"fault_rate": True},
                {"project_create_cooldown": 1}):
        r = requests.post(emu.root_url + "/__emulator/config", json=bad)
        assert r.status_code == 400 and "error" in r.json()
    emu.config(fault_rate=0, project_create_cooldown=True)
    emu.config(project_create_cooldown=False)
    create_project(emu, "will-go")
    emu.config(project_create_cooldown=True)
    body = emu.reset()
    assert body["status"] == "ok" and body["config"]["jwt_ttl"] == 77 and body["config"]["fault_rate"] == 0
    assert body["config"]["project_create_cooldown"] is False
    assert emu.requests_log() == []
    assert ok(emu.api("GET", PROJECTS)) == []
    assert list((emu.data_dir / "assets").iterdir()) == []
    assert requests.get(emu.root_url + "/__emulator/nope").status_code == 404


def test_upload_seconds_slows_only_asset_uploads(emu):
    create_project(emu, "slow")
    emu.config(upload_seconds=0.4)
    started = time.monotonic()
    ok(emu.api("GET", PROJECTS))
    assert time.monotonic() - started < 0.4
    upload(emu, "slow", {"/a.txt": b"a"})
    assert time.monotonic() - started >= 0.4
    assert emu.reset()["config"]["upload_seconds"] == 0
