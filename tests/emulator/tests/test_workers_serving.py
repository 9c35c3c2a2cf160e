"""Serving ``<script>.<subdomain>.workers.dev``: Workers static-assets rules (html_handling,
not_found_handling, run_worker_first, _headers, _redirects; developers.cloudflare.com/workers/static-assets/routing/
and the asset/router workers of workers-sdk ``packages/workers-shared``) and the Worker in workerd
with its assets binding, vars and secrets."""
from __future__ import annotations

import pytest
from emu_helpers import ok
from workers_helpers import deploy_worker, host_of

SITE = {
    "/index.html": b"<h1>home</h1>",
    "/about.html": b"<h1>about</h1>",
    "/blog/index.html": b"<h1>blog</h1>",
    "/404.html": b"<h1>not here</h1>",
    "/sub/404.html": b"<h1>sub: not here</h1>",
    "/api/static/a.txt": b"static a",
    "/file.txt": b"plain",
}
HEADERS = "/about\n  X-Test: yes\n/blog/*\n  X-Blog: :splat\n"
REDIRECTS = "/old /about 301\n/go https://example.com/there 302\n/proxy /about 200\n"
WORKER = {"index.js": b"""
export default { async fetch(request, env) {
  const url = new URL(request.url);
  if (url.pathname === '/env') return new Response(`${env.GREETING}|${env.TOKEN}|${typeof env.ASSETS}`);
  const assets = env.STATIC || env.ASSETS;
  if (url.pathname.startsWith('/wrapped')) {
    const r = await assets.fetch(new URL('/about', url));
    return new Response('wrapped:' + await r.text(), { status: r.status });
  }
  return new Response('worker:' + url.pathname, { headers: { 'X-From': 'worker' } });
} };
"""}


def _site(emu, name, config=None, **kw):
    deploy_worker(emu, name, SITE, config=dict(config or {}, _headers=HEADERS, _redirects=REDIRECTS), **kw)
    return host_of(emu, name)


def _answers(emu, host, paths):
    out = {}
    for path in paths:
        r = emu.site(host, path)
        out[path] = (r.status_code, r.headers.get("Location") or r.text)
    return out


HTML_HANDLING = {
    "auto-trailing-slash": {
        "/": (200, "<h1>home</h1>"), "/index.html": (307, "/"), "/about": (200, "<h1>about</h1>"),
        "/about.html": (307, "/about"), "/about/": (307, "/about"), "/blog": (307, "/blog/"),
        "/blog/": (200, "<h1>blog</h1>"), "/blog/index.html": (307, "/blog/"), "/blog/index": (307, "/blog/"),
        "/file.txt": (200, "plain"),
    },
    "force-trailing-slash": {
        "/": (200, "<h1>home</h1>"), "/about": (307, "/about/"), "/about/": (200, "<h1>about</h1>"),
        "/about.html": (307, "/about/"), "/blog": (307, "/blog/"), "/blog/": (200, "<h1>blog</h1>"),
    },
    "drop-trailing-slash": {
        "/": (200, "<h1>home</h1>"), "/index.html": (307, "/"), "/about": (200, "<h1>about</h1>"),
        "/about/": (307, "/about"), "/blog/": (307, "/blog"), "/blog": (200, "<h1>blog</h1>"),
        "/blog/index.html": (307, "/blog"),
    },
    "none": {
        "/": (404, ""), "/index.html": (200, "<h1>home</h1>"), "/about": (404, ""),
        "/about.html": (200, "<h1>about</h1>"), "/blog/": (404, ""),
    },
}


@pytest.mark.parametrize("mode", list(HTML_HANDLING))
def test_html_handling(emu, mode):
    host = _site(emu, "site", {"html_handling": mode} if mode != "auto-trailing-slash" else {})
    assert _answers(emu, host, HTML_HANDLING[mode]) == HTML_HANDLING[mode]


def test_not_found_handling(emu):
    none = _site(emu, "none")
    r = emu.site(none, "/nope")
    assert (r.status_code, r.content) == (404, b"")       # Workers: no SPA fallback by default (Pages has one)
    page = _site(emu, "page", {"not_found_handling": "404-page"})
    assert _answers(emu, page, ["/nope", "/sub/deeper/x", "/sub/x"]) == {
        "/nope": (404, "<h1>not here</h1>"), "/sub/deeper/x": (404, "<h1>sub: not here</h1>"),
        "/sub/x": (404, "<h1>sub: not here</h1>")}
    spa = _site(emu, "spa", {"not_found_handling": "single-page-application"})
    assert _answers(emu, spa, ["/app/route", "/about"]) == {
        "/app/route": (200, "<h1>home</h1>"), "/about": (200, "<h1>about</h1>")}


def test_headers_redirects_etag_and_no_pages_defaults(emu):
    host = _site(emu, "site")
    about = emu.site(host, "/about")
    assert about.headers["X-Test"] == "yes" and about.headers["Content-Type"] == "text/html"
    assert about.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    for pages_only in ("Access-Control-Allow-Origin", "Referrer-Policy", "X-Content-Type-Options"):
        assert pages_only not in about.headers
    assert emu.site(host, "/blog/").headers.get("X-Blog") == ""
    assert "X-Test" not in emu.site(host, "/").headers
    etag = about.headers["ETag"]
    assert emu.site(host, "/about", headers={"If-None-Match": etag}).status_code == 304
    old = emu.site(host, "/old?x=1")
    assert (old.status_code, old.headers["Location"], old.content) == (301, "/about?x=1", b"")
    assert emu.site(host, "/go").headers["Location"] == "https://example.com/there"
    assert _answers(emu, host, ["/proxy"]) == {"/proxy": (200, "<h1>about</h1>")}
    assert emu.site(host, "/about", headers={}).status_code == 200
    r = emu.site(host, "/file.txt")
    assert r.headers["Content-Type"] == "text/plain"
    import requests
    assert requests.post(emu.root_url + "/about", headers={"Host": host}, timeout=10).status_code == 405


def test_assets_first_then_the_worker(emu):
    host = _site(emu, "app", {"not_found_handling": "single-page-application"}, modules=WORKER,
                 bindings=[{"type": "assets", "name": "ASSETS"}])
    assert _answers(emu, host, ["/about", "/nope", "/wrapped"]) == {
        "/about": (200, "<h1>about</h1>"),
        "/nope": (200, "worker:/nope"),            # not_found_handling waits for the Worker
        "/wrapped": (200, "wrapped:<h1>about</h1>")}


@pytest.mark.parametrize("date, flags, navigation_gets", [
    ("2025-06-01", [], "<h1>home</h1>"),                 # on by default from 2025-04-01
    ("2025-01-01", [], "worker:/nope"),
    ("2025-01-01", ["assets_navigation_prefers_asset_serving"], "<h1>home</h1>"),
    ("2025-06-01", ["assets_navigation_has_no_effect"], "worker:/nope"),
])
def test_navigation_requests_prefer_not_found_handling(emu, date, flags, navigation_gets):
    deploy_worker(emu, "app", SITE, modules=WORKER, config={"not_found_handling": "single-page-application"},
                  compatibility_date=date, compatibility_flags=flags)
    host = host_of(emu, "app")
    assert emu.site(host, "/nope", headers={"Sec-Fetch-Mode": "navigate"}).text == navigation_gets
    assert emu.site(host, "/nope", headers={"Sec-Fetch-Mode": "cors"}).text == "worker:/nope"


def test_run_worker_first_true(emu):
    host = _site(emu, "app", {"run_worker_first": True}, modules=WORKER,
                 bindings=[{"type": "assets", "name": "STATIC"}])
    assert _answers(emu, host, ["/about", "/wrapped"]) == {
        "/about": (200, "worker:/about"), "/wrapped": (200, "wrapped:<h1>about</h1>")}


def test_run_worker_first_rules(emu):
    host = _site(emu, "app", {"run_worker_first": ["/api/*", "!/api/static/*"],
                              "not_found_handling": "single-page-application"},
                 modules=WORKER, bindings=[{"type": "assets", "name": "ASSETS"}])
    assert _answers(emu, host, ["/api/users", "/api/static/a.txt", "/about", "/app/route"]) == {
        "/api/users": (200, "worker:/api/users"),
        "/api/static/a.txt": (200, "static a"),
        "/about": (200, "<h1>about</h1>"),
        "/app/route": (200, "<h1>home</h1>"),    # with rules, not_found_handling applies to the rest
    }


def test_vars_secrets_and_binding_name_reach_the_worker(emu):
    host = _site(emu, "app", modules=WORKER, bindings=[
        {"type": "plain_text", "name": "GREETING", "text": "hello"},
        {"type": "secret_text", "name": "TOKEN", "text": "s3cret"}])
    assert emu.site(host, "/env").text == "hello|s3cret|undefined"   # no assets binding declared
    ok(emu.api("PUT", "/accounts/{a}/workers/scripts/app/secrets", json={"name": "TOKEN", "text": "rotated"}))
    assert emu.site(host, "/env").text == "hello|rotated|undefined"


def test_unknown_and_disabled_hosts(emu):
    _site(emu, "app", workers_dev=False)
    sub = emu.account[:8]
    assert emu.site(f"app.{sub}.workers.dev", "/").status_code == 404
    assert emu.site(f"other.{sub}.workers.dev", "/").status_code == 404
    assert emu.site("app.unknown.workers.dev", "/").status_code == 404
