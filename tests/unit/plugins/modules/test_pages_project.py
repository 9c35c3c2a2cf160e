# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of pages_project against the fake Pages API (tests/unit/plugins/fake_pages_api.py),
which keeps projects in memory with the API's PATCH semantics and logs every call."""

from __future__ import annotations

import json
import re

import pytest

from ansible.module_utils import basic

from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import HAS_SECRET_MASKING, SECRET_CHANGED_MASK, SECRET_MASK
from ansible_collections.cfpages.cloudflare.plugins.modules import pages_project
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fake_pages_api import api_error

try:
    from ansible.module_utils.secrets import mask_secrets as core_mask_secrets
except ImportError:  # ansible-core before 2.22
    core_mask_secrets = None


TOKEN = "tok-5b1d9e7c3a2f4e6d8c0b1a2f3e4d5c6b7a8f9e0d"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
BASE = "http://api.test/client/v4"
SECRET = "s3cr3t-4c1d8e2b9f7a6e5d3c1b0a9f"
SECRET2 = "s3cr3t-rotated-8e7d6c5b4a3f2e1d"
WA_TOKEN = "wa-token-1f2e3d4c5b6a79881726354"


@pytest.fixture
def api(pages_api):
    """The fake Pages API; like Cloudflare's, it refuses to delete a project with many deployments."""
    pages_api.delete_limit = 3
    return pages_api


def sent(api):
    """The body of the PATCH the module sent last (it must be the last call)."""
    method, name, body = api.calls[-1]
    assert (method, name) == ("update_project", "site"), api.calls[-1]
    return body


def names(api):
    return [c[0] for c in api.calls]


def args(**kw):
    base = {"api_token": TOKEN, "account_id": ACCOUNT, "api_base_url": BASE, "name": "site"}
    base.update(kw)
    return base


def run(run_module, check=False, diff=False, **kw):
    a = args(**kw)
    if check:
        a["_ansible_check_mode"] = True
    if diff:
        a["_ansible_diff"] = True
    return run_module(pages_project.main, a)


def env_vars(**vars_):
    return {"deployment_configs": {"production": {"env_vars": vars_}}}


def secret(value=SECRET):
    return {"type": "secret_text", "value": value}


def plain(value):
    return {"type": "plain_text", "value": value}


# =========================================================================== create


def test_create_posts_the_task_once_and_returns_the_masked_project(run_module, api):
    kind, result = run(
        run_module,
        production_branch="main",
        build_config={"build_command": "npm run build", "web_analytics_token": WA_TOKEN},
        **env_vars(A={"value": "one"}, S=secret())
    )
    assert kind == "exit", result
    assert result["changed"] is True
    assert names(api) == ["get_project", "create_project_or_existing"]
    body = api.calls[1][1]
    assert body == {
        "name": "site",
        "production_branch": "main",
        "build_config": {"build_command": "npm run build", "web_analytics_token": WA_TOKEN},
        "deployment_configs": {"production": {"env_vars": {"A": plain("one"), "S": secret()}}},
    }
    project = result["project"]
    assert project["id"] == "id-site"
    assert project["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK
    assert project["build_config"]["web_analytics_token"] == SECRET_MASK
    assert SECRET not in json.dumps(result) and WA_TOKEN not in json.dumps(result)


def test_create_in_check_mode_sends_nothing_and_predicts(run_module, api):
    kind, result = run(run_module, check=True, diff=True, production_branch="main", **env_vars(S=secret()))
    assert kind == "exit", result
    assert result["changed"] is True
    assert api.mutations() == [] and api.calls == [("get_project", "site")]
    assert api.projects == {}
    assert result["project"]["name"] == "site"
    assert result["project"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_CHANGED_MASK
    assert SECRET not in json.dumps(result)


def test_create_needs_production_branch(run_module, api):
    kind, result = run(run_module)
    assert kind == "fail"
    assert "production_branch is required to create project 'site'" in result["msg"]
    assert api.mutations() == []


def test_second_run_is_unchanged_with_exactly_one_get(run_module, api):
    task = dict(
        production_branch="main",
        build_config={"build_command": "npm run build", "root_dir": "", "web_analytics_token": WA_TOKEN},
        source=None,
        deployment_configs={
            "production": {
                "env_vars": {"A": {"value": "one"}, "S": secret()},
                "compatibility_flags": ["b_flag", "a_flag"],
                "compatibility_date": "2025-02-01",
                "kv_namespaces": {"KV": {"namespace_id": "ns-1"}},
                "placement": {"mode": "smart"},
                "limits": {"cpu_ms": 50},
                "browsers": {"BROWSER": None},
            },
            "preview": {"env_vars": {}, "compatibility_flags": []},
        },
    )
    assert run(run_module, **task)[1]["changed"] is True
    api.calls.clear()
    kind, result = run(run_module, diff=True, **task)
    assert kind == "exit", result
    assert result["changed"] is False
    assert api.calls == [("get_project", "site")]
    assert result["diff"]["before"] == result["diff"]["after"]


def test_api_defaults_are_not_differences(run_module, api):
    api.seed_project(
        "site",
        build_config={"build_command": "", "root_dir": None, "web_analytics_tag": None, "web_analytics_token": None},
        source={
            "type": "github",
            "config": {
                "owner": "o",
                "repo_name": "r",
                "owner_id": "123",
                "preview_deployment_setting": "all",
                "preview_branch_includes": ["*"],
                "preview_branch_excludes": [],
                "path_includes": ["*"],
                "path_excludes": [],
            },
        },
    )
    kind, result = run(
        run_module,
        build_config={"build_command": "", "root_dir": ""},
        source={"type": "github", "config": {"owner": "o", "repo_name": "r", "path_includes": [], "preview_branch_includes": []}},
        deployment_configs={"production": {"compatibility_flags": [], "env_vars": {}}},
    )
    assert kind == "exit", result
    assert result["changed"] is False
    assert api.mutations() == []


# =========================================================================== updates


@pytest.mark.parametrize(
    "task, patch",
    [
        ({"production_branch": "release"}, {"production_branch": "release"}),
        ({"build_config": {"build_command": "make", "build_caching": True}}, {"build_config": {"build_command": "make", "build_caching": True}}),
        (
            {"deployment_configs": {"preview": {"compatibility_date": "2025-03-01", "fail_open": False, "usage_model": "standard"}}},
            {"deployment_configs": {"preview": {"compatibility_date": "2025-03-01", "fail_open": False}}},
        ),
        (
            {"deployment_configs": {"production": {"compatibility_flags": ["nodejs_compat"], "always_use_latest_compatibility_date": True}}},
            {"deployment_configs": {"production": {"compatibility_flags": ["nodejs_compat"], "always_use_latest_compatibility_date": True}}},
        ),
        (
            {"deployment_configs": {"production": {"placement": {"mode": "smart"}, "limits": {"cpu_ms": 100}}}},
            {"deployment_configs": {"production": {"placement": {"mode": "smart"}, "limits": {"cpu_ms": 100}}}},
        ),
    ],
)
def test_each_kind_of_update_sends_one_patch_with_only_the_difference(run_module, api, task, patch):
    api.seed_project("site")
    kind, result = run(run_module, **task)
    assert kind == "exit", result
    assert result["changed"] is True
    assert names(api) == ["get_project", "update_project"]
    assert sent(api) == patch
    again = run(run_module, **task)[1]
    assert again["changed"] is False


def test_update_in_check_mode_sends_nothing_and_predicts(run_module, api):
    api.seed_project("site")
    kind, result = run(run_module, check=True, diff=True, production_branch="release")
    assert kind == "exit", result
    assert result["changed"] is True
    assert api.mutations() == []
    assert result["project"]["production_branch"] == "release"
    assert api.projects["site"]["production_branch"] == "main"
    assert result["diff"] == {
        "before": {"name": "site", "production_branch": "main"},
        "after": {"name": "site", "production_branch": "release"},
    }


def test_name_is_never_patched(run_module, api):
    api.seed_project("site")
    kind, result = run(run_module, production_branch="dev")
    assert kind == "exit" and result["changed"], result
    patches = [c[2] for c in api.called("update_project")]
    assert len(patches) == 1 and patches[0].get("production_branch") == "dev"
    assert "name" not in patches[0]


# =========================================================================== env vars and secrets


def test_env_vars_add_change_keep_without_purge(run_module, api):
    api.seed_project("site", deployment_configs={"production": {"env_vars": {"A": plain("1"), "B": plain("2"), "C": plain("3")}}})
    kind, result = run(run_module, diff=True, **env_vars(A={"value": "1"}, B={"value": "two"}, D={"value": 4}))
    assert kind == "exit", result
    assert sent(api) == env_vars(B=plain("two"), D=plain("4"))
    assert set(result["project"]["deployment_configs"]["production"]["env_vars"]) == {"A", "B", "C", "D"}
    assert result["diff"]["before"]["deployment_configs"]["production"]["env_vars"] == {"A": plain("1"), "B": plain("2")}
    assert result["diff"]["after"]["deployment_configs"]["production"]["env_vars"] == {
        "A": plain("1"),
        "B": plain("two"),
        "D": plain("4"),
    }


def test_env_vars_purge_sends_null_for_unlisted(run_module, api):
    api.seed_project("site", deployment_configs={"production": {"env_vars": {"A": plain("1"), "B": plain("2")}}})
    kind, result = run(run_module, diff=True, purge_env_vars=True, **env_vars(A={"value": "1"}))
    assert kind == "exit", result
    assert sent(api) == env_vars(B=None)
    assert result["project"]["deployment_configs"]["production"]["env_vars"] == {"A": plain("1")}
    assert "B" in result["diff"]["before"]["deployment_configs"]["production"]["env_vars"]
    assert "B" not in result["diff"]["after"]["deployment_configs"]["production"]["env_vars"]
    # an empty map with purge removes everything; an environment the task does not set is left alone
    run(run_module, purge_env_vars=True, **env_vars())
    assert sent(api) == env_vars(A=None)
    assert api.projects["site"]["deployment_configs"]["production"]["env_vars"] is None


def test_purge_env_vars_leaves_unset_maps_and_environments_alone(run_module, api):
    api.seed_project("site", deployment_configs={"production": {"env_vars": {"A": plain("1")}}, "preview": {"env_vars": {"P": plain("1")}}})
    kind, result = run(run_module, purge_env_vars=True, purge_bindings=True, deployment_configs={"production": {"fail_open": True}})
    assert kind == "exit", result
    assert result["changed"] is False
    assert api.mutations() == []


def test_existing_secret_is_left_alone_with_on_create(run_module, api):
    api.seed_project("site", deployment_configs={"production": {"env_vars": {"S": secret(), "A": plain("1")}}})
    kind, result = run(run_module, diff=True, purge_env_vars=True, **env_vars(S=secret(SECRET2), A={"value": "1"}))
    assert kind == "exit", result
    assert result["changed"] is False
    assert api.mutations() == []
    assert api.projects["site"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET
    assert result["diff"]["after"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK


def test_secret_is_sent_with_always_and_never_shown(run_module, api):
    api.seed_project("site", deployment_configs={"production": {"env_vars": {"S": secret()}}})
    kind, result = run(run_module, diff=True, update_secrets="always", **env_vars(S=secret(SECRET2)))
    assert kind == "exit", result
    assert result["changed"] is True
    assert sent(api) == env_vars(S=secret(SECRET2))
    assert api.projects["site"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET2
    assert result["diff"]["before"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK
    assert result["diff"]["after"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_CHANGED_MASK
    text = json.dumps(result)
    assert SECRET not in text and SECRET2 not in text
    # always means always: the same task changes again
    assert run(run_module, update_secrets="always", **env_vars(S=secret(SECRET2)))[1]["changed"] is True


def test_new_secret_and_plain_to_secret_are_sent_with_on_create(run_module, api):
    api.seed_project("site", deployment_configs={"production": {"env_vars": {"P": plain("was-plain")}}})
    kind, result = run(run_module, **env_vars(P=secret(), N=secret(SECRET2)))
    assert kind == "exit", result
    assert sent(api) == env_vars(P=secret(), N=secret(SECRET2))
    # and a secret turned back into plain text is a change too
    kind, result = run(run_module, **env_vars(P={"value": "plain-again"}))
    assert sent(api) == env_vars(P=plain("plain-again"))


# =========================================================================== bindings


def test_bindings_merge_and_purge(run_module, api):
    api.seed_project(
        "site",
        deployment_configs={
            "production": {
                "kv_namespaces": {"OLD": {"namespace_id": "ns-old"}},
                "d1_databases": {"DB": {"id": "db-1"}},
                "r2_buckets": {"R2": {"name": "bucket", "jurisdiction": "eu"}},
            }
        },
    )
    task = {
        "deployment_configs": {
            "production": {
                "kv_namespaces": {"NEW": {"namespace_id": "ns-new"}},
                "r2_buckets": {"R2": {"name": "bucket"}},
                "services": {"AUTH": {"service": "auth-worker"}},
            }
        }
    }
    kind, result = run(run_module, **task)
    assert kind == "exit", result
    assert sent(api) == {
        "deployment_configs": {
            "production": {"kv_namespaces": {"NEW": {"namespace_id": "ns-new"}}, "services": {"AUTH": {"service": "auth-worker"}}}
        }
    }
    prod = api.projects["site"]["deployment_configs"]["production"]
    assert set(prod["kv_namespaces"]) == {"OLD", "NEW"} and prod["d1_databases"] == {"DB": {"id": "db-1"}}

    kind, result = run(run_module, purge_bindings=True, **task)
    assert kind == "exit", result
    # unlisted keys of the maps the task sets are removed; d1_databases (not set) is left alone
    assert sent(api) == {"deployment_configs": {"production": {"kv_namespaces": {"OLD": None}}}}
    kind, result = run(run_module, purge_bindings=True, deployment_configs={"production": {"d1_databases": {}}})
    assert sent(api) == {"deployment_configs": {"production": {"d1_databases": {"DB": None}}}}
    assert run(run_module, purge_bindings=True, **task)[1]["changed"] is False


def test_every_binding_map_shape_is_accepted(run_module, api):
    api.seed_project("site")
    bindings = {
        "kv_namespaces": {"KV": {"namespace_id": "n"}},
        "durable_object_namespaces": {"DO": {"namespace_id": "n"}},
        "d1_databases": {"DB": {"id": "d"}},
        "r2_buckets": {"R2": {"name": "b", "jurisdiction": "eu"}},
        "services": {"SVC": {"service": "s", "environment": "production", "entrypoint": "Entry"}},
        "queue_producers": {"Q": {"name": "q"}},
        "ai_bindings": {"AI": {}},
        "analytics_engine_datasets": {"AE": {"dataset": "ds"}},
        "hyperdrive_bindings": {"HD": {"id": "h"}},
        "vectorize_bindings": {"VEC": {"index_name": "i"}},
        "mtls_certificates": {"CERT": {"certificate_id": "c"}},
        "browsers": {"BROWSER": {}},
    }
    assert set(bindings) == set(pages_project.BINDING_MAPS)
    kind, result = run(run_module, deployment_configs={"preview": bindings})
    assert kind == "exit", result
    assert sent(api) == {"deployment_configs": {"preview": bindings}}
    assert run(run_module, deployment_configs={"preview": bindings})[1]["changed"] is False


# =========================================================================== source


def test_source_on_a_direct_upload_project_says_what_the_api_answered(run_module, api):
    api.seed_project("site")
    kind, result = run(run_module, source={"type": "github", "config": {"owner": "o", "repo_name": "r"}})
    assert kind == "fail"
    assert [c[0] for c in api.mutations()] == ["connect_source"]  # the API decides, and the task says its answer
    assert "connecting project 'site' to github repository o/r failed" in result["msg"]
    assert "A Direct Upload project cannot be connected to a Git repository. [code 8000039]" in result["msg"]
    assert "never deletes and recreates" in result["msg"] and result["errors"][0]["code"] == 8000039
    assert "source" not in api.projects["site"]


GIT = {"type": "github", "config": {"owner": "o", "repo_name": "r", "production_branch": "main"}}


def test_disconnect_and_connect_again(run_module, api):
    api.seed_project("site", source=GIT)
    kind, result = run(run_module, check=True, diff=True, source_state="absent")
    assert kind == "exit" and result["changed"] is True and api.mutations() == []
    assert result["diff"]["before"]["source"]["config"]["repo_name"] == "r" and "source" not in result["diff"]["after"]
    assert "source" not in result["project"]
    kind, result = run(run_module, source_state="absent")
    assert kind == "exit" and result["changed"] is True and "source" not in result["project"]
    assert [c[0] for c in api.mutations()] == ["disconnect_source"] and "source" not in api.projects["site"]
    assert run(run_module, source_state="absent")[1]["changed"] is False  # nothing left to disconnect
    assert len(api.mutations()) == 1

    wanted = {"type": "github", "config": {"owner": "o", "repo_name": "r", "preview_deployment_setting": "none"}}
    kind, result = run(run_module, check=True, diff=True, source=wanted)
    assert kind == "exit" and result["changed"] is True and len(api.mutations()) == 1
    assert "source" not in result["diff"]["before"] and result["diff"]["after"]["source"]["config"]["repo_name"] == "r"
    kind, result = run(run_module, source=wanted, build_config={"build_command": "make"})
    assert kind == "exit" and result["changed"] is True
    connect, patch = api.mutations()[1:]
    # POST .../source takes the source object itself; the repository builds the project's production branch
    assert connect == ("connect_source", "site", {"type": "github", "config": {
        "owner": "o", "repo_name": "r", "preview_deployment_setting": "none", "production_branch": "main"}})
    assert patch[0] == "update_project" and patch[2] == {"build_config": {"build_command": "make"}}
    assert result["project"]["source"]["config"]["preview_deployment_setting"] == "none"
    assert run(run_module, source=wanted, build_config={"build_command": "make"})[1]["changed"] is False


def test_source_state_absent_cannot_come_with_a_source(run_module, api):
    api.seed_project("site", source=GIT)
    kind, result = run(run_module, source_state="absent", source=GIT)
    assert kind == "fail" and "source_state: absent" in result["msg"] and api.calls == []


def test_deployments_enabled_is_deprecated(run_module, api, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    api.seed_project("site", source=GIT)
    kind, result = run(run_module, source={"type": "github", "config": {"deployments_enabled": False}})
    assert kind == "exit", result
    warning = [w for w in warnings if "deployments_enabled is deprecated" in w]
    assert warning and "production_deployments_enabled" in warning[0] and "preview_deployment_setting" in warning[0]
    assert sent(api) == {"source": {"type": "github", "config": {"deployments_enabled": False}}}
    warnings.clear()
    run(run_module, source={"type": "github", "config": {"production_deployments_enabled": False}})
    assert not any("deprecated" in w for w in warnings)


def test_source_change_on_a_git_project_sends_the_source(run_module, api):
    api.seed_project("site", source={"type": "github", "config": {"owner": "o", "repo_name": "r", "pr_comments_enabled": True}})
    kind, result = run(run_module, source={"type": "github", "config": {"pr_comments_enabled": False, "path_excludes": ["docs/*"]}})
    assert kind == "exit", result
    assert sent(api) == {
        "source": {"type": "github", "config": {"pr_comments_enabled": False, "path_excludes": ["docs/*"]}}
    }
    assert api.projects["site"]["source"]["config"]["owner"] == "o"


def test_create_with_source(run_module, api):
    source = {
        "type": "gitlab",
        "config": {
            "owner": "o",
            "repo_name": "r",
            "production_branch": "main",
            "preview_deployment_setting": "custom",
            "preview_branch_includes": ["feature/*"],
        },
    }
    kind, result = run(run_module, production_branch="main", source=source)
    assert kind == "exit", result
    assert api.calls[-1][1]["source"] == source
    assert result["project"]["source"] == source


@pytest.mark.parametrize("key", ["preview_branch_includes", "preview_branch_excludes"])
def test_branch_filters_need_custom_setting(run_module, api, key):
    # set by the task: fails before any request
    kind, result = run(run_module, source={"type": "github", "config": {"preview_deployment_setting": "all", key: ["x"]}})
    assert kind == "fail"
    assert "only applies when preview_deployment_setting is 'custom'" in result["msg"]
    assert api.calls == []
    # not set by the task: the project's own setting decides, after the one GET
    api.seed_project("site", source={"type": "github", "config": {"preview_deployment_setting": "none"}})
    kind, result = run(run_module, source={"type": "github", "config": {key: ["x"]}})
    assert kind == "fail" and "(it is 'none')" in result["msg"]
    assert api.mutations() == []
    api.projects["site"]["source"]["config"]["preview_deployment_setting"] = "custom"
    kind, result = run(run_module, source={"type": "github", "config": {key: ["x"]}})
    assert kind == "exit", result
    # on create the API's default (all) applies
    kind, result = run(run_module, name="other", production_branch="main", source={"type": "github", "config": {key: ["x"]}})
    assert kind == "fail" and "(it is 'all')" in result["msg"]


# =========================================================================== bad input


@pytest.mark.parametrize("name", ["Site", "-site", "site-", "a" * 59, "my_site", "", "site.dev"])
def test_invalid_name_fails_before_any_request(run_module, api, name):
    kind, result = run(run_module, name=name, production_branch="main")
    assert kind == "fail"
    assert "is not a valid Pages project name" in result["msg"] or result["msg"].startswith("name must not be empty")
    assert api.calls == []


@pytest.mark.parametrize(
    "config, message",
    [
        ({"env_vars": {"A": "text"}}, "deployment_configs.production.env_vars.A must be a dict"),
        ({"env_vars": {"A": {"type": "secret", "value": "x"}}}, "env_vars.A.type must be one of plain_text, secret_text"),
        ({"env_vars": {"A": {"type": "plain_text"}}}, "env_vars.A.value is required"),
        ({"env_vars": {"A": {"value": ["x"]}}}, "env_vars.A.value must be a string, not list"),
        ({"env_vars": {"A": {"value": True}}}, "env_vars.A.value must be a string, not bool"),
        ({"env_vars": {"A": {"value": "x", "secret": True}}}, "env_vars.A has unknown keys secret"),
        ({"kv_namespaces": {"KV": {}}}, "kv_namespaces.KV: missing required arguments: namespace_id"),
        ({"kv_namespaces": {"KV": "ns-1"}}, "kv_namespaces.KV must be a dict with keys namespace_id"),
        ({"kv_namespaces": {"KV": None}}, "kv_namespaces.KV must be a dict"),
        ({"d1_databases": {"DB": {"id": "x", "name": "y"}}}, "d1_databases.DB has unknown keys name (expected keys id)"),
        ({"r2_buckets": {"R2": {"jurisdiction": "eu"}}}, "expected keys name, jurisdiction (optional)"),
        ({"browsers": {"B": {"x": 1}}}, "expected no keys ({})"),
        ({"compatibility_date": "2025-13-01"}, "compatibility_date must be a date as YYYY-MM-DD"),
        ({"compatibility_date": "15/01/2025"}, "compatibility_date must be a date as YYYY-MM-DD"),
        # env.ASSETS is the project's static assets: wrangler refuses the name for any binding or variable
        ({"r2_buckets": {"ASSETS": {"name": "b"}}},
         "deployment_configs.production.r2_buckets: the name 'ASSETS' is reserved in Pages projects"),
        ({"env_vars": {"ASSETS": {"value": "x"}}},
         "deployment_configs.production.env_vars: the name 'ASSETS' is reserved in Pages projects"),
    ],
)
def test_bad_maps_fail_before_any_request_naming_the_key(run_module, api, config, message):
    kind, result = run(run_module, production_branch="main", deployment_configs={"production": config})
    assert kind == "fail", result
    assert message in result["msg"]
    assert api.calls == []


@pytest.mark.parametrize(
    "task",
    [
        {"deployment_configs": {"production": {"usage_model": "premium"}}},
        {"deployment_configs": {"production": {"limits": {"cpu_ms": "fast"}}}},
        {"deployment_configs": {"production": {"placement": {}}}},
        {"deployment_configs": {"staging": {}}},
        {"deployment_configs": {"production": {"env_vars": "A=1"}}},
        {"build_config": {"build_caching": "sometimes"}},
        {"source": {"type": "bitbucket", "config": {}}},
        {"source": {"type": "github"}},
        {"update_secrets": "sometimes"},
        {"purge_env_vars": "maybe"},
    ],
)
def test_wrong_types_fail_in_argument_validation(run_module, api, task):
    kind, result = run(run_module, production_branch="main", **task)
    assert kind == "fail", result
    assert api.calls == []


# =========================================================================== errors from the API


def test_auth_error_on_read_never_creates(run_module, api):
    api.inject("get_project", error=api_error(403, 10000, "Authentication error"))
    kind, result = run(run_module, production_branch="main")
    assert kind == "fail"
    assert "Authentication error [code 10000]" in result["msg"] and "Cloudflare Pages: Edit" in result["msg"]
    assert api.mutations() == []


def test_server_error_on_read_never_creates(run_module, api):
    api.inject("get_project", error=api_error(500, 8000000, "An unknown error occurred"))
    kind, result = run(run_module, production_branch="main", max_retries=0)
    assert kind == "fail"
    assert result["status"] == 500
    assert api.mutations() == []


def test_secret_values_are_hidden_in_real_module_output(api, capsys, module_args):
    """Without patched exit_json/fail_json: the JSON the module prints never holds a secret,
    neither on success nor when argument validation fails (invocation included)."""
    cases = [
        args(production_branch="main", **env_vars(S=secret(), T={"type": "secret_text", "value": SECRET2})),
        args(production_branch="main", **env_vars(S=secret(), T={"type": "secret_txt", "value": SECRET2})),
        args(production_branch="main", deployment_configs={"production": {"env_vars": {"S": secret()}, "usage_model": "premium"}}),
        args(production_branch="main", build_config={"web_analytics_token": WA_TOKEN}),
    ]
    for case in cases:
        api.projects.clear()
        with module_args(case, inject_invocation=True):
            with pytest.raises(SystemExit):
                pages_project.main()
        out = capsys.readouterr().out
        result = json.loads(out[out.index("{"):])
        assert "invocation" in result
        if HAS_SECRET_MASKING:
            # ansible-core 2.22+: the module hands the secrets it registered (those new to this
            # process) to the controller, which redacts every registered secret from what it shows.
            result.pop("_ansible_new_secrets", None)
            out = core_mask_secrets(json.dumps(result))
        assert SECRET not in out and SECRET2 not in out and WA_TOKEN not in out


# =========================================================================== absent


def test_absent_missing_project_is_unchanged(run_module, api):
    kind, result = run(run_module, state="absent")
    assert kind == "exit" and result["changed"] is False and result["project"] == {}
    assert api.mutations() == []


def test_absent_deletes_with_diff_and_check_mode(run_module, api):
    api.seed_project("site", deployment_configs={"production": {"env_vars": {"S": secret()}}})
    kind, result = run(run_module, state="absent", check=True, diff=True)
    assert kind == "exit" and result["changed"] is True
    assert api.mutations() == [] and "site" in api.projects
    assert result["diff"]["after"] == ""
    assert result["diff"]["before"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK
    kind, result = run(run_module, state="absent")
    assert kind == "exit" and result["changed"] is True
    assert names(api)[-2:] == ["get_project", "delete_project"]
    assert "site" not in api.projects


def test_absent_without_force_refuses_custom_domains(run_module, api):
    api.seed_project("site")
    api.seed_domain("site", "www.example.com")
    for check in (True, False):
        kind, result = run(run_module, state="absent", check=check)
        assert kind == "fail"
        assert "has custom domains (www.example.com)" in result["msg"] and "force: true" in result["msg"]
        assert result["changed"] is False
    assert api.mutations() == []


def test_absent_without_force_reports_api_refusal_with_next_step(run_module, api):
    api.seed_project("site")
    for ident in ("d1", "d2", "d3", "d4"):
        api.seed_deployment("site", ident)
    kind, result = run(run_module, state="absent")
    assert kind == "fail"
    assert "too many deployments" in result["msg"] and "Set force: true" in result["msg"]
    assert result["errors"][0]["code"] == 8000076
    assert result["changed"] is False
    assert "site" in api.projects


def test_absent_with_force_empties_then_deletes(run_module, api):
    api.seed_project("site")
    api.seed_domain("site", "www.example.com")
    api.seed_domain("site", "shop.example.com")
    for ident in ("d4", "d3", "d2"):
        api.seed_deployment("site", ident)
    api.seed_deployment("site", "d1", live=True)
    kind, result = run(run_module, state="absent", force=True, check=True)
    assert kind == "exit", result
    assert result["changed"] is True
    assert result["removed_domains"] == ["www.example.com", "shop.example.com"]
    assert result["deleted_deployments"] == ["d4", "d3", "d2"]
    assert api.mutations() == []

    kind, result = run(run_module, state="absent", force=True)
    assert kind == "exit", result
    mutations = api.mutations()
    # Domains first, the project last; the deployments in between run a few at a time, in any order.
    assert mutations[:2] == [("delete_domain", "site", "www.example.com"), ("delete_domain", "site", "shop.example.com")]
    assert sorted(mutations[2:5]) == [("delete_deployment", "site", d, True) for d in ("d2", "d3", "d4")]
    assert mutations[5:] == [("delete_project", "site")]
    assert "site" not in api.projects
    assert result["deleted_deployments"] == ["d4", "d3", "d2"]


def test_absent_with_force_reports_refused_deployments_when_the_project_stays(run_module, api):
    api.seed_project("site")
    for ident in ("d1", "d2", "d3"):
        api.seed_deployment("site", ident)
    api.delete_limit = 0
    api.inject("delete_deployment", error=api_error(400, 8000035, "You cannot delete an aliased deployment"))
    kind, result = run(run_module, state="absent", force=True)
    assert kind == "fail"
    assert "deleting project 'site' failed" in result["msg"]
    # The deletions run a few at a time: whichever reached the API first was refused.
    refused = re.search(r"refused to delete these deployments: (d[123]) \(You cannot delete an aliased deployment "
                        r"\[code 8000035\]\)", result["msg"])
    assert refused, result["msg"]
    # the other two were deleted before the project delete failed: that is a change, and it is reported
    assert result["changed"] is True
    assert result["deleted_deployments"] == [d for d in ("d1", "d2", "d3") if d != refused.group(1)]


# =========================================================================== purge_build_cache


def test_purge_build_cache(run_module, api):
    api.seed_project("site")
    kind, result = run(run_module, purge_build_cache=True, check=True)
    assert kind == "exit" and result["changed"] is True and result["build_cache_purged"] is False
    assert api.mutations() == []
    kind, result = run(run_module, purge_build_cache=True)
    assert kind == "exit" and result["changed"] is True and result["build_cache_purged"] is True
    assert api.mutations() == [("purge_build_cache", "site")]


def test_secret_values_helper_finds_non_plain_values_defensively():
    params = {
        "deployment_configs": {
            "production": {"env_vars": {"A": {"value": "p"}, "B": {"type": "secret_text", "value": "s"}, "C": "x"}},
            "preview": {"env_vars": {"D": {"type": "typo", "value": 5}, "E": {"type": "secret_text", "value": ["x"]}}},
            "bad": "text",
        }
    }
    assert sorted(pages_project.secret_values(params)) == ["5", "s"]
    assert pages_project.secret_values({"deployment_configs": "x"}) == []
    assert pages_project.secret_values(None) == []


def test_arguments_are_not_written_to_syslog(run_module, api, monkeypatch):
    # env_vars is a free-form dict, so no_log cannot hide its secrets from the invocation log line
    logged = []
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append((msg, log_args)))
    api.seed_project("site")
    kind, result = run(run_module, **env_vars(S=secret()))
    assert kind == "exit", result
    assert SECRET not in repr(logged) and TOKEN not in repr(logged)


# =========================================================================== create races (issue 11 point 7)


def test_create_that_lost_a_race_goes_on_as_if_the_project_had_been_there(run_module, api):
    api.seed_project("site")  # another run created it between our read and our POST
    api.inject("get_project", answer=None)
    kind, result = run(run_module, production_branch="main")
    assert kind == "exit", result
    assert result["changed"] is False
    assert names(api) == ["get_project", "create_project_or_existing"]
    assert result["project"]["id"] == "id-site"


def test_create_that_lost_a_race_updates_what_differs(run_module, api):
    api.seed_project("site")
    api.inject("get_project", answer=None)
    kind, result = run(run_module, production_branch="main", **env_vars(S=secret()))
    assert kind == "exit", result
    assert result["changed"] is True
    assert names(api) == ["get_project", "create_project_or_existing", "update_project"]
    assert result["project"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK
    assert SECRET not in json.dumps(result)
