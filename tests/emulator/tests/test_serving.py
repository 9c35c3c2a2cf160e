"""Serving deployed files by Host: lookup rules, 404 pages, unicode, _redirects, _headers.

test_static_conformance.py compares the same rules with `wrangler pages dev`, path by path."""
import os
from urllib.parse import quote

import requests

from emu_helpers import create_project, deploy, ok

SITE = {
    "/index.html": (b"<h1>home</h1>", "text/html"),
    "/about.html": (b"about", "text/html"),
    "/docs/index.html": (b"docs", "text/html"),
    "/404.html": (b"top 404", "text/html"),
    "/blog/404.html": (b"blog 404", "text/html"),
    "/blog/post.html": (b"post", "text/html"),
    "/img/logo.png": (bytes(range(256)) * 4, "image/png"),
    "/app.js": (b"console.log(1)", "application/javascript"),
    "/caf\u00e9/\u00fcber n\u00e4me.txt": ("unicode \u2713".encode(), "text/plain"),
    "/new.html": (b"new page", "text/html"),
}


def make_site(emu, name="web", special=None, files=None, **fields):
    create_project(emu, name)
    return deploy(emu, name, files or SITE, special=special, **fields)


def test_lookup_rules(emu):
    """Pages' route matching (test_static_conformance.py compares it all with wrangler pages dev)."""
    d = make_site(emu)
    host = f"{d['short_id']}.web.pages.dev"
    cases = {"/": b"<h1>home</h1>", "/about": b"about", "/docs/": b"docs", "/blog/post": b"post"}
    for path, body in cases.items():
        r = emu.site(host, path)
        assert (r.status_code, r.content) == (200, body), path
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"   # text types get a charset
    # the canonical URL of a page has no .html and no index.html; a directory ends with /
    redirects = {"/index.html": "/", "/about.html": "/about", "/about/": "/about", "/docs": "/docs/",
                 "/docs/index.html": "/docs/", "/about.html?x=1": "/about?x=1"}
    for path, location in redirects.items():
        r = emu.site(host, path)
        assert (r.status_code, r.headers["Location"], r.content) == (308, location, b""), path
    r = emu.site(host, "/img/logo.png")
    assert r.content == SITE["/img/logo.png"][0] and r.headers["Content-Type"] == "image/png"
    assert emu.site(host, "/app.js").headers["Content-Type"] == "application/javascript"
    r = emu.site(host, "/" + quote("caf\u00e9") + "/" + quote("\u00fcber n\u00e4me.txt"))
    assert (r.status_code, r.content) == (200, "unicode \u2713".encode())
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    # 404 pages: nearest 404.html walking up
    r = emu.site(host, "/nope")
    assert (r.status_code, r.content) == (404, b"top 404")
    r = emu.site(host, "/blog/missing/deeper")
    assert (r.status_code, r.content) == (404, b"blog 404")
    # HEAD has no body; other methods are refused; the port in Host is ignored
    r = requests.head(emu.root_url + "/about", headers={"Host": host})
    assert r.status_code == 200 and r.content == b""
    assert requests.post(emu.root_url + "/", headers={"Host": host}).status_code == 405
    assert emu.site(f"{host}:{emu.port}", "/about").content == b"about"


def test_single_page_fallback_without_404_page(emu):
    """No 404.html on the way up: Pages takes the site for a single-page application and answers
    with /index.html (200); with no index.html either, an empty 404."""
    d = make_site(emu, files={"/index.html": b"i", "/app/page.html": b"p"})
    r = emu.site(f"{d['short_id']}.web.pages.dev", "/missing/route")
    assert (r.status_code, r.content) == (200, b"i")
    create_project(emu, "bare")
    d = deploy(emu, "bare", {"/page.html": b"p"})
    r = emu.site(f"{d['short_id']}.bare.pages.dev", "/missing")
    assert (r.status_code, r.content, r.headers["Cache-Control"]) == (404, b"", "no-store")


def test_hosts(emu):
    create_project(emu, "hosts")
    prod = deploy(emu, "hosts", {"/index.html": b"prod1"})
    prev = deploy(emu, "hosts", {"/index.html": b"preview"}, branch="Feature/One")
    assert emu.site("hosts.pages.dev").content == b"prod1"
    assert emu.site(f"{prod['short_id']}.hosts.pages.dev").content == b"prod1"
    assert emu.site(f"{prev['short_id']}.hosts.pages.dev").content == b"preview"
    assert emu.site("feature-one.hosts.pages.dev").content == b"preview"
    assert emu.site("HOSTS.pages.dev").content == b"prod1"
    prod2 = deploy(emu, "hosts", {"/index.html": b"prod2"})
    assert emu.site("hosts.pages.dev").content == b"prod2"
    assert emu.site(f"{prod['short_id']}.hosts.pages.dev").content == b"prod1"
    ok(emu.api("POST", f"/accounts/{{a}}/pages/projects/hosts/deployments/{prod['id']}/rollback"))
    assert emu.site("hosts.pages.dev").content == b"prod1"
    assert emu.site(f"{prod2['short_id']}.hosts.pages.dev").content == b"prod2"
    for host in ("nothing.pages.dev", "zzzzzzzz.hosts.pages.dev", "x.nothing.pages.dev"):
        r = emu.site(host)
        assert r.status_code == 404 and not r.headers["Content-Type"].startswith("application/json")


def test_nothing_live_yet(emu):
    create_project(emu, "empty")
    assert emu.site("empty.pages.dev").status_code == 404
    deploy(emu, "empty", {"/index.html": b"p"}, branch="dev")
    assert emu.site("empty.pages.dev").status_code == 404
    assert emu.site("dev.empty.pages.dev").content == b"p"


def test_deleted_branch_alias_and_deployment_urls_answer_404(emu):
    """A preview clean-up: once every deployment of a branch is deleted, its alias and the deployments'
    own hosts answer 404 (as Pages does); until then the alias serves the next-newest one."""
    create_project(emu, "tidy")
    deploy(emu, "tidy", {"/index.html": b"prod"})
    old = deploy(emu, "tidy", {"/index.html": b"old"}, branch="Feature/Old")
    new = deploy(emu, "tidy", {"/index.html": b"new"}, branch="Feature/Old")
    other = deploy(emu, "tidy", {"/index.html": b"other"}, branch="other")
    alias = "feature-old.tidy.pages.dev"
    assert new["aliases"] == [f"https://{alias}"] and emu.site(alias).content == b"new"

    def delete(d):
        ok(emu.api("DELETE", f"/accounts/{{a}}/pages/projects/tidy/deployments/{d['id']}", params={"force": "true"}))

    delete(new)
    assert emu.site(alias).content == b"old"  # the alias moved to the branch's next-newest deployment
    assert emu.site(f"{new['short_id']}.tidy.pages.dev").status_code == 404
    delete(old)
    for host in (alias, f"{old['short_id']}.tidy.pages.dev", f"{new['short_id']}.tidy.pages.dev"):
        r = emu.site(host, "/index.html")
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/plain"), host
    assert emu.site("tidy.pages.dev").content == b"prod"
    assert emu.site("other.tidy.pages.dev").content == b"other"
    assert emu.site(f"{other['short_id']}.tidy.pages.dev").content == b"other"


REDIRECTS = b"""# comment
/old /new 301
/temp /about
/perm /about 308
/see /about 303
/tmp7 /about 307
/blog/* /posts/:splat 301
/users/:id/profile /u/:id 302
/rewrite /new 200
/spa/* /index.html 200
https://:sub.web.pages.dev/abs /about 301
/broken
/bad-status /x 404
/old /never-reached 302
"""


def test_redirects(emu):
    d = make_site(emu, special={"_redirects": REDIRECTS})
    host = f"{d['short_id']}.web.pages.dev"

    def check(path, status, location=None):
        r = emu.site(host, path)
        assert r.status_code == status, path
        if location:
            assert r.headers["Location"] == location
        return r

    assert check("/old", 301, "/new").content == b"Redirecting to /new"
    assert check("/perm", 308, "/about").content == b""
    check("/temp", 302, "/about")
    check("/perm", 308, "/about")
    check("/see", 303, "/about")
    check("/tmp7", 307, "/about")
    check("/blog/2024/hello", 301, "/posts/2024/hello")
    check("/users/42/profile", 302, "/u/42")
    assert check("/rewrite", 200).content == b"new page"
    # `/* /index.html` would loop with the /index.html → / redirect: Pages ignores such a rule
    assert check("/spa/any/route", 404).content == b"top 404"
    check("/blog/x?y=1", 301, "/posts/x?y=1")    # the query goes along
    check("/abs", 301, "/about")
    check("/broken", 404)      # invalid rule ignored
    check("/bad-status", 404)  # unsupported status ignored


HEADERS = b"""/*
  X-Frame-Options: DENY
  X-Shared: one
/img/*
  Cache-Control: public, max-age=31536000
  X-Shared: two
/secure/*
  ! X-Frame-Options
/users/:id
  X-User: :id
"""


def test_headers(emu):
    files = dict(SITE)
    files["/secure/page.html"] = (b"s", "text/html")
    files["/users/7.html"] = (b"u", "text/html")
    d = make_site(emu, files=files, special={"_headers": HEADERS, "_redirects": b"/go /about 301\n"})
    host = f"{d['short_id']}.web.pages.dev"
    r = emu.site(host, "/img/logo.png")
    assert r.headers["Cache-Control"] == "public, max-age=31536000"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Shared"] == "one, two"
    r = emu.site(host, "/about")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert "X-Frame-Options" not in emu.site(host, "/secure/page.html").headers
    assert emu.site(host, "/users/7").headers["X-User"] == "7"
    r = emu.site(host, "/missing")
    assert r.status_code == 404 and r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Cache-Control"] == "no-store"      # a 404 is never cached
    r = emu.site(host, "/go")       # _headers applies to redirects too
    assert r.status_code == 301 and r.headers["X-Frame-Options"] == "DENY"


def test_special_files_are_not_served(emu):
    d = make_site(emu, files={"/index.html": b"i", "/404.html": b"nf"}, special={"_headers": b"/*\n  X: y\n"})
    r = emu.site(f"{d['short_id']}.web.pages.dev", "/_headers")
    assert (r.status_code, r.content) == (404, b"nf")


def test_large_binary_round_trip(emu):
    blob = os.urandom(3 * 1024 * 1024)
    create_project(emu, "big")
    d = deploy(emu, "big", {"/big.bin": (blob, "application/octet-stream")})
    r = emu.site(f"{d['short_id']}.big.pages.dev", "/big.bin")
    assert r.content == blob


def test_site_requests_are_not_logged_or_faulted(emu):
    d = make_site(emu, files={"/index.html": b"i"})
    before = len(emu.requests_log())
    emu.config(fault_rate=1.0, fault_seed=1)
    for _ in range(5):
        assert emu.site(f"{d['short_id']}.web.pages.dev").status_code == 200
    emu.config(fault_rate=0.0)
    assert len(emu.requests_log()) == before


def test_headers_match_the_request_path_on_rewrites(emu):
    d = make_site(emu, special={"_redirects": b"/pretty /new 200\n",
                                "_headers": b"/pretty\n  X-Pretty: yes\n/new\n  X-New: yes\n"})
    r = emu.site(f"{d['short_id']}.web.pages.dev", "/pretty")
    assert r.status_code == 200 and r.content == b"new page"
    assert r.headers["X-Pretty"] == "yes" and "X-New" not in r.headers
