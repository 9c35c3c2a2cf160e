"""POST /__emulator/backdate: a deployment made to look older, for tests of age rules."""
from datetime import datetime, timedelta

import requests
from emu_helpers import create_project, deploy, ok


def backdate(emu, **body):
    return requests.post(emu.root_url + "/__emulator/backdate", json=body, timeout=10)


def created(d):
    return datetime.fromisoformat(d["created_on"].replace("Z", "+00:00"))


def listed(emu, project):
    return ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments"))


def test_backdate_moves_created_on_and_keeps_the_order(emu):
    create_project(emu, "aged")
    old = deploy(emu, "aged", {"/index.html": b"old"}, branch="feat")
    new = deploy(emu, "aged", {"/index.html": b"new"}, branch="feat")
    r = backdate(emu, project="aged", deployment_id=old["id"], seconds=3 * 86400)
    assert r.status_code == 200 and r.json()["id"] == old["id"]
    after = {d["id"]: d for d in listed(emu, "aged")}
    assert created(old) - created(after[old["id"]]) == timedelta(days=3)
    assert after[old["id"]]["created_on"] == r.json()["created_on"]
    assert after[new["id"]]["created_on"] == new["created_on"]
    assert [d["id"] for d in listed(emu, "aged")] == [new["id"], old["id"]]  # newest first, as created
    assert after[new["id"]]["aliases"] == ["https://feat.aged.pages.dev"]
    assert after[old["id"]]["latest_stage"]["status"] == "success"
    assert emu.site(f"{old['short_id']}.aged.pages.dev").content == b"old"


def test_backdate_refuses_bad_requests(emu):
    create_project(emu, "aged2")
    create_project(emu, "aged3")
    d = deploy(emu, "aged2", {"/index.html": b"x"})
    assert backdate(emu, project="aged2", deployment_id="nope", seconds=1).status_code == 404
    assert backdate(emu, project="aged3", deployment_id=d["id"], seconds=1).status_code == 404
    assert backdate(emu, project="aged2", deployment_id=d["id"], seconds=-1).status_code == 400
    assert backdate(emu, project="aged2", deployment_id=d["id"], seconds="1").status_code == 400
    assert backdate(emu, project="aged2", deployment_id=d["id"], days=1).status_code == 400
