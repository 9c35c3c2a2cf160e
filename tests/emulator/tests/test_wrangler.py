"""Conformance: `wrangler` drives the emulator, once per wrangler lane.

The lanes (tests/helpers/environments.py, wrangler_lane): "4.86" is wrangler 4.86.0 on the
machine's Node 20 (``npm ci --prefix tests/emulator``, tests/emulator/package.json); "current" is
the newest wrangler 4.x on Node 22 (tests/toolchain/, installed into .cache/toolchain/ on first
use). CFPAGES_WRANGLER_LANES (or CFPAGES_WRANGLER_LANE) picks some; the default is both.
Without a lane's wrangler the tests skip on a developer machine and FAIL in CI (``CI=true``), so
CI can never pass by silently not running them.

wrangler is pointed at the emulator as pages-api.md §6 says: ``CLOUDFLARE_API_BASE_URL`` (with the
``/client/v4`` prefix), ``CLOUDFLARE_API_TOKEN``, ``CLOUDFLARE_ACCOUNT_ID`` (so it makes no
``/accounts``/``/memberships`` calls), no metrics or error reports, non-interactive, and a private
HOME so no developer config leaks in.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from conformance_helpers import (
    DEV_EMAIL,
    DEV_KEY,
    asset_hash,
    envs,
    host_of,
    wrangler_env,
    wrangler_lane_command,
)

# A site with the awkward cases: nested dirs, a non-ASCII name, no extension, an empty file, binary
# content (all 256 byte values, NULs included), plus _headers/_redirects (sent as multipart fields,
# not uploaded as assets).
BINARY = bytes(range(256)) * 5 + b"\x89PNG\r\n\x1a\n\x00\x00"
SITE_FILES = {
    "index.html": b"<!doctype html><h1>wrangler conformance</h1>\n",
    "404.html": b"<h1>nope</h1>",
    "nested/deeper/page.html": b"<p>deep</p>",
    "nested/data.json": b'{"k": [1, 2, 3]}',
    "nested/ünïcødé 文件.txt": "héllo wörld ✓\n".encode(),
    "LICENSE": b"extensionless file\n",
    "empty.txt": b"",
    "img/pixel.png": BINARY,
    "some_dir/_headers": b"not a config file: only the top-level one is\n",
}
HEADERS_FILE = b"/*\n  X-Conformance: wrangler\n/nested/*\n  X-Nested: yes\n"
REDIRECTS_FILE = b"/old-page /nested/deeper/page.html 301\n"


@pytest.fixture(params=envs.wrangler_lanes_chosen())
def wrangler(request, emu, tmp_path):
    """run(*args) runs wrangler of this lane (request.param) against the emulator."""
    command = wrangler_lane_command(request.param)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = wrangler_env(tmp_path / "home", command[0], CLOUDFLARE_API_BASE_URL=emu.base_url,
                       CLOUDFLARE_API_TOKEN=emu.token, CLOUDFLARE_ACCOUNT_ID=emu.account, TMPDIR=str(tmp_path))

    def run(*args, ok=True, timeout=120, env_override=None, input_text=None):
        run_env = dict(env)
        for k, v in (env_override or {}).items():
            if v is None:
                run_env.pop(k, None)
            else:
                run_env[k] = v
        stdin = {"input": input_text} if input_text is not None else {"stdin": subprocess.DEVNULL}
        proc = subprocess.run([*command, *args], cwd=workdir, env=run_env, capture_output=True,  # noqa: PLW1510
                              text=True, timeout=timeout, **stdin)
        out = proc.stdout + proc.stderr
        if ok:
            assert proc.returncode == 0, f"wrangler {' '.join(args)} -> {proc.returncode}\n{out}"
        return proc.returncode, out

    run.workdir = workdir
    run.lane = request.param
    return run


def _write_site(root: Path) -> Path:
    for rel, data in SITE_FILES.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
    (root / "_headers").write_bytes(HEADERS_FILE)
    (root / "_redirects").write_bytes(REDIRECTS_FILE)
    return root


def _fetch(emu, host, path, max_hops=3):
    """GET a deployed file by Host header (following same-host redirects, e.g. pretty URLs)."""
    url_path = quote(path)
    for _ in range(max_hops):
        r = emu.site(host, url_path)
        if r.status_code not in (301, 302, 307, 308):
            return r
        loc = r.headers["Location"]
        assert loc.startswith("/"), loc
        url_path = loc
    return r


def _deployment_url(output: str, project: str) -> str:
    m = re.findall(r"https://[0-9a-f]{8}\." + re.escape(project) + r"\.pages\.dev", output)
    assert m, f"no deployment URL in wrangler output:\n{output}"
    return m[-1]


def test_wrangler_project_create_list_deploy_serves_every_file(emu, wrangler, tmp_path):
    _, out = wrangler("pages", "project", "create", "wr-site", "--production-branch", "main")
    assert "wr-site.pages.dev" in out, out
    project = emu.api("GET", "/accounts/{a}/pages/projects/wr-site").json()["result"]
    assert project["production_branch"] == "main"

    _, out = wrangler("pages", "project", "list")
    assert "wr-site" in out, out

    site = _write_site(tmp_path / "site")
    _, out = wrangler("pages", "deploy", str(site), "--project-name", "wr-site",
                       "--branch", "main", "--commit-message", "conformance",
                       "--commit-hash", "0123456789abcdef0123456789abcdef01234567")
    url = _deployment_url(out, "wr-site")

    deps = emu.api("GET", "/accounts/{a}/pages/projects/wr-site/deployments").json()["result"]
    assert len(deps) == 1 and deps[0]["url"] == url, (url, deps)
    dep = deps[0]
    assert dep["environment"] == "production"
    assert dep["deployment_trigger"]["metadata"]["commit_message"] == "conformance"

    # wrangler uploaded exactly the asset files, under the keys we compute (hash rule §5.3)
    expected = {asset_hash(data, rel) for rel, data in SITE_FILES.items()}
    uploaded = set()
    for entry in emu.requests_log():
        if entry["path"].endswith("/pages/assets/upload"):
            uploaded.update(entry.get("keys") or ())
    assert uploaded == expected

    # every file, byte for byte, from the deployment's own host and from the production host
    host = host_of(url)
    for h in (host, "wr-site.pages.dev"):
        for rel, data in SITE_FILES.items():
            r = _fetch(emu, h, "/" + rel)
            assert r.status_code == 200, (h, rel, r.status_code, r.text[:200])
            assert r.content == data, (h, rel)
    assert _fetch(emu, host, "/img/pixel.png").headers["Content-Type"].startswith("image/png")
    assert _fetch(emu, host, "/index.html").headers["Content-Type"].startswith("text/html")

    # _headers / _redirects took effect and were not served as files
    r = _fetch(emu, host, "/nested/data.json")
    assert r.headers.get("X-Conformance") == "wrangler" and r.headers.get("X-Nested") == "yes"
    assert emu.site(host, "/").headers.get("X-Conformance") == "wrangler"
    r = emu.site(host, "/old-page")
    assert r.status_code == 301 and r.headers["Location"].endswith("/nested/deeper/page.html")
    r = emu.site(host, "/_redirects")
    assert r.status_code == 404 and r.content == SITE_FILES["404.html"]


def test_wrangler_deployment_list_and_delete(emu, wrangler, tmp_path):
    emu.api("POST", "/accounts/{a}/pages/projects",  # (wrangler's create: first test)
            json={"name": "wr-dep", "production_branch": "main"}).raise_for_status()
    site = tmp_path / "s"
    site.mkdir()
    (site / "index.html").write_bytes(b"v1")
    _, out = wrangler("pages", "deploy", str(site), "--project-name", "wr-dep", "--branch", "main")
    prod_url = _deployment_url(out, "wr-dep")
    (site / "index.html").write_bytes(b"preview")
    _, out = wrangler("pages", "deploy", str(site), "--project-name", "wr-dep",
                      "--branch", "feat/Preview_1")
    preview_url = _deployment_url(out, "wr-dep")
    assert "feat-preview-1.wr-dep.pages.dev" in out, out  # branch alias slug (§4)
    assert emu.site("feat-preview-1.wr-dep.pages.dev", "/").content == b"preview"
    assert emu.site("wr-dep.pages.dev", "/").content == b"v1"

    _, out = wrangler("pages", "deployment", "list", "--project-name", "wr-dep")
    assert prod_url in out and preview_url in out, out

    deps = emu.api("GET", "/accounts/{a}/pages/projects/wr-dep/deployments").json()["result"]
    preview = next(d for d in deps if d["url"] == preview_url)
    # Non-interactive without --force wrangler does not confirm and sends nothing (the same flag
    # confirms and overrides the alias check), so the deployment stays.
    wrangler("pages", "deployment", "delete", preview["id"], "--project-name", "wr-dep")
    path = f"/accounts/{{a}}/pages/projects/wr-dep/deployments/{preview['id']}"
    assert emu.api("GET", path).status_code == 200
    # The preview holds its branch alias: --force sends ?force=true and the API deletes it.
    wrangler("pages", "deployment", "delete", preview["id"], "--project-name", "wr-dep",
             "--force")
    r = emu.api("GET", path)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 8000009
    deletes = [e for e in emu.requests_log() if e["method"] == "DELETE"]
    assert len(deletes) == 1 and deletes[0]["status"] == 200, deletes
    assert deletes[0]["query"] == {"force": "true"}, deletes
    _, out = wrangler("pages", "deployment", "list", "--project-name", "wr-dep")
    assert prod_url in out and preview_url not in out, out


def test_wrangler_global_key_auth_and_auth_error(emu, wrangler):
    """wrangler with CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY instead of a token; a bad token fails
    with the API's code in wrangler's own error format."""
    emu.api("POST", "/accounts/{a}/pages/projects",
            json={"name": "wr-key", "production_branch": "main"}).raise_for_status()
    _, out = wrangler("pages", "project", "list", env_override={
        "CLOUDFLARE_API_TOKEN": None, "CLOUDFLARE_EMAIL": DEV_EMAIL, "CLOUDFLARE_API_KEY": DEV_KEY})
    assert "wr-key" in out, out
    rc, out = wrangler("pages", "project", "list", ok=False,
                       env_override={"CLOUDFLARE_API_TOKEN": "no-such-token"})
    assert rc != 0 and "Authentication error [code: 10000]" in out, out


def test_wrangler_worker_bundle_secrets_and_project_delete(emu, wrangler, tmp_path):
    """`_worker.js` goes up as wrangler's `_worker.bundle` multipart part; `pages secret` uses
    PATCH with `secret_text` and `null` (delete); `pages project delete`."""
    emu.api("POST", "/accounts/{a}/pages/projects",
            json={"name": "wr-fn", "production_branch": "main"}).raise_for_status()
    site = tmp_path / "fn"
    site.mkdir()
    (site / "index.html").write_bytes(b"<h1>fn</h1>")
    (site / "_worker.js").write_text(
        "export default { async fetch(request, env) { return env.ASSETS.fetch(request); } };\n")
    _, out = wrangler("pages", "deploy", str(site), "--project-name", "wr-fn", "--branch", "main")
    assert "Uploading Worker bundle" in out, out
    dep = emu.api("GET", "/accounts/{a}/pages/projects/wr-fn/deployments").json()["result"][0]
    assert dep["uses_functions"] is True, dep
    assert emu.site(host_of(dep["url"]), "/").content == b"<h1>fn</h1>"
    # not an asset: without a 404.html the single-page fallback answers with index.html
    assert emu.site(host_of(dep["url"]), "/_worker.js").content == b"<h1>fn</h1>"

    def production_env():
        p = emu.api("GET", "/accounts/{a}/pages/projects/wr-fn").json()["result"]
        return p["deployment_configs"]["production"]["env_vars"]

    wrangler("pages", "secret", "put", "API_KEY", "--project-name", "wr-fn",
             input_text="s3cret-value")
    assert production_env() == {"API_KEY": {"type": "secret_text", "value": ""}}
    _, out = wrangler("pages", "secret", "list", "--project-name", "wr-fn")
    assert "API_KEY" in out and "s3cret-value" not in out, out
    wrangler("pages", "secret", "delete", "API_KEY", "--project-name", "wr-fn")
    assert not production_env()  # null (no vars left) or {}
    patches = [e for e in emu.requests_log() if e["method"] == "PATCH"]
    assert len(patches) == 2 and all(e["status"] == 200 for e in patches), patches

    wrangler("pages", "project", "delete", "wr-fn", "--yes")
    r = emu.api("GET", "/accounts/{a}/pages/projects/wr-fn")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 8000007
