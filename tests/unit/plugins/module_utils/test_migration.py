# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration report's rules (_migration), its reading of a local build (_migration_build) and
the zone look-up of pages_migration_info."""

from __future__ import annotations

import json

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import LocalBuildError, PagesAPIError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._migration.assess import (
    assess,
    environment_differences,
    run_worker_first,
    wrangler_config,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._migration.local_build import read_local_build
from ansible_collections.cfpages.cloudflare.plugins.modules.pages_migration_info import ZoneLookup, zone_candidates

SAME = {"compatibility_date": "2026-01-15", "compatibility_flags": [], "env_vars": None, "usage_model": "standard"}
ZONE = {"name": "example.com", "type": "full", "status": "active"}


def project(**overrides):
    base = {"name": "site", "deployment_configs": {"production": dict(SAME), "preview": dict(SAME)},
            "canonical_deployment": {"id": "d1", "uses_functions": False}, "framework": ""}
    base.update(overrides)
    return base


def codes(findings):
    return [f["code"] for f in findings]


def test_a_static_direct_upload_project_is_ready():
    item = assess(project(), [], [], {})
    assert item["verdict"] == "ready" and item["blockers"] == [] and item["steps"] == []
    assert codes(item["unknowns"]) == ["not_found_handling_unknown"]
    assert item["wrangler_config"] == {
        "name": "site", "compatibility_date": "2026-01-15", "workers_dev": True,
        "assets": {"directory": "./dist", "html_handling": "auto-trailing-slash"},
    }


@pytest.mark.parametrize("state, expected", [
    (("missing", None), ["custom_domain_outside_account"]),
    (("found", dict(ZONE, type="partial")), ["custom_domain_partial_zone"]),
])
def test_a_custom_domain_without_a_full_zone_of_the_account_blocks(state, expected):
    item = assess(project(), [], ["www.example.com"], {"www.example.com": state})
    assert item["verdict"] == "blocked" and codes(item["blockers"]) == expected
    assert "Custom domains" in item["blockers"][0]["message"]
    assert "routes" not in item["wrangler_config"]  # wrangler would refuse to deploy it


def test_a_domain_in_an_active_zone_becomes_a_route_and_an_unchecked_one_is_said():
    item = assess(project(), [], ["www.example.com", "shop.example.net"],
                  {"www.example.com": ("found", ZONE), "shop.example.net": ("unchecked", "HTTP 403")})
    assert item["verdict"] == "ready"
    assert codes(item["unknowns"]) == ["custom_domain_unchecked", "not_found_handling_unknown"]
    assert item["wrangler_config"]["routes"] == [{"pattern": "www.example.com", "custom_domain": True},
                                                 {"pattern": "shop.example.net", "custom_domain": True}]
    pending = assess(project(), [], ["www.example.com"], {"www.example.com": ("found", dict(ZONE, status="pending"))})
    assert codes(pending["steps"]) == ["custom_domain_zone_not_active"]


def test_preview_differences_name_the_keys_and_never_compare_secret_values():
    p = project()
    p["deployment_configs"]["production"]["env_vars"] = {"A": {"type": "plain_text", "value": "1"},
                                                         "S": {"type": "secret_text", "value": ""}}
    p["deployment_configs"]["preview"]["env_vars"] = {"A": {"type": "plain_text", "value": "1"},
                                                      "S": {"type": "secret_text", "value": ""}}
    assert environment_differences(p) == []
    p["deployment_configs"]["preview"]["kv_namespaces"] = {"KV": {"namespace_id": "x"}}
    p["deployment_configs"]["preview"]["compatibility_flags"] = ["nodejs_compat"]
    assert environment_differences(p) == ["kv_namespaces", "compatibility_flags"]
    del p["deployment_configs"]["preview"]["env_vars"]["S"]
    assert environment_differences(p)[0] == "env_vars"


@pytest.mark.parametrize("routes, expected", [
    (None, True),
    ({"include": ["/*"], "exclude": []}, True),
    ({"include": ["/*"], "exclude": ["/static/*"]}, ["/*", "!/static/*"]),
    ({"include": ["/api/*", "/auth"], "exclude": ["/api/public/*"]}, ["/api/*", "/auth", "!/api/public/*"]),
])
def test_routes_json_becomes_run_worker_first(routes, expected):
    assert run_worker_first(routes) == expected


def test_every_binding_kind_is_written_in_wranglers_shape():
    p = project()
    p["deployment_configs"]["production"].update({
        "kv_namespaces": {"KV": {"namespace_id": "k1"}},
        "d1_databases": {"DB": {"id": "d1"}},
        "r2_buckets": {"R2": {"name": "bucket", "jurisdiction": None}},
        "services": {"API": {"service": "api", "environment": "production", "entrypoint": None}},
        "queue_producers": {"Q": {"name": "jobs"}},
        "ai_bindings": {"AI": {}},
        "analytics_engine_datasets": {"AE": {"dataset": "events"}},
        "hyperdrive_bindings": {"HD": {"id": "h1"}},
        "vectorize_bindings": {"VEC": {"index_name": "idx"}},
        "mtls_certificates": {"CERT": {"certificate_id": "c1"}},
        "browsers": {"BROWSER": {}},
        "durable_object_namespaces": {"DO": {"namespace_id": "n1"}},
        "placement": {"mode": "smart"},
        "limits": {"cpu_ms": 100},
    })
    config = wrangler_config(p, None, [], "./dist", "2026-12-06")
    assert config["kv_namespaces"] == [{"binding": "KV", "id": "k1"}]
    assert config["d1_databases"] == [{"binding": "DB", "database_id": "d1"}]
    assert config["r2_buckets"] == [{"binding": "R2", "bucket_name": "bucket"}]
    assert config["services"] == [{"binding": "API", "service": "api", "environment": "production"}]
    assert config["queues"] == {"producers": [{"binding": "Q", "queue": "jobs"}]}
    assert config["ai"] == {"binding": "AI"} and config["browser"] == {"binding": "BROWSER"}
    assert config["analytics_engine_datasets"] == [{"binding": "AE", "dataset": "events"}]
    assert config["hyperdrive"] == [{"binding": "HD", "id": "h1"}]
    assert config["vectorize"] == [{"binding": "VEC", "index_name": "idx"}]
    assert config["mtls_certificates"] == [{"binding": "CERT", "certificate_id": "c1"}]
    assert config["placement"] == {"mode": "smart"} and config["limits"] == {"cpu_ms": 100}
    assert "durable_objects" not in config
    steps = codes(assess(p, [], [], {})["steps"])
    assert "durable_object_bindings" in steps


def test_code_seen_by_the_api_runs_first_on_every_path():
    p = project(canonical_deployment={"id": "d1", "uses_functions": True})
    item = assess(p, [], [], {})
    assert codes(item["steps"]) == ["worker_code", "run_worker_first"]
    assert item["wrangler_config"]["assets"]["run_worker_first"] is True
    assert item["wrangler_config"]["main"] == "./worker-build/index.js"


def test_git_builds_hooks_and_aliases_are_steps():
    p = project(source={"type": "github", "config": {"owner": "o", "repo_name": "r", "production_branch": "main",
                                                     "preview_deployment_setting": "all", "preview_branch_includes": ["*"],
                                                     "path_includes": ["*"], "path_excludes": []}},
                build_config={"build_command": "npm run build", "destination_dir": "dist"})
    deployments = [
        {"id": "a", "environment": "production", "deployment_trigger": {"type": "deploy_hook", "metadata": {"branch": "main"}}},
        {"id": "b", "environment": "preview", "aliases": ["https://feat.site.pages.dev"],
         "deployment_trigger": {"type": "github:push", "metadata": {"branch": "feat"}}},
    ]
    item = assess(p, deployments, [], {})
    assert codes(item["steps"]) == ["git_builds", "build_image", "build_settings", "deploy_hooks", "branch_aliases"]
    hook_step = item["steps"][3]
    assert hook_step["detail"] == {"deployments": ["a"]}


def test_secret_names_come_with_their_command_and_never_a_value():
    p = project()
    p["deployment_configs"]["production"]["env_vars"] = {"KEY": {"type": "secret_text", "value": "should-not-leak"}}
    p["deployment_configs"]["preview"]["env_vars"] = {"KEY": {"type": "secret_text", "value": "should-not-leak"}}
    item = assess(p, [], [], {})
    assert item["secrets"] == [{"name": "KEY", "command": "npx wrangler secret put KEY --name site"}]
    assert "should-not-leak" not in json.dumps(item)


def write(root, files):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def test_a_local_build_tells_the_code_the_routes_and_the_404(tmp_path):
    site = tmp_path / "dist"
    write(site, {"index.html": "x", "404.html": "x", "_worker.js/index.js": "export default {}",
                 "_routes.json": json.dumps({"version": 1, "include": ["/api/*"], "exclude": []}),
                 "_headers": "/\n  Link: </a.css>; rel=preload\n"})
    build = read_local_build(str(site), "")
    assert (build.worker, build.functions_dir, build.has_404, build.link_headers) == ("directory", None, True, True)
    item = assess(project(), [], [], {}, build, "./dist")
    assert codes(item["steps"]) == ["advanced_mode_worker", "run_worker_first", "early_hints"]
    assert item["unknowns"] == []
    assert item["wrangler_config"]["main"] == "./dist/_worker.js/index.js"
    assert item["wrangler_config"]["assets"]["run_worker_first"] == ["/api/*"]
    assert item["wrangler_config"]["assets"]["not_found_handling"] == "404-page"


def test_functions_beside_the_build_are_found_as_pages_deployment_finds_them(tmp_path):
    write(tmp_path, {"public/index.html": "x", "functions/api/x.js": "export const onRequest = () => 1"})
    build = read_local_build(str(tmp_path / "public"))
    assert build.functions_dir == str(tmp_path / "functions") and build.worker is None
    item = assess(project(), [], [], {}, build)
    assert codes(item["steps"]) == ["pages_functions", "run_worker_first"]
    assert item["wrangler_config"]["assets"]["not_found_handling"] == "single-page-application"


@pytest.mark.parametrize("files, message", [
    ({"_routes.json": "{bad"}, "is not valid JSON"),
    ({"_routes.json": "[" * 100000}, "is not valid JSON"),
    ({"_routes.json": json.dumps({"include": []})}, "at least one rule"),
    ({"_routes.json": json.dumps({"include": "/x"})}, "include must be a list"),
])
def test_a_bad_routes_file_is_named(tmp_path, files, message):
    write(tmp_path, files)
    with pytest.raises(LocalBuildError, match=message):
        read_local_build(str(tmp_path), "")


def test_a_missing_source_and_functions_dir_are_named(tmp_path):
    with pytest.raises(LocalBuildError, match="source .* is not a directory"):
        read_local_build(str(tmp_path / "nope"))
    with pytest.raises(LocalBuildError, match="functions_dir"):
        read_local_build(str(tmp_path), str(tmp_path / "nope"))


def test_zone_candidates_go_from_the_domain_up():
    assert zone_candidates("a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com"]
    assert zone_candidates("example.com.") == ["example.com"]


class FakeZones:
    def __init__(self, zones=None, refuse=False):
        self.zones, self.refuse, self.asked = zones or {}, refuse, []

    def find_zones(self, name):
        self.asked.append(name)
        if self.refuse:
            raise PagesAPIError("Authentication error", 403, [{"code": 10000, "message": "Authentication error"}])
        return [self.zones[name]] if name in self.zones else []


def test_zones_are_looked_up_once_and_a_refusal_stops_the_look_ups():
    client = FakeZones({"example.com": ZONE})
    lookup = ZoneLookup(client)
    assert lookup.state_of("www.example.com") == ("found", ZONE)
    assert lookup.state_of("shop.example.com") == ("found", ZONE)
    assert lookup.state_of("www.other.net") == ("missing", None)
    assert client.asked == ["www.example.com", "example.com", "shop.example.com", "www.other.net", "other.net"]
    refusing = FakeZones(refuse=True)
    lookup = ZoneLookup(refusing)
    state, reason = lookup.state_of("www.example.com")
    assert state == "unchecked" and "Zone Read" in reason
    assert lookup.state_of("www.other.net")[0] == "unchecked"
    assert refusing.asked == ["www.example.com"]
