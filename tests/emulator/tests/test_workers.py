"""Deployed code runs in workerd: Pages Functions, `_worker.js`, `_routes.json`, the deploy check.

wrangler (pinned, tests/emulator/node_modules) deploys the projects, so the bundles are the ones
real users upload; requests go through the emulator with the site's Host header. workerd comes
with wrangler (``npm ci --prefix tests/emulator``); without it these tests skip on a developer
machine and fail in CI, like test_wrangler.py.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from conformance_helpers import EMULATOR_DIR, host_of, in_ci
from emu_helpers import create_project, deploy, error_of, get_deployment, get_project, ok, post_deployment, upload
from test_sdk import strict_deployment, strict_project
from test_wrangler import wrangler  # noqa: F401  (the fixture)

WORKERD = EMULATOR_DIR / "node_modules" / ".bin" / "workerd"

# (module add(a, b) = a + b) as a binary, so the test needs no wasm toolchain
ADD_WASM = bytes.fromhex("0061736d0100000001070160027f7f017f030201000707010361646400000a09010700200020016a0b")


@pytest.fixture(autouse=True)
def _need_workerd():
    if not WORKERD.exists():
        reason = f"workerd not installed at {WORKERD} (run: npm ci --prefix tests/emulator)"
        if in_ci():
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


def write(root: Path, files: dict) -> Path:
    for rel, data in files.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data if isinstance(data, bytes) else data.encode())
    return root


def wait_deployed(emu, project, dep_id, timeout=20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        d = get_deployment(emu, project, dep_id)
        if d["latest_stage"]["status"] != "active" or time.monotonic() > deadline:
            return d
        time.sleep(0.05)


def only_deployment(emu, project) -> dict:
    deps = ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments"))
    assert len(deps) == 1, deps
    return deps[0]


def workers_list(emu) -> dict:
    r = requests.get(emu.root_url + "/__emulator/workers", timeout=10)
    r.raise_for_status()
    return r.json()


FUNCTIONS = {
    "functions/_middleware.js": """
export async function onRequest(context) {
  const response = await context.next();
  const out = new Response(response.body, response);
  out.headers.set("X-Middleware", "ran");
  return out;
}
""",
    "functions/api/hello.js": """
export function onRequestGet({ env, request }) {
  return new Response(`hello ${env.GREETING} via ${new URL(request.url).protocol}`);
}
""",
    "functions/api/items/[id].js": """
export function onRequest({ params, request }) {
  return Response.json({ id: params.id, method: request.method });
}
""",
}


def test_functions_project_built_by_wrangler(emu, wrangler):  # noqa: F811
    create_project(emu, "fn-site", deployment_configs={"production": {
        "env_vars": {"GREETING": {"value": "world"}}, "compatibility_date": "2024-09-23"}})
    write(wrangler.workdir, FUNCTIONS)
    write(wrangler.workdir / "public", {"index.html": "<h1>static beside functions</h1>",
                                        "about.html": "<p>about</p>"})
    _, out = wrangler("pages", "deploy", "public", "--project-name", "fn-site", "--branch", "main")
    assert "Deployment complete" in out, out
    dep = only_deployment(emu, "fn-site")
    assert dep["latest_stage"] == {"name": "deploy", "started_on": None,
                                   "ended_on": dep["latest_stage"]["ended_on"], "status": "success"}
    assert dep["uses_functions"] is True
    strict_deployment(dep)
    strict_project(get_project(emu, "fn-site"))

    for host in (host_of(dep["url"]), "fn-site.pages.dev"):
        r = emu.site(host, "/api/hello")
        assert (r.status_code, r.text) == (200, "hello world via https:"), r.text
        assert r.headers["X-Middleware"] == "ran"
    r = emu.site("fn-site.pages.dev", "/api/items/42")
    assert r.json() == {"id": "42", "method": "GET"} and r.headers["X-Middleware"] == "ran"
    r = requests.post(emu.root_url + "/api/items/7", headers={"Host": "fn-site.pages.dev"}, timeout=30)
    assert r.json() == {"id": "7", "method": "POST"}
    # static files beside the Functions: through context.next() -> env.ASSETS (middleware ran)
    r = emu.site("fn-site.pages.dev", "/")
    assert r.text == "<h1>static beside functions</h1>" and r.headers["X-Middleware"] == "ran"
    assert emu.site("fn-site.pages.dev", "/about").text == "<p>about</p>"

    listed = workers_list(emu)
    assert listed["executed"] is True and isinstance(listed["pid"], int)
    assert [(w["deployment_id"], w["project"]) for w in listed["workers"]] == [(dep["id"], "fn-site")]


WORKER_DIR = {
    "_worker.js/index.js": """
import { greet } from "./lib/greet.js";
import { VERSION } from "./lib/version.mjs";
import addModule from "./add.wasm";
const add = new WebAssembly.Instance(addModule).exports.add;
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/api/add") return new Response(String(add(2, 40)));
    if (pathname.startsWith("/api/")) return new Response(greet(env.NAME) + " " + VERSION);
    const asset = await env.ASSETS.fetch(request);
    const out = new Response(asset.body, asset);
    out.headers.set("X-From-Worker", "assets");
    return out;
  },
};
""",
    "_worker.js/lib/greet.js": "export function greet(name) { return `greetings, ${name}`; }\n",
    "_worker.js/lib/version.mjs": "export const VERSION = 'v3';\n",
    "_worker.js/add.wasm": ADD_WASM,
    "_routes.json": json.dumps({"version": 1, "include": ["/api/*", "/docs/*", "/"],
                                "exclude": ["/api/static/*"]}),
    "_headers": "/docs/*\n  X-Docs: yes\n",
    "index.html": "<h1>advanced mode</h1>",
    "docs/index.html": "<p>docs</p>",
    "api/static/file.txt": "a static file under /api",
    "404.html": "<h1>custom 404</h1>",
}


def test_worker_directory_modules_wasm_assets_and_routes(emu, wrangler, tmp_path):  # noqa: F811
    create_project(emu, "adv", deployment_configs={"production": {
        "env_vars": {"NAME": {"type": "secret_text", "value": "s3cret"}}}})
    site = write(tmp_path / "site", WORKER_DIR)
    _, out = wrangler("pages", "deploy", str(site), "--project-name", "adv", "--branch", "main")
    assert "Deployment complete" in out, out
    host = host_of(only_deployment(emu, "adv")["url"])

    assert emu.site(host, "/api/add").text == "42"                       # the .wasm module
    assert emu.site(host, "/api/x").text == "greetings, s3cret v3"       # modules + secret env var
    r = emu.site(host, "/")                                              # included, falls back to ASSETS
    assert (r.text, r.headers.get("X-From-Worker")) == ("<h1>advanced mode</h1>", "assets")
    r = emu.site(host, "/docs/")                                         # ASSETS applies _headers
    assert (r.text, r.headers.get("X-From-Worker"), r.headers.get("X-Docs")) == ("<p>docs</p>", "assets", "yes")
    r = emu.site(host, "/docs/missing")                                  # ASSETS: 404.html, status 404
    assert (r.status_code, r.text, r.headers.get("X-From-Worker")) == (404, "<h1>custom 404</h1>", "assets")
    # _routes.json: excluded and not-included paths never reach the worker
    r = emu.site(host, "/api/static/file.txt")
    assert (r.text, r.headers.get("X-From-Worker")) == ("a static file under /api", None)
    r = emu.site(host, "/index.html")                                    # Pages' pretty URL redirect
    assert (r.status_code, r.headers["Location"], r.headers.get("X-From-Worker")) == (308, "/", None)
    # the worker's files are not assets
    assert emu.site(host, "/_worker.js/index.js").status_code == 404
    assert emu.site(host, "/_routes.json").status_code == 404

    worker = workers_list(emu)["workers"][0]
    assert worker["modules"] >= 2, worker    # wrangler bundles index.js, keeps the .wasm apart


def test_worker_throwing_at_startup_fails_the_deploy_stage(emu, wrangler, tmp_path):  # noqa: F811
    create_project(emu, "broken")
    site = write(tmp_path / "site", {
        "index.html": "<h1>never live</h1>",
        "_worker.js": "throw new Error('kaput at start-up');\n"
                      "export default { fetch() { return new Response('unreachable'); } };\n"})
    code, out = wrangler("pages", "deploy", str(site), "--project-name", "broken", "--branch", "main",
                         ok=False)
    assert code != 0 and "kaput at start-up" in out, out
    dep = only_deployment(emu, "broken")
    assert dep["latest_stage"]["name"] == "deploy" and dep["latest_stage"]["status"] == "failure", dep
    assert dep["stages"][-1]["status"] == "failure"
    logs = ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/broken/deployments/{dep['id']}/history/logs",
                      params={"size": 10000000}))  # the whole log, as wrangler asks
    assert "Uncaught Error: kaput at start-up" in logs["data"][-1]["line"], logs
    assert logs["data"][-1]["line"].startswith("Error:"), logs
    strict_deployment(dep)
    # never live: no canonical deployment, the site answers 404, nothing runs
    assert get_project(emu, "broken")["canonical_deployment"] is None
    assert emu.site(host_of(dep["url"]), "/").status_code == 404
    assert emu.site("broken.pages.dev", "/").status_code == 404
    assert workers_list(emu)["workers"] == []


# ------------------------------------------------------------------ through the API directly
ECHO_WORKER = b"""
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/kv") {
      await env.CACHE.put("greeting/1", "hello kv", { metadata: { by: "test" }, expirationTtl: 600 });
      const got = await env.CACHE.getWithMetadata("greeting/1");
      const listed = await env.CACHE.list({ prefix: "greeting/" });
      await env.CACHE.delete("greeting/1");
      return Response.json({ got, names: listed.keys.map((k) => k.name), after: await env.CACHE.get("greeting/1") });
    }
    if (url.pathname === "/d1") {
      await env.DB.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)");
      await env.DB.prepare("INSERT INTO notes (body) VALUES (?1)").bind(url.search.slice(1)).run();
      const { results } = await env.DB.prepare("SELECT id, body FROM notes ORDER BY id").all();
      const count = await env.DB.prepare("SELECT count(*) AS n FROM notes").first("n");
      return Response.json({ results, count });
    }
    if (url.pathname === "/d1-error") {
      try { await env.DB.prepare("SELECT * FROM nowhere").all(); } catch (e) { return new Response(e.message); }
    }
    if (url.pathname === "/r2") return new Response(String(await env.FILES.get("k")));
    if (url.pathname === "/env") return Response.json({ plain: env.PLAIN, secret: env.SECRET });
    if (url.pathname === "/url") return new Response(request.url);
    return new Response(`worker ${request.method} ${url.pathname}${url.search}`,
                        { headers: { "Set-Cookie": "a=1" } });
  },
};
"""


def _worker_deploy(emu, project, worker=ECHO_WORKER, **special):
    files = {"_worker.js": worker, **special}
    return deploy(emu, project, {"/index.html": (b"<h1>static</h1>", "text/html")}, files)


@pytest.mark.parametrize("failure, message", [
    (b"export default { fetch() { return new Response('x') ; } ;", "SyntaxError"),
    (b"import './nowhere.js';\nexport default { fetch() { return new Response('x'); } };",
     'No such module "nowhere.js"'),
])
def test_deploy_check_reports_the_runtime_error(emu, failure, message):
    create_project(emu, "chk")
    first = _worker_deploy(emu, "chk")
    assert first["latest_stage"]["status"] in ("active", "success")
    assert wait_deployed(emu, "chk", first["id"])["latest_stage"]["status"] == "success"
    bad = _worker_deploy(emu, "chk", failure)
    # while the check runs the deploy stage is active; the project's live deployment does not move
    assert bad["latest_stage"]["name"] == "deploy"
    done = wait_deployed(emu, "chk", bad["id"])
    assert done["latest_stage"]["status"] == "failure" and done["latest_stage"]["ended_on"], done
    logs = ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/chk/deployments/{bad['id']}/history/logs",
                      params={"size": 10000000}))  # the whole log, as wrangler asks
    line = logs["data"][-1]["line"]
    assert message in line, line
    assert get_project(emu, "chk")["canonical_deployment"]["id"] == first["id"]
    assert emu.site("chk.pages.dev", "/x").text == "worker GET /x"
    # a rollback to the failed deployment is refused like for a failed build
    r = emu.api("POST", f"/accounts/{{a}}/pages/projects/chk/deployments/{bad['id']}/rollback")
    assert error_of(r)[:2] == (400, 8000038)


def test_stages_bindings_and_request_details(emu):
    create_project(emu, "echo", deployment_configs={"production": {
        "env_vars": {"PLAIN": {"value": "p"}, "SECRET": {"type": "secret_text", "value": "s"}},
        "kv_namespaces": {"CACHE": {"namespace_id": "0f2ac74b498b48028cb68387c421e279"}},
        "d1_databases": {"DB": {"id": "445e2955-8ec0-4ed5-8c5c-5e8b7d6a7f1e"}},
        "r2_buckets": {"FILES": {"name": "files"}},
        "compatibility_flags": ["nodejs_compat"]}})
    dep = _worker_deploy(emu, "echo")
    # the POST answers before the check ends; the deploy stage then ends in success
    assert dep["latest_stage"]["name"] == "deploy"
    done = wait_deployed(emu, "echo", dep["id"])
    assert done["latest_stage"]["status"] == "success" and done["latest_stage"]["ended_on"]
    assert done["env_vars"]["SECRET"] == {"type": "secret_text", "value": ""}   # still masked
    host = host_of(done["url"])
    r = requests.put(emu.root_url + "/some/where?q=1", headers={"Host": host}, data=b"body", timeout=30)
    assert (r.status_code, r.text, r.headers["Set-Cookie"]) == (200, "worker PUT /some/where?q=1", "a=1")
    assert emu.site(host, "/env").json() == {"plain": "p", "secret": "s"}
    # the worker sees the site's https URL, without the emulator's port
    assert emu.site(host + ":8443", "/url?a=%C3%A9").text == f"https://{host}/url?a=%C3%A9"
    # KV and D1: local stand-ins (data kept in the emulator's data dir)
    assert emu.site(host, "/kv").json() == {
        "got": {"value": "hello kv", "metadata": {"by": "test"}, "cacheStatus": None},
        "names": ["greeting/1"], "after": None}
    assert emu.site(host, "/d1?first").json() == {"results": [{"id": 1, "body": "first"}], "count": 1}
    assert emu.site(host, "/d1?second").json()["count"] == 2
    assert "no such table: nowhere" in emu.site(host, "/d1-error").text
    r = emu.site(host, "/r2")   # R2 is not emulated: a clear answer, not a crash
    assert r.status_code == 501 and "binding FILES (deployment_configs.r2_buckets) is not emulated" in r.text


def test_worker_reload_keeps_every_deployment_serving(emu):
    create_project(emu, "many")
    ids = []
    for i in range(3):
        worker = b"export default { fetch() { return new Response('v%d'); } };" % i
        d = _worker_deploy(emu, "many", worker)
        wait_deployed(emu, "many", d["id"])
        ids.append(d)
    for i, d in enumerate(ids):
        assert emu.site(host_of(d["url"]), "/").text == f"v{i}"
    listed = {w["deployment_id"] for w in workers_list(emu)["workers"]}
    assert listed == {d["id"] for d in ids}
    # deleting a deployment: it stops answering (and leaves the runtime on the next reload)
    ok(emu.api("DELETE", f"/accounts/{{a}}/pages/projects/many/deployments/{ids[1]['id']}?force=true"))
    assert emu.site(host_of(ids[1]["url"]), "/").status_code == 404
    assert emu.site(host_of(ids[2]["url"]), "/").text == "v2"


def test_malformed_worker_upload_is_refused(emu):
    create_project(emu, "bad-upload")
    manifest = upload(emu, "bad-upload", {"/index.html": b"x"})
    boundary = "b0und"
    no_main = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
               f"{{\"main_module\": \"index.js\"}}\r\n--{boundary}--\r\n").encode()
    bad_type = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
                f"{{\"main_module\": \"index.js\"}}\r\n--{boundary}\r\n"
                f"Content-Disposition: form-data; name=\"index.js\"; filename=\"index.js\"\r\n"
                f"Content-Type: text/x-python\r\n\r\nprint(1)\r\n--{boundary}--\r\n").encode()
    for files in ({"_worker.bundle": b"not multipart"}, {"_worker.bundle": no_main},
                  {"_worker.bundle": bad_type}, {"_worker.js": b"\xff\xfe"},
                  {"_worker.js": b"export default {}", "_routes.json": b'{"version": 1, "include": '},
                  {"_worker.js": b"export default {}", "_routes.json": b'{"version": 1, "include": ["api"]}'}):
        r = post_deployment(emu, "bad-upload", manifest, files)
        status, code, message = error_of(r)
        assert (status, code) == (400, 8000100), (files, r.text)
        assert message.startswith("The deployment's worker cannot be read: "), message
    assert ok(emu.api("GET", "/accounts/{a}/pages/projects/bad-upload/deployments")) == []


def test_without_workerd_nothing_pretends(start_emulator):
    emu = start_emulator("--workerd", "none")
    health = requests.get(emu.root_url + "/__emulator/health", timeout=10).json()
    assert health["workers"] == {"executed": False, "reason": "disabled with --workerd none"}
    assert any("workers are NOT executed" in line for line in emu.output)
    create_project(emu, "static-only")
    dep = wait_deployed(emu, "static-only", _worker_deploy(emu, "static-only")["id"])
    assert dep["latest_stage"]["status"] == "success"
    logs = ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/static-only/deployments/{dep['id']}/history/logs",
                      params={"size": 10000000}))  # the whole log, as wrangler asks
    assert any("the worker was not executed" in e["line"] for e in logs["data"]), logs
    r = emu.site(host_of(dep["url"]), "/")
    assert (r.text, r.headers["X-Pages-Emulator-Worker"]) == ("<h1>static</h1>", "not-executed")


def test_restart_keeps_workers_and_their_kv_data(start_emulator):
    emu = start_emulator()
    create_project(emu, "durable", deployment_configs={"production": {
        "kv_namespaces": {"CACHE": {"namespace_id": "5b1c8a3f0d2e4c6b8a9f1e2d3c4b5a69"}}}})
    counter = b"""
export default {
  async fetch(request, env) {
    const n = Number(await env.CACHE.get("hits") || 0) + 1;
    await env.CACHE.put("hits", String(n));
    return new Response(String(n));
  },
};
"""
    dep = wait_deployed(emu, "durable", _worker_deploy(emu, "durable", counter)["id"])
    assert [emu.site("durable.pages.dev", "/").text for _ in range(2)] == ["1", "2"]
    emu.restart()
    assert get_deployment(emu, "durable", dep["id"])["latest_stage"]["status"] == "success"
    assert emu.site("durable.pages.dev", "/").text == "3"
    emu.reset()   # reset clears KV data with everything else
    assert not (emu.data_dir / "bindings" / "kv.sqlite3").exists()


def test_deploy_check_cut_short_by_a_stop_runs_again_at_start(start_emulator, tmp_path):
    # a "workerd" that never gets ready: the check is still pending when the emulator stops
    hanging = tmp_path / "hanging-workerd"
    hanging.write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "workerd test"; exit 0; }\nexec sleep 30\n')
    hanging.chmod(0o755)
    emu = start_emulator("--workerd", str(hanging))
    create_project(emu, "resumed")
    dep = _worker_deploy(emu, "resumed")
    time.sleep(0.3)
    assert get_deployment(emu, "resumed", dep["id"])["latest_stage"]["status"] == "active"
    emu.stop()
    emu.args = [a for a in emu.args if a not in ("--workerd", str(hanging))]   # the real workerd
    emu.start()
    assert wait_deployed(emu, "resumed", dep["id"])["latest_stage"]["status"] == "success"
    assert emu.site("resumed.pages.dev", "/x").text == "worker GET /x"


def _bundle(main: str, parts: list) -> bytes:
    """A `_worker.bundle` as wrangler writes it: `metadata`, then one part per module."""
    boundary = "----formdata-undici-0123456789"
    out = [f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
           f'{json.dumps({"main_module": main})}\r\n'.encode()]
    for name, ctype, data in parts:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                   f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def test_bundle_module_kinds(emu):
    main = b"""
import text from "./greeting.txt";
import data from "./bytes.bin";
import add from "./math/add.wasm";
import config from "./config.json";
import legacy from "./legacy.cjs";
export default {
  fetch() {
    const sum = new WebAssembly.Instance(add).exports.add(1, 2);
    return Response.json({ text, bytes: [...new Uint8Array(data)], sum, config, legacy: legacy.answer });
  },
};
"""
    bundle = _bundle("index.js", [
        ("index.js", "application/javascript+module", main),
        ("greeting.txt", "text/plain", "héllo".encode()),
        ("bytes.bin", "application/octet-stream", bytes([0, 1, 255])),
        ("math/add.wasm", "application/wasm", ADD_WASM),
        ("config.json", "application/json", b'{"mode": "test"}'),
        ("legacy.cjs", "application/javascript", b"module.exports = { answer: 42 };"),
    ])
    create_project(emu, "kinds")
    dep = wait_deployed(emu, "kinds", deploy(emu, "kinds", {"/index.html": b"i"}, {"_worker.bundle": bundle})["id"])
    assert dep["latest_stage"]["status"] == "success", dep
    assert emu.site(host_of(dep["url"]), "/").json() == {
        "text": "héllo", "bytes": [0, 1, 255], "sum": 3, "config": {"mode": "test"}, "legacy": 42}


def test_nodejs_compat_by_default_from_2026_08_04():
    """Cloudflare turns nodejs_compat on by default from the compatibility date 2026-08-04 (and
    wrangler 4.122+ then bundles polyfills importing node:*): said explicitly for a workerd run at
    an older date, left out (redundant, rejected) for a workerd at a newer one."""
    from pages_emulator.workers import runtime_flags

    assert runtime_flags("2026-12-06", "2026-05-03", []) == ["nodejs_compat"]
    assert runtime_flags("2026-08-04", "2026-05-03", ["x"]) == ["x", "nodejs_compat"]
    assert runtime_flags("2026-08-03", "2026-05-03", []) == []
    assert runtime_flags("2026-12-06", "2026-05-03", ["no_nodejs_compat"]) == ["no_nodejs_compat"]
    assert runtime_flags("2026-12-06", "2026-05-03", ["nodejs_compat"]) == ["nodejs_compat"]
    assert runtime_flags("2026-12-06", "2026-11-17", ["nodejs_compat", "nodejs_compat_v2", "y"]) == ["y"]
    assert runtime_flags("2025-01-01", "2025-01-01", ["nodejs_compat"]) == ["nodejs_compat"]
