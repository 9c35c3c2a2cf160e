"""What the Pages API gained in 2026: superseded queued builds are skipped, the source endpoints of
an existing project, the anti-abuse cooldown on creating projects, includes_container_logs."""
import time

from emu_helpers import create_project, deploy, error_of, get_deployment, get_project, ok, post_deployment

SOURCE = {"type": "github", "config": {"owner": "acme", "repo_name": "web", "production_branch": "main"}}


def git_project(emu, name):
    return create_project(emu, name, "main", source=SOURCE, build_config={"build_command": "npm run build"})


def logs(emu, project, dep_id):
    return ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments/{dep_id}/history/logs",
                      params={"size": 10000000}))


def test_a_newer_build_of_the_branch_skips_the_queued_one(emu):
    emu.config(build_seconds=50)  # the queued stage lasts 10 s
    git_project(emu, "sup")
    first = ok(post_deployment(emu, "sup", None, branch="main"))
    other_branch = ok(post_deployment(emu, "sup", None, branch="feat"))
    second = ok(post_deployment(emu, "sup", None, branch="main"))
    old = get_deployment(emu, "sup", first["id"])
    assert old["is_skipped"] is True and old["skip_reason"] == "superseded_queued_build"
    # Stage.status has no "skipped" in the API reference: the queued stage ended, nothing else ran
    assert old["latest_stage"]["name"] == "queued" and old["latest_stage"]["status"] == "canceled"
    assert old["latest_stage"]["ended_on"] is not None
    assert [s["status"] for s in old["stages"][1:]] == ["idle"] * 4
    assert logs(emu, "sup", first["id"])["data"][-1]["line"].startswith("Skipped:")
    # the newer build and the other branch's build go on
    for dep in (second, other_branch):
        cur = get_deployment(emu, "sup", dep["id"])
        assert cur["is_skipped"] is False and cur["skip_reason"] is None
        assert cur["latest_stage"]["status"] == "active"
    # a skipped production build never becomes the live deployment
    assert get_project(emu, "sup")["canonical_deployment"] is None


def test_a_build_past_its_queued_stage_is_not_skipped(emu):
    emu.config(build_seconds=1.0)
    git_project(emu, "nosup")
    first = ok(post_deployment(emu, "nosup", None, branch="main"))
    time.sleep(0.4)  # past the queued stage (0.2 s)
    ok(post_deployment(emu, "nosup", None, branch="main"))
    cur = get_deployment(emu, "nosup", first["id"])
    assert cur["is_skipped"] is False and cur["skip_reason"] is None


def test_direct_uploads_are_never_skipped(emu):
    create_project(emu, "du-nosup")
    first = deploy(emu, "du-nosup", {"index.html": b"one"})
    deploy(emu, "du-nosup", {"index.html": b"two"})
    assert get_deployment(emu, "du-nosup", first["id"])["is_skipped"] is False


def source_path(name):
    return f"/accounts/{{a}}/pages/projects/{name}/source"


def test_disconnect_and_connect_the_source_of_a_git_project(emu):
    git_project(emu, "src")
    gone = ok(emu.api("DELETE", source_path("src")))
    assert "source" not in gone and "source" not in get_project(emu, "src")
    assert error_of(emu.api("DELETE", source_path("src")))[:2] == (400, 8000039)
    body = {"type": "gitlab", "config": {"owner": "team", "repo_name": "site", "production_deployments_enabled": False,
                                         "preview_deployment_setting": "none"}}
    back = ok(emu.api("POST", source_path("src"), json=body))
    cfg = back["source"]["config"]
    assert back["source"]["type"] == "gitlab" and cfg["owner"] == "team" and cfg["repo_name"] == "site"
    assert cfg["production_deployments_enabled"] is False and cfg["preview_deployment_setting"] == "none"
    assert cfg["production_branch"] == "main"  # completed like a created project's
    assert get_project(emu, "src")["source"] == back["source"]


def test_a_direct_upload_project_cannot_be_connected(emu):
    create_project(emu, "du-src")
    status, code, message = error_of(emu.api("POST", source_path("du-src"), json=SOURCE))
    assert (status, code) == (400, 8000039) and "Direct Upload" in message
    assert "source" not in get_project(emu, "du-src")


def test_connect_checks_the_body_and_the_project(emu):
    git_project(emu, "src-bad")
    assert error_of(emu.api("POST", source_path("src-bad"), json={"type": "svn", "config": {}}))[:2] == (400, 8000041)
    assert error_of(emu.api("POST", source_path("src-bad"), json={"type": "github"}))[:2] == (400, 8000041)
    assert error_of(emu.api("POST", source_path("nope"), json=SOURCE))[:2] == (404, 8000007)


def test_the_project_creation_cooldown_switch(emu):
    emu.config(project_create_cooldown=True)
    status, code, message = error_of(emu.api("POST", "/accounts/{a}/pages/projects",
                                             json={"name": "cool", "production_branch": "main"}))
    assert status == 400 and "anti-abuse" in message and "48 hours" in message
    assert error_of(emu.api("GET", "/accounts/{a}/pages/projects/cool"))[1] == 8000007
    emu.config(project_create_cooldown=False)
    create_project(emu, "cool")


def test_build_logs_carry_includes_container_logs(emu):
    create_project(emu, "logs")
    d = deploy(emu, "logs", {"index.html": b"x"})
    body = logs(emu, "logs", d["id"])
    assert body["includes_container_logs"] is False and body["total"] == len(body["data"])
