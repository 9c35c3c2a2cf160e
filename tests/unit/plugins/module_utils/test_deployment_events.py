# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""DeploymentWatcher: what the emulator tests of the event source (tests/eda) cannot reach cheaply:
a deployment still building that falls off the newest page, deletions, and errors of later polls."""

from __future__ import annotations

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.events import (
    DeploymentWatcher,
    requests_per_window,
)

from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fakes import autospec_client


def dep(number, stage="deploy", status="success"):
    return {"id": "d%03d" % number, "short_id": "d%03d" % number, "environment": "production",
            "created_on": "2026-01-01T00:00:%02d.000000Z" % number, "url": "https://d%03d.site.pages.dev" % number,
            "deployment_trigger": {"metadata": {"branch": "main"}},
            "latest_stage": {"name": stage, "status": status}, "env_vars": {"S": {"type": "secret_text", "value": ""}}}


class FakeClient:
    account_id = "0" * 32

    def __init__(self):
        self.deployments = []  # newest first
        self.gets = []
        self.fail_list = None

    def list_projects(self, limit=None):
        return iter([{"name": "site"}])

    def list_deployments(self, project, env=None, limit=None):
        if self.fail_list:
            raise self.fail_list
        return iter(self.deployments[:limit])

    def get_deployment(self, project, deployment_id):
        self.gets.append(deployment_id)
        return next((d for d in self.deployments if d["id"] == deployment_id), None)


def changes(events):
    return [(e["cfpages"]["deployment"]["id"], e["cfpages"]["deployment"]["stage"], e["cfpages"]["deployment"]["status"],
             e["cfpages"]["previous"]["stage"], e["cfpages"]["previous"]["status"]) for e in events]


def test_a_building_deployment_off_the_first_page_is_read_alone_until_it_ends():
    fake = FakeClient()
    building = dep(0, "build", "active")
    fake.deployments = [building]
    watcher = DeploymentWatcher(autospec_client(fake), ["site"])
    assert watcher.poll() == []  # the first poll learns what exists
    fake.deployments = [dep(n) for n in range(30, 0, -1)] + [building]  # 30 newer ones: building is on page 2
    events = watcher.poll()
    assert len(events) == 25 and fake.gets == ["d000"]  # the 25 of the page are new; d000 read alone, unchanged
    building["latest_stage"] = {"name": "deploy", "status": "failure"}
    fake.gets.clear()
    assert changes(watcher.poll()) == [("d000", "deploy", "failure", "build", "active")]
    fake.gets.clear()
    assert watcher.poll() == [] and fake.gets == []  # finished: never read again


def test_events_hold_the_named_fields_only_and_deleted_deployments_are_forgotten():
    fake = FakeClient()
    watcher = DeploymentWatcher(autospec_client(fake), ["site"], emit_existing=True)
    fake.deployments = [dep(2, "build", "active"), dep(1)]
    events = watcher.poll()
    assert [e["cfpages"]["deployment"]["id"] for e in events] == ["d001", "d002"]  # oldest first
    assert set(events[0]["cfpages"]["deployment"]) == {"id", "short_id", "environment", "branch", "stage", "status",
                                                       "url", "outcome", "skip"}
    assert events[0]["cfpages"]["deployment"]["outcome"] == "success" and events[0]["cfpages"]["deployment"]["skip"] is None
    fake.deployments = [dep(1)]  # d002 deleted while building
    assert watcher.poll() == [] and "d002" not in watcher.seen["site"]


def test_a_later_poll_logs_errors_and_goes_on_the_first_raises():
    fake = FakeClient()
    logged = []
    watcher = DeploymentWatcher(autospec_client(fake), None, log=logged.append)
    fake.fail_list = PagesAPIError("connection failed", 0, [], "GET", "/x")
    with pytest.raises(PagesAPIError):
        watcher.poll()
    fake.fail_list = None
    watcher.poll()
    fake.fail_list = PagesAPIError("connection failed", 0, [], "GET", "/x")
    assert watcher.poll() == [] and "trying again next poll" in logged[0]


def test_requests_per_window():
    assert requests_per_window(3, 30, False) == 30
    assert requests_per_window(12, 1, True) == (12 + 2) * 300


def test_a_skipped_build_is_an_event_of_its_own_never_a_failure():
    fake = FakeClient()
    watcher = DeploymentWatcher(autospec_client(fake), ["site"])
    queued = dep(1, "queued", "active")
    fake.deployments = [queued]
    assert watcher.poll() == []
    newer = dep(2, "queued", "active")
    # the API reference's Stage.status has no "skipped": the queued stage of a skipped build ends canceled
    queued.update(latest_stage={"name": "queued", "status": "canceled"}, is_skipped=True,
                  skip_reason="superseded_queued_build")
    fake.deployments = [newer, queued]
    events = {e["cfpages"]["deployment"]["id"]: e["cfpages"]["deployment"] for e in watcher.poll()}
    skipped = events["d001"]
    assert skipped["outcome"] == "skipped" and skipped["status"] == "canceled"
    assert skipped["skip"]["reason"] == "superseded_queued_build" and skipped["skip"]["superseded_by"] == "d002"
    assert "superseded" in skipped["skip"]["message"] and "d002" in skipped["skip"]["message"]
    assert events["d002"]["outcome"] == "pending" and events["d002"]["skip"] is None
    fake.deployments = [dep(3), newer, queued]
    assert [e["cfpages"]["deployment"]["id"] for e in watcher.poll()] == ["d003"]  # the skip is reported once


def test_a_listed_project_not_found_may_be_in_another_account():
    class Missing(FakeClient):
        def list_deployments(self, project, env=None, limit=None):
            raise PagesAPIError("Project not found.", 404, [{"code": 8000007, "message": "Project not found."}],
                                "GET", "/accounts/x/pages/projects/shop/deployments")

    client = autospec_client(Missing())
    client.account_id = Missing.account_id
    watcher = DeploymentWatcher(client, ["shop"])
    with pytest.raises(ValueError, match="project 'shop' does not exist in account 0+ .projects option.") as err:
        watcher.poll()
    assert "in another account too" in str(err.value) and "set account_id" in str(err.value)
