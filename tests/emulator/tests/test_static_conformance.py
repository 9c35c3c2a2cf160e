"""Conformance: the emulator serves a static site as ``wrangler pages dev`` serves it.

``wrangler pages dev`` runs Cloudflare's own implementation of Pages' serving rules (the asset
server of workers-sdk ``packages/pages-shared/asset-server``). One site that exercises the rules
(``.html`` and ``index.html`` pretty URLs and their 308s, trailing slashes, nested ``404.html``,
the single-page fallback where no ``404.html`` applies, ``_headers`` with splats, placeholders and
``!`` removals, ``_redirects`` with every status, splats, placeholders, a query, an external
destination, 200 rewrites, invalid and duplicate lines, content types, HEAD, ETag and
``If-None-Match``, methods other than GET) is deployed to the emulator with ``wrangler pages
deploy`` and served by ``wrangler pages dev``; every path is requested from both and status,
``Location``, content type, body and every header but a few transport ones are compared.

The wrangler executable comes from ``conformance_helpers.wrangler_or_skip`` (``CFPAGES_WRANGLER``
picks another one).
"""
from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from conformance_helpers import host_of, wrangler_env, wrangler_or_skip

PROJECT = "static-conf"
# A date every workerd that wrangler 4 ships supports; a static site does not depend on it.
COMPATIBILITY_DATE = "2024-09-23"

SITE = {
    "index.html": b"<!doctype html><h1>home</h1>\n",
    "about.html": b"<h1>about</h1>",
    "guide/index.html": b"<h1>guide</h1>",
    "guide/setup.html": b"<h1>setup</h1>",
    "blog.html": b"<h1>blog index</h1>",
    "raw": b"extensionless next to raw.html\n",
    "raw.html": b"<p>raw.html</p>",
    "docs/404.html": b"<h1>docs: not found</h1>",
    "docs/intro.html": b"<h1>intro</h1>",
    "docs/deep/page.html": b"<h1>deep</h1>",
    "profile.html": b"<h1>profile</h1>",
    "style.css": b"body { color: red }\n",
    "app.js": b"console.log('x');\n",
    "data.json": b'{"k": [1, 2]}',
    "feed.xml": b"<?xml version='1.0'?><feed/>",
    "notes.txt": "héllo ✓\n".encode(),
    "readme.md": b"# readme\n",
    "img/pixel.png": b"\x89PNG\r\n\x1a\n" + bytes(range(64)),
    "image.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "font.woff2": b"wOF2\x00\x01",
    "LICENSE": b"license text\n",
    "ünï/fïlé.txt": "unicode\n".encode(),
}
REDIRECTS = """\
# every status, first rule wins, a static rule beats an earlier splat
/old-about /about 301
/moved /guide/ 308
/temp /about 307
/see /about 303
/found /about
/blog/* /posts/:splat
/blog/special /about 301
/users/:id /profile.html 200
/shop/:category/:item /store/:category?item=:item 301
/ext https://example.com/landing 302
/ext-query https://example.com/landing?from=pages 301
/proxy-guide /guide/ 200
/proxy-missing /does-not-exist 200
/with-hash /about#team 301
/old-about /duplicate-ignored 302
/not-a-status /about 404
/too many tokens here 301
/* /index.html
"""
HEADERS = """\
/*
  X-Site: conformance
  X-Multi: one
/docs/*
  X-Docs: yes
  ! X-Site
/users/:id
  X-User: :id
/a*
  X-Multi: two
/style.css
  Cache-Control: public, max-age=3600
  Content-Type: text/css; charset=iso-8859-1
/guide/*
  Access-Control-Allow-Origin: https://example.org
  ! Referrer-Policy
"""

GET_PATHS = [
    "/", "/index.html", "/index", "/index/",
    "/about", "/about.html", "/about/", "/about.html?x=1", "/about?utm=1", "/%61bout",
    "/guide", "/guide/", "/guide?q=2", "/guide/index.html", "/guide/index", "/guide/setup",
    "/guide/setup.html", "/guide/setup/",
    "/blog", "/blog/", "/blog/2024/post?x=1", "/blog/special",
    "/raw", "/raw.html",
    "/docs", "/docs/", "/docs/intro", "/docs/intro/", "/docs/missing", "/docs/deep/missing",
    "/docs/deep/page", "/docs/deep/", "/nowhere", "/nowhere/deeper/", "/nowhere/x.png",
    "/style.css", "/app.js", "/data.json", "/feed.xml", "/notes.txt", "/readme.md",
    "/img/pixel.png", "/image.svg", "/font.woff2", "/LICENSE",
    "/%C3%BCn%C3%AF/f%C3%AFl%C3%A9.txt",
    "/old-about", "/old-about?keep=1", "/moved", "/temp", "/see", "/found", "/users/42",
    "/users/42/", "/shop/tools/hammer", "/ext", "/ext?q=1", "/ext-query?q=1", "/proxy-guide",
    "/proxy-missing", "/with-hash", "/not-a-status", "/too",
]
IGNORED = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length",
           "x-server-env"}    # x-server-env: "dev" is wrangler's own mark
# Bodies are compared as stored: compression is the edge's business (pages dev gzips), not a rule.
IDENTITY = {"Accept-Encoding": "identity"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_site(root: Path) -> Path:
    for rel, data in SITE.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
    (root / "_redirects").write_text(REDIRECTS)
    (root / "_headers").write_text(HEADERS)
    return root


@pytest.fixture
def served(emu, tmp_path):
    """(request function for the emulator, for wrangler pages dev, the preview host)."""
    exe = wrangler_or_skip()
    site = _write_site(tmp_path / "site")
    env = wrangler_env(tmp_path / "home", TMPDIR=str(tmp_path))
    port, inspector = _free_port(), _free_port()
    log = open(tmp_path / "pages-dev.log", "wb")  # noqa: SIM115 (closed below)
    dev = subprocess.Popen(   # started first: it takes the longest
        [str(exe), "pages", "dev", str(site), "--ip", "127.0.0.1", "--port", str(port),
         "--inspector-port", str(inspector), "--compatibility-date", COMPATIBILITY_DATE,
         "--log-level", "warn", "--show-interactive-dev-session=false"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        emu.api("POST", "/accounts/{a}/pages/projects",
                json={"name": PROJECT, "production_branch": "main"}).raise_for_status()
        deploy_env = {**env, "CLOUDFLARE_API_BASE_URL": emu.base_url,
                      "CLOUDFLARE_API_TOKEN": emu.token, "CLOUDFLARE_ACCOUNT_ID": emu.account}
        out = subprocess.run([str(exe), "pages", "deploy", str(site), "--project-name", PROJECT,
                              "--branch", "main"], cwd=tmp_path, env=deploy_env,
                             capture_output=True, text=True, timeout=120, check=False,
                             stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stdout + out.stderr
        urls = re.findall(rf"https://[0-9a-f]{{8}}\.{PROJECT}\.pages\.dev", out.stdout + out.stderr)
        assert urls, out.stdout + out.stderr
        dev_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(dev_url + "/", timeout=2)
                break
            except requests.ConnectionError:
                if dev.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("wrangler pages dev did not start:\n"
                                + (tmp_path / "pages-dev.log").read_text(errors="replace")[-3000:])
                time.sleep(0.2)

        def from_emulator(method, path, headers=None, host=f"{PROJECT}.pages.dev"):
            return requests.request(method, emu.root_url + path,
                                    headers={"Host": host, **IDENTITY, **(headers or {})},
                                    allow_redirects=False, timeout=30)

        def from_dev(method, path, headers=None):
            return requests.request(method, dev_url + path, headers={**IDENTITY, **(headers or {})},
                                    allow_redirects=False, timeout=30)

        yield from_emulator, from_dev, host_of(urls[-1])
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
    return {"status": resp.status_code, "headers": dict(sorted(headers.items())), "body": resp.content}


def _differences(cases, from_emulator, from_dev):
    out = []
    for method, path, headers in cases:
        ours, theirs = _shape(from_emulator(method, path, headers)), _shape(from_dev(method, path, headers))
        if ours != theirs:
            out.append(f"{method} {path} {headers or ''}\n  emulator: {ours}\n  pages dev: {theirs}")
    return out


def test_static_site_served_as_wrangler_pages_dev_serves_it(served):
    from_emulator, from_dev, preview = served
    cases = [("GET", p, None) for p in GET_PATHS]
    cases += [("HEAD", p, None) for p in ("/about", "/about.html", "/nowhere", "/docs/missing", "/old-about")]
    cases += [("POST", p, None) for p in ("/about", "/old-about", "/nowhere")]
    # conditional requests: the ETag is the asset's hash, the same in both
    etag = from_dev("GET", "/about").headers["ETag"]
    cases += [("GET", "/about", {"If-None-Match": etag}),
              ("GET", "/about", {"If-None-Match": "W/" + etag}),
              ("GET", "/about", {"If-None-Match": '"something-else"'}),
              ("GET", "/nowhere", {"If-None-Match": from_dev("GET", "/").headers["ETag"]}),
              ("GET", "/about", {"Authorization": "Bearer x"})]
    differences = _differences(cases, from_emulator, from_dev)
    assert not differences, f"{len(differences)} of {len(cases)} differ:\n" + "\n".join(differences)

    # what the comparison covers, so it cannot pass by comparing two empty answers
    statuses = {from_emulator(m, p, h).status_code for m, p, h in cases}
    assert {200, 301, 302, 303, 304, 307, 308, 404, 405} <= statuses, statuses

    # _redirects and _headers are rules, not files (pages dev answers 502 for them, a bug of its
    # own: it looks for /_redirects/index.html under a file): the single-page fallback answers
    for name in ("/_redirects", "/_headers"):
        r = from_emulator("GET", name)
        assert (r.status_code, r.content) == (200, SITE["index.html"]), name

    # A deployment's own URL (and a branch alias) is a preview: Pages adds X-Robots-Tag: noindex to
    # its assets (pages dev serves on localhost, so this is checked on the emulator alone).
    assert from_emulator("GET", "/about", host=preview).headers.get("X-Robots-Tag") == "noindex"
    assert "X-Robots-Tag" not in from_emulator("GET", "/about").headers
