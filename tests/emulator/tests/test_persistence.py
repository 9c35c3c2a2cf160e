"""State survives a restart on the same data dir."""
import requests

from emu_helpers import create_project, deploy, get_project, jwt_for, ok


def test_state_survives_restart(start_emulator):
    emu = start_emulator("--domain-seconds", "0")
    create_project(emu, "persist", deployment_configs={"production": {
        "env_vars": {"S": {"type": "secret_text", "value": "x"}}}})
    prod = deploy(emu, "persist", {"/index.html": (b"persisted", "text/html")},
                  special={"_headers": b"/*\n  X-P: 1\n"})
    prev = deploy(emu, "persist", {"/index.html": b"preview"}, branch="dev")
    ok(emu.api("POST", "/accounts/{a}/pages/projects/persist/domains", json={"name": "p.example.com"}))
    jwt = jwt_for(emu, "persist")
    before = get_project(emu, "persist")
    port = emu.port

    emu.restart()
    assert emu.port == port
    after = get_project(emu, "persist")
    assert after == before
    assert after["canonical_deployment"]["id"] == prod["id"]
    assert after["latest_deployment"]["id"] == prev["id"]
    r = emu.site(f"{prod['short_id']}.persist.pages.dev")
    assert r.content == b"persisted" and r.headers["X-P"] == "1"
    assert emu.site("dev.persist.pages.dev").content == b"preview"
    assert emu.site("p.example.com").content == b"persisted"
    # assets and the JWT secret persisted too: nothing is missing, the old JWT still works
    missing = ok(emu.api("POST", "/pages/assets/check-missing", auth=False,
                         headers={"Authorization": f"Bearer {jwt}"},
                         json={"hashes": [prod_hash for prod_hash in _manifest_hashes(emu)]}))
    assert missing == []
    # the request log is per process
    assert [e["path"] for e in emu.requests_log()][-1].endswith("/pages/assets/check-missing")
    assert len(emu.requests_log()) == 2


def _manifest_hashes(emu):
    import sqlite3
    import json
    db = sqlite3.connect(str(emu.data_dir / "state.sqlite3"))
    return sorted({h for (manifest,) in db.execute("SELECT manifest FROM deployments")
                   for h in json.loads(manifest).values()})


def test_reset_survives_restart(start_emulator):
    emu = start_emulator()
    create_project(emu, "x")
    emu.reset()
    emu.restart()
    assert ok(emu.api("GET", "/accounts/{a}/pages/projects")) == []
    assert requests.get(emu.root_url + "/__emulator/health").json()["status"] == "ok"
