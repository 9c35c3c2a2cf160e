"""Build images: `deployment_configs.<env>.build_image_major_version`, its default, its checks,
and the image each deployment records (and builds on: the pipenv rule of build_images.py)."""
import pytest

from emu_helpers import create_project, deploy, error_of, get_deployment, get_project, ok, post_deployment
from test_builds import SOURCE, logs, wait_done

PROJECTS = "/accounts/{a}/pages/projects"


def images(project):
    return {env: project["deployment_configs"][env]["build_image_major_version"] for env in ("production", "preview")}


def patch(emu, name, body):
    return emu.api("PATCH", f"{PROJECTS}/{name}", json=body)


def git_project(emu, name, build_command="npm run build", **configs):
    return create_project(emu, name, "main", source=SOURCE,
                          build_config={"build_command": build_command, "destination_dir": "dist"},
                          deployment_configs={env: {"build_image_major_version": v} for env, v in configs.items()})


def test_a_new_project_builds_on_v3(emu):
    assert images(create_project(emu, "fresh")) == {"production": 3, "preview": 3}
    assert images(get_project(emu, "fresh")) == {"production": 3, "preview": 3}


def test_each_environment_keeps_its_own_image(emu):
    created = create_project(emu, "old", deployment_configs={"production": {"build_image_major_version": 1},
                                                             "preview": {"build_image_major_version": 2}})
    assert images(created) == {"production": 1, "preview": 2}
    ok(patch(emu, "old", {"deployment_configs": {"preview": {"build_image_major_version": 3}}}))
    assert images(get_project(emu, "old")) == {"production": 1, "preview": 3}
    # null leaves a defaulted key as it is
    ok(patch(emu, "old", {"deployment_configs": {"production": {"build_image_major_version": None}}}))
    assert images(get_project(emu, "old")) == {"production": 1, "preview": 3}


@pytest.mark.parametrize("value", [0, 4, -1, "3", 2.5, True, [3], {"major": 3}])
def test_other_values_are_refused(emu, value):
    create_project(emu, "strict", deployment_configs={"production": {"build_image_major_version": 2}})
    # preview is merged first: the refusal of production's value must undo it too
    status, code, message = error_of(patch(emu, "strict", {"deployment_configs": {
        "preview": {"fail_open": False}, "production": {"build_image_major_version": value}}}))
    assert (status, code) == (400, 8000041)
    assert "deployment_configs.production.build_image_major_version must be one of 1, 2, 3" in message
    project = get_project(emu, "strict")
    assert images(project) == {"production": 2, "preview": 3}
    assert project["deployment_configs"]["preview"]["fail_open"] is True  # nothing of the PATCH applied
    status, code, _ = error_of(emu.api("POST", PROJECTS, json={
        "name": "never", "production_branch": "main",
        "deployment_configs": {"production": {"build_image_major_version": value}}}))
    assert (status, code) == (400, 8000041)
    assert emu.api("GET", f"{PROJECTS}/never").status_code == 404


def test_a_build_records_the_image_of_its_environment(emu):
    emu.config(build_seconds=0.3)
    git_project(emu, "mixed", production=2, preview=3)
    prod = wait_done(emu, "mixed", ok(post_deployment(emu, "mixed", None, branch="main"))["id"])
    prev = wait_done(emu, "mixed", ok(post_deployment(emu, "mixed", None, branch="feature"))["id"])
    assert (prod["environment"], prod["build_image_major_version"]) == ("production", 2)
    assert (prev["environment"], prev["build_image_major_version"]) == ("preview", 3)
    assert "Build image: v2" in [entry["line"] for entry in logs(emu, "mixed", prod["id"])["data"]]
    assert "Build image: v3" in [entry["line"] for entry in logs(emu, "mixed", prev["id"])["data"]]
    # a snapshot: moving the environment later does not relabel what was built
    ok(patch(emu, "mixed", {"deployment_configs": {"production": {"build_image_major_version": 3}}}))
    assert get_deployment(emu, "mixed", prod["id"])["build_image_major_version"] == 2
    assert get_project(emu, "mixed")["canonical_deployment"]["build_image_major_version"] == 2


def test_pipenv_builds_on_v2_and_fails_on_v3(emu):
    emu.config(build_seconds=0.3)
    git_project(emu, "py", build_command="pipenv run mkdocs build", production=2, preview=2)
    on_v2 = wait_done(emu, "py", ok(post_deployment(emu, "py", None, branch="feature"))["id"])
    assert on_v2["latest_stage"] == {**on_v2["latest_stage"], "name": "deploy", "status": "success"}
    ok(patch(emu, "py", {"deployment_configs": {"preview": {"build_image_major_version": 3}}}))
    on_v3 = wait_done(emu, "py", ok(post_deployment(emu, "py", None, branch="feature"))["id"])
    assert (on_v3["latest_stage"]["name"], on_v3["latest_stage"]["status"]) == ("build", "failure")
    assert on_v3["build_image_major_version"] == 3
    lines = [entry["line"] for entry in logs(emu, "py", on_v3["id"])["data"]]
    assert lines[-2].startswith("pipenv: command not found")
    assert lines[-1] == "Failed: build command exited with code 127"
    # production, still on v2, builds the same command
    on_prod = wait_done(emu, "py", ok(post_deployment(emu, "py", None, branch="main"))["id"])
    assert (on_prod["latest_stage"]["name"], on_prod["latest_stage"]["status"]) == ("deploy", "success")
    assert get_project(emu, "py")["canonical_deployment"]["id"] == on_prod["id"]


def test_a_direct_upload_records_the_image_too(emu):
    create_project(emu, "du", deployment_configs={"production": {"build_image_major_version": 2}})
    d = deploy(emu, "du", {"/index.html": b"<h1>hi</h1>"})
    assert d["build_image_major_version"] == 2
    assert deploy(emu, "du", {"/index.html": b"<h1>preview</h1>"}, branch="dev")["build_image_major_version"] == 3
