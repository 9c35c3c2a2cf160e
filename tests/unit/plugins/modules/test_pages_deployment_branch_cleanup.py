# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of pages_deployment state=absent with branch (every deployment of a preview branch),
with test_pages_deployment's in-memory PagesClient stand-in."""

from __future__ import annotations

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cfpages.cloudflare.plugins.module_utils._api import PagesAPIError, RateLimitBudgetSpent
from ansible_collections.cfpages.cloudflare.plugins.modules import pages_deployment
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.modules.test_pages_deployment import (
    FakeClient,
    args,
    deployment,
    project,
)

FEAT_ALIAS = ["https://feat.site.pages.dev"]


@pytest.fixture
def fake(install_client, clock):
    """As in test_pages_deployment: installs the client; time never passes for real."""
    return install_client


def branch_setup():
    """Branch feat: three previews (the newest aliased); branch other: one; production: two."""
    live = deployment("live-0001", day=6)
    return FakeClient(project(canonical=live), [
        live,
        deployment("feat-0003", env="preview", branch="feat", day=5, aliases=FEAT_ALIAS),
        deployment("othr-0001", env="preview", branch="other", day=4, aliases=["https://other.site.pages.dev"]),
        deployment("feat-0002", env="preview", branch="feat", day=3),
        deployment("feat-0001", env="preview", branch="feat", day=2),
        deployment("prod-0001", day=1),
    ])


def remaining_ids(client):
    return sorted(d["id"] for d in client.deployments)


def test_deletes_every_deployment_of_the_branch_forced_and_nothing_else(run_module, fake):
    client = fake(branch_setup())
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat", _ansible_diff=True))
    assert status == "exit" and result["changed"] is True
    assert result["deleted_ids"] == ["feat-0001", "feat-0002", "feat-0003"]  # oldest first
    assert sorted(client.mutating()) == [("delete_deployment", i, True) for i in ("feat-0001", "feat-0002", "feat-0003")]
    assert remaining_ids(client) == ["live-0001", "othr-0001", "prod-0001"]
    report = result["branch_cleanup"]
    assert report["branch"] == "feat" and report["skipped"] == [] and report["failed"] == []
    assert "it served the branch alias" in report["deleted"][-1]["reason"]
    assert "force" not in report["deleted"][0]
    assert "deployment" not in result
    assert ("list_deployments", "preview") in client.calls and ("list_deployments", "production") not in client.calls
    assert result["diff"]["before"]["deployments"] == ["feat-0003", "feat-0002", "feat-0001"]
    assert result["diff"]["after"]["deployments"] == []


def test_second_run_changes_nothing(run_module, fake):
    client = fake(branch_setup())
    run_module(pages_deployment.main, args(state="absent", branch="feat"))
    before = len(client.mutating())
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "exit" and result["changed"] is False and result["deleted_ids"] == []
    assert len(client.mutating()) == before


def test_check_mode_lists_what_it_would_delete_and_deletes_nothing(run_module, fake):
    client = fake(branch_setup())
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat", _ansible_check_mode=True))
    assert status == "exit" and result["changed"] is True
    assert result["deleted_ids"] == ["feat-0001", "feat-0002", "feat-0003"]
    assert client.mutating() == [] and len(client.deployments) == 6


@pytest.mark.parametrize("branch", ["main", "renamed"])
def test_the_production_branch_is_refused_before_anything_is_listed(run_module, fake, branch):
    client = branch_setup()
    client.project["production_branch"] = branch
    fake(client)
    status, result = run_module(pages_deployment.main, args(state="absent", branch=branch, _ansible_check_mode=True))
    assert status == "fail" and "is the production branch of project site" in result["msg"]
    assert client.calls == [("get_project", "site")]


@pytest.mark.parametrize("extra, message", [
    ({"branch": "feat", "deployment_id": "feat-0001"}, "either deployment_id (one deployment) or branch"),
    ({"branch": " "}, "branch must name the preview branch"),
    ({}, "deployment_id, branch"),
    ({"branch": "feat", "environment": "preview"}, "environment cannot be used with state=absent"),
])
def test_bad_options_fail_before_any_request(run_module, fake, extra, message):
    client = fake(branch_setup())
    status, result = run_module(pages_deployment.main, args(state="absent", **extra))
    assert status == "fail" and message in result["msg"]
    assert client.calls == []


def test_missing_project_or_branch_is_unchanged(run_module, fake):
    fake(FakeClient(None))
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "exit" and result["changed"] is False and result["deleted_ids"] == []
    client = fake(branch_setup())
    status, result = run_module(pages_deployment.main, args(state="absent", branch="never-deployed"))
    assert status == "exit" and result["changed"] is False and client.mutating() == []


def test_a_build_still_running_is_left_with_a_warning(run_module, fake, monkeypatch):
    client = branch_setup()
    client.deployments[1] = deployment("feat-0003", env="preview", branch="feat", day=5, aliases=FEAT_ALIAS,
                                       stage_name="build", status="active")
    fake(client)
    warnings = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "exit" and result["deleted_ids"] == ["feat-0001", "feat-0002"]
    assert [d["id"] for d in result["branch_cleanup"]["skipped"]] == ["feat-0003"]
    assert len(warnings) == 1 and "feat-0003" in warnings[0] and "still in progress" in warnings[0]


def test_failed_deletions_fail_the_task_after_trying_every_one(run_module, fake):
    client = branch_setup()
    client.errors["delete_deployment:feat-0002"] = PagesAPIError("boom", 500, [{"code": 8000000, "message": "boom"}])
    fake(client)
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "fail" and result["msg"].startswith("1 of 3 deletions of branch feat failed: feat-0002")
    assert result["deleted_ids"] == ["feat-0001", "feat-0003"] and result["changed"] is True
    assert [d["id"] for d in result["branch_cleanup"]["failed"]] == ["feat-0002"]


def test_stopped_by_the_budget_says_what_is_left(run_module, fake):
    client = branch_setup()
    client.errors["delete_deployment:feat-0001"] = RateLimitBudgetSpent("stopped to stay within rate_limit_budget=3s", 429)
    fake(client)
    status, result = run_module(pages_deployment.main, args(state="absent", branch="feat"))
    assert status == "fail" and "Run the task again" in result["msg"] and result["status"] == 429
    report = result["branch_cleanup"]
    assert "feat-0001" in [d["id"] for d in report["remaining"]]
    assert sorted(result["deleted_ids"] + [d["id"] for d in report["remaining"]]) == ["feat-0001", "feat-0002", "feat-0003"]
