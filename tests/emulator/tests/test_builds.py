"""Git-connected projects: simulated builds walking the stages, the failure rule, logs, serving."""
import time

import requests

from emu_helpers import create_project, deploy, error_of, get_deployment, get_project, ok, post_deployment

SOURCE = {"type": "github", "config": {"owner": "acme", "repo_name": "web", "production_branch": "main"}}


def git_project(emu, name, build_command="npm run build"):
    return create_project(emu, name, "main", source=SOURCE,
                          build_config={"build_command": build_command, "destination_dir": "dist"})


def wait_done(emu, project, dep_id, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = get_deployment(emu, project, dep_id)
        st = d["latest_stage"]
        if d["is_skipped"] or st["status"] == "failure" or (st["name"] == "deploy" and st["status"] == "success"):
            return d  # a build a newer one of its branch superseded is skipped: it ends too
        time.sleep(0.05)
    raise AssertionError("build did not finish")


def logs(emu, project, dep_id):
    return ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments/{dep_id}/history/logs",
                      params={"size": 10000000}))  # the whole log, as wrangler asks


def test_build_walks_the_stages(emu):
    emu.config(build_seconds=1.5)
    git_project(emu, "gb")
    d = ok(post_deployment(emu, "gb", None, branch="main"))
    assert d["latest_stage"]["name"] == "queued" and d["latest_stage"]["status"] == "active"
    assert [s["status"] for s in d["stages"]] == ["active", "idle", "idle", "idle", "idle"]
    # the API completes source.config with defaults (test_sdk.py::test_sdk_git_project_build)
    assert d["source"]["type"] == "github" and SOURCE["config"].items() <= d["source"]["config"].items()
    assert d["build_config"]["build_command"] == "npm run build"
    assert len(d["deployment_trigger"]["metadata"]["commit_hash"]) == 40
    # nothing is live yet; the build is not canonical before it deploys
    assert get_project(emu, "gb")["canonical_deployment"] is None
    assert emu.site("gb.pages.dev").status_code == 404
    seen = []
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        cur = get_deployment(emu, "gb", d["id"])
        stage = (cur["latest_stage"]["name"], cur["latest_stage"]["status"])
        if not seen or seen[-1] != stage:
            seen.append(stage)
        if stage == ("deploy", "success"):
            break
        time.sleep(0.05)
    names = list(dict.fromkeys(s for s, _ in seen))
    assert names == sorted(names, key=["queued", "initialize", "clone_repo", "build", "deploy"].index)
    assert all(status in ("active", "success") for _, status in seen)
    assert seen[-1] == ("deploy", "success") and len(seen) >= 4
    done = get_deployment(emu, "gb", d["id"])
    assert all(s["status"] == "success" and s["started_on"] and s["ended_on"] for s in done["stages"])
    assert done["modified_on"] == done["stages"][-1]["ended_on"]
    assert get_project(emu, "gb")["canonical_deployment"]["id"] == d["id"]
    lines = [x["line"] for x in logs(emu, "gb", d["id"])["data"]]
    assert lines[-1] == "Success: Your site was deployed!"
    assert "Executing user command: npm run build" in lines


def test_successful_build_serves_generated_site(emu):
    git_project(emu, "gen")
    d = ok(post_deployment(emu, "gen", None, branch="feature/x", commit_hash="a" * 40))
    wait_done(emu, "gen", d["id"])
    r = emu.site(f"{d['short_id']}.gen.pages.dev", "/")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    for needle in (b"gen", b"feature/x", b"a" * 40):
        assert needle in r.content
    assert emu.site("feature-x.gen.pages.dev").content == r.content


FAILING = [("npm run build && exit 3", 3), ("false", 1), ("make || false", 1), ("exit 0; exit 7", 7)]
PASSING = ["exit 0", "npm run build", "echo falsey", None]


def test_failing_build_rule(emu):
    started = []  # all builds run side by side (time-based), so the test waits once
    for i, (command, code) in enumerate(FAILING):
        git_project(emu, f"fb{i}", command)
        started.append((f"fb{i}", ok(post_deployment(emu, f"fb{i}", None, branch="main")), code))
    for project, d, code in started:
        done = wait_done(emu, project, d["id"])
        assert done["latest_stage"]["name"] == "build" and done["latest_stage"]["status"] == "failure"
        assert [s["status"] for s in done["stages"]] == ["success", "success", "success", "failure", "idle"]
        assert logs(emu, project, d["id"])["data"][-1]["line"] == (
            f"Failed: build command exited with code {code}")
        assert get_project(emu, project)["canonical_deployment"] is None
        assert emu.site(f"{d['short_id']}.{project}.pages.dev").status_code == 404
        r = emu.api("POST", f"/accounts/{{a}}/pages/projects/{project}/deployments/{d['id']}/rollback")
        assert error_of(r)[:2] == (400, 8000038)


def test_non_failing_commands(emu):
    started = []
    for i, command in enumerate(PASSING):
        git_project(emu, f"ok{i}", command)
        started.append((f"ok{i}", ok(post_deployment(emu, f"ok{i}", None, branch="main"))))
    for project, d in started:
        assert wait_done(emu, project, d["id"])["latest_stage"]["status"] == "success"


def test_retry_rebuilds_with_current_command(emu):
    git_project(emu, "rt", "exit 2")
    d = ok(post_deployment(emu, "rt", None, branch="main"))
    wait_done(emu, "rt", d["id"])
    ok(emu.api("PATCH", "/accounts/{a}/pages/projects/rt", json={"build_config": {"build_command": "make"}}))
    new = ok(emu.api("POST", f"/accounts/{{a}}/pages/projects/rt/deployments/{d['id']}/retry"))
    assert new["deployment_trigger"]["metadata"]["commit_hash"] == d["deployment_trigger"]["metadata"]["commit_hash"]
    assert wait_done(emu, "rt", new["id"])["latest_stage"]["status"] == "success"
    assert get_project(emu, "rt")["canonical_deployment"]["id"] == new["id"]


def test_direct_upload_to_git_project_is_allowed(emu):
    git_project(emu, "mixed")
    d = deploy(emu, "mixed", {"/index.html": b"du"})
    assert d["latest_stage"]["status"] == "success" and "source" not in d
    assert emu.site("mixed.pages.dev").content == b"du"


def set_head(emu, **body):
    return requests.post(emu.root_url + "/__emulator/branch_head", json=body, timeout=10)


def test_build_checks_out_the_branch_head(emu):
    git_project(emu, "heads")
    r = set_head(emu, project="heads", branch="main", commit_hash="1" * 40, commit_message="Release 1")
    assert r.status_code == 200 and r.json() == {"project": "heads", "branch": "main", "commit_hash": "1" * 40,
                                                 "commit_message": "Release 1"}
    # the request names only the branch; a commit_hash it sends does not choose what is built
    first = ok(post_deployment(emu, "heads", None, branch="main", commit_hash="f" * 40))
    again = ok(post_deployment(emu, "heads", None, branch="main"))
    for d in (first, again):
        assert d["deployment_trigger"]["metadata"]["commit_hash"] == "1" * 40
        assert d["deployment_trigger"]["metadata"]["commit_message"] == "Release 1"
    ok_head = set_head(emu, project="heads", branch="main", commit_hash="2" * 40, account_id=emu.account)
    assert ok_head.status_code == 200 and ok_head.json()["commit_message"] == "HEAD of main"
    pushed = ok(post_deployment(emu, "heads", None, branch="main"))
    assert pushed["deployment_trigger"]["metadata"]["commit_hash"] == "2" * 40
    # other branches are unaffected: a generated commit as before
    other = ok(post_deployment(emu, "heads", None, branch="dev"))
    assert other["deployment_trigger"]["metadata"]["commit_hash"] not in ("1" * 40, "2" * 40)
    # the head is part of the project's state, not of its API representation
    assert "branch_heads" not in get_project(emu, "heads")
    emu.reset()
    git_project(emu, "heads")
    fresh = ok(post_deployment(emu, "heads", None, branch="main"))
    assert fresh["deployment_trigger"]["metadata"]["commit_hash"] != "2" * 40


def test_branch_head_bad_requests(emu):
    git_project(emu, "bh")
    create_project(emu, "du")
    cases = [
        ({"project": "nope", "branch": "main", "commit_hash": "a" * 40}, 404),
        ({"project": "du", "branch": "main", "commit_hash": "a" * 40}, 400),
        ({"project": "bh", "branch": "main", "commit_hash": "XYZ"}, 400),
        ({"project": "bh", "branch": "", "commit_hash": "a" * 40}, 400),
        ({"project": "bh", "branch": "main"}, 400),
        ({"project": "bh", "branch": "main", "commit_hash": "a" * 40, "colour": "red"}, 400),
        ({"project": "bh", "branch": "main", "commit_hash": "a" * 40, "account_id": "0" * 32}, 404),
    ]
    for body, status in cases:
        r = set_head(emu, **body)
        assert r.status_code == status and "error" in r.json(), (body, r.text)
    bad = requests.post(emu.root_url + "/__emulator/branch_head", data=b"[1", timeout=10)
    assert bad.status_code == 400
