# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of pages_info: deployment filters, lazy paging with limit, older_than, masking, failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _time
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import SECRET_MASK
from ansible_collections.cfpages.cloudflare.plugins.modules import pages_info

TOKEN = "tok-5b1d9e7c3a2f4e6d8c0b1a2f3e4d5c6b7a8f9e0d"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
SECRET = "s3cr3t-value-that-must-never-show-4f1e"
WA_TOKEN = "web-analytics-token-8d7c6b5a4f3e2d1c"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def stamp(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def deployment(n, branch="main", env="production", status="success", age_hours=0):
    return {
        "id": "dep-%03d" % n,
        "environment": env,
        "url": "https://dep%03d.site.pages.dev" % n,
        "created_on": stamp(NOW - timedelta(hours=age_hours)),
        "latest_stage": {"name": "deploy", "status": status},
        "deployment_trigger": {"type": "ad_hoc", "metadata": {"branch": branch}},
        "env_vars": {"TOKEN": {"type": "secret_text", "value": SECRET}, "MODE": {"type": "plain_text", "value": "x"}},
    }


def project(api, name="site"):
    """A project with a secret variable, a plain one, a KV binding and a web analytics token."""
    return api.seed_project(
        name,
        build_config={"web_analytics_tag": "tag", "web_analytics_token": WA_TOKEN},
        deployment_configs={
            "production": {
                "env_vars": {"API_KEY": {"type": "secret_text", "value": SECRET}, "MODE": {"type": "plain_text", "value": "prod"}},
                "kv_namespaces": {"CACHE": {"namespace_id": "5eb63bbbe01eeed093cb22bb8f5acdc3"}},
            },
            "preview": {"env_vars": None},
        },
    )


def deployments(api, *items):
    """Seed ``items`` (from :func:`deployment`, newest first) in project ``site``."""
    for item in items:
        api.deployments["site"].append(item)


@pytest.fixture
def api(pages_api):
    return pages_api


def run(run_module, **args):
    args.setdefault("api_token", TOKEN)
    args.setdefault("account_id", ACCOUNT)
    return run_module(pages_info.main, args)


# --------------------------------------------------------------------------- pure helpers


def lazy(items, counter):
    for item in items:
        counter.append(item["id"])
        yield item


def test_select_stops_reading_at_limit():
    items = [deployment(n) for n in range(100)]
    read = []
    selected = pages_info.select_deployments(lazy(items, read), limit=3)
    assert [d["id"] for d in selected] == ["dep-000", "dep-001", "dep-002"]
    assert len(read) == 3


def test_select_with_filter_reads_until_enough_matches():
    items = [deployment(n, branch="a" if n % 4 == 0 else "b") for n in range(100)]
    read = []
    selected = pages_info.select_deployments(lazy(items, read), branch="a", limit=2)
    assert [d["id"] for d in selected] == ["dep-000", "dep-004"]
    assert len(read) == 5


def test_select_limit_zero_reads_nothing():
    read = []
    assert pages_info.select_deployments(lazy([deployment(1)], read), limit=0) == []
    assert read == []


def test_matches_branch_status_and_cutoff():
    d = deployment(1, branch="feat", status="failure", age_hours=48)
    cutoff = NOW - timedelta(hours=24)
    assert pages_info.matches(d, branch="feat", statuses={"failure"}, cutoff=cutoff)
    assert not pages_info.matches(d, branch="main")
    assert not pages_info.matches(d, statuses={"success"})
    assert not pages_info.matches(d, cutoff=NOW - timedelta(hours=72))
    # created exactly at the cutoff is not older than it
    assert not pages_info.matches(d, cutoff=NOW - timedelta(hours=48))


def test_deployment_without_trigger_or_stage_or_date():
    d = {"id": "x"}
    assert pages_info.matches(d)
    assert not pages_info.matches(d, branch="main")
    assert not pages_info.matches(d, statuses={"success"})
    assert not pages_info.matches(d, cutoff=NOW)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("30d", NOW - timedelta(days=30)),
        ("12h", NOW - timedelta(hours=12)),
        ("1d12h", NOW - timedelta(hours=36)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90m", NOW - timedelta(minutes=90)),
        ("45s", NOW - timedelta(seconds=45)),
        ("3 days", NOW - timedelta(days=3)),
        ("1 hour 30 minutes", NOW - timedelta(minutes=90)),
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=timezone.utc)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=timezone.utc)),
        ("2026-01-31T12:00:00+02:00", datetime(2026, 1, 31, 10, tzinfo=timezone.utc)),
        ("2026-01-31T12:00:00.5-0130", datetime(2026, 1, 31, 13, 30, 0, 500000, tzinfo=timezone.utc)),
        ("2026-01-31 12:00", datetime(2026, 1, 31, 12, tzinfo=timezone.utc)),
    ],
)
def test_older_than_values(value, expected):
    assert _time.older_than_cutoff(value, now=NOW) == expected


@pytest.mark.parametrize("value", ["", "3600", "30x", "d30", "yesterday", "2026-13-01", "2026-02-30", "30d garbage"])
def test_older_than_rejects(value):
    with pytest.raises(ValueError) as exc:
        _time.older_than_cutoff(value, now=NOW)
    assert "older_than" in str(exc.value) and "30d" in str(exc.value)


@pytest.mark.parametrize("value", [
    # Before the year 1 or after 9999 once in UTC: datetime's "date value out of range" came out raw.
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-02:00",
    # Offsets no clock has (RFC 3339: at most 23:59 either way) were accepted and moved the cut-off.
    "2026-01-31T12:00:00+25:00", "2026-01-31T12:00:00-99:99", "2026-01-31T12:00:00+0160",
])
def test_older_than_rejects_moments_that_do_not_exist(value):
    with pytest.raises(ValueError) as exc:
        _time.older_than_cutoff(value, now=NOW)
    assert str(exc.value).startswith("older_than=%r is not a date and time that exists" % value)
    assert _time.parse_timestamp(value) is None


def test_older_than_accepts_the_extreme_offsets():
    assert _time.older_than_cutoff("2026-01-31T12:00:00+23:59", now=NOW) == datetime(2026, 1, 30, 12, 1, tzinfo=timezone.utc)
    assert _time.older_than_cutoff("0001-01-01T01:00:00+01:00", now=NOW) == datetime(1, 1, 1, tzinfo=timezone.utc)


def test_api_timestamps_with_any_fraction():
    assert _time.parse_timestamp("2026-09-11T20:12:37.66251Z") == datetime(2026, 9, 11, 20, 12, 37, 662510, tzinfo=timezone.utc)
    assert _time.parse_timestamp("2026-09-11T20:12:37.1234567Z").microsecond == 123456
    assert _time.parse_timestamp(None) is None
    assert _time.parse_timestamp(12) is None


# --------------------------------------------------------------------------- the module


def test_all_projects_masked(run_module, api):
    project(api, "a")
    project(api, "b")
    kind, result = run(run_module)
    assert kind == "exit", result
    assert result["changed"] is False
    assert [p["name"] for p in result["projects"]] == ["a", "b"]
    assert result["deployments"] == [] and result["domains"] == [] and result["logs"] == []
    assert SECRET not in repr(result) and WA_TOKEN not in repr(result)
    env = result["projects"][0]["deployment_configs"]["production"]
    assert set(env["env_vars"]) == {"API_KEY", "MODE"}
    assert env["env_vars"]["MODE"]["value"] == "prod" and env["env_vars"]["API_KEY"]["value"] == SECRET_MASK
    assert result["projects"][0]["build_config"]["web_analytics_token"] == SECRET_MASK
    assert env["kv_namespaces"] == {"CACHE": {"namespace_id": "5eb63bbbe01eeed093cb22bb8f5acdc3"}}
    assert ("get_project", "a") not in api.calls


def test_one_project_with_deployments_domains(run_module, api):
    project(api)
    api.seed_domain("site", "www.example.com")
    deployments(api, *(deployment(n) for n in range(30)))
    kind, result = run(run_module, project_name="site")
    assert kind == "exit", result
    assert len(result["projects"]) == 1 and len(result["deployments"]) == 30
    assert [(d["name"], d["status"]) for d in result["domains"]] == [("www.example.com", "active")]
    assert api.pages_read == 2
    assert SECRET not in repr(result)
    assert result["deployments"][0]["env_vars"]["MODE"]["value"] == "x"


def test_limit_reads_only_needed_pages(run_module, api):
    project(api)
    deployments(api, *(deployment(n) for n in range(60)))
    kind, result = run(run_module, project_name="site", limit=25)
    assert kind == "exit" and len(result["deployments"]) == 25 and api.pages_read == 1
    api.pages_read = 0
    kind, result = run(run_module, project_name="site", limit=26)
    assert kind == "exit" and len(result["deployments"]) == 26 and api.pages_read == 2


def test_limit_zero_lists_no_deployments(run_module, api):
    project(api)
    deployments(api, *(deployment(n) for n in range(3)))
    kind, result = run(run_module, project_name="site", limit=0)
    assert kind == "exit" and result["deployments"] == []
    assert not [c for c in api.calls if c[0] == "list_deployments"]


def test_filters_combined(run_module, api):
    project(api)
    deployments(
        api,
        deployment(0, branch="feat", env="preview", status="success", age_hours=1),
        deployment(1, branch="feat", env="preview", status="failure", age_hours=50),
        deployment(2, branch="main", env="production", status="success", age_hours=60),
        deployment(3, branch="feat", env="preview", status="success", age_hours=70),
        deployment(4, branch="feat", env="preview", status="canceled", age_hours=80),
    )
    kind, result = run(run_module, project_name="site", environment="preview", branch="feat", status=["success", "canceled"], older_than="1d")
    assert kind == "exit", result
    assert [d["id"] for d in result["deployments"]] == ["dep-003", "dep-004"]
    assert ("list_deployments", "site", "preview") in api.calls


def test_status_accepts_a_single_string(run_module, api):
    project(api)
    deployments(api, deployment(0, status="failure"), deployment(1))
    kind, result = run(run_module, project_name="site", status="failure")
    assert kind == "exit" and [d["id"] for d in result["deployments"]] == ["dep-000"]


def test_deployment_id_and_logs(run_module, api):
    project(api)
    deployments(api, deployment(0), deployment(1))
    api.logs[("site", "dep-001")] = {"total": 2, "includes_container_logs": False, "data": [{"line": "a", "ts": "t1"}, {"line": "b", "ts": "t2"}]}
    kind, result = run(run_module, project_name="site", deployment_id="dep-001", logs=True)
    assert kind == "exit", result
    assert [d["id"] for d in result["deployments"]] == ["dep-001"]
    assert result["logs"] == [{"line": "a", "ts": "t1"}, {"line": "b", "ts": "t2"}]
    assert not [c for c in api.calls if c[0] == "list_deployments"]


def test_logs_come_with_includes_container_logs(run_module, api):
    project(api)
    deployments(api, deployment(0))
    api.logs[("site", "dep-000")] = {"total": 1, "includes_container_logs": True, "data": [{"line": "a", "ts": "t1"}]}
    kind, result = run(run_module, project_name="site", deployment_id="dep-000", logs=True)
    assert kind == "exit" and result["includes_container_logs"] is True and result["build_skipped"] is None
    kind, result = run(run_module, project_name="site", deployment_id="dep-000")
    assert kind == "exit" and result["includes_container_logs"] is None  # no log read


def test_a_skipped_deployment_says_why(run_module, api):
    project(api)
    skipped = deployment(0)
    skipped.update(is_skipped=True, skip_reason="superseded_queued_build",
                   latest_stage={"name": "queued", "status": "canceled"})
    newer = deployment(1)
    newer["created_on"] = "2027-01-01T00:00:00Z"
    deployments(api, newer, skipped)
    kind, result = run(run_module, project_name="site", deployment_id=skipped["id"])
    assert kind == "exit", result
    assert result["build_skipped"]["reason"] == "superseded_queued_build"
    assert result["build_skipped"]["superseded_by"]["id"] == newer["id"]


def test_deployment_id_without_logs_reads_no_log(run_module, api):
    project(api)
    deployments(api, deployment(0))
    kind, result = run(run_module, project_name="site", deployment_id="dep-000")
    assert kind == "exit" and result["logs"] == []
    assert not [c for c in api.calls if c[0] == "get_deployment_logs"]


def test_missing_project_fails(run_module, api):
    kind, result = run(run_module, project_name="nope")
    assert kind == "fail"
    assert "'nope' does not exist" in result["msg"] and "fail_on_missing" in result["msg"]


def test_missing_project_tolerated(run_module, api):
    kind, result = run(run_module, project_name="nope", fail_on_missing=False, branch="main")
    assert kind == "exit", result
    assert result["projects"] == [] and result["deployments"] == [] and result["domains"] == [] and result["logs"] == []


def test_missing_deployment_fails_or_is_tolerated(run_module, api):
    project(api)
    kind, result = run(run_module, project_name="site", deployment_id="gone", logs=True)
    assert kind == "fail" and "'gone' does not exist in project 'site'" in result["msg"]
    kind, result = run(run_module, project_name="site", deployment_id="gone", logs=True, fail_on_missing=False)
    assert kind == "exit" and result["deployments"] == [] and result["logs"] == []
    assert len(result["projects"]) == 1


@pytest.mark.parametrize(
    "args, text",
    [
        ({"logs": True, "project_name": "site"}, "deployment_id"),
        ({"branch": "main"}, "project_name"),
        ({"deployment_id": "x"}, "project_name"),
        ({"project_name": "site", "deployment_id": "x", "limit": 1}, "mutually exclusive"),
        ({"project_name": "site", "deployment_id": "x", "branch": "main"}, "mutually exclusive"),
        ({"project_name": "site", "limit": -1}, "limit must be 0 or more"),
        ({"project_name": "site", "older_than": "soon"}, "older_than='soon' is not"),
        ({"project_name": "site", "environment": "staging"}, "environment"),
        ({"project_name": "site", "status": ["done"]}, "status"),
    ],
)
def test_input_errors_fail_before_any_request(run_module, api, args, text):
    project(api)
    kind, result = run(run_module, **args)
    assert kind == "fail", result
    assert text in result["msg"]
    assert api.calls == []


def test_check_mode_is_supported(run_module, api):
    project(api)
    kind, result = run(run_module, project_name="site", _ansible_check_mode=True, limit=0)
    assert kind == "exit" and result["changed"] is False and len(result["projects"]) == 1
