# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of pages_project, mocked at the HTTP boundary: the real PagesClient talks to a fake
``requests.Session`` that keeps projects in memory with the API's PATCH semantics and records
every request."""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import unquote, urlsplit

import pytest

from ansible.module_utils import basic

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _api
from ansible_collections.cfpages.cloudflare.plugins.module_utils._compare import SECRET_CHANGED_MASK, SECRET_MASK
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import HAS_SECRET_MASKING
from ansible_collections.cfpages.cloudflare.plugins.modules import pages_project

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
MAP_KEYS = ("env_vars",) + pages_project.BINDING_MAPS


class Response:
    def __init__(self, status, body, headers=None):
        self.status_code = status
        self.content = json.dumps(body).encode() if body is not None else b""
        self.headers = headers or {}


def ok(result, **extra):
    body = {"result": result, "success": True, "errors": [], "messages": []}
    body.update(extra)
    return Response(200, body)


def err(status, code, message):
    return Response(status, {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []})


class FakeAPI:
    """The project endpoints of the Pages API, in memory. ``requests`` holds (method, path, query, body)."""

    def __init__(self):
        self.headers = {}
        self.projects = {}
        self.domains = {}
        self.deployments = {}
        self.requests = []
        self.fail_next = {}  # (method, kind) -> Response, answered once
        self.delete_limit = 3  # a project with more deployments is not deleted (8000076)

    # --- helpers for tests
    def add(self, name, **fields):
        project = {
            "id": "id-" + name,
            "name": name,
            "subdomain": name + ".pages.dev",
            "domains": [name + ".pages.dev"],
            "production_branch": "main",
            "created_on": "2025-01-15T09:26:40.123456Z",
            "build_config": {"web_analytics_tag": None, "web_analytics_token": None},
            "deployment_configs": {env: self.default_env() for env in ("production", "preview")},
            "latest_deployment": None,
            "canonical_deployment": None,
        }
        for key, value in fields.items():
            if key == "deployment_configs":
                for env, conf in value.items():
                    project["deployment_configs"][env].update(copy.deepcopy(conf))
            else:
                project[key] = copy.deepcopy(value)
        self.projects[name] = project
        self.domains.setdefault(name, [])
        self.deployments.setdefault(name, [])
        return project

    @staticmethod
    def default_env():
        return {
            "env_vars": None,
            "fail_open": True,
            "always_use_latest_compatibility_date": False,
            "compatibility_date": "2025-01-15",
            "compatibility_flags": [],
            "usage_model": "standard",
        }

    def calls(self, method=None):
        return [r for r in self.requests if method is None or r[0] == method]

    def mutations(self):
        return [r for r in self.requests if r[0] != "GET"]

    def render(self, name):
        project = copy.deepcopy(self.projects[name])
        project["domains"] = [project["subdomain"]] + list(self.domains[name])
        for conf in project["deployment_configs"].values():
            for entry in (conf.get("env_vars") or {}).values():
                if entry.get("type") == "secret_text":
                    entry["value"] = ""
        return project

    def merge_env(self, target, patch):
        for key, value in patch.items():
            if key in MAP_KEYS:
                if value is None:
                    target.pop(key, None)
                    continue
                merged = dict(target.get(key) or {})
                for entry_name, entry in value.items():
                    if entry is None:
                        merged.pop(entry_name, None)
                    else:
                        merged[entry_name] = copy.deepcopy(entry)
                target[key] = merged or (None if key == "env_vars" else {})
            else:
                target[key] = copy.deepcopy(value)

    # --- the Session interface PagesClient uses
    def request(self, method, url, params=None, json=None, files=None, data=None, headers=None, timeout=None, verify=None):
        path = unquote(urlsplit(url).path)
        self.requests.append((method, path, dict(params or {}), copy.deepcopy(json)))
        assert path.startswith("/client/v4/accounts/%s/pages/projects" % ACCOUNT), path
        assert headers.get("Authorization") == "Bearer " + TOKEN
        parts = path.split("/")[7:]  # after .../pages/projects
        kind = parts[1] if len(parts) > 1 else ("project" if parts else "projects")
        if (method, kind) in self.fail_next:
            return self.fail_next.pop((method, kind))
        if not parts:
            assert method == "POST"
            name = json["name"]
            if name in self.projects:
                return err(409, 8000002, "A project with this name already exists.")
            self.add(name, production_branch=json["production_branch"])
            project = self.projects[name]
            if "build_config" in json:
                project["build_config"].update(json["build_config"])
            if "source" in json:
                project["source"] = copy.deepcopy(json["source"])
            for env, conf in (json.get("deployment_configs") or {}).items():
                self.merge_env(project["deployment_configs"][env], conf)
            return ok(self.render(name))
        name = parts[0]
        if name not in self.projects:
            return err(404, 8000007, "Project not found.")
        if len(parts) == 1:
            if method == "GET":
                return ok(self.render(name))
            if method == "PATCH":
                project = self.projects[name]
                if "source" in json and "source" not in project:
                    return err(400, 8000039, "A Direct Upload project cannot be connected to a Git repository.")
                for key, value in json.items():
                    if key == "deployment_configs":
                        for env, conf in value.items():
                            self.merge_env(project["deployment_configs"][env], conf)
                    elif key == "source":
                        project["source"]["type"] = value.get("type", project["source"]["type"])
                        project["source"].setdefault("config", {}).update(copy.deepcopy(value.get("config") or {}))
                    elif key == "build_config":
                        project[key].update(copy.deepcopy(value))
                    else:
                        project[key] = copy.deepcopy(value)
                return ok(self.render(name))
            if method == "DELETE":
                if len(self.deployments[name]) > self.delete_limit:
                    return err(400, 8000076, "Your project has too many deployments to be deleted.")
                del self.projects[name]
                return ok(None)
        if kind == "purge_build_cache":
            return ok(None)
        if kind == "domains":
            if method == "GET":
                return ok([{"name": d, "status": "active"} for d in self.domains[name]])
            self.domains[name].remove(parts[2])
            return ok(None)
        if kind == "deployments":
            if method == "GET":
                items = [{"id": d} for d in self.deployments[name]]
                return ok(items, result_info={"page": 1, "per_page": 25, "count": len(items), "total_count": len(items), "total_pages": 1})
            canonical = (self.projects[name].get("canonical_deployment") or {}).get("id")
            if parts[2] == canonical:
                return err(400, 8000034, "You cannot delete the active production deployment.")
            assert params == {"force": "true"}
            self.deployments[name].remove(parts[2])
            return ok(None)
        raise AssertionError("unexpected request %s %s" % (method, path))


@pytest.fixture
def api(monkeypatch):
    fake = FakeAPI()
    monkeypatch.setattr(_api.requests, "Session", lambda: fake)
    return fake


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
    assert [r[0] for r in api.requests] == ["GET", "POST"]
    body = api.requests[1][3]
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
    assert api.mutations() == [] and len(api.calls("GET")) == 1
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
    api.requests.clear()
    kind, result = run(run_module, diff=True, **task)
    assert kind == "exit", result
    assert result["changed"] is False
    assert api.requests == [("GET", "/client/v4/accounts/%s/pages/projects/site" % ACCOUNT, {}, None)]
    assert result["diff"]["before"] == result["diff"]["after"]


def test_api_defaults_are_not_differences(run_module, api):
    api.add(
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
    api.add("site")
    kind, result = run(run_module, **task)
    assert kind == "exit", result
    assert result["changed"] is True
    assert [r[0] for r in api.requests] == ["GET", "PATCH"]
    assert api.requests[1][3] == patch
    again = run(run_module, **task)[1]
    assert again["changed"] is False


def test_update_in_check_mode_sends_nothing_and_predicts(run_module, api):
    api.add("site")
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
    api.add("site")
    kind, result = run(run_module, production_branch="dev")
    assert kind == "exit" and result["changed"], result
    patches = [r for r in api.requests if r[0] == "PATCH"]
    assert len(patches) == 1 and patches[0][3].get("production_branch") == "dev"
    assert "name" not in patches[0][3]


# =========================================================================== env vars and secrets


def test_env_vars_add_change_keep_without_purge(run_module, api):
    api.add("site", deployment_configs={"production": {"env_vars": {"A": plain("1"), "B": plain("2"), "C": plain("3")}}})
    kind, result = run(run_module, diff=True, **env_vars(A={"value": "1"}, B={"value": "two"}, D={"value": 4}))
    assert kind == "exit", result
    assert api.requests[-1][3] == env_vars(B=plain("two"), D=plain("4"))
    assert set(result["project"]["deployment_configs"]["production"]["env_vars"]) == {"A", "B", "C", "D"}
    assert result["diff"]["before"]["deployment_configs"]["production"]["env_vars"] == {"A": plain("1"), "B": plain("2")}
    assert result["diff"]["after"]["deployment_configs"]["production"]["env_vars"] == {
        "A": plain("1"),
        "B": plain("two"),
        "D": plain("4"),
    }


def test_env_vars_purge_sends_null_for_unlisted(run_module, api):
    api.add("site", deployment_configs={"production": {"env_vars": {"A": plain("1"), "B": plain("2")}}})
    kind, result = run(run_module, diff=True, purge_env_vars=True, **env_vars(A={"value": "1"}))
    assert kind == "exit", result
    assert api.requests[-1][3] == env_vars(B=None)
    assert result["project"]["deployment_configs"]["production"]["env_vars"] == {"A": plain("1")}
    assert "B" in result["diff"]["before"]["deployment_configs"]["production"]["env_vars"]
    assert "B" not in result["diff"]["after"]["deployment_configs"]["production"]["env_vars"]
    # an empty map with purge removes everything; an environment the task does not set is left alone
    run(run_module, purge_env_vars=True, **env_vars())
    assert api.requests[-1][3] == env_vars(A=None)
    assert api.projects["site"]["deployment_configs"]["production"]["env_vars"] is None


def test_purge_env_vars_leaves_unset_maps_and_environments_alone(run_module, api):
    api.add("site", deployment_configs={"production": {"env_vars": {"A": plain("1")}}, "preview": {"env_vars": {"P": plain("1")}}})
    kind, result = run(run_module, purge_env_vars=True, purge_bindings=True, deployment_configs={"production": {"fail_open": True}})
    assert kind == "exit", result
    assert result["changed"] is False
    assert api.mutations() == []


def test_existing_secret_is_left_alone_with_on_create(run_module, api):
    api.add("site", deployment_configs={"production": {"env_vars": {"S": secret(), "A": plain("1")}}})
    kind, result = run(run_module, diff=True, purge_env_vars=True, **env_vars(S=secret(SECRET2), A={"value": "1"}))
    assert kind == "exit", result
    assert result["changed"] is False
    assert api.mutations() == []
    assert api.projects["site"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET
    assert result["diff"]["after"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK


def test_secret_is_sent_with_always_and_never_shown(run_module, api):
    api.add("site", deployment_configs={"production": {"env_vars": {"S": secret()}}})
    kind, result = run(run_module, diff=True, update_secrets="always", **env_vars(S=secret(SECRET2)))
    assert kind == "exit", result
    assert result["changed"] is True
    assert api.requests[-1][3] == env_vars(S=secret(SECRET2))
    assert api.projects["site"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET2
    assert result["diff"]["before"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK
    assert result["diff"]["after"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_CHANGED_MASK
    text = json.dumps(result)
    assert SECRET not in text and SECRET2 not in text
    # always means always: the same task changes again
    assert run(run_module, update_secrets="always", **env_vars(S=secret(SECRET2)))[1]["changed"] is True


def test_new_secret_and_plain_to_secret_are_sent_with_on_create(run_module, api):
    api.add("site", deployment_configs={"production": {"env_vars": {"P": plain("was-plain")}}})
    kind, result = run(run_module, **env_vars(P=secret(), N=secret(SECRET2)))
    assert kind == "exit", result
    assert api.requests[-1][3] == env_vars(P=secret(), N=secret(SECRET2))
    # and a secret turned back into plain text is a change too
    kind, result = run(run_module, **env_vars(P={"value": "plain-again"}))
    assert api.requests[-1][3] == env_vars(P=plain("plain-again"))


# =========================================================================== bindings


def test_bindings_merge_and_purge(run_module, api):
    api.add(
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
    assert api.requests[-1][3] == {
        "deployment_configs": {
            "production": {"kv_namespaces": {"NEW": {"namespace_id": "ns-new"}}, "services": {"AUTH": {"service": "auth-worker"}}}
        }
    }
    prod = api.projects["site"]["deployment_configs"]["production"]
    assert set(prod["kv_namespaces"]) == {"OLD", "NEW"} and prod["d1_databases"] == {"DB": {"id": "db-1"}}

    kind, result = run(run_module, purge_bindings=True, **task)
    assert kind == "exit", result
    # unlisted keys of the maps the task sets are removed; d1_databases (not set) is left alone
    assert api.requests[-1][3] == {"deployment_configs": {"production": {"kv_namespaces": {"OLD": None}}}}
    kind, result = run(run_module, purge_bindings=True, deployment_configs={"production": {"d1_databases": {}}})
    assert api.requests[-1][3] == {"deployment_configs": {"production": {"d1_databases": {"DB": None}}}}
    assert run(run_module, purge_bindings=True, **task)[1]["changed"] is False


def test_every_binding_map_shape_is_accepted(run_module, api):
    api.add("site")
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
    assert api.requests[-1][3] == {"deployment_configs": {"preview": bindings}}
    assert run(run_module, deployment_configs={"preview": bindings})[1]["changed"] is False


# =========================================================================== source


def test_source_on_a_direct_upload_project_fails_before_any_change(run_module, api):
    api.add("site")
    kind, result = run(run_module, source={"type": "github", "config": {"owner": "o", "repo_name": "r"}})
    assert kind == "fail"
    assert "created for direct upload" in result["msg"] and "never deletes and recreates" in result["msg"]
    assert api.mutations() == []


def test_source_change_on_a_git_project_sends_the_source(run_module, api):
    api.add("site", source={"type": "github", "config": {"owner": "o", "repo_name": "r", "pr_comments_enabled": True}})
    kind, result = run(run_module, source={"type": "github", "config": {"pr_comments_enabled": False, "path_excludes": ["docs/*"]}})
    assert kind == "exit", result
    assert api.requests[-1][3] == {
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
    assert api.requests[-1][3]["source"] == source
    assert result["project"]["source"] == source


@pytest.mark.parametrize("key", ["preview_branch_includes", "preview_branch_excludes"])
def test_branch_filters_need_custom_setting(run_module, api, key):
    # set by the task: fails before any request
    kind, result = run(run_module, source={"type": "github", "config": {"preview_deployment_setting": "all", key: ["x"]}})
    assert kind == "fail"
    assert "only applies when preview_deployment_setting is 'custom'" in result["msg"]
    assert api.requests == []
    # not set by the task: the project's own setting decides, after the one GET
    api.add("site", source={"type": "github", "config": {"preview_deployment_setting": "none"}})
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
    assert api.requests == []


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
    ],
)
def test_bad_maps_fail_before_any_request_naming_the_key(run_module, api, config, message):
    kind, result = run(run_module, production_branch="main", deployment_configs={"production": config})
    assert kind == "fail", result
    assert message in result["msg"]
    assert api.requests == []


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
    assert api.requests == []


# =========================================================================== errors from the API


def test_auth_error_on_read_never_creates(run_module, api):
    api.fail_next[("GET", "project")] = err(403, 10000, "Authentication error")
    kind, result = run(run_module, production_branch="main")
    assert kind == "fail"
    assert "Authentication error [code 10000]" in result["msg"] and "Cloudflare Pages: Edit" in result["msg"]
    assert api.mutations() == []


def test_server_error_on_read_never_creates(run_module, api):
    api.fail_next[("GET", "project")] = err(500, 8000000, "An unknown error occurred")
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
    api.add("site", deployment_configs={"production": {"env_vars": {"S": secret()}}})
    kind, result = run(run_module, state="absent", check=True, diff=True)
    assert kind == "exit" and result["changed"] is True
    assert api.mutations() == [] and "site" in api.projects
    assert result["diff"]["after"] == ""
    assert result["diff"]["before"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK
    kind, result = run(run_module, state="absent")
    assert kind == "exit" and result["changed"] is True
    assert [r[0] for r in api.requests[-2:]] == ["GET", "DELETE"]
    assert "site" not in api.projects


def test_absent_without_force_refuses_custom_domains(run_module, api):
    api.add("site")
    api.domains["site"] = ["www.example.com"]
    for check in (True, False):
        kind, result = run(run_module, state="absent", check=check)
        assert kind == "fail"
        assert "has custom domains (www.example.com)" in result["msg"] and "force: true" in result["msg"]
        assert result["changed"] is False
    assert api.mutations() == []


def test_absent_without_force_reports_api_refusal_with_next_step(run_module, api):
    api.add("site")
    api.deployments["site"] = ["d1", "d2", "d3", "d4"]
    kind, result = run(run_module, state="absent")
    assert kind == "fail"
    assert "too many deployments" in result["msg"] and "Set force: true" in result["msg"]
    assert result["errors"][0]["code"] == 8000076
    assert result["changed"] is False
    assert "site" in api.projects


def test_absent_with_force_empties_then_deletes(run_module, api):
    api.add("site", canonical_deployment={"id": "d1"})
    api.domains["site"] = ["www.example.com", "shop.example.com"]
    api.deployments["site"] = ["d4", "d3", "d2", "d1"]
    kind, result = run(run_module, state="absent", force=True, check=True)
    assert kind == "exit", result
    assert result["changed"] is True
    assert result["removed_domains"] == ["www.example.com", "shop.example.com"]
    assert result["deleted_deployments"] == ["d4", "d3", "d2"]
    assert api.mutations() == []

    kind, result = run(run_module, state="absent", force=True)
    assert kind == "exit", result
    mutations = [(r[0], r[1].rsplit("/", 1)[-1], r[2]) for r in api.mutations()]
    # Domains first, the project last; the deployments in between run a few at a time, in any order.
    assert mutations[:2] == [("DELETE", "www.example.com", {}), ("DELETE", "shop.example.com", {})]
    assert sorted(mutations[2:5]) == [("DELETE", d, {"force": "true"}) for d in ("d2", "d3", "d4")]
    assert mutations[5:] == [("DELETE", "site", {})]
    assert "site" not in api.projects
    assert result["deleted_deployments"] == ["d4", "d3", "d2"]


def test_absent_with_force_reports_refused_deployments_when_the_project_stays(run_module, api):
    api.add("site")
    api.deployments["site"] = ["d1", "d2", "d3"]
    api.delete_limit = 0
    api.fail_next[("DELETE", "deployments")] = err(400, 8000035, "You cannot delete an aliased deployment")
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
    api.add("site")
    kind, result = run(run_module, purge_build_cache=True, check=True)
    assert kind == "exit" and result["changed"] is True and result["build_cache_purged"] is False
    assert api.mutations() == []
    kind, result = run(run_module, purge_build_cache=True)
    assert kind == "exit" and result["changed"] is True and result["build_cache_purged"] is True
    assert [(r[0], r[1].rsplit("/", 1)[-1]) for r in api.mutations()] == [("POST", "purge_build_cache")]


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
    api.add("site")
    kind, result = run(run_module, **env_vars(S=secret()))
    assert kind == "exit", result
    assert SECRET not in repr(logged) and TOKEN not in repr(logged)


# =========================================================================== create races (issue 11 point 7)


def test_create_that_lost_a_race_goes_on_as_if_the_project_had_been_there(run_module, api):
    api.add("site")  # another run created it between our read and our POST
    api.fail_next[("GET", "project")] = err(404, 8000007, "Project not found.")
    kind, result = run(run_module, production_branch="main")
    assert kind == "exit", result
    assert result["changed"] is False
    assert [r[0] for r in api.requests] == ["GET", "POST", "GET"]
    assert result["project"]["id"] == "id-site"


def test_create_that_lost_a_race_updates_what_differs(run_module, api):
    api.add("site")
    api.fail_next[("GET", "project")] = err(404, 8000007, "Project not found.")
    kind, result = run(run_module, production_branch="main", **env_vars(S=secret()))
    assert kind == "exit", result
    assert result["changed"] is True
    assert [r[0] for r in api.requests] == ["GET", "POST", "GET", "PATCH"]
    assert result["project"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == SECRET_MASK
    assert SECRET not in json.dumps(result)
