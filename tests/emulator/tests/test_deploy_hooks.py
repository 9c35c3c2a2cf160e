"""Deploy hooks (unauthenticated build trigger) and branch aliases after a preview clean-up."""
import time

import requests
from emu_helpers import create_project, error_of, ok, post_deployment
from test_builds import git_project, wait_done


def register(emu, project, branch=None):
    body = {"account_id": emu.account, "project": project}
    if branch is not None:
        body["branch"] = branch
    return requests.post(emu.root_url + "/__emulator/deploy_hooks", json=body, timeout=10)


def test_hook_starts_a_build_without_credentials(emu):
    git_project(emu, "hooked")
    hook = register(emu, "hooked", "main").json()
    assert hook["url"] == f"{emu.base_url}/pages/webhooks/deploy_hooks/{hook['id']}"
    r = requests.post(hook["url"], timeout=10)  # no Authorization header
    dep_id = ok(r)["id"]
    d = wait_done(emu, "hooked", dep_id)
    assert d["deployment_trigger"]["type"] == "deploy_hook"
    assert d["deployment_trigger"]["metadata"]["branch"] == "main"
    assert d["environment"] == "production" and d["latest_stage"]["status"] == "success"
    # API-triggered builds keep their own trigger type
    other = ok(post_deployment(emu, "hooked", None, branch="main"))
    assert other["deployment_trigger"]["type"] == "ad_hoc"


def test_hook_branch_defaults_to_production_and_preview_works(emu):
    git_project(emu, "hooked2")
    prod = register(emu, "hooked2").json()
    preview = register(emu, "hooked2", "feature").json()
    assert ok(requests.post(prod["url"], timeout=10))["id"]
    dep = ok(requests.post(preview["url"], timeout=10))
    d = wait_done(emu, "hooked2", dep["id"])
    assert d["environment"] == "preview" and d["deployment_trigger"]["metadata"]["branch"] == "feature"


def test_unknown_hook_and_bad_registrations(emu):
    git_project(emu, "hooked3")
    r = requests.post(emu.base_url + "/pages/webhooks/deploy_hooks/00000000-0000-4000-8000-000000000000",
                      timeout=10)
    assert r.status_code == 404 and error_of(r)[0] == 404
    assert register(emu, "nope").status_code == 400
    create_project(emu, "direct-only")
    assert register(emu, "direct-only").status_code == 400   # no source: no hooks
    hook = register(emu, "hooked3").json()
    emu.reset()
    assert requests.post(hook["url"], timeout=10).status_code == 404   # reset forgets hooks


def test_deleted_branch_alias_answers_404(emu):
    git_project(emu, "prev")
    ids = [ok(post_deployment(emu, "prev", None, branch="feature-x"))["id"] for _ in range(2)]
    for dep_id in ids:
        wait_done(emu, "prev", dep_id)
    alias_host = "feature-x.prev.pages.dev"
    assert emu.site(alias_host).status_code == 200
    for dep_id in reversed(ids):  # newest first: the alias needs force
        r = emu.api("DELETE", f"/accounts/{{a}}/pages/projects/prev/deployments/{dep_id}",
                    params={"force": "true"})
        ok(r)
    time.sleep(0.05)
    assert emu.site(alias_host).status_code == 404
