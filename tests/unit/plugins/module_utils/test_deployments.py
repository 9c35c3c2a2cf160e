# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the deployment lifecycle helpers: prune planning above all."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments import lifecycle as D
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError, RateLimitBudgetSpent
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fakes import autospec_client

NOW = datetime(2026, 9, 30, 12, 0, 0, tzinfo=timezone.utc)


def ts(days_ago=0, hours_ago=0):
    when = NOW - timedelta(days=days_ago, hours=hours_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % when.microsecond


def dep(ident, env, branch, days_ago, status="success", stage="deploy", aliases=None):
    return {
        "id": ident,
        "short_id": ident[:8],
        "environment": env,
        "created_on": ts(days_ago),
        "url": "https://%s.site.pages.dev" % ident[:8],
        "aliases": aliases,
        "latest_stage": {"name": stage, "status": status},
        "deployment_trigger": {"type": "ad_hoc", "metadata": {"branch": branch}},
    }


def ids(entries):
    return [e["id"] for e in entries]


def reasons(entries):
    return dict((e["id"], e["reason"]) for e in entries)


# --------------------------------------------------------------------------- small readers


def test_resolve_environment():
    assert D.resolve_environment("main", None) == "production"
    assert D.resolve_environment("main", "") == "production"
    assert D.resolve_environment("main", "main") == "production"
    assert D.resolve_environment("main", "Main") == "preview"
    assert D.resolve_environment("main", "feature/x") == "preview"
    assert D.resolve_environment(None, "main") == "preview"


def test_deployment_branch_and_fallbacks():
    assert D.deployment_branch(dep("a", "preview", "feat", 1)) == "feat"
    bare = {"id": "b", "environment": "production"}
    assert D.deployment_branch(bare, "main") == "main"
    assert D.deployment_branch(dict(bare, environment="preview"), "main") == ""


def test_outcome_of():
    assert D.outcome_of(dep("a", "production", "main", 0)) == "success"
    assert D.outcome_of(dep("a", "production", "main", 0, status="failure", stage="build")) == "failure"
    assert D.outcome_of(dep("a", "production", "main", 0, status="canceled", stage="queued")) == "failure"
    assert D.outcome_of(dep("a", "production", "main", 0, status="active", stage="build")) == "pending"
    # A stage other than deploy that succeeded is not the end yet.
    assert D.outcome_of(dep("a", "production", "main", 0, status="success", stage="build")) == "pending"
    assert D.outcome_of({"id": "x"}) == "pending"
    assert D.outcome_of({"id": "x", "is_skipped": True, "latest_stage": {"name": "queued", "status": "idle"}}) == "skipped"


def test_canonical_id_and_git_project():
    assert D.canonical_id({"canonical_deployment": {"id": "c"}}) == "c"
    assert D.canonical_id({"canonical_deployment": None}) is None
    assert D.canonical_id(None) is None
    assert D.is_git_project({"source": {"type": "github"}})
    assert not D.is_git_project({"name": "du"})


def test_summarize():
    record = D.summarize(dep("abcdef0123", "preview", "feat", 1, aliases=["https://feat.site.pages.dev"]))
    assert record["id"] == "abcdef0123"
    assert record["branch"] == "feat"
    assert record["stage"] == "deploy:success"
    assert record["aliases"] == ["https://feat.site.pages.dev"]


# --------------------------------------------------------------------------- prune rules


def project_history():
    """Newest first, like the API: production on main, previews on two branches."""
    return [
        dep("p5", "production", "main", 1),
        dep("f3", "preview", "feat", 2, aliases=["https://feat.site.pages.dev"]),
        dep("p4", "production", "main", 3),
        dep("f2", "preview", "feat", 4),
        dep("o1", "preview", "old", 5, aliases=["https://old.site.pages.dev"]),
        dep("p3", "production", "main", 6),
        dep("f1", "preview", "feat", 7),
        dep("p2", "production", "main", 8),
        dep("p1", "production", "main", 9),
    ]


def test_keep_n_per_environment():
    plan = D.plan_prune(project_history(), canonical="p5", keep=2)
    assert ids(plan["kept"]) == ["p5", "f3", "p4", "f2"]
    # p3, p2, p1 are production beyond keep=2; f1 preview beyond keep=2; o1 is the newest of branch old.
    assert ids(plan["delete"]) == ["p1", "p2", "f1", "p3"]  # oldest first
    assert ids(plan["skipped"]) == ["o1"]
    assert "holds the branch alias" in reasons(plan["skipped"])["o1"]
    assert all(not e["force"] for e in plan["delete"])


def test_keep_counts_each_environment_separately():
    plan = D.plan_prune(project_history(), canonical="p5", keep=1)
    kept = reasons(plan["kept"])
    assert set(kept) == {"p5", "f3"}
    assert kept["p5"] == "one of the newest 1 production deployments (keep)"
    assert kept["f3"] == "one of the newest 1 preview deployments (keep)"


def test_keep_per_branch():
    plan = D.plan_prune(project_history(), canonical="p5", keep_per_branch=1)
    assert ids(plan["kept"]) == ["p5", "f3", "o1"]
    assert ids(plan["delete"]) == ["p1", "p2", "f1", "p3", "f2", "p4"]
    assert "branch 'feat'" in reasons(plan["kept"])["f3"]


def test_keep_and_keep_per_branch_are_a_union():
    plan = D.plan_prune(project_history(), canonical="p5", keep=1, keep_per_branch=2)
    assert set(ids(plan["kept"])) == {"p5", "f3", "p4", "f2", "o1"}
    assert set(ids(plan["delete"])) == {"p3", "p2", "p1", "f1"}


def test_keep_zero_deletes_all_but_the_protected():
    plan = D.plan_prune(project_history(), canonical="p5", keep=0)
    assert plan["kept"] == []
    skipped = reasons(plan["skipped"])
    assert set(skipped) == {"p5", "f3", "o1"}
    assert skipped["p5"].startswith("the live production deployment")
    assert set(ids(plan["delete"])) == {"p4", "p3", "p2", "p1", "f2", "f1"}


def test_older_than_only():
    cutoff = NOW - timedelta(days=5)
    plan = D.plan_prune(project_history(), canonical="p5", cutoff=cutoff)
    # o1 is exactly 5 days old: not older than the cutoff, so kept.
    assert ids(plan["kept"]) == ["p5", "f3", "p4", "f2", "o1"]
    assert all("older_than" in e["reason"] for e in plan["kept"])
    assert plan["skipped"] == []
    assert ids(plan["delete"]) == ["p1", "p2", "f1", "p3"]
    # One second later o1 is a candidate, protected as the newest of branch "old".
    plan = D.plan_prune(project_history(), canonical="p5", cutoff=cutoff + timedelta(seconds=1))
    assert ids(plan["skipped"]) == ["o1"]


def test_older_than_combined_with_keep_needs_both():
    cutoff = NOW - timedelta(days=7, hours=12)
    plan = D.plan_prune(project_history(), canonical="p5", keep=1, cutoff=cutoff)
    # Beyond keep=1 but younger than 7.5 days: kept by older_than.
    kept = reasons(plan["kept"])
    assert "p3" in kept and "older_than" in kept["p3"]
    assert ids(plan["delete"]) == ["p1", "p2"]


def test_unknown_age_is_never_selected_by_older_than():
    deployments = [dep("a", "production", "main", 1), dict(dep("b", "production", "main", 2), created_on="garbage")]
    plan = D.plan_prune(deployments, canonical="a", cutoff=NOW)
    assert "age is unknown" in reasons(plan["kept"])["b"]
    assert plan["delete"] == []


def test_canonical_is_never_deleted_even_when_old_and_aliased_deletes_allowed():
    # After a rollback the live production deployment is an old one.
    history = project_history()
    plan = D.plan_prune(history, canonical="p1", keep=0, delete_aliased=True)
    assert "p1" in ids(plan["skipped"])
    assert "p1" not in ids(plan["delete"])
    assert reasons(plan["skipped"])["p1"].startswith("the live production deployment")
    # canonical_deployment after a rollback may also be read as the newest production deployment
    # (the API's answer cannot be checked offline): that one is never deleted either.
    assert "p5" not in ids(plan["delete"])
    assert reasons(plan["skipped"])["p5"].startswith("the newest successful production deployment")


def test_a_production_deployment_serving_custom_domains_is_never_deleted():
    # If the API kept canonical_deployment on the newest after a rollback, the live one would still
    # be the production deployment whose aliases list the custom domains.
    history = project_history()
    history[5] = dict(history[5], aliases=["https://www.example.com", "https://site.pages.dev"])  # p3
    plan = D.plan_prune(history, canonical="p5", keep=0, delete_aliased=True)
    assert "p3" not in ids(plan["delete"])
    assert "custom domains" in reasons(plan["skipped"])["p3"]
    assert D.serves_custom_domains(history[5])
    assert not D.serves_custom_domains(dep("f3", "preview", "feat", 2, aliases=["https://feat.site.pages.dev"]))
    assert not D.serves_custom_domains(dep("x", "production", "main", 2, aliases=["https://site.pages.dev"]))


def test_aliased_only_when_asked():
    plan = D.plan_prune(project_history(), canonical="p5", keep=0, delete_aliased=True)
    assert set(ids(plan["skipped"])) == {"p5"}
    forced = dict((e["id"], e["force"]) for e in plan["delete"])
    assert forced["f3"] is True and forced["o1"] is True
    assert forced["f2"] is False and forced["p4"] is False


def test_newest_per_branch_is_aliased_even_without_an_aliases_field():
    # The API shows no alias on production deployments; the newest of a branch still counts.
    history = [
        dep("p2", "production", "main", 1),
        dep("p1", "production", "main", 2),
        dep("x1", "preview", "x", 3),  # newest of branch x, no aliases field
    ]
    plan = D.plan_prune(history, canonical="p1", keep=0)
    skipped = reasons(plan["skipped"])
    assert set(skipped) == {"p1", "p2", "x1"}
    assert "newest deployment of branch 'main'" in skipped["p2"]
    assert "newest deployment of branch 'x'" in skipped["x1"]
    assert plan["delete"] == []


def test_an_aliased_deployment_that_is_not_the_newest_is_protected_too():
    history = [
        dep("b2", "preview", "b", 1),
        dep("b1", "preview", "b", 2, aliases=["https://custom.site.pages.dev"]),
    ]
    plan = D.plan_prune(history, keep=0)
    assert set(ids(plan["skipped"])) == {"b1", "b2"}
    assert "aliased (https://custom.site.pages.dev)" in reasons(plan["skipped"])["b1"]


def test_in_progress_deployments_are_skipped():
    history = [
        dep("n", "preview", "feat", 0, status="active", stage="build"),
        dep("m", "preview", "feat", 1, status="idle", stage="queued"),
        dep("o", "preview", "feat", 2, status="failure", stage="build"),
    ]
    plan = D.plan_prune(history, keep=0, delete_aliased=True)
    skipped = reasons(plan["skipped"])
    assert "still in progress (build (active))" == skipped["n"]
    assert "m" in skipped
    assert ids(plan["delete"]) == ["o"]  # a failed one is finished: deletable


def test_environment_filter():
    plan = D.plan_prune(project_history(), canonical="p5", keep=1, environment="preview")
    assert all(e["environment"] == "preview" for e in plan["kept"] + plan["delete"] + plan["skipped"])
    assert ids(plan["kept"]) == ["f3"]
    assert ids(plan["delete"]) == ["f1", "f2"]


def test_branch_filter_ranks_within_the_branch():
    plan = D.plan_prune(project_history(), canonical="p5", keep_per_branch=1, branch="feat")
    assert ids(plan["kept"]) == ["f3"]
    assert ids(plan["delete"]) == ["f1", "f2"]
    assert plan["skipped"] == []


def test_branch_filter_still_protects_the_newest_of_the_branch():
    plan = D.plan_prune(project_history(), canonical="p5", keep=0, branch="feat")
    assert ids(plan["skipped"]) == ["f3"]
    assert ids(plan["delete"]) == ["f1", "f2"]


def test_newest_of_branch_uses_every_deployment_not_only_the_filtered_ones():
    history = [dep("p2", "production", "main", 1), dep("p1", "production", "main", 2)]
    plan = D.plan_prune(history, canonical=None, keep=0, cutoff=NOW - timedelta(days=1, hours=12))
    # p2 is kept by older_than; p1 is a candidate and not the newest of main.
    assert ids(plan["delete"]) == ["p1"]


def test_order_does_not_depend_on_input_order():
    history = list(reversed(project_history()))
    plan = D.plan_prune(history, canonical="p5", keep=2)
    assert ids(plan["kept"]) == ["p5", "f3", "p4", "f2"]
    assert ids(plan["delete"]) == ["p1", "p2", "f1", "p3"]


def test_every_deployment_lands_in_exactly_one_list():
    history = project_history()
    for kwargs in (dict(keep=0), dict(keep=3), dict(keep_per_branch=1), dict(cutoff=NOW), dict(keep=0, delete_aliased=True)):
        plan = D.plan_prune(history, canonical="p5", **kwargs)
        seen = ids(plan["kept"]) + ids(plan["delete"]) + ids(plan["skipped"])
        assert sorted(seen) == sorted(d["id"] for d in history), kwargs


def test_negative_keep_is_rejected():
    with pytest.raises(ValueError):
        D.plan_prune([], keep=-1)
    with pytest.raises(ValueError):
        D.plan_prune([], keep_per_branch=-1)


def test_entries_without_id_are_ignored():
    plan = D.plan_prune([{"environment": "preview"}, None, dep("a", "preview", "b", 1)], keep=5)
    assert ids(plan["kept"]) == ["a"]


# --------------------------------------------------------------------------- executing a prune


class FakeClient:
    """The calls of the deployment look-ups and of a prune (see ``fakes.autospec_client``)."""

    def __init__(self, deployments=None, errors=None, logs=None):
        self.deployments = list(deployments or [])
        self.errors = dict(errors or {})
        self.deleted = []
        self.logs = logs
        self.listed = []

    def delete_deployment(self, project, deployment_id, force=False, missing_ok=False):
        if deployment_id in self.errors:
            err = self.errors[deployment_id]
            if missing_ok and err.is_not_found:
                return False
            raise err
        self.deleted.append((deployment_id, force))
        return True

    def list_deployments(self, project, env=None, limit=None):
        """Newest first, in pages of 25 like the API; ``listed`` counts the items read."""
        items = [d for d in self.deployments if env is None or d["environment"] == env]
        for item in items[:limit] if limit else items:
            self.listed.append(item["id"])
            yield item

    def get_deployment_logs(self, project, deployment_id):
        if isinstance(self.logs, Exception):
            raise self.logs
        return self.logs


def api(fake=None):
    return autospec_client(fake or FakeClient())


def test_execute_prune_reports_each_outcome():
    planned = [
        dict(D.summarize(dep("a", "preview", "x", 5)), reason="r", force=False),
        dict(D.summarize(dep("b", "preview", "x", 4)), reason="r", force=True),
        dict(D.summarize(dep("c", "preview", "x", 3)), reason="r", force=False),
        dict(D.summarize(dep("d", "preview", "x", 2)), reason="r", force=False),
    ]
    client = FakeClient(errors={
        "b": PagesAPIError("gone", 404, [{"code": 8000009, "message": "gone"}]),
        "c": PagesAPIError("aliased", 400, [{"code": 8000035, "message": "aliased"}]),
        "d": PagesAPIError("boom", 500, [{"code": 8000000, "message": "boom"}]),
    })
    deleted, skipped, failed = D.execute_prune(api(client), "site", planned)
    assert client.deleted == [("a", False)]
    assert ids(deleted) == ["a"]
    assert reasons(skipped) == {"b": "already deleted", "c": "Cloudflare refused it as aliased: aliased"}
    assert ids(failed) == ["d"] and failed[0]["reason"].startswith("delete failed:")
    assert all("force" not in e for e in deleted + skipped + failed)


def test_execute_prune_sends_force_for_aliased():
    planned = [dict(D.summarize(dep("a", "preview", "x", 5)), reason="r", force=True)]
    client = FakeClient()
    D.execute_prune(api(client), "site", planned)
    assert client.deleted == [("a", True)]


# --------------------------------------------------------------------------- what a branch serves


def test_find_live_deployment_production_is_the_canonical_one():
    project = {"name": "site", "production_branch": "main", "canonical_deployment": {"id": "c"}}
    assert D.find_live_deployment(api(), project, "main")["id"] == "c"
    assert D.find_live_deployment(api(), project, None)["id"] == "c"
    assert D.find_live_deployment(api(), dict(project, canonical_deployment=None), "main") is None


def test_find_live_deployment_preview_is_the_newest_of_the_branch():
    client = api(FakeClient(project_history()))
    project = {"name": "site", "production_branch": "main"}
    assert D.find_live_deployment(client, project, "feat")["id"] == "f3"
    assert D.find_live_deployment(client, project, "none") is None


def test_newest_of_branch_reads_past_the_newest_25_and_stops_at_the_first_match():
    """One paging rule: every page until the branch's newest one (it used to be the newest 25)."""
    others = [dep("o%02d" % i, "preview", "other", 1) for i in range(30)]
    fake = FakeClient(others + [dep("f-old", "preview", "feat", 2), dep("f-older", "preview", "feat", 3)])
    project = {"name": "site", "production_branch": "main"}
    assert D.newest_of_branch(api(fake), project, "feat")["id"] == "f-old"
    assert fake.listed[-1] == "f-old" and len(fake.listed) == 31


def test_live_of_production_is_a_newer_deployment_in_progress_that_carries_the_site():
    canonical = dep("c", "production", "main", 3)
    building = dict(dep("n", "production", "main", 1), latest_stage={"name": "build", "status": "active"})
    project = {"name": "site", "production_branch": "main", "canonical_deployment": canonical}
    view = D.BranchDeployments(api(FakeClient([building, canonical])), project, "main")
    assert view.live()["id"] == "c"
    assert view.live(carries=lambda d: d["id"] == "n")["id"] == "n"
    assert view.live(carries=lambda d: False)["id"] == "c"
    assert view.known_ids() == {"c", "n"}


def test_live_of_production_lists_nothing_when_the_canonical_one_carries_the_site():
    fake = FakeClient([dep("n", "production", "main", 1)])
    project = {"name": "site", "production_branch": "main", "canonical_deployment": dep("c", "production", "main", 3)}
    view = D.BranchDeployments(api(fake), project, "main")
    assert view.live(carries=lambda d: d["id"] == "c")["id"] == "c"
    assert fake.listed == []


def test_is_newest_of_branch():
    client = api(FakeClient(project_history()))
    project = {"name": "site", "production_branch": "main"}
    history = project_history()
    assert D.is_newest_of_branch(client, project, history[1])  # f3
    assert not D.is_newest_of_branch(client, project, history[3])  # f2


def test_created_since_finds_only_a_new_deployment_of_the_branch():
    fake = FakeClient(project_history())
    project = {"name": "site", "production_branch": "main"}
    view = D.BranchDeployments(api(fake), project, "feat")
    recheck = view.created_since(view.known_ids())
    assert recheck() is None
    fake.deployments.insert(0, dep("other", "preview", "other", 0))
    assert recheck() is None
    fake.deployments.insert(0, dep("new", "preview", "feat", 0))
    assert recheck()["result"]["id"] == "new"
    assert view.created_since(view.known_ids(), accept=lambda d: False)() is None
    assert D.BranchDeployments(api(fake), project, "none").created_since(frozenset())() is None


def test_log_tail():
    lines = [{"line": "line %d" % i, "ts": "t"} for i in range(30)]
    client = api(FakeClient(logs={"total": 30, "data": lines}))
    assert D.log_tail(client, "site", "d", lines=3) == ["line 27", "line 28", "line 29"]
    assert len(D.log_tail(client, "site", "d")) == D.LOG_TAIL_LINES
    assert D.log_tail(api(FakeClient(logs={})), "site", "d") == []
    assert D.log_tail(api(FakeClient(logs=PagesAPIError("no", 500))), "site", "d") == []


class PollClient:
    def __init__(self, states):
        self.states = list(states)
        self.polls = 0

    def get_deployment(self, project, deployment_id):
        self.polls += 1
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if state is None:
            return None
        name, status = state
        return {"id": deployment_id, "latest_stage": {"name": name, "status": status}}


def start(name="queued", status="active"):
    return {"id": "d1", "latest_stage": {"name": name, "status": status}}


def test_wait_returns_at_once_when_finished(clock):
    client = PollClient([("deploy", "success")])
    dep_, outcome = D.wait_for_deployment(api(client), "s", start("deploy", "success"), 10)
    assert outcome == "success" and client.polls == 0 and clock.sleeps == []


def test_wait_polls_until_success_with_growing_intervals(clock):
    client = PollClient([("build", "active"), ("build", "active"), ("deploy", "active"), ("deploy", "success")])
    lines = []
    dep_, outcome = D.wait_for_deployment(api(client), "s", start(), 60, log=lines.append)
    assert outcome == "success"
    assert dep_["latest_stage"]["status"] == "success"
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375]
    assert lines == ["deployment d1: queued (active)", "deployment d1: build (active)",
                     "deployment d1: deploy (active)", "deployment d1: deploy (success)"]


def test_wait_reports_failure_at_the_failed_stage(clock):
    client = PollClient([("build", "active"), ("build", "failure")])
    dep_, outcome = D.wait_for_deployment(api(client), "s", start(), 60)
    assert outcome == "failure"
    assert D.stage_of(dep_) == ("build", "failure")


def test_wait_times_out_with_the_current_stage(clock):
    client = PollClient([("build", "active")])
    dep_, outcome = D.wait_for_deployment(api(client), "s", start(), 10)
    assert outcome == "timeout"
    assert D.stage_of(dep_) == ("build", "active")
    assert sum(clock.sleeps) == pytest.approx(10)
    assert max(clock.sleeps) <= 5.0


def test_wait_zero_timeout_does_not_poll(clock):
    client = PollClient([("deploy", "success")])
    dep_, outcome = D.wait_for_deployment(api(client), "s", start(), 0)
    assert outcome == "timeout" and client.polls == 0


def test_wait_notices_a_deleted_deployment(clock):
    client = PollClient([None])
    dep_, outcome = D.wait_for_deployment(api(client), "s", start(), 10)
    assert outcome == "missing"


# --------------------------------------------------------------------------- found by tests/mutation.sh


def test_keep_per_branch_zero_is_allowed_and_keeps_nothing_by_that_rule():
    plan = D.plan_prune(project_history(), canonical="p5", keep_per_branch=0, environment="production")
    assert plan["kept"] == [] and ids(plan["delete"]) == ["p1", "p2", "p3", "p4"]


def test_environment_filter_production_leaves_previews_alone():
    plan = D.plan_prune(project_history(), canonical="p5", keep=0, environment="production")
    listed = ids(plan["kept"]) + ids(plan["delete"]) + ids(plan["skipped"])
    assert sorted(listed) == ["p1", "p2", "p3", "p4", "p5"]


def test_newest_of_branch_lists_only_the_environment_the_branch_deploys_to():
    fake = FakeClient(project_history())
    client = api(fake)
    project = {"name": "site", "production_branch": "main"}
    assert D.newest_of_branch(client, project, "feat")["id"] == "f3"
    assert D.newest_of_branch(client, project, "main")["id"] == "p5"
    envs = [call.kwargs.get("env") for call in client.list_deployments.call_args_list]
    assert envs == ["preview", "production"]


def test_production_branch_of_something_that_is_not_a_project():
    assert D.project_production_branch(None, "main") == "main"
    assert D.project_production_branch({"production_branch": ""}, "main") == "main"
    assert D.project_production_branch({"production_branch": "dev"}, "main") == "dev"


def test_execute_prune_stops_when_the_budget_is_spent_and_says_what_is_left():
    planned = [dict(D.summarize(dep(name, "preview", "x", 9 - i)), reason="r", force=False)
               for i, name in enumerate("abcdef")]
    client = FakeClient(errors={"c": RateLimitBudgetSpent("stopped to stay within rate_limit_budget", 429)})
    with pytest.raises(ERR.PruneStopped) as info:
        D.execute_prune(client, "site", planned, workers=1)
    stopped = info.value
    assert ids(stopped.deleted) == ["a", "b"]
    assert ids(stopped.remaining) == ["c", "d", "e", "f"]
    assert stopped.failed == [] and stopped.skipped == []
    assert "rate_limit_budget" in str(stopped) and stopped.status == 429
    assert all("force" not in e for e in stopped.deleted + stopped.remaining)


def test_execute_prune_runs_a_few_deletions_at_once():
    import threading
    import time

    planned = [dict(D.summarize(dep("d%02d" % i, "preview", "x", 50 - i)), reason="r", force=False) for i in range(12)]
    active, peak, lock = [0], [0], threading.Lock()

    class SlowClient(FakeClient):
        def delete_deployment(self, project, deployment_id, force=False):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1
                self.deleted.append((deployment_id, force))

    client = SlowClient()
    deleted, skipped, failed = D.execute_prune(client, "site", planned)
    assert ids(deleted) == ["d%02d" % i for i in range(12)]  # reported in plan order
    assert 1 < peak[0] <= D.BULK_WORKERS


def skipped(ident, days_ago, reason="superseded_queued_build", branch="main"):
    d = dep(ident, "production", branch, days_ago, status="canceled", stage="queued")
    d.update(is_skipped=True, skip_reason=reason)
    return d


def test_a_skipped_build_is_skipped_whatever_its_stage_says():
    # Stage.status has no "skipped" in the API reference; a skipped build's queued stage may end canceled.
    assert D.outcome_of(skipped("s1", 0)) == "skipped"
    assert D.outcome_of(dict(skipped("s1", 0), latest_stage={"name": "queued", "status": "failure"})) == "skipped"
    assert D.outcome_of(dict(skipped("s1", 0), is_skipped=False)) == "failure"


class Lister:
    def __init__(self, deployments):
        self.deployments = deployments  # newest first
        self.calls = []

    def list_deployments(self, project, env=None, limit=None):
        self.calls.append((project, env))
        return iter(self.deployments)


def test_skip_details_name_the_build_that_superseded_it():
    old = skipped("old00000", 3)
    also_skipped = skipped("mid00000", 2)
    other_branch = dep("feat0000", "production", "feat", 1.5)
    newer = dep("new00000", "production", "main", 1, status="active", stage="build")
    newest = dep("last0000", "production", "main", 0.5, status="active", stage="queued")
    client = Lister([newest, newer, other_branch, also_skipped, old, dep("older000", "production", "main", 9)])
    details = D.skip_details(autospec_client(client), "site", old)
    assert details["reason"] == "superseded_queued_build"
    assert details["superseded_by"]["id"] == "new00000"  # the first later one of the branch that was not skipped
    assert "superseded it while it was queued" in details["message"] and "new00000" in details["message"]
    assert client.calls == [("site", "production")]


def test_skip_details_of_other_reasons_and_of_builds_that_ran():
    client = Lister([])
    details = D.skip_details(autospec_client(client), "site", skipped("p1", 0, reason="path_config"))
    assert details["reason"] == "path_config" and details["superseded_by"] is None and client.calls == []
    assert "watch paths" in details["message"]
    assert "pages_to_workers_conversion" in D.skip_details(client, "site", skipped("p1", 0, "pages_to_workers_conversion"))["message"]
    assert "brand_new_reason" in D.skip_details(client, "site", skipped("p1", 0, "brand_new_reason"))["message"]
    assert D.skip_details(client, "site", dep("ran", "production", "main", 0)) is None


def test_skip_details_when_the_listing_fails():
    class Failing:
        def list_deployments(self, project, env=None, limit=None):
            raise PagesAPIError("connection failed", 0, [], "GET", "/x")

    details = D.skip_details(autospec_client(Failing()), "site", skipped("old", 1))
    assert details["reason"] == "superseded_queued_build" and details["superseded_by"] is None
