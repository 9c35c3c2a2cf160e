"""Projects: create, defaults, names, list pagination, PATCH deep merge, delete, upload-token."""
import datetime

import pytest

from emu_helpers import create_project, deploy, error_of, get_project, ok

PROJECTS = "/accounts/{a}/pages/projects"


def test_create_fills_observed_defaults(emu):
    p = create_project(emu, "my-site", "main")
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    assert p["name"] == "my-site" and p["production_branch"] == "main"
    assert p["subdomain"] == "my-site.pages.dev"
    assert p["domains"] == ["my-site.pages.dev"]
    assert "source" not in p
    assert p["build_config"] == {"web_analytics_tag": None, "web_analytics_token": None}
    for env in ("preview", "production"):
        assert p["deployment_configs"][env] == {
            "env_vars": None, "fail_open": True, "always_use_latest_compatibility_date": False,
            "compatibility_date": today, "compatibility_flags": [], "build_image_major_version": 3,
            "usage_model": "standard"}
    assert p["latest_deployment"] is None and p["canonical_deployment"] is None
    assert p["created_on"].endswith("Z") and len(p["created_on"]) == 27
    assert p["production_script_name"].startswith("pages-worker--")
    assert p["production_script_name"].endswith("-production")
    assert p["framework"] == "" and p["uses_functions"] is None
    # the same object on GET
    assert get_project(emu, "my-site") == p
    # real field order
    assert list(emu.api("GET", PROJECTS + "/my-site").json()) == ["result", "success", "errors", "messages"]


def test_create_with_configs_and_source(emu):
    p = create_project(
        emu, "git-site", "trunk",
        build_config={"build_command": "npm run build", "destination_dir": "dist"},
        source={"type": "github", "config": {"owner": "me", "repo_name": "site"}},
        deployment_configs={"production": {"compatibility_date": "2024-01-01",
                                           "compatibility_flags": ["nodejs_compat"],
                                           "env_vars": {"A": {"type": "plain_text", "value": "1"},
                                                        "S": {"type": "secret_text", "value": "x"}},
                                           "kv_namespaces": {"KV": {"namespace_id": "abc"}}}})
    prod = p["deployment_configs"]["production"]
    assert prod["compatibility_date"] == "2024-01-01"
    assert prod["compatibility_flags"] == ["nodejs_compat"]
    assert prod["env_vars"] == {"A": {"type": "plain_text", "value": "1"},
                                "S": {"type": "secret_text", "value": ""}}
    assert prod["kv_namespaces"] == {"KV": {"namespace_id": "abc"}}
    assert "kv_namespaces" not in p["deployment_configs"]["preview"]
    assert p["source"]["type"] == "github"
    assert p["build_config"]["build_command"] == "npm run build"


@pytest.mark.parametrize("name", ["", "-a", "a-", "UPPER", "a_b", "a.b", "ä", "a" * 59, None, 7])
def test_invalid_names_are_rejected(emu, name):
    r = emu.api("POST", PROJECTS, json={"name": name, "production_branch": "main"})
    assert error_of(r)[:2] == (400, 8000040)


@pytest.mark.parametrize("name", ["a", "a" * 58, "0-9", "a--b"])
def test_valid_names(emu, name):
    assert create_project(emu, name)["name"] == name


def test_duplicate_name_is_8000002(emu):
    create_project(emu, "dup")
    r = emu.api("POST", PROJECTS, json={"name": "dup", "production_branch": "main"})
    assert error_of(r) == (409, 8000002, "A project with this name already exists. "
                                         "Choose a different project name.")


# JSON.parse, which Cloudflare's API runs on, refuses NaN and Infinity and parses deep nesting; Python's
# parser raised RecursionError on the latter, which came out as 500 8000000, an error clients retry.
NOT_JSON_BODIES = [
    "{bad",
    "[" * 100000 + "]" * 100000,
    '{"name": "x", "production_branch": "main", "deep": ' + "[" * 100000 + "]" * 100000 + "}",
    '{"a": ' * 100000,
    '{"name": "x", "production_branch": "main", "n": NaN}',
    '{"name": "x", "production_branch": "main", "n": Infinity}',
    '[-Infinity]',
]


@pytest.mark.parametrize("body", NOT_JSON_BODIES, ids=["bad", "deep-array", "deep-member", "deep-open", "nan",
                                                      "infinity", "minus-infinity"])
def test_a_body_that_is_not_json_is_400_never_500(emu, body):
    create_project(emu, "json")
    headers = {"Content-Type": "application/json"}
    assert error_of(emu.api("POST", PROJECTS, data=body, headers=headers))[:2] == (400, 8000041)
    assert error_of(emu.api("PATCH", PROJECTS + "/json", data=body, headers=headers))[:2] == (400, 8000041)
    r = emu.api("POST", PROJECTS + "/json/deployments", files={"manifest": (None, body)})
    assert error_of(r)[:2] == (400, 8000041)
    assert [p["name"] for p in emu.api("GET", PROJECTS).json()["result"]] == ["json"]


def test_missing_production_branch_and_bad_bodies(emu):
    assert error_of(emu.api("POST", PROJECTS, json={"name": "x"}))[:2] == (400, 8000041)
    assert error_of(emu.api("POST", PROJECTS, data="{nope",
                            headers={"Content-Type": "application/json"}))[:2] == (400, 8000041)
    assert error_of(emu.api("POST", PROJECTS, json=["x"]))[:2] == (400, 8000041)


def test_subdomain_taken_by_another_account_gets_suffix(start_emulator):
    a, b = "a" * 32, "b" * 32
    emu = start_emulator("--token", f"ta={a}", "--token", f"tb={b}", token="ta", account=a)
    pa = create_project(emu, "shared")
    emu.token, emu.account = "tb", b
    pb = create_project(emu, "shared")
    assert pa["subdomain"] == "shared.pages.dev"
    assert pb["subdomain"].startswith("shared-") and pb["subdomain"].endswith(".pages.dev")
    assert len(pb["subdomain"]) == len("shared-xyz.pages.dev")


def test_unknown_project_is_8000007_everywhere(emu):
    msg = ("Project not found. The specified project name does not match any of your existing "
           "projects.")
    for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/purge_build_cache"),
                           ("GET", "/upload-token"), ("GET", "/deployments"), ("POST", "/deployments"),
                           ("GET", "/domains"), ("GET", "/deployments/0000/history/logs")]:
        r = emu.api(method, PROJECTS + "/ghost" + suffix, json={} if method == "PATCH" else None)
        assert error_of(r) == (404, 8000007, msg), (method, suffix)


def test_list_pagination_and_cap(emu):
    for i in range(12):
        create_project(emu, f"p{i:02d}")
    r = emu.api("GET", PROJECTS)
    body = r.json()
    assert [p["name"] for p in body["result"]] == [f"p{i:02d}" for i in range(11, 1, -1)]
    assert body["result_info"] == {"page": 1, "per_page": 10, "count": 10, "total_count": 12,
                                   "total_pages": 2}
    assert list(body) == ["result", "success", "errors", "messages", "result_info"]
    body = emu.api("GET", PROJECTS, params={"page": 2, "per_page": 10}).json()
    assert [p["name"] for p in body["result"]] == ["p01", "p00"]
    assert body["result_info"]["count"] == 2
    body = emu.api("GET", PROJECTS, params={"page": 5}).json()
    assert body["result"] == [] and body["result_info"]["total_count"] == 12
    for params in ({"per_page": 11}, {"per_page": 0}, {"page": 0}, {"per_page": "x"}):
        assert error_of(emu.api("GET", PROJECTS, params=params)) == (
            400, 8000024, "Invalid list options provided. Review the `page` or `per_page` parameter.")


def test_patch_deep_merge_semantics(emu):
    create_project(emu, "merge", deployment_configs={"production": {
        "env_vars": {"KEEP": {"type": "plain_text", "value": "k"},
                     "DROP": {"type": "plain_text", "value": "d"},
                     "SECRET": {"type": "secret_text", "value": "s3cr3t"}},
        "kv_namespaces": {"KV1": {"namespace_id": "1"}, "KV2": {"namespace_id": "2"}},
        "compatibility_flags": ["a", "b"]}})
    r = emu.api("PATCH", PROJECTS + "/merge", json={"deployment_configs": {"production": {
        "env_vars": {"DROP": None, "NEW": {"value": "n"}},
        "kv_namespaces": {"KV2": None},
        "compatibility_flags": ["c"],
        "d1_databases": {"DB": {"id": "uuid"}}}}})
    prod = ok(r)["deployment_configs"]["production"]
    assert prod["env_vars"] == {"KEEP": {"type": "plain_text", "value": "k"},
                                "SECRET": {"type": "secret_text", "value": ""},
                                "NEW": {"type": "plain_text", "value": "n"}}
    assert prod["kv_namespaces"] == {"KV1": {"namespace_id": "1"}}
    assert prod["compatibility_flags"] == ["c"]
    assert prod["d1_databases"] == {"DB": {"id": "uuid"}}
    # the preview environment is untouched
    assert get_project(emu, "merge")["deployment_configs"]["preview"]["env_vars"] is None
    # deleting every var reads back as {}; deleting a whole binding map removes it
    r = emu.api("PATCH", PROJECTS + "/merge", json={"deployment_configs": {"production": {
        "env_vars": {"KEEP": None, "SECRET": None, "NEW": None}, "kv_namespaces": None,
        "compatibility_date": None}}})
    prod = ok(r)["deployment_configs"]["production"]
    assert prod["env_vars"] == {} and "kv_namespaces" not in prod
    assert prod["compatibility_date"]  # defaulted keys survive a null
    # omitted keys are kept
    assert ok(emu.api("PATCH", PROJECTS + "/merge", json={}))["deployment_configs"]["production"][
        "d1_databases"] == {"DB": {"id": "uuid"}}


def test_secret_value_is_stored(emu):
    """The secret is write-only in responses but used: it reaches deployments (blanked) intact."""
    create_project(emu, "sec", deployment_configs={"production": {
        "env_vars": {"S": {"type": "secret_text", "value": "hunter2"}}}})
    dep = deploy(emu, "sec", {"/index.html": b"x"})
    assert dep["env_vars"] == {"S": {"type": "secret_text", "value": ""}}
    import sqlite3
    db = sqlite3.connect(str(emu.data_dir / "state.sqlite3"))
    assert "hunter2" in db.execute("SELECT data FROM projects").fetchone()[0]


def test_patch_build_config_branch_and_rename(emu):
    create_project(emu, "pb")
    p = ok(emu.api("PATCH", PROJECTS + "/pb", json={"production_branch": "release",
                                                    "build_config": {"build_command": "make"}}))
    assert p["production_branch"] == "release"
    assert p["build_config"] == {"web_analytics_tag": None, "web_analytics_token": None,
                                 "build_command": "make"}
    assert ok(emu.api("PATCH", PROJECTS + "/pb", json={"name": "pb"}))["name"] == "pb"
    assert error_of(emu.api("PATCH", PROJECTS + "/pb", json={"name": "other"}))[:2] == (400, 8000041)


def test_source_cannot_be_added_or_removed(emu):
    create_project(emu, "du")
    r = emu.api("PATCH", PROJECTS + "/du", json={"source": {"type": "github", "config": {}}})
    assert error_of(r)[:2] == (400, 8000039)
    create_project(emu, "git", source={"type": "github", "config": {"owner": "o", "repo_name": "r"}})
    assert error_of(emu.api("PATCH", PROJECTS + "/git", json={"source": None}))[:2] == (400, 8000039)
    p = ok(emu.api("PATCH", PROJECTS + "/git", json={"source": {"config": {"pr_comments_enabled": False}}}))
    assert {"owner": "o", "repo_name": "r", "pr_comments_enabled": False}.items() <= p["source"]["config"].items()


def test_delete_purge_and_reuse_name(emu):
    create_project(emu, "gone")
    assert ok(emu.api("POST", PROJECTS + "/gone/purge_build_cache")) is None
    assert ok(emu.api("DELETE", PROJECTS + "/gone")) is None
    assert error_of(emu.api("GET", PROJECTS + "/gone"))[:2] == (404, 8000007)
    assert create_project(emu, "gone")["subdomain"] == "gone.pages.dev"


def test_delete_refused_with_too_many_deployments(emu):
    emu.config(project_delete_limit=2)
    create_project(emu, "many")
    for _ in range(3):
        deploy(emu, "many", {"/index.html": b"x"}, branch="feature")
    r = emu.api("DELETE", PROJECTS + "/many")
    assert error_of(r)[:2] == (400, 8000076)
    assert "too many deployments" in error_of(r)[2]
    emu.config(project_delete_limit=0)
    assert ok(emu.api("DELETE", PROJECTS + "/many")) is None
