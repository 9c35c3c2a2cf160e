"""Shape details the real API shows and an earlier emulator did not (issue 16 points 2, 3, 7, 8)."""
import time

from emu_helpers import create_project, deploy, get_deployment, get_project, ok

PROJECTS = "/accounts/{a}/pages/projects"


def logs_path(project, deployment_id):
    return f"{PROJECTS}/{project}/deployments/{deployment_id}/history/logs"


def test_ai_binding_written_as_empty_is_stored_with_a_project_id(emu):
    create_project(emu, "ai", deployment_configs={"production": {"ai_bindings": {"AI": {}}}})
    stored = get_project(emu, "ai")["deployment_configs"]["production"]["ai_bindings"]["AI"]
    assert isinstance(stored.get("project_id"), str) and stored["project_id"]
    r = emu.api("PATCH", f"{PROJECTS}/ai", json={"deployment_configs": {"preview": {
        "ai_bindings": {"AI": {}, "MINE": {"project_id": "p-1"}}}}})
    preview = ok(r)["deployment_configs"]["preview"]["ai_bindings"]
    assert preview["AI"]["project_id"] and preview["MINE"] == {"project_id": "p-1"}


def test_logs_are_paged_by_size(emu):
    emu.config(build_seconds=0.2)
    create_project(emu, "lg", source={"type": "github", "config": {"owner": "o", "repo_name": "r"}},
                   build_config={"build_command": "npm run build"})
    d = ok(emu.api("POST", f"{PROJECTS}/lg/deployments", files=[("branch", (None, "main"))]))
    time.sleep(0.4)
    whole = ok(emu.api("GET", logs_path("lg", d["id"]), params={"size": 10000000}))
    assert whole["total"] == len(whole["data"]) > 5
    assert whole["data"][-1]["line"] == "Success: Your site was deployed!"
    default = ok(emu.api("GET", logs_path("lg", d["id"])))
    assert default["total"] == whole["total"] and default["data"] == whole["data"][:5]
    assert ok(emu.api("GET", logs_path("lg", d["id"]), params={"size": 2}))["data"] == whole["data"][:2]
    for bad in ("0", "x"):
        assert emu.api("GET", logs_path("lg", d["id"]), params={"size": bad}).status_code == 400


def test_deployment_with_wrangler_config_hash_marks_the_project(emu):
    create_project(emu, "wc")
    config_hash = "ab" * 32
    deploy(emu, "wc", {"/index.html": b"x"}, wrangler_config_hash=config_hash, pages_build_output_dir="dist")
    configs = get_project(emu, "wc")["deployment_configs"]
    assert configs["production"]["wrangler_config_hash"] == config_hash
    assert "wrangler_config_hash" not in configs["preview"]
    # a PATCH keeps it (wrangler echoes it; a module that does not must not erase it)
    r = emu.api("PATCH", f"{PROJECTS}/wc", json={"deployment_configs": {"production": {
        "env_vars": {"A": {"type": "plain_text", "value": "1"}}}}})
    assert ok(r)["deployment_configs"]["production"]["wrangler_config_hash"] == config_hash


def test_custom_domain_id_equals_domain_id(emu):
    create_project(emu, "dom")
    d = ok(emu.api("POST", f"{PROJECTS}/dom/domains", json={"name": "www.example.com"}))
    assert d["id"] == d["domain_id"]
    assert ok(emu.api("GET", f"{PROJECTS}/dom/domains/www.example.com"))["id"] == d["domain_id"]


def test_worker_deployments_are_bundled_and_skip_reason_is_null(emu):
    create_project(emu, "wk")
    static = deploy(emu, "wk", {"/index.html": b"x"})
    worker = deploy(emu, "wk", {"/index.html": b"x"}, special={"_worker.js": b"export default {}"})
    assert static["usage_model"] is None and worker["usage_model"] == "bundled"
    assert static["is_skipped"] is False and static["skip_reason"] is None
    assert get_deployment(emu, "wk", worker["id"])["usage_model"] == "bundled"


def test_emptied_env_vars_read_back_as_empty_map(emu):
    create_project(emu, "ev", deployment_configs={"production": {
        "env_vars": {"A": {"type": "plain_text", "value": "1"}}}})
    r = emu.api("PATCH", f"{PROJECTS}/ev", json={"deployment_configs": {"production": {"env_vars": {"A": None}}}})
    assert ok(r)["deployment_configs"]["production"]["env_vars"] == {}
    # the map itself set to null is null, as a new project's
    r = emu.api("PATCH", f"{PROJECTS}/ev", json={"deployment_configs": {"production": {"env_vars": None}}})
    assert ok(r)["deployment_configs"]["production"]["env_vars"] is None


def test_live_production_deployment_lists_active_custom_domains_in_aliases(emu):
    emu.config(domain_seconds=0.1)
    create_project(emu, "al")
    first = deploy(emu, "al", {"/index.html": b"1"})
    ok(emu.api("POST", f"{PROJECTS}/al/domains", json={"name": "al.example.com"}))
    time.sleep(0.2)
    live = deploy(emu, "al", {"/index.html": b"2"})
    assert get_deployment(emu, "al", live["id"])["aliases"] == ["https://al.example.com"]
    assert get_deployment(emu, "al", first["id"])["aliases"] is None
    assert get_project(emu, "al")["canonical_deployment"]["aliases"] == ["https://al.example.com"]
