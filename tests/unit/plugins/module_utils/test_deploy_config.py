# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of ``_deploy_config`` (the configuration a deployment was made with against its
environment's now, and the ``reason`` of a deploy), and of the engine deciding with it."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import hashing as UH, pages_deploy as U
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments import settings as C
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.module_utils.test_upload import FakePages, make_client
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write


def env(**fields):
    """An environment's configuration as the project GET returns it (the API's defaults, ``fields`` on top)."""
    out = {"env_vars": None, "fail_open": True, "always_use_latest_compatibility_date": False,
           "compatibility_date": "2025-01-15", "compatibility_flags": [], "build_image_major_version": 3,
           "usage_model": "standard"}
    out.update(fields)
    return out


def made_with(config, message="", **fields):
    """A deployment object as the API returns it, made with ``config`` (secret values blank)."""
    env_vars = {}
    for name, entry in (config.get("env_vars") or {}).items():
        entry = dict(entry)
        if entry.get("type") == "secret_text":
            entry["value"] = ""
        env_vars[name] = entry
    out = {"id": "dep-1", "latest_stage": {"name": "deploy", "status": "success"}, "env_vars": env_vars,
           "compatibility_date": config.get("compatibility_date"),
           "compatibility_flags": list(config.get("compatibility_flags") or []),
           "deployment_trigger": {"type": "ad_hoc", "metadata": {"branch": "main", "commit_message": message}}}
    out.update(fields)
    return out


def plain(value):
    return {"type": "plain_text", "value": value}


def secret(value=""):
    return {"type": "secret_text", "value": value}


# --------------------------------------------------------------------------- the environment and its settings


def test_environment_config_follows_the_branch():
    configs = {"production": env(usage_model="bundled"), "preview": env(usage_model="unbound")}
    project = {"production_branch": "main", "deployment_configs": configs}
    assert C.environment_config(project, "main")["usage_model"] == "bundled"
    assert C.environment_config(project, "feature")["usage_model"] == "unbound"
    assert C.environment_config(None, "main") == {} and C.environment_config({"production_branch": "main"}, "main") == {}


def test_settings_are_what_the_deployment_object_does_not_show():
    base = env(kv_namespaces={"KV": {"namespace_id": "a"}})
    digest = C.settings_digest(base)
    # shown on the deployment (compared there), or not what a Direct Upload deployment runs with
    for key, value in (("env_vars", {"X": plain("1")}), ("compatibility_date", "2026-01-01"),
                       ("compatibility_flags", ["nodejs_compat"]), ("build_image_major_version", 1),
                       ("wrangler_config_hash", "ab" * 32)):
        assert C.settings_digest(dict(base, **{key: value})) == digest, key
    # the API's ways of saying "unset" are one
    assert C.settings_digest(dict(base, r2_buckets={})) == digest
    assert C.settings_digest(dict(base, placement=None)) == digest
    assert C.settings_digest(dict(base, kv_namespaces={"KV": {"namespace_id": "a", "extra": None}})) == digest
    # everything else counts, binding types the API may add later included
    for key, value in (("kv_namespaces", {"KV": {"namespace_id": "b"}}), ("d1_databases", {"DB": {"id": "1"}}),
                       ("usage_model", "unbound"), ("placement", {"mode": "smart"}), ("limits", {"cpu_ms": 50}),
                       ("fail_open", False), ("always_use_latest_compatibility_date", True),
                       ("workflows", {"W": {"name": "w"}})):
        assert C.settings_digest(dict(base, **{key: value})) != digest, key


def test_the_settings_line_is_read_back_from_the_commit_message():
    config = env(placement={"mode": "smart"})
    line = C.settings_line(config)
    assert line == "cfpages-settings: " + C.settings_digest(config)[:32]
    message = "Deploy it\n\ncfpages-index: yes\n%s\ncfpages-digest: %s" % (line, "0" * 32)
    assert C.recorded_settings(made_with(config, message)) == C.settings_digest(config)[:32]
    assert C.recorded_settings(made_with(config, "no trailer\ncfpages-digest: " + "0" * 32)) is None
    assert C.recorded_settings(made_with(config, "x %s" % line)) is None  # only as a line of its own
    assert C.recorded_settings(None) is None and C.recorded_settings({"deployment_trigger": None}) is None


# --------------------------------------------------------------------------- comparing with the live deployment


def test_same_configuration_compares_equal_even_with_secrets():
    config = env(env_vars={"GREETING": plain("hello"), "TOKEN": secret()}, compatibility_flags=["b", "a"])
    live = made_with(config)
    live["compatibility_flags"] = ["a", "b"]  # a set: order does not matter
    same = C.ConfigComparison(live, config)
    assert not same.changed and same.changes == []
    assert same.before == same.after
    assert same.after["env_vars"]["TOKEN"] == {"type": "secret_text", "value": ""}


@pytest.mark.parametrize("change,expected", [
    ({"env_vars": {"GREETING": plain("bonjour")}}, ["env_vars.GREETING"]),
    ({"env_vars": {"GREETING": plain("hello"), "NEW": plain("")}}, ["env_vars.NEW"]),
    ({"env_vars": {}}, ["env_vars.GREETING"]),
    ({"env_vars": {"GREETING": secret("hello")}}, ["env_vars.GREETING"]),  # plain -> secret
    ({"compatibility_date": "2026-01-01"}, ["compatibility_date"]),
    ({"compatibility_flags": ["nodejs_compat"]}, ["compatibility_flags"]),
    ({"env_vars": {"GREETING": plain("x")}, "compatibility_date": "2026-01-01"},
     ["env_vars.GREETING", "compatibility_date"]),
])
def test_each_difference_is_named(change, expected):
    before = env(env_vars={"GREETING": plain("hello")})
    comparison = C.ConfigComparison(made_with(before), dict(before, **change))
    assert comparison.changes == expected


def test_a_secret_compares_by_name_and_type_only():
    live = made_with(env(env_vars={"TOKEN": secret("old")}))
    assert live["env_vars"]["TOKEN"]["value"] == ""
    assert not C.ConfigComparison(live, env(env_vars={"TOKEN": secret("")})).changed
    assert C.ConfigComparison(live, env(env_vars={"TOKEN": plain("")})).changes == ["env_vars.TOKEN"]
    assert C.ConfigComparison(live, env(env_vars={"OTHER": secret("")})).changes == ["env_vars.OTHER", "env_vars.TOKEN"]


def test_a_variable_without_type_on_the_deployment():
    # pages-openapi.json's example of a deployment's env_vars has no "type": it is not a difference
    live = made_with(env(), env_vars={"A": {"value": "1"}, "S": {"value": ""}})
    config = env(env_vars={"A": plain("1"), "S": secret()})
    assert not C.ConfigComparison(live, config).changed
    assert C.ConfigComparison(live, dict(config, env_vars={"A": plain("2"), "S": secret()})).changes == ["env_vars.A"]


def test_fields_the_deployment_lacks_are_not_compared():
    live = {"id": "old", "deployment_trigger": {"metadata": {"commit_message": "made by someone else"}}}
    comparison = C.ConfigComparison(live, env(env_vars={"A": plain("1")}, compatibility_flags=["x"]))
    assert not comparison.changed and comparison.before == comparison.after == {}


def test_the_latest_compatibility_date_is_not_the_environments():
    config = env(always_use_latest_compatibility_date=True)
    live = made_with(config, compatibility_date="2026-12-01")
    assert not C.ConfigComparison(live, config).changed


def test_recorded_settings_compare_when_the_deployment_has_them():
    config = env(kv_namespaces={"KV": {"namespace_id": "a"}})
    live = made_with(config, "m\n\n%s\ncfpages-digest: %s" % (C.settings_line(config), "0" * 32))
    assert not C.ConfigComparison(live, config).changed
    moved = C.ConfigComparison(live, dict(config, kv_namespaces={"KV": {"namespace_id": "b"}}))
    assert moved.changes == [C.SETTINGS]
    assert moved.before[C.SETTINGS] != moved.after[C.SETTINGS]
    assert moved.before[C.SETTINGS].startswith("sha256:")
    # no recorded line: bindings cannot be compared, the rest still is
    assert not C.ConfigComparison(made_with(config), dict(config, kv_namespaces={})).changed


@pytest.mark.parametrize("live,carries,failed,config_changed,force,reason", [
    (None, False, False, False, False, C.NOTHING_LIVE),
    (None, False, False, False, True, C.NOTHING_LIVE),
    ({}, False, False, True, True, C.FILES_CHANGED),
    ({}, True, True, True, False, C.LIVE_FAILED),
    ({}, True, False, True, True, C.CONFIGURATION_CHANGED),
    ({}, True, False, False, True, C.FORCED),
    ({}, True, False, False, False, C.UNCHANGED),
])
def test_deploy_reason(live, carries, failed, config_changed, force, reason):
    comparison = C.ConfigComparison({"env_vars": {}}, env(env_vars={"A": plain("1")} if config_changed else None))
    assert comparison.changed is config_changed
    assert C.deploy_reason(live, carries, failed, comparison, force) == reason
    assert reason in C.REASONS


# --------------------------------------------------------------------------- the engine


class SnapshotPages(FakePages):
    """FakePages whose deployments carry the configuration of their environment at creation, as
    the API's do (env_vars with secret values blank, compatibility date and flags)."""

    def __init__(self):
        super().__init__()
        self.project["deployment_configs"] = {"production": env(), "preview": env()}

    def configure(self, environment="production", **fields):
        self.project["deployment_configs"][environment].update(copy.deepcopy(fields))

    def do_create_deployment(self, kwargs):
        answer = super().do_create_deployment(kwargs)
        created = self.deployments[0]
        created.update({k: v for k, v in made_with(self.project["deployment_configs"][created["environment"]]).items()
                        if k in C.SHOWN_FIELDS})
        return answer


@pytest.fixture
def pages():
    return SnapshotPages()


def worker_site(root):
    write(root, "index.html", "<h1>app</h1>")
    write(root, "_worker.js", "export default { fetch: (request, env) => new Response(env.GREETING) };\n")
    return str(root)


def deploy(pages, site, check_mode=False, **options):
    engine = U.DirectUpload(make_client(pages), U.DeployRequest("site", site, **options))
    return engine.run(check_mode=check_mode)


pytestmark = pytest.mark.skipif(not UH.HAS_BLAKE3, reason="blake3 is not installed")


def test_a_changed_variable_redeploys_the_same_files_once(tmp_path, pages):
    site = worker_site(tmp_path)
    pages.configure(env_vars={"GREETING": plain("hello")})
    first = deploy(pages, site)
    assert first["changed"] and first["reason"] == C.NOTHING_LIVE
    message = pages.deployments[0]["deployment_trigger"]["metadata"]["commit_message"]
    assert C.settings_line(pages.project["deployment_configs"]["production"]) in message.splitlines()
    assert not deploy(pages, site)["changed"]

    pages.configure(env_vars={"GREETING": plain("bonjour")})
    uploads = len(pages.calls_to("upload"))
    check = deploy(pages, site, check_mode=True)
    assert check["changed"] and check["reason"] == C.CONFIGURATION_CHANGED and check["deployment"] is None
    assert check["configuration_changes"] == ["env_vars.GREETING"]
    assert check["configuration"]["before"]["env_vars"]["GREETING"]["value"] == "hello"
    assert check["configuration"]["after"]["env_vars"]["GREETING"]["value"] == "bonjour"
    assert len(pages.deployments) == 1 and len(pages.calls_to("upload")) == uploads

    second = deploy(pages, site)
    assert second["changed"] and second["reason"] == C.CONFIGURATION_CHANGED
    assert second["upload"]["uploaded"] == 0 and len(pages.deployments) == 2
    assert pages.project["canonical_deployment"]["env_vars"]["GREETING"]["value"] == "bonjour"

    calls = len(pages.calls)
    third = deploy(pages, site)
    assert not third["changed"] and third["reason"] == C.UNCHANGED and third["configuration_changes"] == []
    assert [c[2] for c in pages.calls[calls:]] == ["get_project"]  # the no-op costs no extra request


def test_a_changed_binding_redeploys_and_a_secret_value_needs_force(tmp_path, pages):
    site = worker_site(tmp_path)
    pages.configure(env_vars={"TOKEN": secret("one")})
    deploy(pages, site)
    pages.configure(kv_namespaces={"KV": {"namespace_id": "a"}})
    moved = deploy(pages, site)
    assert moved["reason"] == C.CONFIGURATION_CHANGED and moved["configuration_changes"] == [C.SETTINGS]
    assert not deploy(pages, site)["changed"]

    pages.configure(env_vars={"TOKEN": secret("two")})  # the API returns it blank: no difference to see
    assert not deploy(pages, site)["changed"]
    forced = deploy(pages, site, force=True)
    assert forced["changed"] and forced["reason"] == C.FORCED and len(pages.deployments) == 3


def test_other_files_say_so_and_a_preview_compares_with_its_own_environment(tmp_path, pages):
    site = worker_site(tmp_path)
    deploy(pages, site, branch="feature")
    pages.configure("production", env_vars={"GREETING": plain("prod only")})
    assert not deploy(pages, site, branch="feature")["changed"]
    pages.configure("preview", compatibility_flags=["nodejs_compat"])
    assert deploy(pages, site, branch="feature", check_mode=True)["configuration_changes"] == ["compatibility_flags"]
    write(tmp_path, "index.html", "<h1>new</h1>")
    changed = deploy(pages, site, branch="feature")
    assert changed["reason"] == C.FILES_CHANGED and changed["configuration_changes"] == ["compatibility_flags"]


def test_a_static_site_compares_by_its_files_alone(tmp_path, pages):
    write(tmp_path, "index.html", "<h1>static</h1>")
    first = deploy(pages, str(tmp_path))
    message = pages.deployments[0]["deployment_trigger"]["metadata"]["commit_message"]
    assert "cfpages-settings" not in message
    pages.configure(env_vars={"GREETING": plain("unused")}, kv_namespaces={"KV": {"namespace_id": "a"}})
    again = deploy(pages, str(tmp_path))
    assert first["changed"] and not again["changed"] and again["reason"] == C.UNCHANGED
    assert again["configuration"] is None and again["configuration_changes"] == []
