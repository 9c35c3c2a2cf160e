# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of worker_deployment against a fake Workers API: what a deploy sends (metadata, modules,
bindings, assets config), idempotence, check mode, option errors before any request, secrets never in
the result, rollback."""

from __future__ import annotations

import json
import threading

import pytest

from ansible_collections.cfpages.cloudflare.plugins.modules import worker_deployment as WD
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write

TOKEN = "tok-5b1d9e7c3a2f4e6d8c0b1a2f3e4d5c6b7a8f9e0d"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
SECRET = "s3cr3t-value-0c9f1e"


class FakeWorkers:
    """An account's Workers, as WorkersApi shows them: versions (with annotations and bindings),
    deployments newest first, the hashes it has, the workers.dev toggles."""

    class client:  # noqa: N801
        timeout = 30.0

    def __init__(self):
        self.calls = []
        self.scripts = {}
        self.hashes = set()
        self.subdomains = {}

    def mutating(self):
        return [c for c in self.calls if c[0] not in ("list_deployments", "get_version", "get_subdomain",
                                                      "account_subdomain")]

    def list_deployments(self, script):
        self.calls.append(("list_deployments", script))
        s = self.scripts.get(script)
        return None if s is None else list(reversed(s["deployments"]))

    def get_version(self, script, version_id):
        self.calls.append(("get_version", script, version_id))
        return (self.scripts.get(script) or {"versions": {}})["versions"].get(version_id)

    def get_subdomain(self, script):
        self.calls.append(("get_subdomain", script))
        if script not in self.scripts:
            return None
        return {"enabled": self.subdomains.get(script, False)}

    def account_subdomain(self):
        self.calls.append(("account_subdomain",))
        return "acct"

    def assets_upload_session(self, script, manifest):
        self.calls.append(("assets_upload_session", script, manifest))
        self.manifest = manifest
        missing = sorted(set(e["hash"] for e in manifest.values()) - self.hashes)
        return {"jwt": "upload-jwt" if missing else "done-jwt", "buckets": [missing] if missing else []}

    def upload_assets(self, jwt, body, content_type, timeout=None, gateway_backoff=None):
        names = [f.hash for f in body().files]
        self.calls.append(("upload_assets", names))
        self.hashes.update(names)
        return {"jwt": "done-jwt"}

    def put_script(self, script, metadata, modules=()):
        self.calls.append(("put_script", script, metadata, list(modules)))
        s = self.scripts.setdefault(script, {"versions": {}, "deployments": []})
        vid = "v%d" % (len(s["versions"]) + 1)
        bindings = [dict((k, v) for k, v in b.items() if k != "text" or b["type"] != "secret_text")
                    for b in metadata["bindings"]]
        if metadata.get("keep_bindings") and s["deployments"]:
            old = s["versions"][s["deployments"][-1]["versions"][0]["version_id"]]
            names = set(b["name"] for b in bindings)
            bindings += [b for b in old["resources"]["bindings"]
                         if b["type"] in metadata["keep_bindings"] and b["name"] not in names]
        s["versions"][vid] = {"id": vid, "annotations": metadata.get("annotations") or {}, "resources": {
            "bindings": bindings, "script_runtime": {"compatibility_date": metadata["compatibility_date"],
                                                     "compatibility_flags": metadata["compatibility_flags"]}}}
        s["deployments"].append({"id": "d-" + vid, "versions": [{"version_id": vid, "percentage": 100}],
                                 "annotations": {}})
        return {"id": script, "deployment_id": vid}

    def deploy_version(self, script, version_id, message=None):
        self.calls.append(("deploy_version", script, version_id))
        d = {"id": "d-rb-%s" % version_id, "versions": [{"version_id": version_id, "percentage": 100}],
             "annotations": {"workers/message": message}}
        self.scripts[script]["deployments"].append(d)
        return d

    def set_subdomain(self, script, enabled):
        self.calls.append(("set_subdomain", script, enabled))
        self.subdomains[script] = enabled

    def delete_script(self, script):
        self.calls.append(("delete_script", script))
        return self.scripts.pop(script, None) is not None


@pytest.fixture
def workers(monkeypatch):
    fake = FakeWorkers()
    monkeypatch.setattr(WD, "WorkersApi", lambda client: fake)
    return fake


@pytest.fixture
def site(tmp_path):
    write(tmp_path, "site/index.html", "<h1>home</h1>")
    write(tmp_path, "site/about.html", "<h1>about</h1>")
    write(tmp_path, "site/_headers", "/*\n  X-A: b\n")
    write(tmp_path, "worker.js", "export default { fetch(r, env) { return env.ASSETS.fetch(r); } };\n")
    return tmp_path


def run(run_module, site, **args):
    args.setdefault("api_token", TOKEN)
    args.setdefault("account_id", ACCOUNT)
    args.setdefault("name", "site")
    if args.get("state", "present") == "present":
        args.setdefault("assets", str(site / "site"))
        args.setdefault("compatibility_date", "2025-06-01")
        args.setdefault("hash_cache", False)
    return run_module(WD.main, args)


def test_first_deploy_sends_everything_wrangler_would(run_module, workers, site):
    kind, result = run(run_module, site, main=str(site / "worker.js"), vars={"A": "1", "N": 2},
                       secrets={"KEY": SECRET}, bindings={"kv_namespaces": {"KV": {"namespace_id": "ns1"}},
                                                          "r2_buckets": {"B": {"name": "bucket"}}},
                       assets_config={"not_found_handling": "404-page", "run_worker_first": ["/api/*"]})
    assert kind == "exit" and result["changed"], result
    (put,) = [c for c in workers.calls if c[0] == "put_script"]
    metadata, modules = put[2], put[3]
    assert metadata["main_module"] == "worker.js"
    assert modules[0][0] == "worker.js" and modules[0][2] == "application/javascript+module"
    assert metadata["assets"]["jwt"] == "done-jwt"
    assert metadata["assets"]["config"] == {"not_found_handling": "404-page", "run_worker_first": ["/api/*"],
                                            "_headers": "/*\n  X-A: b\n"}
    assert metadata["bindings"] == [
        {"type": "plain_text", "name": "A", "text": "1"},
        {"type": "plain_text", "name": "N", "text": "2"},
        {"type": "secret_text", "name": "KEY", "text": SECRET},
        {"type": "kv_namespace", "name": "KV", "namespace_id": "ns1"},
        {"type": "r2_bucket", "name": "B", "bucket_name": "bucket"},
        {"type": "assets", "name": "ASSETS"},
    ]
    assert "keep_bindings" not in metadata  # a new Worker has nothing to keep
    assert sorted(workers.manifest) == ["/about.html", "/index.html"]
    assert result["upload"]["uploaded"] == 2 and result["url"] == "https://site.acct.workers.dev"
    assert ("set_subdomain", "site", True) in workers.calls
    assert SECRET not in json.dumps(result)


def test_rerun_changes_nothing(run_module, workers, site):
    run(run_module, site)
    workers.calls = []
    kind, result = run(run_module, site)
    assert kind == "exit" and not result["changed"] and result["changes"] == []
    assert workers.mutating() == []
    assert result["upload"]["uploaded"] == 0


def test_rerun_reads_each_thing_once_and_side_by_side(run_module, workers, site):
    """A rerun reads the deployments, the version they serve, the workers.dev toggle and the account's
    subdomain once each; the last two go out while the deployments are read (two waits, not four)."""
    run(run_module, site)
    workers.calls = []
    beside = {"get_subdomain": threading.Event(), "account_subdomain": threading.Event()}
    for name, event in beside.items():
        def read(*args, _real=getattr(workers, name), _event=event):
            _event.set()
            return _real(*args)
        setattr(workers, name, read)
    list_deployments = workers.list_deployments

    def deployments_after_the_others(script):
        assert all(e.wait(10) for e in beside.values()), "the toggle and the subdomain were not read beside the deployments"
        return list_deployments(script)

    workers.list_deployments = deployments_after_the_others
    kind, result = run(run_module, site)
    assert kind == "exit" and not result["changed"], result
    assert sorted(c[0] for c in workers.calls) == ["account_subdomain", "get_subdomain", "get_version", "list_deployments"]
    assert result["url"] == "https://site.acct.workers.dev" and result["version"]["id"]


def test_one_file_changed_uploads_it_only(run_module, workers, site):
    run(run_module, site)
    write(site, "site/about.html", "<h1>about v2</h1>")
    workers.calls = []
    kind, result = run(run_module, site)
    assert result["changes"] == ["assets"]
    (upload,) = [c for c in workers.calls if c[0] == "upload_assets"]
    assert upload[1] == [workers.manifest["/about.html"]["hash"]]
    assert result["upload"]["uploaded"] == 1 and result["upload"]["skipped"] == 1


def test_config_change_is_a_new_version_without_upload(run_module, workers, site):
    run(run_module, site)
    workers.calls = []
    kind, result = run(run_module, site, compatibility_flags=["nodejs_compat"], _ansible_diff=True)
    assert result["changes"] == ["config"] and result["upload"]["uploaded"] == 0
    assert [c[0] for c in workers.mutating()] == ["assets_upload_session", "put_script"]
    diff = result["diff"]
    assert "nodejs_compat" in json.dumps(diff)


def test_check_mode_sends_nothing_that_changes(run_module, workers, site):
    run(run_module, site)
    write(site, "site/new.html", "new")
    workers.calls = []
    kind, result = run(run_module, site, _ansible_check_mode=True, secrets={"KEY": SECRET}, _ansible_diff=True)
    assert kind == "exit" and result["changed"] and result["changes"] == ["assets", "config", "secrets"]
    assert workers.mutating() == []
    assert SECRET not in json.dumps(result)
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in json.dumps(result["diff"])


def test_secrets_on_create_are_sent_once(run_module, workers, site):
    run(run_module, site, secrets={"KEY": SECRET})
    workers.calls = []
    kind, result = run(run_module, site, secrets={"KEY": SECRET})
    assert not result["changed"]
    kind, result = run(run_module, site, secrets={"KEY": SECRET}, update_secrets="always")
    assert result["changes"] == ["secrets"]
    put = [c for c in workers.calls if c[0] == "put_script"][-1]
    assert put[2]["keep_bindings"] == ["secret_text", "secret_key"]
    assert {"type": "secret_text", "name": "KEY", "text": SECRET} in put[2]["bindings"]
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize("args, text", [
    ({"name": "Bad Name"}, "name must be 1 to 63"),
    ({"compatibility_date": "2025/06/01"}, "compatibility_date must be a date"),
    ({"vars": {"A": "1"}, "secrets": {"A": "2"}}, "A cannot be both in vars and in secrets"),
    ({"bindings": {"durable_object_namespaces": {"D": {"namespace_id": "x"}}}}, "not a binding kind"),
    ({"bindings": {"kv_namespaces": {"KV": {}}}}, "missing namespace_id"),
    ({"bindings": {"kv_namespaces": {"ASSETS": {"namespace_id": "x"}}}}, "used twice"),
    ({"assets_config": {"run_worker_first": True}}, "run_worker_first needs code"),
    ({"assets_config": {"run_worker_first": ["!/a"]}}, "at least one rule"),
    ({"vars": {"A": {"x": 1}}}, "vars.A must be a string"),
])
def test_bad_options_fail_before_any_request(run_module, workers, site, args, text):
    kind, result = run(run_module, site, **args)
    assert kind == "fail" and text in result["msg"], result["msg"]
    assert workers.mutating() == []


def test_options_of_other_states_are_refused(run_module, workers, site):
    kind, result = run(run_module, site, state="absent", vars={"A": "1"})
    assert kind == "fail" and "vars cannot be used with state=absent" in result["msg"] and workers.calls == []


def test_assets_only_worker_has_no_main_and_no_assets_binding(run_module, workers, site):
    run(run_module, site)
    (put,) = [c for c in workers.calls if c[0] == "put_script"]
    assert "main_module" not in put[2] and put[3] == []
    assert all(b["type"] != "assets" for b in put[2]["bindings"])


def test_worker_js_of_the_assets_is_the_code_and_not_an_asset(run_module, workers, site):
    write(site, "site/_worker.js", "export default { fetch(r, env) { return env.ASSETS.fetch(r); } };\n")
    write(site, "site/_routes.json", '{"version": 1, "include": ["/*"], "exclude": []}')
    run(run_module, site)
    (put,) = [c for c in workers.calls if c[0] == "put_script"]
    assert put[2]["main_module"] == "_worker.js"
    assert sorted(workers.manifest) == ["/about.html", "/index.html"]


def test_rollback_to_previous_and_again(run_module, workers, site):
    run(run_module, site)
    write(site, "site/about.html", "v2")
    run(run_module, site)
    kind, result = run(run_module, site, state="rolled_back", version_id="previous")
    assert result["changed"] and result["version"]["id"] == "v1"
    assert ("deploy_version", "site", "v1") in workers.calls
    workers.calls = []
    kind, result = run(run_module, site, state="rolled_back", version_id="previous")
    assert not result["changed"] and workers.mutating() == []
    kind, result = run(run_module, site, state="rolled_back", version_id="v9")
    assert kind == "fail" and "not a version" in result["msg"]


def test_absent(run_module, workers, site):
    run(run_module, site)
    kind, result = run(run_module, site, state="absent", _ansible_check_mode=True)
    assert result["changed"] and workers.scripts
    kind, result = run(run_module, site, state="absent")
    assert result["changed"] and not workers.scripts
    kind, result = run(run_module, site, state="absent")
    assert not result["changed"]
