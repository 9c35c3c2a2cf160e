# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of pages_deployment state=absent with branch (every deployment of a preview branch),
against the fake Pages API (fake_pages_api.py)."""

from __future__ import annotations

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError, RateLimitBudgetSpent
from ansible_collections.cfpages.cloudflare.plugins.modules import pages_deployment
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.modules.test_pages_deployment import (
    args,
    deployment,
    seed,
)

FEAT_ALIAS = ["https://feat.site.pages.dev"]


def branch_setup(api, feat_newest=None, **project):
    """Branch feat: three previews (the newest aliased); branch other: one; production: two."""
    return seed(
        api,
        deployment("live-0001", day=6),
        feat_newest or deployment("feat-0003", env="preview", branch="feat", day=5, aliases=FEAT_ALIAS),
        deployment("othr-0001", env="preview", branch="other", day=4, aliases=["https://other.site.pages.dev"]),
        deployment("feat-0002", env="preview", branch="feat", day=3),
        deployment("feat-0001", env="preview", branch="feat", day=2),
        deployment("prod-0001", day=1),
        canonical="live-0001", **project)


def remaining_ids(api):
    return sorted(d["id"] for d in api.deployments["site"])


def deletions(api):
    """(deployment id, force) of every delete request, in the order sent."""
    return [(call[2], call[3]) for call in api.called("delete_deployment")]


def test_deletes_every_deployment_of_the_branch_forced_and_nothing_else(run_module, pages_api):
    client = branch_setup(pages_api)
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat", _ansible_diff=True))
    assert status == "exit" and result["changed"] is True
    assert result["deleted_ids"] == ["feat-0001", "feat-0002", "feat-0003"]  # oldest first
    assert sorted(deletions(client)) == [(i, True) for i in ("feat-0001", "feat-0002", "feat-0003")]
    assert len(client.mutations()) == 3
    assert remaining_ids(client) == ["live-0001", "othr-0001", "prod-0001"]
    report = result["branch_cleanup"]
    assert report["branch"] == "feat" and report["skipped"] == [] and report["failed"] == []
    assert "it served the branch alias" in report["deleted"][-1]["reason"]
    assert "force" not in report["deleted"][0]
    assert "deployment" not in result
    assert ("list_deployments", "site", "preview") in client.calls
    assert ("list_deployments", "site", "production") not in client.calls
    assert result["diff"]["before"]["deployments"] == ["feat-0003", "feat-0002", "feat-0001"]
    assert result["diff"]["after"]["deployments"] == []


def test_second_run_changes_nothing(run_module, pages_api):
    client = branch_setup(pages_api)
    run_module(pages_deployment.main, args(state="absent", branch="feat"))
    before = len(client.mutations())
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "exit" and result["changed"] is False and result["deleted_ids"] == []
    assert len(client.mutations()) == before


def test_check_mode_lists_what_it_would_delete_and_deletes_nothing(run_module, pages_api):
    client = branch_setup(pages_api)
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat", _ansible_check_mode=True))
    assert status == "exit" and result["changed"] is True
    assert result["deleted_ids"] == ["feat-0001", "feat-0002", "feat-0003"]
    assert client.mutations() == [] and len(client.deployments["site"]) == 6


@pytest.mark.parametrize("branch", ["main", "renamed"])
def test_the_production_branch_is_refused_before_anything_is_listed(run_module, pages_api, branch):
    client = branch_setup(pages_api, production_branch=branch)
    status, result = run_module(pages_deployment.main, args(state="absent", branch=branch, _ansible_check_mode=True))
    assert status == "fail" and "is the production branch of project site" in result["msg"]
    assert client.calls == [("get_project", "site")]


@pytest.mark.parametrize("extra, message", [
    ({"branch": "feat", "deployment_id": "feat-0001"}, "either deployment_id (one deployment) or branch"),
    ({"branch": " "}, "branch must name the preview branch"),
    ({}, "deployment_id, branch"),
    ({"branch": "feat", "environment": "preview"}, "environment cannot be used with state=absent"),
])
def test_bad_options_fail_before_any_request(run_module, pages_api, extra, message):
    client = branch_setup(pages_api)
    status, result = run_module(pages_deployment.main, args(state="absent", **extra))
    assert status == "fail" and message in result["msg"]
    assert client.calls == []


def test_missing_project_or_branch_is_unchanged(run_module, pages_api):
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "exit" and result["changed"] is False and result["deleted_ids"] == []
    client = branch_setup(pages_api)
    status, result = run_module(pages_deployment.main, args(state="absent", branch="never-deployed"))
    assert status == "exit" and result["changed"] is False and client.mutations() == []


def test_a_build_still_running_is_left_with_a_warning(run_module, pages_api, monkeypatch):
    branch_setup(pages_api, feat_newest=deployment("feat-0003", env="preview", branch="feat", day=5, aliases=FEAT_ALIAS,
                                                   stage_name="build", status="active"))
    warnings = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "exit" and result["deleted_ids"] == ["feat-0001", "feat-0002"]
    assert [d["id"] for d in result["branch_cleanup"]["skipped"]] == ["feat-0003"]
    assert len(warnings) == 1 and "feat-0003" in warnings[0] and "still in progress" in warnings[0]


def test_failed_deletions_fail_the_task_after_trying_every_one(run_module, pages_api):
    branch_setup(pages_api)
    pages_api.inject("delete_deployment", PagesAPIError("boom", 500, [{"code": 8000000, "message": "boom"}]), match="feat-0002")
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "fail" and result["msg"].startswith("1 of 3 deletions of branch feat failed: feat-0002")
    assert result["deleted_ids"] == ["feat-0001", "feat-0003"] and result["changed"] is True
    assert [d["id"] for d in result["branch_cleanup"]["failed"]] == ["feat-0002"]


def test_stopped_by_the_budget_says_what_is_left(run_module, pages_api):
    branch_setup(pages_api)
    pages_api.inject("delete_deployment", RateLimitBudgetSpent("stopped to stay within rate_limit_budget=3s", 429), match="feat-0001")
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "fail" and "Run the task again" in result["msg"] and result["status"] == 429
    report = result["branch_cleanup"]
    assert "feat-0001" in [d["id"] for d in report["remaining"]]
    assert sorted(result["deleted_ids"] + [d["id"] for d in report["remaining"]]) == ["feat-0001", "feat-0002", "feat-0003"]
