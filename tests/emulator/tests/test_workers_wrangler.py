"""`wrangler deploy` of Workers with static assets, from both wrangler lanes ("4.86": wrangler 4.86 on
Node 20; "current": the newest wrangler 4.x on Node 22; tests/helpers/environments.py), against the
emulator through the recording proxy (wrangler_capture.py):

- an assets-only site and an assets + Worker site (run_worker_first rules, an ASSETS binding, a var)
  deploy, redeploy without uploading anything, and then answer on workers.dev as expected;
- what wrangler sends (endpoints, JSON fields, multipart parts and their content types, headers) is
  what the emulator documents and accepts: every request answered 2xx, except the reads wrangler
  makes of a Worker that does not exist yet;
- the hash wrangler computes for every asset equals our rule (conformance_helpers.asset_hash:
  BLAKE3 of base64(bytes) + extension, first 32 hex digits; README "Workers scripts").
"""
from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from conformance_helpers import asset_hash, envs, wrangler_env, wrangler_lane_command
from wrangler_capture import Recorder, multipart_parts

DATE = "2025-06-01"
PUBLIC = {
    "index.html": b"<!doctype html><h1>home</h1>\n",
    "about.html": b"<h1>about</h1>\n",
    "404.html": b"<h1>custom 404</h1>\n",
    "css/site.css": b"body{color:red}\n",
    "img/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "data/items.json": b'{"a": 1}',
    "LICENSE": b"no extension\n",
    "private.txt": b"listed in .assetsignore\n",
    ".assetsignore": b"private.txt\n",
    "_headers": b"/about\n  X-Page: about\n",
    "_redirects": b"/old /about 301\n",
}
WORKER = (b"const VERSION = 1;\n"
          b"export default { async fetch(request, env) {\n"
          b"  const url = new URL(request.url);\n"
          b"  if (url.pathname.startsWith('/api/'))\n"
          b"    return Response.json({ path: url.pathname, greeting: env.GREETING, version: VERSION, token: env.TOKEN ?? null });\n"
          b"  const r = await env.ASSETS.fetch(request);\n"
          b"  return new Response(r.body, r);\n} };\n")
STATIC_CONFIG = {"name": "static-site", "compatibility_date": DATE,
                 "assets": {"directory": "public", "not_found_handling": "404-page"}}
FULL_CONFIG = {"name": "full-site", "main": "src/index.js", "compatibility_date": DATE, "vars": {"GREETING": "hello"},
               "assets": {"directory": "public", "binding": "ASSETS", "run_worker_first": ["/api/*"]}}
# What the emulator reads from a script upload's metadata (README "Workers scripts"); anything else
# a wrangler sends must be looked at and added here (it is accepted and ignored).
METADATA_KEYS = {"main_module", "bindings", "compatibility_date", "compatibility_flags", "assets", "keep_bindings",
                 "keep_assets", "annotations", "code_update_strategy", "observability", "placement",
                 "tail_consumers", "logpush", "limits"}
ASSET_CONFIG_KEYS = {"html_handling", "not_found_handling", "run_worker_first", "_headers", "_redirects"}
# The part types wrangler gives the files (mime's type, "; charset=utf-8" on text/*, application/null
# when mime has none: workers-shared utils/helpers.ts getContentType, deploy-helpers assets.ts).
UPLOAD_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
                ".json": "application/json"}
# Reads of a Worker that does not exist yet: 404 with the codes wrangler takes for "not deployed yet".
EXPECTED_404 = ("/workers/services/", "/secrets", "/deployments", "/settings")


def _write(root: Path, files: dict):
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def _project(root: Path, config: dict, worker: bool) -> Path:
    _write(root / "public", PUBLIC)
    if worker:
        _write(root / "src", {"index.js": WORKER})
    (root / "wrangler.json").write_text(json.dumps(config))
    return root


def _deploys(emulator, lane, work: Path) -> dict:
    command = wrangler_lane_command(lane)
    emulator.reset()
    recorder = Recorder(emulator.root_url, "/client/v4")
    home = work / "home"
    env = wrangler_env(home, command[0], TMPDIR=str(home), CLOUDFLARE_API_BASE_URL=recorder.base_url,
                       CLOUDFLARE_API_TOKEN=emulator.token, CLOUDFLARE_ACCOUNT_ID=emulator.account)
    full = _project(work / "full", FULL_CONFIG, True)
    full_v2 = _project(work / "full-v2", FULL_CONFIG, True)
    _write(full_v2 / "src", {"index.js": WORKER.replace(b"VERSION = 1", b"VERSION = 2")})
    # then: a secret (a new version of the deployed one), new code (keeps the secret), a rollback
    steps = [("static deploy", ["deploy"], _project(work / "static", STATIC_CONFIG, False), None),
             ("full deploy", ["deploy"], full, None),
             ("full redeploy", ["deploy"], full, None),
             ("secret put", ["secret", "put", "TOKEN"], full, "s3cret\n"),
             ("full deploy v2", ["deploy"], full_v2, None),
             ("rollback", ["rollback", "--message", "back", "-y"], full, None)]
    out = {"log": [], "answers_v2": None}
    try:
        for step, args, cwd, stdin in steps:
            proc = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
                                  input=stdin, stdin=None if stdin else subprocess.DEVNULL, check=False)
            out[step] = {"rc": proc.returncode, "output": proc.stdout + proc.stderr, "requests": recorder.take()}
            if step == "full deploy v2":
                out["answers_v2"] = _api_answer(emulator)
    finally:
        recorder.close()
    out["log"] = emulator.requests_log()
    return out


def _api_answer(emulator):
    sub = emulator.api("GET", "/accounts/{a}/workers/subdomain").json()["result"]["subdomain"]
    return json.loads(emulator.site(f"full-site.{sub}.workers.dev", "/api/x").text)


@pytest.fixture(scope="module")
def lane_deploys(emulator, tmp_path_factory):
    # each lane runs against a reset emulator; its sites are checked right after (see _sites)
    runs = {}
    for lane in envs.wrangler_lanes_chosen():
        runs[lane] = _deploys(emulator, lane, tmp_path_factory.mktemp(f"workers-{lane}"))
        runs[lane]["answers"] = _sites(emulator)
    return runs


def _sites(emulator) -> dict:
    sub = emulator.api("GET", "/accounts/{a}/workers/subdomain").json()["result"]["subdomain"]
    answers = {}
    for script, paths in (("static-site", ["/", "/about", "/about.html", "/nope", "/old", "/private.txt", "/_headers",
                                           "/LICENSE"]),
                          ("full-site", ["/", "/about", "/api/users", "/api/"])):
        for path in paths:
            r = emulator.site(f"{script}.{sub}.workers.dev", path)
            answers[(script, path)] = (r.status_code, r.headers.get("Location") or r.text,
                                       r.headers.get("X-Page"), r.headers.get("Content-Type"))
    return answers


def _rows(run, step):
    rows = []
    for req in run[step]["requests"]:
        headers = {k.lower(): v for k, v in req["headers"]}
        path, _, query = req["target"].partition("?")
        rows.append({"method": req["method"], "path": path, "query": query, "headers": headers, "body": req["body"]})
    return rows


@pytest.mark.parametrize("lane", envs.wrangler_lanes_chosen())
def test_wrangler_deploys_and_the_sites_answer(lane_deploys, lane):
    run = lane_deploys[lane]
    for step in ("static deploy", "full deploy", "full redeploy", "secret put", "full deploy v2", "rollback"):
        assert run[step]["rc"] == 0, f"{lane}: {step} failed:\n{run[step]['output']}"
    assert "No updated asset files to upload" in run["full redeploy"]["output"]
    a = run["answers"]
    html = "text/html; charset=utf-8"
    assert a[("static-site", "/")] == (200, PUBLIC["index.html"].decode(), None, html)
    assert a[("static-site", "/about")] == (200, PUBLIC["about.html"].decode(), "about", html)
    assert a[("static-site", "/about.html")][:2] == (307, "/about")
    assert a[("static-site", "/nope")] == (404, PUBLIC["404.html"].decode(), None, html)
    assert a[("static-site", "/old")][:2] == (301, "/about")
    for not_uploaded in ("/private.txt", "/_headers"):
        assert a[("static-site", not_uploaded)][0] == 404
    assert a[("static-site", "/LICENSE")][:2] == (200, "no extension\n")
    assert a[("full-site", "/")][:2] == (200, PUBLIC["index.html"].decode())
    assert a[("full-site", "/about")][:3] == (200, PUBLIC["about.html"].decode(), "about")
    # new code kept the secret (wrangler sends keep_bindings); the rollback went back to the version
    # the secret made (wrangler's "latest stable version" before the current one)
    assert run["answers_v2"] == {"path": "/api/x", "greeting": "hello", "version": 2, "token": "s3cret"}
    assert json.loads(a[("full-site", "/api/users")][1]) == {"path": "/api/users", "greeting": "hello", "version": 1,
                                                             "token": "s3cret"}


@pytest.mark.parametrize("lane", envs.wrangler_lanes_chosen())
def test_secret_and_rollback_requests(lane_deploys, lane):
    run = lane_deploys[lane]
    (put,) = [r for r in _rows(run, "secret put") if r["method"] == "PUT"]
    assert put["path"].endswith("/workers/scripts/full-site/secrets")
    assert json.loads(put["body"]) == {"name": "TOKEN", "text": "s3cret", "type": "secret_text"}
    (rollback,) = [r for r in _rows(run, "rollback") if r["method"] == "POST"]
    assert rollback["path"].endswith("/workers/scripts/full-site/deployments")
    body = json.loads(rollback["body"])
    assert body["strategy"] == "percentage" and body["annotations"] == {"workers/message": "back"}
    assert [v["percentage"] for v in body["versions"]] == [100]


@pytest.mark.parametrize("lane", envs.wrangler_lanes_chosen())
def test_the_emulator_accepts_what_wrangler_sends(lane_deploys, lane):
    run = lane_deploys[lane]
    for entry in run["log"]:
        if "/workers/" not in entry["path"]:
            continue
        expected_404 = entry["method"] == "GET" and any(p in entry["path"] for p in EXPECTED_404)
        assert 200 <= entry["status"] < 300 or (expected_404 and entry["status"] == 404), entry
    for step, worker in (("static deploy", False), ("full deploy", True)):
        rows = _rows(run, step)
        (session,) = [r for r in rows if r["path"].endswith("/assets-upload-session")]
        assert session["method"] == "POST" and session["headers"]["content-type"] == "application/json"
        manifest = json.loads(session["body"])["manifest"]
        assert set(json.loads(session["body"])) == {"manifest"}
        assert all(set(e) == {"hash", "size"} for e in manifest.values())
        assert sorted(manifest) == sorted("/" + p for p in PUBLIC if p not in ("private.txt", ".assetsignore",
                                                                               "_headers", "_redirects"))
        uploads = [r for r in rows if r["path"].endswith("/workers/assets/upload")]
        if step == "static deploy":       # the full site reuses the static site's files: nothing to upload
            assert uploads, "wrangler uploaded nothing"
        by_hash = {e["hash"]: p for p, e in manifest.items()}
        for up in uploads:
            assert up["method"] == "POST" and up["query"] == "base64=true"
            token = up["headers"]["authorization"].removeprefix("Bearer ")
            claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
            assert claims["kind"] == "upload"      # the session's token, not the API token
            assert up["headers"]["content-type"].startswith("multipart/form-data; boundary=")
            for part in multipart_parts(up["body"], up["headers"]["content-type"]):
                path = by_hash[part["name"]]
                assert part["filename"] == part["name"]
                assert base64.b64decode(part["data"]) == PUBLIC[path[1:]]
                expected_type = UPLOAD_TYPES.get(Path(path).suffix, "application/null")
                assert part["content_type"] == expected_type, (path, part["content_type"])
        (script,) = [r for r in rows if r["method"] in ("PUT", "POST") and (
            r["path"].endswith("/workers/scripts/" + ("full-site" if worker else "static-site"))
            or r["path"].endswith("/versions"))]
        parts = {p["name"]: p for p in multipart_parts(script["body"], script["headers"]["content-type"])}
        meta = json.loads(parts.pop("metadata")["data"])
        assert set(meta) <= METADATA_KEYS, set(meta) - METADATA_KEYS
        assert set(meta["assets"]) == {"jwt", "config"} and set(meta["assets"]["config"]) <= ASSET_CONFIG_KEYS
        assert meta["assets"]["config"]["_headers"] == PUBLIC["_headers"].decode()
        assert meta["assets"]["config"]["_redirects"] == PUBLIC["_redirects"].decode()
        assert meta["compatibility_date"] == DATE
        if worker:
            assert meta["main_module"] == "index.js"
            assert {"name": "ASSETS", "type": "assets"} in meta["bindings"]
            assert {"name": "GREETING", "type": "plain_text", "text": "hello"} in meta["bindings"]
            assert meta["assets"]["config"]["run_worker_first"] == ["/api/*"]
            assert parts["index.js"]["content_type"] == "application/javascript+module"
        else:   # an assets-only Worker: no code, no bindings
            assert "main_module" not in meta and "bindings" not in meta and not parts
            assert meta["assets"]["config"]["not_found_handling"] == "404-page"


@pytest.mark.parametrize("lane", envs.wrangler_lanes_chosen())
def test_wrangler_hashes_assets_by_our_rule(lane_deploys, lane):
    rows = _rows(lane_deploys[lane], "static deploy")
    (session,) = [r for r in rows if r["path"].endswith("/assets-upload-session")]
    manifest = json.loads(session["body"])["manifest"]
    for path, entry in manifest.items():
        data = PUBLIC[path[1:]]
        assert entry == {"hash": asset_hash(data, path), "size": len(data)}, path
