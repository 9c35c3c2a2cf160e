"""Conformance: the emulator serves a Worker's static assets as ``wrangler dev`` serves them.

``wrangler dev`` runs Cloudflare's own router and asset workers (workers-sdk
``packages/workers-shared``) in front of the Worker. The same project (assets with ``_headers`` and
``_redirects``, with or without code) is deployed to the emulator with ``wrangler deploy`` and served
by ``wrangler dev``, for several configurations (every ``html_handling``, every
``not_found_handling``, ``run_worker_first`` rules, the assets binding); every path is requested
from both, and status, ``Location``, body and every header but transport ones are compared. The
ETag is compared by presence only: wrangler dev makes up its own per run, the edge (and the
emulator) use the uploaded file's hash.
"""
from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from conformance_helpers import wrangler_env, wrangler_or_skip

DATE = "2025-06-01"
PUBLIC = {
    "index.html": b"<!doctype html><h1>home</h1>\n",
    "about.html": b"<h1>about</h1>",
    "blog/index.html": b"<h1>blog</h1>",
    "guide/setup.html": b"<h1>setup</h1>",
    "docs/404.html": b"<h1>docs: not found</h1>",
    "404.html": b"<h1>not found</h1>",
    "style.css": b"body{}",
    "data.json": b'{"a": 1}',
    "LICENSE": b"license text\n",
    "api/static/a.txt": b"static a\n",
    "_headers": b"/about\n  X-About: yes\n/blog/*\n  X-Blog: :splat\n/*\n  X-All: y\n  ! Cache-Control\n"
                b"/style.css\n  Cache-Control: max-age=60\n",
    "_redirects": b"/old /about 301\n/temp /blog/ 307\n/gone /about 308\n/see /about 303\n/found /about\n"
                  b"/ext https://example.com/x?y=1 302\n/rewrite /about 200\n/news/* /blog/:splat 301\n"
                  b"/u/:name /guide/:name 302\n",
}
WORKER = (b"export default { async fetch(request, env) {\n"
          b"  const url = new URL(request.url);\n"
          b"  if (url.pathname.startsWith('/api/assets/'))\n"
          b"    return env.ASSETS.fetch(new URL(url.pathname.slice('/api/assets'.length), url));\n"
          b"  return new Response('worker:' + request.method + ' ' + url.pathname + url.search,\n"
          b"                      { status: 201, headers: { 'X-From': 'worker' } });\n} };\n")
PATHS = ["/", "/index.html", "/index", "/about", "/about.html", "/about/", "/about/index.html", "/blog", "/blog/",
         "/blog/index.html", "/blog/index", "/guide/setup", "/guide/setup/", "/guide/setup.html", "/guide",
         "/docs/x", "/docs/", "/nope", "/x/y/z", "/style.css", "/data.json", "/LICENSE", "/old?q=1", "/temp",
         "/gone", "/see", "/found", "/ext", "/rewrite", "/news/a?b=c", "/u/setup", "/api/x", "/api/static/a.txt",
         "/api/assets/about", "/api/assets/nope", "/ab%6fut", "/%7Eabout", "/_headers", "/_redirects"]
SCENARIOS = {
    "auto, 404-page": {"html_handling": "auto-trailing-slash", "not_found_handling": "404-page"},
    "force, single-page-application": {"html_handling": "force-trailing-slash",
                                       "not_found_handling": "single-page-application"},
    "drop, none, worker with rules": {"html_handling": "drop-trailing-slash", "worker": True,
                                      "run_worker_first": ["/api/*", "!/api/static/*"]},
    "none, single-page-application, worker": {"html_handling": "none", "worker": True,
                                              "not_found_handling": "single-page-application"},
    "auto, worker first": {"worker": True, "run_worker_first": True},
}
IGNORED = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length", "etag"}
IDENTITY = {"Accept-Encoding": "identity"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _project(root: Path, name: str, scenario: dict) -> Path:
    for rel, data in PUBLIC.items():
        (root / "public" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "public" / rel).write_bytes(data)
    assets = {"directory": "public", **{k: v for k, v in scenario.items() if k != "worker"}}
    config = {"name": name, "compatibility_date": DATE, "assets": assets}
    if scenario.get("worker"):
        (root / "src").mkdir(exist_ok=True)
        (root / "src" / "index.js").write_bytes(WORKER)
        config["main"] = "src/index.js"
        assets["binding"] = "ASSETS"
    (root / "wrangler.json").write_text(json.dumps(config))
    return root


@pytest.fixture
def served(emu, tmp_path, request):
    scenario = SCENARIOS[request.param]
    exe = wrangler_or_skip()
    name = "conf"
    root = _project(tmp_path / "project", name, scenario)
    env = wrangler_env(tmp_path / "home", TMPDIR=str(tmp_path))
    port = _free_port()
    log = open(tmp_path / "dev.log", "wb")  # noqa: SIM115 (closed below)
    dev = subprocess.Popen(   # started first: it takes the longest
        [str(exe), "dev", "--ip", "127.0.0.1", "--port", str(port), "--inspector-port", str(_free_port()),
         "--log-level", "warn", "--show-interactive-dev-session=false"],
        cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deploy_env = {**env, "CLOUDFLARE_API_BASE_URL": emu.base_url, "CLOUDFLARE_API_TOKEN": emu.token,
                      "CLOUDFLARE_ACCOUNT_ID": emu.account}
        out = subprocess.run([str(exe), "deploy"], cwd=root, env=deploy_env, capture_output=True, text=True,
                             timeout=180, check=False, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stdout + out.stderr
        dev_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(dev_url + "/", timeout=2)
                break
            except requests.ConnectionError:
                if dev.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("wrangler dev did not start:\n" + (tmp_path / "dev.log").read_text(errors="replace")[-3000:])
                time.sleep(0.2)
        host = f"{name}.{emu.account[:8]}.workers.dev"

        def from_emulator(method, path, headers=None):
            return requests.request(method, emu.root_url + path, headers={"Host": host, **IDENTITY, **(headers or {})},
                                    allow_redirects=False, timeout=30)

        def from_dev(method, path, headers=None):
            return requests.request(method, dev_url + path, headers={**IDENTITY, **(headers or {})},
                                    allow_redirects=False, timeout=30)

        yield from_emulator, from_dev
    finally:
        dev.terminate()
        try:
            dev.wait(10)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait(5)
        log.close()


def _shape(resp) -> dict:
    headers = {k.lower(): v for k, v in resp.headers.items() if k.lower() not in IGNORED}
    location = resp.headers.get("Location", "")
    if location.startswith("http://127.0.0.1:"):   # dev's origin for an absolute redirect to itself
        headers["location"] = "/" + location.split("/", 3)[3]
    return {"status": resp.status_code, "headers": dict(sorted(headers.items())), "body": resp.content,
            "etag": "etag" in {k.lower() for k in resp.headers}}


@pytest.mark.parametrize("served", list(SCENARIOS), indirect=True)
def test_worker_assets_served_as_wrangler_dev_serves_them(served):
    from_emulator, from_dev = served
    cases = [("GET", p, None) for p in PATHS]
    cases += [("HEAD", p, None) for p in ("/about", "/about.html", "/nope")]
    cases += [("POST", p, None) for p in ("/about", "/old", "/nope", "/api/x")]
    cases += [("GET", p, {"Sec-Fetch-Mode": "navigate"}) for p in ("/nope", "/x/y/z", "/api/x")]
    cases += [("GET", "/about", {"Authorization": "Bearer x"}), ("GET", "/about", {"Range": "bytes=0-3"})]
    differences = []
    for method, path, headers in cases:
        ours, theirs = _shape(from_emulator(method, path, headers)), _shape(from_dev(method, path, headers))
        if ours != theirs:
            differences.append(f"{method} {path} {headers or ''}\n  emulator:   {ours}\n  wrangler dev: {theirs}")
    for source in (from_emulator, from_dev):   # If-None-Match with each side's own ETag (assets only)
        etag = source("GET", "/style.css").headers.get("ETag")
        if etag and source("GET", "/style.css", {"If-None-Match": etag}).status_code != 304:
            differences.append(f"{source.__name__}: If-None-Match {etag} is not a 304")
    assert not differences, f"{len(differences)} of {len(cases)} differ:\n" + "\n".join(differences)
    # what the comparison covers, so it cannot pass by comparing two empty answers
    statuses = {from_emulator(m, p, h).status_code for m, p, h in cases}
    assert 200 in statuses and len(statuses) >= 3, statuses
