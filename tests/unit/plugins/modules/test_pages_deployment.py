# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the pages_deployment module, against the fake Pages API (fake_pages_api.py).

The direct-upload engine's ``_upload.DirectUpload.run`` is replaced by a recorder here: its own
tests live in test_upload.py; these check what the module does around it.
"""

from __future__ import annotations

import dataclasses

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import pages_deploy as _upload
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError, RateLimitBudgetSpent
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.ratelimit import Pacer, WaitBudget
from ansible_collections.cfpages.cloudflare.plugins.modules import pages_deployment
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fake_pages_api import deployment as fake_deployment

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
TOKEN = "unit-test-token-0123456789abcdef0123456789"


def stage(name, status):
    return {"name": name, "status": status}


def deployment(ident, env="production", branch="main", day=1, status="success", stage_name="deploy", **fields):
    """A Deployment object created on 2026-09-0<day> whose latest stage is ``stage_name`` (``status``)."""
    return fake_deployment(ident, environment=env, branch=branch, stage=(stage_name, status),
                           created_on="2026-09-0%dT00:00:00Z" % day, **fields)


def seed(api, *deployments, canonical=None, **project):
    """Project ``site`` (``project`` fields on top of the API's defaults) with ``deployments``
    (newest first); ``canonical`` is the id of its live production deployment."""
    api.seed_project("site", **project)
    for item in deployments:
        api.deployments["site"].append(item)
        if item["id"] == canonical:
            api.projects["site"]["canonical_deployment"] = item
    return api


@pytest.fixture
def api(pages_api):
    """The fake Pages API (no project yet); time never passes for real."""
    return pages_api


@pytest.fixture
def engine(monkeypatch):
    """Replace DirectUpload.run after its checks of a site for a new project (and that project's
    creation); ``engine.result`` is what it returns, ``engine.calls`` what it got: the DeployRequest's
    fields plus ``project_info``, ``check_mode`` and ``scan`` (the scan made before)."""

    class Engine:
        calls = []
        built = 0
        result = None
        error = None

    class Recorder(_upload.DirectUpload):
        def __init__(self, *args, **kwargs):
            Engine.built += 1
            super().__init__(*args, **kwargs)

        def run(self, project_info=None, check_mode=False, create_project=None):
            if project_info is None and create_project is not None:
                self.check_new_site()
                project_info = create_project()
            Engine.calls.append(dict(dataclasses.asdict(self.request), project_info=project_info, check_mode=check_mode, scan=self._scan))
            if Engine.error is not None:
                raise Engine.error
            return Engine.result

    monkeypatch.setattr(_upload, "DirectUpload", Recorder)
    Engine.calls = []
    Engine.built = 0
    return Engine


def args(**kwargs):
    base = {"api_token": TOKEN, "account_id": ACCOUNT, "project_name": "site"}
    base.update(kwargs)
    return base


def counts(files=3, uploaded=1):
    return {"files": files, "bytes": 30, "uploaded": uploaded, "uploaded_bytes": 10 * uploaded,
            "skipped": files - uploaded, "buckets": 1 if uploaded else 0}


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("extra, message", [
    ({"state": "absent", "deployment_id": "x", "source": "/tmp"}, "source cannot be used with state=absent"),
    ({"keep": 2}, "keep cannot be used with state=present"),
    ({"state": "pruned", "keep": 1, "deployment_id": "x"}, "deployment_id cannot be used with state=pruned"),
    ({"state": "rolled_back", "deployment_id": "x", "branch": "main"}, "branch cannot be used"),
    ({"exclude": ["*.map"]}, "exclude cannot be used with state=present without source"),
    ({"state": "pruned", "keep": -1}, "keep must be 0 or more"),
    ({"state": "pruned", "older_than": "soon"}, "older_than='soon' is not"),
    ({"wait_timeout": -1}, "wait_timeout must be 0 or more"),
])
def test_invalid_combinations_fail_before_any_request(run_module, api, extra, message):
    seed(api)
    status, result = run_module(pages_deployment.main, args(**extra))
    assert status == "fail"
    assert message in result["msg"]
    assert api.calls == []


def test_required_if(run_module, api):
    seed(api)
    status, result = run_module(pages_deployment.main, args(state="pruned"))
    assert status == "fail" and "keep, keep_per_branch, older_than" in result["msg"]
    status, result = run_module(pages_deployment.main, args(state="retried"))
    assert status == "fail" and "deployment_id" in result["msg"]


# --------------------------------------------------------------------------- present: direct upload


def test_missing_project_without_create_project(run_module, api, engine, tmp_path):
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path)))
    assert status == "fail"
    assert "Project site does not exist" in result["msg"] and "create_project" in result["msg"]
    assert engine.calls == [] and api.mutations() == []


def test_create_project_in_check_mode_creates_nothing(run_module, api, engine, tmp_path):
    (tmp_path / "index.html").write_text("hi")
    engine.result = {"changed": True, "deployment": None, "upload": counts(1, 1)}
    status, result = run_module(pages_deployment.main, args(
        source=str(tmp_path), create_project=True, production_branch="prod", _ansible_check_mode=True))
    assert status == "exit"
    assert result["changed"] and result["project_created"]
    assert result["deployment"] is None
    assert result["environment"] == "production"
    assert result["upload"]["uploaded"] == 1
    assert api.mutations() == []
    assert engine.calls[0]["check_mode"] is True
    assert engine.calls[0]["project_info"] is None
    assert engine.calls[0]["branch"] is None and engine.calls[0]["production_branch"] == "prod"


def test_worker_bundle_reaches_the_engine_and_defaults_to_auto(run_module, api, engine, tmp_path):
    (tmp_path / "index.html").write_text("hi")
    engine.result = {"changed": False, "deployment": deployment("d1"), "upload": counts(1, 0)}
    seed(api)
    for extra, expected in (({}, "auto"), ({"worker_bundle": "never"}, "never")):
        status, result = run_module(pages_deployment.main, args(source=str(tmp_path), **extra))
        assert status == "exit", result
        assert engine.calls[-1]["worker_bundle"] == expected
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), worker_bundle="sometimes"))
    assert status == "fail" and "worker_bundle" in result["msg"]


def test_create_project_then_deploy(run_module, api, engine, tmp_path):
    (tmp_path / "index.html").write_text("hi")
    engine.result = {"changed": True, "deployment": deployment("d1"), "upload": counts(1, 1)}
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), create_project=True, branch="dev"))
    assert status == "exit" and result["changed"]
    assert ("create_project_or_existing", {"name": "site", "production_branch": "dev"}) in api.calls
    assert engine.calls[0]["project_info"]["name"] == "site"
    # The scan made to check the site before creating the project is re-used, not made again.
    assert [f.path for f in engine.calls[0]["scan"].files] == ["/index.html"]
    # One engine, one call into it: the checks before the create, the create, the plan and the deploy.
    assert engine.built == 1 and len(engine.calls) == 1
    assert result["environment"] == "production"


def test_create_project_that_lost_a_race_deploys_to_the_existing_project(run_module, api, engine, tmp_path):
    (tmp_path / "index.html").write_text("hi")
    # Another run creates the project (on another production branch) between our read and our create.
    api.inject("create_project_or_existing", before=lambda: api.seed_project("site", production_branch="release"))
    engine.result = {"changed": False, "deployment": deployment("d1"), "upload": counts(1, 0)}
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), create_project=True))
    assert status == "exit", result
    assert result["project_created"] is False
    assert result["changed"] is False  # this run created nothing and deployed nothing new
    assert engine.calls[0]["project_info"]["production_branch"] == "release"


def test_create_project_refuses_a_site_that_cannot_be_deployed_before_creating(run_module, api, engine, tmp_path, monkeypatch):

    def preflight(scan, max_file_count=None):
        raise _upload.UploadError("Pages only supports files up to 25 MiB in size; 1 file too large: /big.bin")

    monkeypatch.setattr(_upload, "preflight", preflight)
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), create_project=True))
    assert status == "fail" and "/big.bin" in result["msg"]
    assert "status" not in result and "errors" not in result
    assert api.mutations() == []


def test_create_project_without_source_is_refused(run_module, api):
    status, result = run_module(pages_deployment.main, args(create_project=True))
    assert status == "fail" and "only creates Direct Upload projects" in result["msg"]
    assert api.mutations() == []


def test_environment_guard(run_module, api, engine, tmp_path):
    seed(api)
    status, result = run_module(pages_deployment.main, args(
        source=str(tmp_path), branch="feature", environment="production"))
    assert status == "fail"
    assert "Branch feature deploys to preview, not production" in result["msg"]
    assert "production branch of project site is main" in result["msg"]
    assert engine.calls == [] and api.mutations() == []


def test_environment_guard_passes(run_module, api, engine, tmp_path):
    seed(api)
    engine.result = {"changed": False, "deployment": deployment("d1"), "upload": counts(3, 0)}
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), environment="production"))
    assert status == "exit" and not result["changed"]


def test_unchanged_upload(run_module, api, engine, tmp_path):
    live = deployment("live-0001")
    seed(api, live, canonical="live-0001")
    engine.result = {"changed": False, "deployment": live, "upload": counts(3, 0), "warnings": ["w1"]}
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), _ansible_diff=True))
    assert status == "exit"
    assert result["changed"] is False
    assert result["deployment"]["id"] == "live-0001"
    assert result["upload"] == counts(3, 0)
    assert result["diff"]["before"] == result["diff"]["after"]
    assert api.mutations() == []
    call = engine.calls[0]
    assert call["branch"] is None  # the engine deploys to the project's production branch
    assert call["force"] is False and call["force_upload"] is False
    assert call["check_mode"] is False


def test_engine_gets_every_option(run_module, api, engine, tmp_path):
    seed(api)
    engine.result = {"changed": True, "deployment": deployment("d2", env="preview", branch="feat"), "upload": counts()}
    status, result = run_module(pages_deployment.main, args(
        source=str(tmp_path), branch="feat", commit_hash="abc", commit_message="msg", commit_dirty=True,
        exclude=["*.map"], force=True, force_upload=True))
    assert status == "exit" and result["changed"]
    assert result["environment"] == "preview"
    call = engine.calls[0]
    assert call["branch"] == "feat" and call["commit_hash"] == "abc" and call["commit_message"] == "msg"
    assert call["commit_dirty"] is True and call["exclude"] == ["*.map"]
    assert call["force"] is True and call["force_upload"] is True


def test_check_mode_upload_returns_counts_and_no_deployment(run_module, api, engine, tmp_path):
    live = deployment("live-0001")
    seed(api, live, canonical="live-0001")
    engine.result = {"changed": True, "deployment": None, "upload": counts(3, 1), "serving": live}
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), _ansible_check_mode=True,
                                                            _ansible_diff=True))
    assert status == "exit" and result["changed"]
    assert result["deployment"] is None
    assert result["upload"]["uploaded"] == 1
    assert result["diff"]["before"]["deployment_id"] == "live-0001"
    assert engine.calls[0]["check_mode"] is True


def test_upload_error_fails_with_api_details(run_module, api, engine, tmp_path):
    seed(api)
    engine.error = _upload.UploadError("failed to upload 3 files", 500, [{"code": 8000000, "message": "x"}])
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path)))
    assert status == "fail"
    assert result["msg"] == "failed to upload 3 files"
    assert result["status"] == 500 and result["errors"][0]["code"] == 8000000


def test_progress_lines_with_verbosity(run_module, api, engine, tmp_path, monkeypatch):
    seed(api)

    def run(self, project_info=None, check_mode=False, create_project=None):
        self.log("uploaded bucket 1/1")
        return {"changed": True, "deployment": deployment("d3"), "upload": counts()}

    monkeypatch.setattr(_upload.DirectUpload, "run", run)
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), _ansible_verbosity=1))
    assert status == "exit" and result["progress"] == ["uploaded bucket 1/1"]
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path)))
    assert status == "exit" and result["changed"] and "progress" not in result


# --------------------------------------------------------------------------- waiting


def test_wait_until_success(run_module, api, engine, tmp_path):
    pending = deployment("d4", stage_name="queued", status="active")
    seed(api)
    api.seed_deployment("site", "d4", stage=("queued", "active"), stages=[("deploy", "active"), ("deploy", "success")])
    engine.result = {"changed": True, "deployment": pending, "upload": counts()}
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path)))
    assert status == "exit"
    assert result["deployment"]["latest_stage"] == stage("deploy", "success")
    assert [c for c in api.calls if c[0] == "get_deployment"] == [("get_deployment", "site", "d4")] * 2


def test_no_wait(run_module, api, engine, tmp_path):
    pending = deployment("d4", stage_name="queued", status="active")
    seed(api)
    engine.result = {"changed": True, "deployment": pending, "upload": counts()}
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), wait=False))
    assert status == "exit" and result["deployment"]["latest_stage"]["status"] == "active"
    assert not [c for c in api.calls if c[0] == "get_deployment"]


GIT = {"type": "github", "config": {"owner": "o", "repo_name": "r"}}


def test_git_build_failure_names_the_stage_and_the_log_tail(run_module, api):
    seed(api, source=GIT)
    api.expect_build(stages=[("build", "active"), ("build", "failure")])
    api.logs[("site", "new-build-0001")] = {
        "total": 30, "data": [{"line": "line %d" % i, "ts": "t"} for i in range(29)]
        + [{"line": "Failed: build command exited with code 3", "ts": "t"}]}
    status, result = run_module(pages_deployment.main, args(branch="main"))
    assert status == "fail"
    assert result["changed"] is True
    assert "failed at stage build (failure)" in result["msg"]
    assert result["msg"].endswith("Failed: build command exited with code 3")
    assert len(result["log_tail"]) == 20
    assert result["log_tail"][-1] == "Failed: build command exited with code 3"
    assert result["deployment"]["id"] == "new-build-0001"


def test_git_build_timeout_returns_the_id_and_stage(run_module, api):
    seed(api, source=GIT)
    api.expect_build(stages=[("build", "active")])
    status, result = run_module(pages_deployment.main, args(wait_timeout=7))
    assert status == "fail"
    assert result["timed_out"] is True and result["changed"] is True
    assert result["deployment"]["id"] == "new-build-0001"
    assert "Timed out after 7s waiting for deployment new-build-0001" in result["msg"]
    assert "it is at stage build (active)" in result["msg"]


def test_a_skipped_build_is_neither_a_failure_nor_a_timeout(run_module, api, monkeypatch):
    warnings = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    newer = fake_deployment("newer-0001", stage=("build", "active"), created_on="2026-09-01T00:00:05Z")
    seed(api, newer, source=GIT)
    # Stage.status has no "skipped" in the API reference: the queued stage of a skipped build ends canceled.
    api.expect_build(stages=[("queued", "active"), ("queued", "canceled")], is_skipped=True,
                     skip_reason="superseded_queued_build")
    status, result = run_module(pages_deployment.main, args(branch="main", wait_timeout=30))
    assert status == "exit", result
    assert result["changed"] is True and "timed_out" not in result and "log_tail" not in result
    skip = result["build_skipped"]
    assert skip["reason"] == "superseded_queued_build" and skip["superseded_by"]["id"] == "newer-0001"
    assert len(warnings) == 1 and "skipped deployment new-build-0001" in warnings[0] and "newer-0001" in warnings[0]


def test_a_build_that_ran_has_no_build_skipped(run_module, api):
    seed(api, source=GIT)
    status, result = run_module(pages_deployment.main, args(branch="main"))
    assert status == "exit" and "build_skipped" not in result


# --------------------------------------------------------------------------- present: git builds


def test_git_build_trigger(run_module, api):
    seed(api, source=GIT)
    status, result = run_module(pages_deployment.main, args(branch="dev"))
    assert status == "exit" and result["changed"]
    assert result["environment"] == "preview"
    assert ("create_deployment", "site", [("branch", (None, "dev"))]) in api.calls
    assert "upload" not in result


def test_git_build_defaults_to_the_production_branch(run_module, api):
    seed(api, source=GIT, production_branch="trunk")
    status, result = run_module(pages_deployment.main, args())
    assert status == "exit" and result["environment"] == "production"
    assert ("create_deployment", "site", [("branch", (None, "trunk"))]) in api.calls


def test_git_build_check_mode(run_module, api):
    seed(api, source=GIT)
    status, result = run_module(pages_deployment.main, args(_ansible_check_mode=True))
    assert status == "exit" and result["changed"] and result["deployment"] is None
    assert api.mutations() == []


def test_git_build_same_commit_is_unchanged_unless_forced(run_module, api):
    seed(api, deployment("live-0001", commit_hash="c0ffee"), canonical="live-0001", source=GIT)
    status, result = run_module(pages_deployment.main, args(commit_hash="c0ffee"))
    assert status == "exit" and not result["changed"] and result["deployment"]["id"] == "live-0001"
    assert api.mutations() == []
    # Forced, the same commit is built again; then another commit is built (the forced build went live).
    for extra, builds in ((dict(commit_hash="c0ffee", force=True), 1), (dict(commit_hash="other"), 2)):
        api.expect_build(commit_hash=extra["commit_hash"])
        status, result = run_module(pages_deployment.main, args(**extra))
        assert status == "exit", result.get("msg")
        assert result["changed"] and result["deployment"]["id"] == "new-build-%04d" % builds
        assert [c[0] for c in api.mutations()] == ["create_deployment"] * builds


def test_git_build_same_commit_that_failed_is_rebuilt(run_module, api):
    live = deployment("pr-0001", env="preview", branch="pr", commit_hash="c0ffee", stage_name="build", status="failure")
    seed(api, live, source=GIT)
    status, result = run_module(pages_deployment.main, args(branch="pr", commit_hash="c0ffee"))
    assert status == "exit" and result["changed"]
    assert any(c[0] == "create_deployment" for c in api.calls)


def test_build_of_a_direct_upload_project_is_refused(run_module, api):
    seed(api)
    status, result = run_module(pages_deployment.main, args())
    assert status == "fail" and "Direct Upload project" in result["msg"]
    assert api.mutations() == []


# --------------------------------------------------------------------------- absent


def absent_setup(api):
    live = deployment("live-0001", day=3)
    old = deployment("old-0001", day=1)
    feat_new = deployment("feat-0002", env="preview", branch="feat", day=5, aliases=["https://feat.site.pages.dev"])
    feat_old = deployment("feat-0001", env="preview", branch="feat", day=4)
    return seed(api, feat_new, feat_old, live, old, canonical="live-0001")


def test_absent_refuses_the_live_production_deployment(run_module, api):
    absent_setup(api)
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="live-0001", force=True))
    assert status == "fail"
    assert "is the live production deployment of project site" in result["msg"]
    assert api.mutations() == []


def test_absent_refuses_a_production_deployment_serving_custom_domains(run_module, api):
    # canonical_deployment may not follow a rollback; the deployment listing the custom domains is live.
    absent_setup(api)
    api.deployments["site"][3]["aliases"] = ["https://www.example.com"]  # old-0001
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="old-0001", force=True))
    assert status == "fail" and "is the live production deployment" in result["msg"]
    assert api.mutations() == []


def test_absent_refuses_an_aliased_deployment_without_force(run_module, api):
    absent_setup(api)
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="feat-0002"))
    assert status == "fail"
    assert "is aliased" in result["msg"] and "force: true" in result["msg"]
    assert "https://feat.site.pages.dev" in result["msg"]
    assert api.mutations() == []


def test_absent_newest_preview_without_alias_field_counts_as_aliased(run_module, api):
    absent_setup(api)
    api.deployments["site"][0]["aliases"] = None
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="feat-0002"))
    assert status == "fail" and "is aliased" in result["msg"]


def test_absent_with_force(run_module, api):
    absent_setup(api)
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="feat-0002", force=True))
    assert status == "exit" and result["changed"]
    assert api.mutations() == [("delete_deployment", "site", "feat-0002", True)]


def test_absent_older_deployments_need_no_force(run_module, api):
    absent_setup(api)
    for ident in ("feat-0001", "old-0001"):
        status, result = run_module(pages_deployment.main, args(state="absent", deployment_id=ident))
        assert status == "exit" and result["changed"] and result["deployment"]["id"] == ident
    assert api.mutations() == [("delete_deployment", "site", "feat-0001", False), ("delete_deployment", "site", "old-0001", False)]


def test_absent_check_mode_and_diff(run_module, api):
    absent_setup(api)
    status, result = run_module(pages_deployment.main, args(
        state="absent", deployment_id="old-0001", _ansible_check_mode=True, _ansible_diff=True))
    assert status == "exit" and result["changed"]
    assert result["diff"]["before"]["id"] == "old-0001" and result["diff"]["after"] == ""
    assert api.mutations() == []


def test_absent_missing_is_unchanged(run_module, api):
    absent_setup(api)
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="nope"))
    assert status == "exit" and not result["changed"] and result["deployment"] is None
    api.projects.clear()
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="nope"))
    assert status == "exit" and not result["changed"]
    assert api.mutations() == []


def test_absent_maps_the_api_aliased_error(run_module, api):
    absent_setup(api)
    api.inject("delete_deployment", match="old-0001", error=PagesAPIError(
        "aliased", 400, [{"code": 8000035, "message": "You cannot delete an aliased deployment"}]))
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="old-0001"))
    assert status == "fail" and "is aliased" in result["msg"] and result["status"] == 400


def test_absent_gone_meanwhile_is_unchanged(run_module, api):
    absent_setup(api)
    # Another run deletes it between our read and our DELETE (which then answers 8000009).
    api.inject("delete_deployment", match="old-0001", before=lambda: api.remove_deployment("site", "old-0001"))
    status, result = run_module(pages_deployment.main, args(state="absent", deployment_id="old-0001"))
    assert status == "exit" and not result["changed"]


# --------------------------------------------------------------------------- rolled_back


def rollback_setup(api, canonical="p3"):
    prod = [deployment("p3", day=3), deployment("p2", day=2), deployment("p1", day=1)]
    failed = deployment("pf", day=4, stage_name="build", status="failure")
    preview = deployment("v1", env="preview", branch="feat", day=5)
    return seed(api, preview, failed, *prod, canonical=canonical)


def test_rollback(run_module, api):
    rollback_setup(api)
    status, result = run_module(pages_deployment.main, args(state="rolled_back", deployment_id="p1", _ansible_diff=True))
    assert status == "exit" and result["changed"]
    assert result["deployment"]["id"] == "p1"
    assert result["diff"] == {"before": {"live_deployment_id": "p3"}, "after": {"live_deployment_id": "p1"}}
    assert api.mutations() == [("rollback_deployment", "site", "p1")]


def test_rollback_to_the_live_deployment_is_unchanged(run_module, api):
    rollback_setup(api, canonical="p1")
    status, result = run_module(pages_deployment.main, args(state="rolled_back", deployment_id="p1"))
    assert status == "exit" and not result["changed"] and result["deployment"]["id"] == "p1"
    assert api.mutations() == []


def test_rollback_check_mode(run_module, api):
    rollback_setup(api)
    status, result = run_module(pages_deployment.main, args(
        state="rolled_back", deployment_id="p2", _ansible_check_mode=True))
    assert status == "exit" and result["changed"] and result["deployment"]["id"] == "p2"
    assert api.mutations() == []


def test_rollback_previous_skips_failed_ones_and_is_stable(run_module, api):
    rollback_setup(api)
    status, result = run_module(pages_deployment.main, args(state="rolled_back", deployment_id="previous"))
    assert result["changed"] and result["deployment"]["id"] == "p2"
    status, result = run_module(pages_deployment.main, args(state="rolled_back", deployment_id="previous"))
    assert not result["changed"] and result["deployment"]["id"] == "p2"
    assert api.mutations() == [("rollback_deployment", "site", "p2")]


def test_rollback_previous_needs_two_successful_production_deployments(run_module, api):
    seed(api, deployment("p1"), canonical="p1")
    status, result = run_module(pages_deployment.main, args(state="rolled_back", deployment_id="previous"))
    assert status == "fail" and "nothing to roll back to" in result["msg"]


@pytest.mark.parametrize("ident, message", [
    ("v1", "is a preview deployment"),
    ("pf", "did not finish successfully (latest stage build (failure))"),
    ("nope", "does not exist in project site"),
])
def test_rollback_refusals(run_module, api, ident, message):
    rollback_setup(api)
    status, result = run_module(pages_deployment.main, args(state="rolled_back", deployment_id=ident))
    assert status == "fail" and message in result["msg"]
    assert api.mutations() == []


def test_rollback_missing_project(run_module, api):
    status, result = run_module(pages_deployment.main, args(state="rolled_back", deployment_id="p1"))
    assert status == "fail" and "Project site does not exist" in result["msg"]


# --------------------------------------------------------------------------- retried


def test_retry(run_module, api):
    rollback_setup(api)
    status, result = run_module(pages_deployment.main, args(state="retried", deployment_id="pf"))
    assert status == "exit" and result["changed"]
    assert result["deployment"]["id"] == "retried-0001"
    assert api.mutations() == [("retry_deployment", "site", "pf")]


def test_retry_check_mode_and_missing(run_module, api):
    rollback_setup(api)
    status, result = run_module(pages_deployment.main, args(state="retried", deployment_id="pf", _ansible_check_mode=True))
    assert status == "exit" and result["changed"] and result["deployment"] is None
    status, result = run_module(pages_deployment.main, args(state="retried", deployment_id="nope"))
    assert status == "fail" and "does not exist" in result["msg"]
    assert api.mutations() == []


# --------------------------------------------------------------------------- pruned


def prune_setup(api):
    items = [
        deployment("m3", day=6), deployment("f2", env="preview", branch="f", day=5),
        deployment("m2", day=4), deployment("f1", env="preview", branch="f", day=3),
        deployment("m1", day=2), deployment("o1", env="preview", branch="o", day=1),
    ]
    return seed(api, *items, canonical="m3")


def test_prune_check_mode_is_a_dry_run(run_module, api):
    prune_setup(api)
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=1, _ansible_check_mode=True))
    assert status == "exit" and result["changed"]
    report = result["prune"]
    assert [d["id"] for d in report["kept"]] == ["m3", "f2"]
    assert [d["id"] for d in report["deleted"]] == ["m1", "f1", "m2"]
    assert [d["id"] for d in report["skipped"]] == ["o1"]
    assert all("force" not in d for d in report["deleted"])
    assert report["failed"] == []
    assert api.mutations() == []
    assert "skipped" not in result  # Ansible's own key stays untouched


def test_prune_deletes_oldest_first(run_module, api):
    prune_setup(api)
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=1, _ansible_diff=True))
    assert status == "exit" and result["changed"]
    # A few deletions run at once, so they are started oldest first but may be logged in another order.
    assert sorted(api.mutations()) == sorted(("delete_deployment", "site", i, False) for i in ("m1", "f1", "m2"))
    assert [d["id"] for d in result["prune"]["deleted"]] == ["m1", "f1", "m2"]
    assert sorted(result["diff"]["after"]["deployments"]) == ["f2", "m3", "o1"]


def test_prune_with_delete_aliased_sends_force_only_for_aliased(run_module, api):
    prune_setup(api)
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=0, delete_aliased=True,
                                                            environment="preview"))
    assert status == "exit"
    assert sorted(api.mutations()) == sorted([("delete_deployment", "site", "o1", True),
                                              ("delete_deployment", "site", "f1", False),
                                              ("delete_deployment", "site", "f2", True)])
    assert ("list_deployments", "site", "preview") in api.calls


def test_prune_nothing_to_do(run_module, api):
    prune_setup(api)
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=10))
    assert status == "exit" and not result["changed"]
    assert result["prune"]["deleted"] == []
    assert api.mutations() == []


def test_prune_failures_fail_the_task_after_trying_every_deletion(run_module, api):
    prune_setup(api)
    api.inject("delete_deployment", match="f1", error=PagesAPIError("boom", 500, [{"code": 8000000, "message": "boom"}]))
    api.inject("delete_deployment", match="m2", error=PagesAPIError("aliased", 400, [{"code": 8000035, "message": "aliased"}]))
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=1))
    assert status == "fail"
    assert result["msg"].startswith("1 of 3 deletions failed: f1: delete failed:")
    report = result["prune"]
    assert [d["id"] for d in report["deleted"]] == ["m1"]
    assert [d["id"] for d in report["failed"]] == ["f1"]
    assert [d["id"] for d in report["skipped"]] == ["o1", "m2"]
    assert result["changed"] is True


def test_prune_stopped_by_the_budget_reports_what_it_deleted(run_module, api):
    prune_setup(api)
    api.inject("delete_deployment", match="f1", error=RateLimitBudgetSpent("stopped to stay within rate_limit_budget=3s", 429))
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=1, _ansible_verbosity=1))
    assert status == "fail" and result["changed"] is True
    assert "Run the task again to resume" in result["msg"] and "rate_limit_budget" in result["msg"]
    report = result["prune"]
    deleted = [d["id"] for d in report["deleted"]]
    remaining = [d["id"] for d in report["remaining"]]
    assert "f1" in remaining and "f1" not in deleted and "m1" in deleted
    assert sorted(deleted + remaining) == ["f1", "m1", "m2"]
    assert report["failed"] == []


def test_rate_limit_waits_are_reported_with_verbosity(run_module, api, install_client):
    prune_setup(api)
    api.pacer = Pacer(WaitBudget(600), sleep=lambda seconds: None)
    api.pacer.waits.append("DELETE /x: 3 of 60 requests per 10s left: pausing 10s until the window resets")
    install_client(api)  # again, to give the client the pacer
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=1, _ansible_verbosity=1))
    assert status == "exit"
    assert result["rate_limit"]["waits"] == [
        "DELETE /x: 3 of 60 requests per 10s left: pausing 10s until the window resets"]
    assert result["rate_limit"]["budget_seconds"] == 600
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=1))
    assert "rate_limit" not in result


def test_prune_missing_project(run_module, api):
    status, result = run_module(pages_deployment.main, args(state="pruned", keep=1))
    assert status == "fail" and "does not exist" in result["msg"]


# --------------------------------------------------------------------------- deploy safety (issue 11)


@pytest.mark.parametrize("name", ["My-Site", "x" * 59, "s\u00efte", "-dash"])
def test_create_project_checks_the_name_before_any_request(run_module, api, engine, tmp_path, name):
    (tmp_path / "index.html").write_text("hi")
    status, result = run_module(pages_deployment.main, args(project_name=name, source=str(tmp_path), create_project=True))
    assert status == "fail" and "not a valid Pages project name" in result["msg"]
    assert api.calls == [] and not result.get("project_created") and not result["changed"]


def test_create_project_refuses_more_files_than_any_plan_allows_before_creating(run_module, api, engine, tmp_path, monkeypatch):
    for name in ("index.html", "a.html", "b.html"):
        (tmp_path / name).write_text(name)
    monkeypatch.setattr(_upload, "MAX_FILE_COUNT_ANY_PLAN", 2)
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), create_project=True))
    assert status == "fail" and "3 files" in result["msg"] and "the most any Pages plan allows" in result["msg"]
    assert api.mutations() == [] and engine.calls == []


@pytest.mark.parametrize("delete_fails", [False, True])
def test_first_deploy_over_the_new_projects_limit_deletes_it_or_says_what_is_left(run_module, api, engine, tmp_path, delete_fails):
    (tmp_path / "index.html").write_text("hi")
    if delete_fails:
        api.inject("delete_project", error=PagesAPIError("boom", 500, [], "DELETE", "/x"))
    engine.error = ERR.FileCountError("the site has 1 files but this project's deployments may have at most 0.")
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), create_project=True))
    assert status == "fail" and ("delete_project", "site") in api.calls
    if delete_fails:
        assert "is left empty" in result["msg"] and result["project_created"] and result["changed"]
    else:
        assert "deleted again" in result["msg"] and not result["project_created"] and not result["changed"]


def test_other_failures_of_a_first_deploy_say_the_project_was_created(run_module, api, engine, tmp_path):
    (tmp_path / "index.html").write_text("hi")
    engine.error = _upload.UploadError("failed to upload 1 files", 502, [{"code": 1, "message": "x"}])
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), create_project=True))
    assert status == "fail" and "was created by this task" in result["msg"] and result["project_created"]
    assert result["status"] == 502 and ("delete_project", "site") not in api.calls


def test_a_failed_create_does_not_report_a_created_project(run_module, api, engine, tmp_path):
    (tmp_path / "index.html").write_text("hi")
    api.inject("create_project_or_existing", error=PagesAPIError("refused", 400, [{"code": 8000040, "message": "bad"}], "POST", "/x"))
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), create_project=True))
    assert status == "fail" and not result.get("project_created") and not result["changed"]


def test_allow_empty_and_follow_symlinks_reach_the_engine_and_need_source(run_module, api, engine, tmp_path):
    seed(api)
    engine.result = {"changed": True, "deployment": deployment("d1"), "upload": counts(0, 0)}
    status, result = run_module(pages_deployment.main, args(source=str(tmp_path), allow_empty=True, follow_symlinks="inside"))
    assert status == "exit" and engine.calls[0]["allow_empty"] and engine.calls[0]["follow_symlinks"] == "inside"
    for extra in ({"allow_empty": True}, {"follow_symlinks": "inside"}):
        status, result = run_module(pages_deployment.main, args(**extra))
        assert status == "fail" and "without source" in result["msg"]


def test_git_build_reports_the_commit_built_and_warns_when_it_is_not_the_one_asked(run_module, api, monkeypatch):
    warnings = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    seed(api, source=GIT)
    api.expect_build(commit_hash="b" * 40)
    status, result = run_module(pages_deployment.main, args(commit_hash="c" * 40))
    assert status == "exit" and result["changed"] and result["built_commit_hash"] == "b" * 40
    assert len(warnings) == 1 and "c" * 40 in warnings[0] and "b" * 40 in warnings[0]
    api.expect_build(commit_hash="c" * 40)
    status, result = run_module(pages_deployment.main, args(commit_hash="c" * 40))
    assert result["built_commit_hash"] == "c" * 40 and len(warnings) == 1


# --------------------------------------------------------------------------- one live lookup per run (issue 25)


@pytest.mark.parametrize("same_site", [True, False], ids=["unchanged", "changed-check-mode"])
def test_an_upload_to_a_preview_branch_with_diff_lists_the_branch_once(run_module, api, tmp_path, same_site):
    """The real engine against the fake API: "what is live on this branch" is asked once, for the
    diff's before and the engine's no-op check alike."""
    (tmp_path / "index.html").write_text("hi")
    digest = _upload.DirectUpload(None, _upload.DeployRequest("site", str(tmp_path), hash_cache=False)).scan().digest
    trailer = _upload.trailer_line(digest if same_site else "0" * 64)
    seed(api, deployment("live-0001"), deployment("feat-0001", env="preview", branch="feat", commit_message=trailer),
         canonical="live-0001")
    status, result = run_module(pages_deployment.main, args(
        source=str(tmp_path), branch="feat", hash_cache=False, _ansible_diff=True, _ansible_check_mode=not same_site))
    assert status == "exit", result
    assert result["changed"] is not same_site
    assert result["diff"]["before"]["deployment_id"] == "feat-0001"
    assert result["upload"]["files"] == 1
    assert len(api.called("list_deployments")) == 1
    assert api.mutations() == []
