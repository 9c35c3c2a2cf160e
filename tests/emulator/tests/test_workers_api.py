"""The Workers-scripts API of the emulator (pages_emulator/workers_scripts.py): the direct upload of
static assets (developers.cloudflare.com/workers/static-assets/direct-upload/), scripts, versions,
deployments, secrets, settings and the workers.dev toggle, with the v4 envelope and errors."""
from __future__ import annotations

import base64
import json

from emu_helpers import error_of, ok
from workers_helpers import (deploy_worker, host_of, manifest_of, metadata, put_script, upload_assets)

SITE = {"/index.html": b"<h1>home</h1>", "/about.html": b"<h1>about</h1>", "/css/site.css": b"body{}"}
CODE = {"index.js": b"export default { async fetch(req, env) { return new Response('v=' + env.V + ' s=' + env.S); } };"}


def _session(emu, script, manifest):
    return emu.api("POST", f"/accounts/{{a}}/workers/scripts/{script}/assets-upload-session",
                   json={"manifest": manifest})


def _upload(emu, jwt, files: dict, query="?base64=true"):
    form = [(h, (h, base64.b64encode(data), "text/html")) for h, data in files.items()]
    return emu.api("POST", "/accounts/{a}/workers/assets/upload" + query, auth=False,
                   headers={"Authorization": f"Bearer {jwt}"}, files=form)


def test_upload_session_asks_for_missing_files_only(emu):
    manifest = manifest_of(SITE)
    first = ok(_session(emu, "site", manifest))
    assert sorted(h for b in first["buckets"] for h in b) == sorted(e["hash"] for e in manifest.values())
    upload_assets(emu, "site", SITE)
    changed = dict(SITE, **{"/about.html": b"<h1>about v2</h1>"})
    again = ok(_session(emu, "site", manifest_of(changed)))
    assert again["buckets"] == [[manifest_of(changed)["/about.html"]["hash"]]]
    # nothing missing: no buckets, and the jwt is already a completion token that a PUT accepts
    none = ok(_session(emu, "site", manifest))
    assert none["buckets"] == [] and none["jwt"]
    ok(put_script(emu, "site", metadata(none["jwt"], main=None)))


def test_upload_answers_202_until_the_last_file_then_201_with_the_completion_token(emu):
    manifest = manifest_of(SITE)
    session = ok(_session(emu, "site", manifest))
    by_hash = {e["hash"]: SITE[p] for p, e in manifest.items()}
    hashes = [h for b in session["buckets"] for h in b]
    r = _upload(emu, session["jwt"], {hashes[0]: by_hash[hashes[0]]})
    assert r.status_code == 202 and "jwt" not in r.json()["result"]
    r = _upload(emu, session["jwt"], {h: by_hash[h] for h in hashes[1:]})
    assert r.status_code == 201, r.text
    logged = [e.get("keys") for e in emu.requests_log() if e["path"].endswith("/workers/assets/upload")]
    assert logged == [hashes[:1], hashes[1:]]      # what a test counts uploads by
    completion = r.json()["result"]["jwt"]
    script = ok(put_script(emu, "site", metadata(completion, main=None)))
    assert script["has_assets"] is True and script["has_modules"] is False
    # the upload token cannot stand in for the completion token, and vice versa
    assert error_of(put_script(emu, "site", metadata(session["jwt"], main=None)))[:2] == (400, 10202)
    assert _upload(emu, completion, {hashes[0]: by_hash[hashes[0]]}).status_code == 401


def test_upload_needs_the_session_jwt_base64_and_the_session_hashes(emu):
    session = ok(_session(emu, "site", manifest_of(SITE)))
    h = session["buckets"][0][0]
    assert _upload(emu, "not-a-jwt", {h: b"x"}).status_code == 401
    r = emu.api("POST", "/accounts/{a}/workers/assets/upload?base64=true", files=[(h, (h, b"eA==", "text/html"))])
    assert r.status_code == 401   # an API token is not an upload token
    assert error_of(_upload(emu, session["jwt"], {h: b"x"}, query=""))[0] == 400
    assert error_of(_upload(emu, session["jwt"], {"f" * 32: b"x"}))[0] == 400


def test_tokens_expire(emu):
    session = ok(_session(emu, "site", manifest_of(SITE)))
    claims = json.loads(base64.urlsafe_b64decode(session["jwt"].split(".")[1] + "=="))
    assert 3599 <= claims["exp"] - claims["iat"] <= 3601     # "valid for one hour"
    emu.config(workers_jwt_ttl=0.5)
    short = ok(_session(emu, "site", manifest_of(SITE)))
    import time
    time.sleep(0.7)
    h = short["buckets"][0][0]
    assert error_of(_upload(emu, short["jwt"], {h: b"x"})) == (
        401, 10001, "Authentication error: the assets upload token is expired.")


def test_manifest_is_validated_before_anything_is_stored(emu):
    good = {"hash": "a" * 32, "size": 1}
    for manifest, words in [({"index.html": good}, "start with '/'"),
                            ({"/a": {"hash": "xyz", "size": 1}}, "hash"),
                            ({"/a": {"hash": "a" * 32, "size": -1}}, "size"),
                            ({"/a": {"hash": "a" * 32, "size": 25 * 1024 * 1024 + 1}}, "25 MiB")]:
        status, _code, message = error_of(_session(emu, "site", manifest))
        assert status == 400 and words in message, message
    ok(_session(emu, "site", {"/a": {"hash": "a" * 32, "size": 25 * 1024 * 1024}}))   # exactly 25 MiB is allowed
    emu.config(max_file_count=2)
    status, _code, message = error_of(_session(emu, "site", {f"/{i}": good for i in range(3)}))
    assert status == 400 and "at most 2" in message
    assert error_of(emu.api("GET", "/accounts/{a}/workers/scripts/site/settings"))[:2] == (404, 10007)


def test_script_put_get_delete_and_unknown_script(emu):
    assert error_of(emu.api("GET", "/accounts/{a}/workers/scripts/nope/settings")) == (
        404, 10007, "This Worker does not exist on your account.")
    assert error_of(emu.api("GET", "/accounts/{a}/workers/services/nope"))[:2] == (404, 10090)
    deploy_worker(emu, "app", SITE, modules=CODE, bindings=[{"type": "plain_text", "name": "V", "text": "1"}])
    r = emu.api("GET", "/accounts/{a}/workers/scripts/app")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("multipart/form-data")
    assert CODE["index.js"] in r.content
    listed = ok(emu.api("GET", "/accounts/{a}/workers/scripts"))
    assert [s["id"] for s in listed] == ["app"] and listed[0]["has_assets"] is True
    ok(emu.api("DELETE", "/accounts/{a}/workers/scripts/app"))
    assert error_of(emu.api("GET", "/accounts/{a}/workers/scripts/app"))[:2] == (404, 10007)


def test_script_metadata_is_validated(emu):
    jwt, _ = upload_assets(emu, "app", SITE)
    cases = [
        (metadata(jwt, main="missing.js"), CODE, "missing.js"),
        (metadata(jwt, main=None, bindings=()), None, None),      # assets-only: fine
        (metadata(jwt, config={"html_handling": "sometimes"}), CODE, "html_handling"),
        (metadata(jwt, config={"not_found_handling": "404"}), CODE, "not_found_handling"),
        (metadata(jwt, config={"run_worker_first": ["api/*"]}), CODE, "must start with '/'"),
        (metadata(jwt, config={"run_worker_first": ["!/x"]}), CODE, "positive"),
        (metadata(jwt, main=None, config={"run_worker_first": True}), None, "needs a Worker"),
        (metadata(None, main=None), None, "main_module"),
        (metadata(jwt, bindings=[{"type": "plain_text", "name": "A"}]), CODE, "text"),
    ]
    for meta, modules, words in cases:
        r = put_script(emu, "app", meta, modules)
        if words is None:
            ok(r)
        else:
            status, _code, message = error_of(r)
            assert status == 400 and words in message, (meta, message)
    r = emu.api("PUT", "/accounts/{a}/workers/scripts/app", json={"main_module": "index.js"})
    assert error_of(r)[0] == 400   # JSON is not a script upload


def test_a_script_that_fails_at_start_up_is_refused(emu):
    jwt, _ = upload_assets(emu, "app", SITE)
    broken = {"index.js": b"throw new Error('boom at start');\nexport default {};"}
    status, code, message = error_of(put_script(emu, "app", metadata(jwt), broken))
    assert (status, code) == (400, 10021) and "boom at start" in message
    syntax = {"index.js": b"export default { async fetch( { };"}
    assert error_of(put_script(emu, "app", metadata(jwt), syntax))[:2] == (400, 10021)
    assert error_of(emu.api("GET", "/accounts/{a}/workers/scripts/app/settings"))[:2] == (404, 10007)
    ok(put_script(emu, "app", metadata(jwt), CODE))
    status, code, _ = error_of(put_script(emu, "app", metadata(jwt), broken,
                                          path="/accounts/{a}/workers/scripts/app/versions"))
    assert (status, code) == (400, 10021)
    assert len(ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/versions"))["items"]) == 1


def test_versions_deployments_and_rollback(emu):
    first = deploy_worker(emu, "app", SITE, modules=CODE, bindings=[{"type": "plain_text", "name": "V", "text": "1"}])
    v1 = first["deployment_id"]
    jwt, _ = upload_assets(emu, "app", SITE)
    v2 = ok(put_script(emu, "app", metadata(jwt, bindings=[{"type": "plain_text", "name": "V", "text": "2"}]), CODE,
                       path="/accounts/{a}/workers/scripts/app/versions"))
    assert v2["number"] == 2 and v2["resources"]["bindings"] == [{"type": "plain_text", "name": "V", "text": "2"}]
    host = host_of(emu, "app")
    assert emu.site(host, "/api").text.startswith("v=1")          # an uploaded version is not deployed
    listed = ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/versions"))["items"]
    assert [v["id"] for v in listed] == [v2["id"], v1]
    assert ok(emu.api("GET", f"/accounts/{{a}}/workers/scripts/app/versions/{v1}"))["number"] == 1
    dep = ok(emu.api("POST", "/accounts/{a}/workers/scripts/app/deployments",
                     json={"strategy": "percentage", "versions": [{"version_id": v2["id"], "percentage": 100}]}))
    assert emu.site(host, "/api").text.startswith("v=2")
    deployments = ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/deployments"))["deployments"]
    assert deployments[0]["id"] == dep["id"] and len(deployments) == 2
    assert ok(emu.api("GET", f"/accounts/{{a}}/workers/scripts/app/deployments/{dep['id']}"))["versions"] == [
        {"version_id": v2["id"], "percentage": 100}]
    # rollback = a deployment of the earlier version
    ok(emu.api("POST", "/accounts/{a}/workers/scripts/app/deployments",
               json={"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 100}]}))
    assert emu.site(host, "/api").text.startswith("v=1")
    for body in ({"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 60}]},
                 {"strategy": "percentage", "versions": [{"version_id": "0" * 8, "percentage": 100}]},
                 {"strategy": "immediate", "versions": [{"version_id": v1, "percentage": 100}]}):
        assert error_of(emu.api("POST", "/accounts/{a}/workers/scripts/app/deployments", json=body))[0] in (400, 404)
    split = ok(emu.api("POST", "/accounts/{a}/workers/scripts/app/deployments", json={
        "strategy": "percentage", "versions": [{"version_id": v1, "percentage": 50}, {"version_id": v2["id"], "percentage": 50}]}))
    assert len(split["versions"]) == 2
    assert {emu.site(host, "/api").text[:3] for _ in range(40)} == {"v=1", "v=2"}


def test_annotations_round_trip(emu):
    jwt, _ = upload_assets(emu, "app", SITE)
    script = ok(put_script(emu, "app", metadata(jwt, annotations={"workers/tag": "fp-1", "workers/message": "m"}), CODE))
    version = ok(emu.api("GET", f"/accounts/{{a}}/workers/scripts/app/versions/{script['deployment_id']}"))
    assert version["annotations"] == {"workers/tag": "fp-1", "workers/message": "m", "workers/triggered_by": "upload"}
    dep = ok(emu.api("POST", "/accounts/{a}/workers/scripts/app/deployments", json={
        "strategy": "percentage", "versions": [{"version_id": version["id"], "percentage": 100}],
        "annotations": {"workers/message": "rollback"}}))
    assert dep["annotations"] == {"workers/message": "rollback"}


def test_secrets_are_write_only_and_reach_the_worker(emu):
    deploy_worker(emu, "app", SITE, modules=CODE, bindings=[{"type": "plain_text", "name": "V", "text": "1"}])
    host = host_of(emu, "app")
    before = len(ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/versions"))["items"])
    assert ok(emu.api("PUT", "/accounts/{a}/workers/scripts/app/secrets",
                      json={"name": "S", "text": "hunter2", "type": "secret_text"})) == {"name": "S", "type": "secret_text"}
    assert len(ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/versions"))["items"]) == before + 1
    assert ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/secrets")) == [{"name": "S", "type": "secret_text"}]
    assert ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/secrets/S")) == {"name": "S", "type": "secret_text"}
    assert emu.site(host, "/api").text == "v=1 s=hunter2"
    everything = json.dumps([ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/settings")),
                             ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/versions"))])
    assert "hunter2" not in everything
    # a deploy that keeps secrets (wrangler sends keep_bindings: ["secret_text", ...])
    jwt, _ = upload_assets(emu, "app", SITE)
    ok(put_script(emu, "app", metadata(jwt, bindings=[{"type": "plain_text", "name": "V", "text": "2"}],
                                       keep_bindings=["secret_text"]), CODE))
    assert emu.site(host, "/api").text == "v=2 s=hunter2"
    # ... and one that does not (wrangler 4.86): secrets stay with the Worker all the same
    ok(put_script(emu, "app", metadata(jwt, bindings=[{"type": "plain_text", "name": "V", "text": "3"}]), CODE,
                  path="/accounts/{a}/workers/scripts/app/versions"))
    latest = ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/versions"))["items"][0]
    assert {"name": "S", "type": "secret_text"} in latest["resources"]["bindings"]
    ok(put_script(emu, "app", metadata(jwt, bindings=[{"type": "plain_text", "name": "V", "text": "4"}]), CODE))
    assert emu.site(host, "/api").text == "v=4 s=hunter2"
    ok(emu.api("DELETE", "/accounts/{a}/workers/scripts/app/secrets/S"))
    assert ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/secrets")) == []
    assert error_of(emu.api("GET", "/accounts/{a}/workers/scripts/app/secrets/S"))[0] == 404
    assert emu.site(host, "/api").text == "v=2 s=undefined"


def test_settings_and_script_settings(emu):
    deploy_worker(emu, "app", SITE, modules=CODE, bindings=[{"type": "plain_text", "name": "V", "text": "1"}],
                  compatibility_flags=["nodejs_compat"])
    settings = ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/settings"))
    assert settings["compatibility_date"] == "2025-01-01" and settings["compatibility_flags"] == ["nodejs_compat"]
    assert settings["bindings"] == [{"type": "plain_text", "name": "V", "text": "1"}]
    patched = ok(emu.api("PATCH", "/accounts/{a}/workers/scripts/app/settings", files=[
        ("settings", ("blob", json.dumps({"bindings": [{"type": "plain_text", "name": "V", "text": "3"}],
                                          "logpush": True}), "application/json"))]))
    assert patched["bindings"] == [{"type": "plain_text", "name": "V", "text": "3"}] and patched["logpush"] is True
    assert emu.site(host_of(emu, "app"), "/api").text.startswith("v=3")
    assert ok(emu.api("PATCH", "/accounts/{a}/workers/scripts/app/script-settings",
                      json={"tags": ["a"], "observability": {"enabled": True}}))["tags"] == ["a"]
    assert ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/script-settings"))["observability"] == {"enabled": True}


def test_workers_dev_toggle_and_account_subdomain(emu):
    deploy_worker(emu, "app", SITE, workers_dev=False)
    sub = ok(emu.api("GET", "/accounts/{a}/workers/subdomain"))
    assert sub == {"subdomain": emu.account[:8]}
    host = host_of(emu, "app")
    assert ok(emu.api("GET", "/accounts/{a}/workers/scripts/app/subdomain")) == {"enabled": False, "previews_enabled": False}
    assert emu.site(host, "/").status_code == 404
    assert ok(emu.api("POST", "/accounts/{a}/workers/scripts/app/subdomain", json={"enabled": True}))["enabled"] is True
    assert emu.site(host, "/").text == "<h1>home</h1>"
    assert ok(emu.api("GET", "/accounts/{a}/workers/workers/app"))["subdomain"]["enabled"] is True
    ok(emu.api("PUT", "/accounts/{a}/workers/subdomain", json={"subdomain": "mine"}))
    assert emu.site("app.mine.workers.dev", "/").status_code == 200
    assert emu.site(host, "/").status_code == 404
    assert error_of(emu.api("POST", "/accounts/{a}/workers/scripts/app/subdomain", json={"enabled": "yes"}))[0] == 400


def test_auth_and_envelope_as_the_pages_side(emu):
    assert error_of(emu.api("GET", "/accounts/{a}/workers/subdomain", auth=False))[:2] == (400, 6003)
    assert error_of(emu.api("GET", "/accounts/{a}/workers/subdomain",
                            headers={"Authorization": "Bearer wrong-token"}))[:2] == (403, 10000)
    other = "f" * 32
    assert error_of(emu.api("GET", f"/accounts/{other}/workers/subdomain"))[:2] == (403, 10000)
    body = emu.api("GET", "/accounts/{a}/workers/subdomain").json()
    assert list(body) == ["result", "success", "errors", "messages"]
