# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the direct-upload engine (``_site``, ``_content_types``, ``_assets``, ``_upload``).
The HTTP boundary is a fake Pages API behind the real ``PagesClient`` (a fake ``requests``
session), so retries, JWT refresh and recheck run for real."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import threading
import time

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import (
    buckets as UB,
    content_types as CT,
    hashing as UH,
    pacing as P,
    pages_assets as A,
    pages_deploy as U,
    scan as S,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code import bundle as WB
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fakes import Clock, parse_form
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
TOKEN = "tok-unit-test-0123456789"
BASE = "https://api.example.test/client/v4"

pytestmark = pytest.mark.skipif(not UH.HAS_BLAKE3, reason="blake3 is not installed")


# --------------------------------------------------------------------------- helpers


def make_jwt(claims):
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return "%s.%s.%s" % (enc({"alg": "HS256", "typ": "JWT"}), enc(claims), "c2ln")


def response(status, body):
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode()
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    return resp


def ok(result):
    return response(200, {"success": True, "errors": [], "messages": [], "result": result})


def fail(status, code, message="failure"):
    return response(status, {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None})


class FakePages:
    """Enough of the Pages API for the engine: one project, the asset endpoints, deployments.

    ``faults[endpoint]`` is a list of callables ``(request) -> Response | Exception | None``
    consulted before the normal answer (None = answer normally)."""

    def __init__(self, clock=None, jwt_ttl=300.0, max_file_count=None, production_branch="main"):
        self.lock = threading.Lock()
        self.clock = clock or Clock(now=1_700_000_000.0)
        self.jwt_ttl = jwt_ttl
        self.max_file_count = max_file_count
        self.assets = {}
        self.deployments = []
        self.special = {}
        self.project = {"name": "site", "production_branch": production_branch, "canonical_deployment": None}
        self.calls = []
        self.faults = {}
        self.tokens_issued = 0
        self.headers = {}  # requests.Session attribute the client sets

    # -- requests.Session interface
    def request(self, method, url, **kwargs):
        path = url[len(BASE):]
        body = kwargs.get("data")
        if body is not None and hasattr(body, "read"):
            raw = b""
            while True:
                block = body.read(random.choice((1, 7, 4096, 16384, 100000)))
                if not block:
                    break
                raw += block
            assert len(raw) == len(body), "Content-Length must equal the bytes sent"
            kwargs["data"] = raw
        endpoint = self.endpoint(method, path)
        with self.lock:
            self.calls.append((method, path, endpoint, kwargs))
            for fault in list(self.faults.get(endpoint, [])):
                answer = fault(kwargs)
                if answer is not None:
                    if isinstance(answer, Exception):
                        raise answer
                    return answer
            return getattr(self, "do_" + endpoint)(kwargs)

    @staticmethod
    def endpoint(method, path):
        if path.startswith("/pages/assets/"):
            return path.rsplit("/", 1)[-1].replace("-", "_")
        parts = path.split("/")
        # /accounts/A/pages/projects/P[/...]
        rest = parts[6:]
        if not rest:
            return "get_project"
        if rest == ["upload-token"]:
            return "upload_token"
        if rest == ["deployments"]:
            return "create_deployment" if method == "POST" else "list_deployments"
        raise AssertionError("unexpected call %s %s" % (method, path))

    def calls_to(self, endpoint):
        return [c for c in self.calls if c[2] == endpoint]

    def uploaded_keys(self):
        keys = []
        for call in self.calls_to("upload"):
            keys.extend(item["key"] for item in json.loads(call[3]["data"]))
        return keys

    def check_jwt(self, kwargs):
        auth = kwargs["headers"]["Authorization"]
        claims = A.decode_jwt_claims(auth.split(" ", 1)[1])
        if not claims or claims["exp"] <= self.clock():
            return fail(401, 8000013, "Expired JWT")
        return None

    # -- endpoints
    def do_get_project(self, kwargs):
        return ok(dict(self.project))

    def do_upload_token(self, kwargs):
        self.tokens_issued += 1
        now = self.clock()
        claims = {"iat": int(now), "exp": int(now + self.jwt_ttl), "n": self.tokens_issued}
        if self.max_file_count is not None:
            claims["max_file_count_allowed"] = self.max_file_count
        return ok({"jwt": make_jwt(claims)})

    def do_check_missing(self, kwargs):
        return self.check_jwt(kwargs) or ok([h for h in kwargs["json"]["hashes"] if h not in self.assets])

    def do_upload(self, kwargs):
        denied = self.check_jwt(kwargs)
        if denied:
            return denied
        assert kwargs["headers"]["Content-Type"] == "application/json"
        for item in json.loads(kwargs["data"]):
            assert item["base64"] is True
            self.assets[item["key"]] = (base64.b64decode(item["value"]), item["metadata"]["contentType"])
        return ok(None)

    def do_upsert_hashes(self, kwargs):
        return self.check_jwt(kwargs) or ok(True)

    def do_create_deployment(self, kwargs):
        fields = dict(parse_form(kwargs["data"], kwargs["headers"]["Content-Type"]))
        manifest = json.loads(fields["manifest"][1])
        for path, key in manifest.items():
            assert key in self.assets, "manifest references an unknown hash for %s" % path
        text = {}
        for name in ("branch", "commit_message", "commit_hash", "commit_dirty"):
            if name in fields:
                value = fields[name][1]
                text[name] = value.decode() if isinstance(value, bytes) else value
        branch = text.get("branch") or self.project["production_branch"]
        deployment = {
            "id": "dep-%d" % (len(self.deployments) + 1),
            "environment": "production" if branch == self.project["production_branch"] else "preview",
            "latest_stage": {"name": "deploy", "status": "success"},
            "deployment_trigger": {
                "type": "ad_hoc",
                "metadata": {
                    "branch": branch,
                    "commit_message": text.get("commit_message", ""),
                    "commit_hash": text.get("commit_hash", ""),
                    "commit_dirty": text.get("commit_dirty") == "true",
                },
            },
            "manifest": manifest,
        }
        self.special[deployment["id"]] = {k: v for k, v in fields.items() if k.startswith("_")}
        self.deployments.insert(0, deployment)
        if deployment["environment"] == "production":
            self.project["canonical_deployment"] = deployment
        return ok(deployment)

    def do_list_deployments(self, kwargs):
        params = kwargs.get("params") or {}
        page, per_page = int(params.get("page", 1)), int(params.get("per_page", 25))
        items = self.deployments[(page - 1) * per_page:page * per_page]
        total = len(self.deployments)
        return response(200, {
            "success": True, "errors": [], "messages": [], "result": items,
            "result_info": {"page": page, "per_page": per_page, "count": len(items), "total_count": total,
                            "total_pages": max(1, -(-total // per_page))},
        })


def make_client(fake, **kwargs):
    kwargs.setdefault("max_retries", 3)
    return PagesClient(
        account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, sleep=lambda s: None,
        rng=random.Random(0), session=fake, **kwargs
    )


def deploy_directory(client, project, source, check_mode=False, log=None, project_info=None, **options):
    """One deploy through the engine: a DeployRequest of ``options``, prepared and applied."""
    engine = U.DirectUpload(client, U.DeployRequest(project, source, **options), log=log)
    return engine.run(project_info=project_info, check_mode=check_mode)


@pytest.fixture
def fake():
    return FakePages()


@pytest.fixture
def client(fake):
    return make_client(fake)


# --------------------------------------------------------------------------- hashing


VECTORS = [
    ("logo.png", b"foobar", "2082190357cfd3617ccfe04f340c6247"),
    ("logo.txt", b"foobar", "1a98fb08af91aca4a7df1764a2c4ddb0"),
    ("some_dir/_headers", b"headersfile", "95dedb64e6d4940fc2e0f11f711cc2f4"),
    ("some_dir/functions/foo.js", b"func", "09a79777abda8ccc8bdd51dd3ff8e9e9"),
]


@pytest.mark.parametrize("rel,content,expected", VECTORS)
def test_hash_vectors(tmp_path, rel, content, expected):
    assert UH.hash_bytes(content, UH.extension_of(rel)) == expected
    path = write(tmp_path, rel, content)
    assert UH.hash_file(path, UH.extension_of(rel)) == (expected, len(content))


@pytest.mark.parametrize("size", [0, 1, 2, 3, UH._CHUNK - 1, UH._CHUNK, UH._CHUNK + 1, 2 * UH._CHUNK + 2, 3 * UH._CHUNK + 5])
def test_streamed_hash_equals_whole_file_hash(tmp_path, size):
    content = random.Random(size).randbytes(size)
    path = write(tmp_path, "f.bin", content)
    assert UH.hash_file(path, "bin") == (UH.hash_bytes(content, "bin"), size)


def test_multithreaded_blake3_for_big_files_gives_the_same_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(UH, "_BLAKE3_THREADS_FROM", 1)
    content = random.Random(7).randbytes(UH._CHUNK * 2 + 11)
    path = write(tmp_path, "big.wasm", content)
    assert UH.hash_file(path, "wasm", len(content))[0] == UH.hash_bytes(content, "wasm")


@pytest.mark.parametrize("name,ext", [
    ("a.tar.gz", "gz"), (".DS_Store", ""), ("foo.", ""), ("README", ""), ("x/y/Logo.PNG", "PNG"),
    ("..foo", "foo"), (".a.b", "b"), ("...", ""), ("a..b", "b"), ("ünï.tXt", "tXt"),
])
def test_extension_like_node_extname(name, ext):
    assert UH.extension_of(name) == ext


# --------------------------------------------------------------------------- content types


@pytest.mark.parametrize("path,ctype", [
    ("/index.html", "text/html"), ("/a/b.htm", "text/html"), ("/style.css", "text/css"),
    ("/app.js", "application/javascript"), ("/m.mjs", "application/javascript"),
    ("/data.json", "application/json"), ("/app.js.map", "application/json"), ("/robots.txt", "text/plain"),
    ("/feed.xml", "application/xml"), ("/i.svg", "image/svg+xml"), ("/i.PNG", "image/png"),
    ("/i.jpg", "image/jpeg"), ("/i.jpeg", "image/jpeg"), ("/i.gif", "image/gif"), ("/i.webp", "image/webp"),
    ("/i.avif", "image/avif"), ("/favicon.ico", "image/vnd.microsoft.icon"), ("/f.woff", "font/woff"),
    ("/f.woff2", "font/woff2"), ("/f.ttf", "font/ttf"), ("/f.otf", "font/otf"),
    ("/f.eot", "application/vnd.ms-fontobject"), ("/d.pdf", "application/pdf"), ("/m.wasm", "application/wasm"),
    ("/v.mp4", "video/mp4"), ("/v.webm", "video/webm"), ("/a.mp3", "audio/mpeg"), ("/a.wav", "audio/wav"),
    ("/a.ogg", "audio/ogg"), ("/z.zip", "application/zip"), ("/z.tar.gz", "application/gzip"),
    ("/t.csv", "text/csv"), ("/README.md", "text/markdown"), ("/site.webmanifest", "application/manifest+json"),
    ("/x.ts", "video/mp2t"),
    # no extension, unknown extension, dot-files: octet-stream (mime@3 semantics)
    ("/a/README", "application/octet-stream"), ("/LICENSE", "application/octet-stream"),
    ("/x.unknownext", "application/octet-stream"), ("/a/.htaccess", "application/octet-stream"),
    ("/trailing.", "application/octet-stream"),
    # mime@3 looks a dot-less top-level name up whole, and a top-level ".json" too; not in subdirs
    ("/json", "application/json"), ("/.json", "application/json"), ("/a/json", "application/octet-stream"),
    ("/a/.json", "application/octet-stream"),
])
def test_content_types_match_mime3(path, ctype):
    assert CT.content_type_of(path) == ctype


# --------------------------------------------------------------------------- walking


def build_tree(root):
    write(root, "index.html", "<h1>hi</h1>")
    write(root, "logo.png", b"foobar")
    write(root, "some_dir/_headers", b"headersfile")
    write(root, "some_dir/functions/foo.js", b"func")
    write(root, "_headers", "/*\n  X-Test: 1\n")
    write(root, "_redirects", "/old /new 301\n")
    write(root, "_routes.json", '{"version":1,"include":["/*"],"exclude":[]}')
    write(root, "_worker.js", "export default {fetch(){return new Response('w')}}")
    write(root, "functions/api.js", "export function onRequest(){}")
    write(root, ".wrangler/state.json", "{}")
    write(root, "node_modules/x/index.js", "x")
    write(root, "deep/node_modules/y.js", "y")
    write(root, ".git/HEAD", "ref")
    write(root, "deep/.git/HEAD", "ref")
    write(root, ".DS_Store", b"\0")
    write(root, "deep/er/.DS_Store", b"\0")
    write(root, ".hidden/node_modules/kept.txt", "minimatch's ** never enters a dot-directory")
    write(root, ".well-known/security.txt", "contact")
    write(root, "ünï cödé/ファイル.txt", "unicode")
    write(root, "deep/er/functions/bar.js", "nested functions dir is an asset")
    write(root, "deep/er/_redirects", "nested special name is an asset")
    write(root, "empty", b"")
    write(root, "bin/blob.dat", bytes(range(256)) * 10)


def test_scan_applies_wranglers_ignore_rules(tmp_path):
    build_tree(tmp_path)
    scan = S.scan_site(str(tmp_path))
    assert sorted(scan.manifest) == sorted([
        "/index.html", "/logo.png", "/some_dir/_headers", "/some_dir/functions/foo.js",
        "/.hidden/node_modules/kept.txt", "/.well-known/security.txt", "/ünï cödé/ファイル.txt",
        "/deep/er/functions/bar.js", "/deep/er/_redirects", "/empty", "/bin/blob.dat",
    ])
    assert scan.manifest["/logo.png"] == "2082190357cfd3617ccfe04f340c6247"
    assert scan.manifest["/some_dir/_headers"] == "95dedb64e6d4940fc2e0f11f711cc2f4"
    assert scan.manifest["/some_dir/functions/foo.js"] == "09a79777abda8ccc8bdd51dd3ff8e9e9"
    assert sorted(scan.special) == ["_headers", "_redirects"]  # _routes.json and _worker.js go with the worker
    assert scan.special["_headers"] == os.path.join(str(tmp_path), "_headers")
    assert scan.total_bytes == sum(os.path.getsize(f.abspath) for f in scan.files)
    assert any("functions/ is not uploaded" in w for w in scan.warnings)
    assert [f.path for f in scan.files] == sorted(f.path for f in scan.files)


def test_scan_missing_or_bad_source(tmp_path):
    with pytest.raises(ERR.UploadError, match="does not exist"):
        S.scan_site(str(tmp_path / "nope"))
    write(tmp_path, "file", "x")
    with pytest.raises(ERR.UploadError, match="not a directory"):
        S.scan_site(str(tmp_path / "file"))


def test_worker_directory_is_not_an_asset(tmp_path):
    write(tmp_path, "_worker.js/index.js", "x")
    write(tmp_path, "index.html", "x")
    scan = S.scan_site(str(tmp_path))
    assert sorted(scan.manifest) == ["/index.html"] and scan.special == {}


def test_undecodable_file_name_is_named(tmp_path):
    write(tmp_path, "ok.txt", "x")
    with open(os.path.join(os.fsencode(str(tmp_path)), b"bad\xff.txt"), "wb") as handle:
        handle.write(b"x")
    with pytest.raises(ERR.UploadError, match=r"valid UTF-8.*bad\\xff\.txt"):
        S.scan_site(str(tmp_path))


def test_symlinks_are_followed_loops_and_dangling_links_skipped(tmp_path):
    site = tmp_path / "site"
    outside = tmp_path / "outside"
    write(outside, "shared.css", "body{}")
    write(site, "a/b/page.html", "p")
    os.symlink(str(outside), str(site / "linked"))
    os.symlink(str(outside / "shared.css"), str(site / "a" / "alias.css"))
    os.symlink("../../a", str(site / "a" / "b" / "loop"))
    os.symlink("nowhere", str(site / "dangling"))
    scan = S.scan_site(str(site))
    assert sorted(scan.manifest) == ["/a/alias.css", "/a/b/page.html", "/linked/shared.css"]
    assert scan.manifest["/a/alias.css"] == scan.manifest["/linked/shared.css"]
    assert any("loop" in w and "/a/b/loop" in w for w in scan.warnings)
    assert any("dangling" in w for w in scan.warnings)

    scan = S.scan_site(str(site), follow_symlinks=False)
    assert sorted(scan.manifest) == ["/a/b/page.html"]


@pytest.mark.parametrize("pattern,excluded", [
    ("*.map", ["/js/app.js.map", "/app.js.map"]),
    ("**/*.map", ["/js/app.js.map", "/app.js.map"]),
    (".next", ["/.next/cache/big.pack", "/.next/x.txt"]),
    (".next/cache", ["/.next/cache/big.pack"]),
    (".next/cache/**", ["/.next/cache/big.pack"]),
    ("/.next/cache/", ["/.next/cache/big.pack"]),
    ("js/*.js", ["/js/app.js"]),
    ("**/cache/**", ["/.next/cache/big.pack"]),
    ("docs/**/*.txt", ["/docs/a.txt", "/docs/x/y/b.txt"]),
    ("docs/?.txt", ["/docs/a.txt"]),
    ("[dj]*", ["/docs/a.txt", "/docs/x/y/b.txt", "/js/app.js", "/js/app.js.map"]),
    ("[!a-z]*", ["/.next/cache/big.pack", "/.next/x.txt", "/README"]),
])
def test_exclude_globs(tmp_path, pattern, excluded):
    every = ["/js/app.js", "/js/app.js.map", "/app.js.map", "/.next/cache/big.pack", "/.next/x.txt",
             "/docs/a.txt", "/docs/x/y/b.txt", "/index.html", "/README"]
    for path in every:
        write(tmp_path, path.lstrip("/"), path)
    scan = S.scan_site(str(tmp_path), exclude=[pattern])
    assert sorted(set(every) - set(scan.manifest)) == sorted(excluded)


def test_exclude_applies_to_special_files_and_rejects_empty_patterns(tmp_path):
    write(tmp_path, "_redirects", "/a /b")
    write(tmp_path, "index.html", "x")
    assert S.scan_site(str(tmp_path), exclude=["_redirects"]).special == {}
    with pytest.raises(ERR.UploadError, match="invalid exclude pattern"):
        S.scan_site(str(tmp_path), exclude=["/"])


# --------------------------------------------------------------------------- digest


def test_digest_is_stable_and_tracks_content(tmp_path):
    build_tree(tmp_path)
    first = S.scan_site(str(tmp_path), workers=1)
    assert S.scan_site(str(tmp_path), workers=4).digest == first.digest
    os.utime(os.path.join(str(tmp_path), "index.html"), (1, 1))
    assert S.scan_site(str(tmp_path)).digest == first.digest  # timestamps do not matter
    write(tmp_path, "_headers", "/*\n  X-Test: 2\n")
    second = S.scan_site(str(tmp_path))
    assert second.digest != first.digest  # special files count
    assert second.manifest == first.manifest
    os.rename(os.path.join(str(tmp_path), "empty"), os.path.join(str(tmp_path), "empty2"))
    assert S.scan_site(str(tmp_path)).digest not in (first.digest, second.digest)  # paths count
    assert re.fullmatch(r"[0-9a-f]{64}", first.digest)


# --------------------------------------------------------------------------- preflight


def fake_scan(sizes, special=None):
    files = [S.SiteFile("/f%d.bin" % i, "/nonexistent/f%d" % i, size, hash="%032x" % i) for i, size in enumerate(sizes)]
    return S.SiteScan("/nonexistent", files, special or {}, "0" * 64)


def test_preflight_names_every_file_over_25_mib():
    scan = fake_scan([S.MAX_ASSET_SIZE, S.MAX_ASSET_SIZE + 1, 10, 95 * UH.MiB])
    with pytest.raises(ERR.UploadError) as caught:
        S.preflight(scan, 100)
    message = str(caught.value)
    assert "25 MiB" in message and "/f1.bin" in message and "/f3.bin (95.0 MiB)" in message
    assert "/f0.bin" not in message  # exactly 25 MiB is allowed


def test_preflight_file_count_against_the_limit():
    scan = fake_scan([1] * 11)
    S.preflight(scan, 11)
    S.preflight(scan, None)
    with pytest.raises(ERR.UploadError, match=r"11 files .* at most 10"):
        S.preflight(scan, 10)


def test_oversized_files_are_not_hashed_and_fail_preflight(tmp_path):
    path = write(tmp_path, "big.pack", b"")
    with open(path, "wb") as handle:
        handle.truncate(S.MAX_ASSET_SIZE + 1)
    write(tmp_path, "ok.txt", "x")
    scan = S.scan_site(str(tmp_path))
    assert [f.hash for f in scan.files if f.path == "/big.pack"] == [None]
    with pytest.raises(ERR.UploadError, match="/big.pack"):
        S.preflight(scan)


def test_nothing_is_uploaded_when_preflight_fails(tmp_path, fake, client):
    write(tmp_path, "a.txt", "a")
    write(tmp_path, "b.txt", "b")
    fake.max_file_count = 1
    with pytest.raises(ERR.UploadError, match="2 files .* at most 1"):
        deploy_directory(client, "site", str(tmp_path))
    assert not fake.calls_to("upload") and not fake.calls_to("check_missing")
    assert not fake.calls_to("create_deployment")


# --------------------------------------------------------------------------- buckets


def test_bucket_bounds_and_balance():
    rng = random.Random(3)
    files = [S.SiteFile("/f%05d" % i, "/x", rng.choice([0, 10, 5000, 300000, 3 * UH.MiB])) for i in range(5000)]
    max_bytes, max_files = 8 * UH.MiB, 700
    buckets = UB.plan_buckets(files, max_bytes=max_bytes, max_files=max_files, min_buckets=3)
    placed = [f.path for b in buckets for f in b.files]
    assert sorted(placed) == sorted(f.path for f in files)
    for bucket in buckets:
        assert bucket.size <= max_bytes and len(bucket.files) <= max_files
        assert bucket.size == sum(f.size for f in bucket.files)
    assert len(buckets) >= -(-sum(f.size for f in files) // max_bytes)
    # Balanced: the least-filled bucket takes the next file, so the sizes stay within 1 MiB...
    sizes = [bucket.size for bucket in buckets]
    assert max(sizes) - min(sizes) <= UH.MiB
    # ...and no bucket is wasted: no two of them would fit in one.
    smallest = sorted(buckets, key=lambda b: b.size)[:2]
    assert sum(b.size for b in smallest) > max_bytes or sum(len(b.files) for b in smallest) > max_files


def test_buckets_small_sites_spread_over_the_workers_and_big_files_alone():
    files = [S.SiteFile("/f%d" % i, "/x", 100) for i in range(9)]
    assert [len(b.files) for b in UB.plan_buckets(files, min_buckets=3)] == [3, 3, 3]
    assert len(UB.plan_buckets(files[:2], min_buckets=3)) == 2
    big = [S.SiteFile("/big", "/x", 50), S.SiteFile("/small", "/x", 5)]
    buckets = UB.plan_buckets(big, max_bytes=40, max_files=10)
    assert sorted([f.path for f in b.files] for b in buckets) == [["/big"], ["/small"]]
    assert UB.plan_buckets([], min_buckets=3) == []


def test_default_bucket_bounds_hold_for_2000_files_and_40_mib():
    files = [S.SiteFile("/f%d" % i, "/x", 1) for i in range(4001)]
    assert [len(b.files) for b in UB.plan_buckets(files)] == [1334, 1334, 1333]  # 3 buckets, balanced
    files = [S.SiteFile("/f%d" % i, "/x", 10 * UH.MiB) for i in range(9)]
    assert all(b.size <= 40 * UH.MiB for b in UB.plan_buckets(files))


def test_bucket_body_is_streamed_json_of_exact_length(tmp_path):
    contents = {"a.html": b"<p>a</p>", "b/c.png": random.Random(1).randbytes(UH._CHUNK + 4), "e": b""}
    files = []
    for rel, content in contents.items():
        path = write(tmp_path, rel, content)
        files.append(S.SiteFile("/" + rel, path, len(content), hash=UH.hash_bytes(content, UH.extension_of(rel))))
    body = A.BucketBody(files)
    raw = b""
    while True:
        block = body.read(1000)
        if not block:
            break
        assert len(block) <= 1000
        raw += block
    assert len(raw) == len(body)
    items = json.loads(raw)
    assert [i["key"] for i in items] == [f.hash for f in files]
    for item, f in zip(items, files):
        assert base64.b64decode(item["value"]) == contents[f.path[1:]]
        assert item["metadata"] == {"contentType": f.content_type} and item["base64"] is True
    assert A.BucketBody(files).read() == raw


def test_bucket_body_refuses_a_file_that_changed(tmp_path):
    path = write(tmp_path, "a.txt", "abc")
    body = A.BucketBody([S.SiteFile("/a.txt", path, 3, hash="0" * 32)])
    write(tmp_path, "a.txt", "abcdef")
    with pytest.raises(ERR.UploadError, match="changed since it was hashed"):
        body.read()


# --------------------------------------------------------------------------- commit message


def test_commit_message_truncated_at_a_character_boundary():
    digest = "ab" * 32
    message = "é" * 300  # 600 bytes; the budget for the text is odd, so a naive cut splits an "é"
    out = U.compose_commit_message(message, digest)
    raw = out.encode("utf-8")
    assert len(raw) <= U.MAX_COMMIT_MESSAGE_BYTES
    text, trailer = out.rsplit("\n\n", 1)
    assert trailer == "cfpages-digest: " + digest[:32]
    assert set(text) == {"é"} and len(text.encode()) >= U.MAX_COMMIT_MESSAGE_BYTES - len(trailer) - 3
    assert U.digest_of_deployment({"deployment_trigger": {"metadata": {"commit_message": out}}}) == digest[:32]


@pytest.mark.parametrize("limit", range(0, 12))
def test_truncate_utf8_never_splits(limit):
    text = "a€😀b"
    out = U.truncate_utf8(text, limit)
    assert len(out.encode()) <= limit and text.startswith(out)
    assert len(out.encode()) > limit - 4


def test_commit_message_without_digest_or_text():
    assert U.compose_commit_message(None, "cd" * 32) == "cfpages-digest: " + "cd" * 16
    assert U.compose_commit_message("x" * 500, None) == "x" * 384
    assert U.compose_commit_message("", None) is None
    assert U.digest_of_deployment({"deployment_trigger": {"metadata": {"commit_message": "no trailer"}}}) is None
    assert U.digest_of_deployment(None) is None


def test_deployment_fields(tmp_path):
    build_tree(tmp_path)
    scan = S.scan_site(str(tmp_path))
    fields = U.build_deployment_fields(scan, "feat/x", "abc123", "Fix it", True)
    names = [name for name, _value in fields]
    assert names == ["manifest", "branch", "commit_message", "commit_hash", "commit_dirty", "_headers", "_redirects"]
    values = dict(fields)
    assert json.loads(bytes(values["manifest"][1])) == scan.manifest
    assert values["commit_message"][1].decode() == "Fix it\n\ncfpages-index: yes\ncfpages-digest: " + scan.digest[:32]
    assert values["commit_dirty"] == (None, "true")
    assert dict(U.build_deployment_fields(scan, commit_dirty=False))["commit_dirty"] == (None, "false")
    assert "commit_dirty" not in dict(U.build_deployment_fields(scan, commit_dirty=None))
    assert values["_headers"] == ("_headers", b"/*\n  X-Test: 1\n", "application/octet-stream")
    worker = [("_worker.bundle", ("_worker.bundle", b"bundle", "application/octet-stream"))]
    with_worker = U.build_deployment_fields(scan, "b", None, "m", None, digest="f" * 64, worker_fields=worker)
    assert with_worker[-1] == worker[0]
    assert dict(with_worker)["commit_message"][1].decode() == "m\n\ncfpages-index: yes\ncfpages-digest: " + "f" * 32
    minimal = U.build_deployment_fields(scan, digest_trailer=False)
    assert [name for name, _value in minimal][:1] == ["manifest"] and "commit_message" not in dict(minimal)


# --------------------------------------------------------------------------- upload token


def test_token_refreshes_shortly_before_exp(fake, client):
    clock = fake.clock
    token = A.UploadToken(client, "site", margin=60.0, clock=clock)
    first = token.get()
    assert token.get() == first and fake.tokens_issued == 1
    clock.now += 300 - 61
    assert token.get() == first
    clock.now += 2  # inside the 60 s margin
    second = token.get()
    assert second != first and fake.tokens_issued == 2
    assert token.get(refresh=True) != second and fake.tokens_issued == 3


def test_token_margin_shrinks_for_short_lived_tokens(fake, client):
    fake.jwt_ttl = 8.0
    token = A.UploadToken(client, "site", margin=60.0, clock=fake.clock)
    first = token.get()
    fake.clock.now += 5.9  # margin is a quarter of the lifetime: 2 s
    assert token.get() == first
    fake.clock.now += 0.2
    assert token.get() != first


def test_token_provider_does_not_refetch_what_another_thread_refreshed(fake, client):
    token = A.UploadToken(client, "site", clock=fake.clock)
    one, two = token.provider(), token.provider()
    jwt = one(False)
    assert two(False) == jwt
    fresh = one(True)
    assert fresh != jwt and fake.tokens_issued == 2
    assert two(True) == fresh and fake.tokens_issued == 2  # already replaced: no second fetch
    assert two(True) != fresh and fake.tokens_issued == 3


def test_max_file_count_claim(fake, client):
    assert A.UploadToken(client, "site").max_file_count == A.MAX_FILE_COUNT_DEFAULT
    fake.max_file_count = 100000
    assert A.UploadToken(client, "site").max_file_count == 100000
    assert A.decode_jwt_claims("not-a-jwt") == {}


# --------------------------------------------------------------------------- uploads


def deployed_site(tmp_path, count=30):
    rng = random.Random(count)
    for i in range(count):
        write(tmp_path, "d%d/f%03d.%s" % (i % 4, i, rng.choice(["html", "css", "js", "png", "bin"])),
              rng.randbytes(rng.randint(0, 3000)))
    return str(tmp_path)


def test_upload_sends_missing_files_in_buckets_and_upserts(tmp_path, fake, client):
    site = deployed_site(tmp_path)
    original = S.scan_site(site).files[0]
    content = open(original.abspath, "rb").read()
    write(tmp_path, "dup/copy.bin", content)  # other extension: another hash
    write(tmp_path, "dup/copy." + UH.extension_of(original.path), content)  # same hash as the original
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    assert len(missing) == len(scan.unique_hashes()) == len(scan.files) - 1
    lines = []
    counts = A.upload_missing(client, token, scan, missing, log=lines.append, concurrency=3,
                              max_bucket_bytes=20000, max_bucket_files=7)
    assert counts["files"] == len(scan.files) and counts["uploaded"] == len(missing)
    assert counts["skipped"] == 1 and counts["bytes"] == scan.total_bytes
    assert counts["buckets"] == len(fake.calls_to("upload")) == len(lines) >= 3
    assert counts["warnings"] == []
    assert sorted(fake.uploaded_keys()) == sorted(missing)
    for f in scan.files:
        assert fake.assets[f.hash] == (open(f.abspath, "rb").read(), f.content_type)
    upsert = fake.calls_to("upsert_hashes")
    assert len(upsert) == 1 and upsert[0][3]["json"]["hashes"] == scan.unique_hashes()
    assert all(re.match(r"uploaded bucket \d+: \d+ files, .* \(\d+ of %d files sent\)" % len(missing), line)
               for line in lines)
    assert A.missing_hashes(client, token, scan) == []


def test_check_missing_and_upsert_hashes_go_in_batches_in_path_order(tmp_path, fake, client, monkeypatch):
    scan = S.scan_site(deployed_site(tmp_path))
    hashes = scan.unique_hashes()
    assert len(hashes) >= 5
    token = A.UploadToken(client, "site")
    fake.assets[hashes[1]] = (b"", "text/plain")  # known: two batches answer less than they were asked
    fake.assets[hashes[4]] = (b"", "text/plain")
    monkeypatch.setattr(A, "HASH_BATCH", 2)
    batches = [hashes[i:i + 2] for i in range(0, len(hashes), 2)]
    missing = A.missing_hashes(client, token, scan)
    assert [call[3]["json"]["hashes"] for call in fake.calls_to("check_missing")] == batches
    assert missing == [h for h in hashes if h not in (hashes[1], hashes[4])]
    A.upload_missing(client, token, scan, missing, concurrency=1)
    assert [call[3]["json"]["hashes"] for call in fake.calls_to("upsert_hashes")] == batches


def test_files_are_read_no_more_than_they_can_hold_and_sent_in_small_pieces(tmp_path, monkeypatch):
    write(tmp_path, "small.txt", b"x" * 10)
    write(tmp_path, "big.bin", os.urandom(UH._CHUNK * 2 + 5))
    reads = []

    class Spy:
        def __init__(self, path, mode):
            self.handle = open(path, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def read(self, size):
            reads.append(size)
            return self.handle.read(size)

    monkeypatch.setattr(UH, "open", Spy, raising=False)
    small = b"".join(UH.Base64Stream(str(tmp_path / "small.txt"), limit=10))
    assert base64.b64decode(small) == b"x" * 10 and max(reads) <= 11  # one byte past the size shows growth
    scan = S.scan_site(str(tmp_path))
    del reads[:]
    body = A.BucketBody(scan.files).read()
    assert sorted(base64.b64decode(item["value"]) for item in json.loads(body)) == sorted(
        open(f.abspath, "rb").read() for f in scan.files
    )
    assert max(reads) == UH._CHUNK


def test_jwt_expiry_mid_upload_refreshes_without_counting_a_retry(tmp_path, fake, client):
    site = deployed_site(tmp_path)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site", clock=fake.clock)
    missing = A.missing_hashes(client, token, scan)
    state = {"n": 0}

    def expire_after_first_bucket(kwargs):
        state["n"] += 1
        if state["n"] == 2:
            fake.clock.now += 1000  # every JWT handed out so far is now expired server-side
        return None

    fake.faults["upload"] = [expire_after_first_bucket]
    counts = A.upload_missing(client, token, scan, missing, concurrency=1, max_bucket_files=5)
    assert counts["uploaded"] == len(missing)
    assert sorted(set(fake.uploaded_keys())) == sorted(missing)
    assert client.retry_count == 0
    assert fake.tokens_issued >= 2


def test_8000013_is_refreshed_even_before_exp(tmp_path, fake, client):
    site = deployed_site(tmp_path, 5)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site", clock=fake.clock)
    rejected = []

    def reject_first_token(kwargs):
        jwt = kwargs["headers"]["Authorization"].split(" ")[1]
        if A.decode_jwt_claims(jwt)["n"] == 1:
            rejected.append(jwt)
            return fail(401, 8000013, "Unauthorized")
        return None

    fake.faults["check_missing"] = [reject_first_token]
    assert len(A.missing_hashes(client, token, scan)) == len(scan.unique_hashes())
    assert len(rejected) == 1 and fake.tokens_issued == 2 and client.retry_count == 0


def test_resume_after_a_partial_upload(tmp_path, fake, client):
    site = deployed_site(tmp_path, 40)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    # The upload sends the smallest files first: the biggest one's bucket goes last.
    poisoned = max((f for f in scan.files if f.hash in missing), key=lambda f: (f.size, f.path)).hash

    def broken_bucket(kwargs):
        if poisoned in kwargs["data"].decode():
            return fail(500, 8000000, "boom")
        return None

    fake.faults["upload"] = [broken_bucket]
    with pytest.raises(ERR.UploadError) as caught:
        A.upload_missing(client, token, scan, missing, concurrency=1, max_bucket_files=10)
    assert "running again uploads only the missing ones" in str(caught.value)
    assert caught.value.status == 500
    stored = set(fake.assets)
    assert stored and poisoned not in stored

    fake.faults.clear()
    sent_before = len(fake.uploaded_keys())
    again = A.missing_hashes(client, token, scan)
    assert set(again) == set(missing) - stored
    counts = A.upload_missing(client, token, scan, again, concurrency=3, max_bucket_files=10)
    assert counts["uploaded"] == len(again) < len(missing)
    assert sorted(fake.uploaded_keys()[sent_before:]) == sorted(again)
    assert set(fake.assets) == set(missing)


def test_a_retried_bucket_is_sent_whole_again(tmp_path, fake, client):
    site = deployed_site(tmp_path, 6)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    answers = [fail(502, 0, "bad gateway")]
    fake.faults["upload"] = [lambda kwargs: answers.pop() if answers else None]
    counts = A.upload_missing(client, token, scan, missing, concurrency=1)
    assert counts["uploaded"] == len(missing) and client.retry_count == 1
    assert set(fake.assets) == set(missing)


def gateway_timeouts(count):
    """A fault answering the first ``count`` bucket uploads with Cloudflare's HTML 524."""
    left = [count]

    def fault(kwargs):
        if left[0] <= 0:
            return None
        left[0] -= 1
        resp = requests.Response()
        resp.status_code = 524
        resp._content = b"<html><title>A timeout occurred</title>Error code 524</html>"
        resp.headers = CaseInsensitiveDict({"Content-Type": "text/html"})
        return resp

    return fault


def test_gateway_timeouts_back_off_longer_and_count_from_the_fifth(tmp_path, fake):
    sleeps = []
    client = PagesClient(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, sleep=sleeps.append,
                         rng=random.Random(0), session=fake, max_retries=3, retry_max_wait=10000)
    scan = S.scan_site(deployed_site(tmp_path, 6))
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    lines = []
    fake.faults["upload"] = [gateway_timeouts(6)]  # more than max_retries: the first four do not count
    counts = A.upload_missing(client, token, scan, missing, log=lines.append, concurrency=1)
    assert counts["uploaded"] == len(missing) and len(fake.calls_to("upload")) == 7
    assert client.retry_count == 6
    # wrangler's extra 2^n * 5 s on top of the usual backoff (attempt 0 while uncounted: 0.5..1 s)
    for n, delay in enumerate(sleeps):
        assert 5 * 2 ** n < delay <= 5 * 2 ** n + 4, (n, delay)
    assert sleeps[0] <= 6
    assert any("one bucket at a time" in line for line in lines)


def test_gateway_timeouts_still_give_up(tmp_path, fake):
    client = PagesClient(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, sleep=lambda s: None,
                         rng=random.Random(0), session=fake, max_retries=1, retry_max_wait=10000)
    scan = S.scan_site(deployed_site(tmp_path, 3))
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    fake.faults["upload"] = [gateway_timeouts(100)]
    with pytest.raises(ERR.UploadError) as caught:
        A.upload_missing(client, token, scan, missing, concurrency=1)
    assert caught.value.status == 524
    # four uncounted gateway errors, the fifth counts as retry 1/1, the sixth gives up
    assert len(fake.calls_to("upload")) == 6


def test_gateway_backoff_respects_retry_max_wait(tmp_path, fake):
    client = PagesClient(account_id=ACCOUNT, api_token=TOKEN, base_url=BASE, sleep=lambda s: None,
                         rng=random.Random(0), session=fake, max_retries=5, retry_max_wait=20)
    scan = S.scan_site(deployed_site(tmp_path, 3))
    token = A.UploadToken(client, "site")
    fake.faults["upload"] = [gateway_timeouts(100)]
    with pytest.raises(ERR.UploadError) as caught:
        A.upload_missing(client, token, scan, A.missing_hashes(client, token, scan), concurrency=1)
    assert "retry_max_wait" in str(caught.value)
    assert len(fake.calls_to("upload")) == 3  # waits of ~5.5 and ~10.5 s fit in 20 s, ~21 s does not


def test_after_a_gateway_timeout_buckets_go_one_at_a_time():
    pacer = P.UploadPacer(3)
    inside = []
    with pacer, pacer:
        assert pacer.active == 2  # two of three slots
        assert pacer.gateway_backoff(0) == (5.0, False)
        assert pacer.limit == 1
        blocked = threading.Thread(target=lambda: inside.append(pacer.__enter__()))
        blocked.start()
        blocked.join(0.2)
        assert blocked.is_alive() and not inside  # a third upload waits while others are in flight
    blocked.join(2)
    assert inside == [pacer] and pacer.active == 1
    pacer.__exit__(None, None, None)
    assert pacer.gateway_backoff(3) == (40.0, False) and pacer.gateway_backoff(4) == (80.0, True)


def test_bucket_read_timeout_scales_with_its_size(tmp_path, fake, client):
    write(tmp_path, "small.bin", b"x" * 1000)
    write(tmp_path, "big.bin", os.urandom(3 * UH.MiB))
    scan = S.scan_site(str(tmp_path))
    token = A.UploadToken(client, "site")
    A.upload_missing(client, token, scan, A.missing_hashes(client, token, scan), concurrency=1,
                     max_bucket_files=1)
    timeouts = sorted(call[3]["timeout"] for call in fake.calls_to("upload"))
    assert timeouts[0] == pytest.approx(client.timeout, abs=0.01)
    assert timeouts[1] == pytest.approx(client.timeout + 4, abs=0.1)  # ~4 MiB of base64 JSON
    assert fake.calls_to("check_missing")[0][3]["timeout"] == client.timeout


def test_upsert_failure_only_warns(tmp_path, fake, client):
    site = deployed_site(tmp_path, 4)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site")
    fake.faults["upsert_hashes"] = [lambda kwargs: fail(400, 8000099, "nope")]
    counts = A.upload_missing(client, token, scan, A.missing_hashes(client, token, scan))
    assert len(counts["warnings"]) == 1 and "upsert-hashes failed" in counts["warnings"][0]


def test_changed_file_is_detected_before_upload(tmp_path, fake, client):
    site = deployed_site(tmp_path, 3)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    with open(scan.files[0].abspath, "ab") as handle:
        handle.write(b"more")
    with pytest.raises(ERR.UploadError, match="changed or disappeared"):
        A.upload_missing(client, token, scan, missing)
    assert not fake.calls_to("upload")


def test_file_rewritten_with_the_same_size_is_detected_before_upload(tmp_path, fake, client):
    site = deployed_site(tmp_path, 3)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    target = scan.files[0]
    os.utime(target.abspath, ns=(target.mtime_ns + 10**9, target.mtime_ns + 10**9))
    with pytest.raises(ERR.UploadError, match="changed or disappeared"):
        A.upload_missing(client, token, scan, missing)
    assert not fake.calls_to("upload")


def test_file_rewritten_during_the_upload_is_not_sent_under_its_old_hash(tmp_path, fake, client):
    """Same size, other content, new mtime, between two buckets: the upload stops with an error."""
    site = deployed_site(tmp_path, 8)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    rewritten = []

    def rewrite_the_rest(kwargs):
        if rewritten:
            return None
        sent = set(item["key"] for item in json.loads(kwargs["data"]))
        for f in scan.files:
            if f.hash not in sent:
                content = open(f.abspath, "rb").read()
                with open(f.abspath, "wb") as handle:
                    handle.write(bytes(byte ^ 0xFF for byte in content))
                os.utime(f.abspath, ns=(f.mtime_ns + 10**9, f.mtime_ns + 10**9))
                rewritten.append(f.hash)
        return None

    fake.faults["upload"] = [rewrite_the_rest]
    with pytest.raises(ERR.UploadError, match="modified during the upload"):
        A.upload_missing(client, token, scan, missing, concurrency=1, max_bucket_files=2)
    assert rewritten and not set(rewritten) & set(fake.assets)
    assert not fake.calls_to("upsert_hashes")


def test_the_first_failed_bucket_stops_the_remaining_ones(tmp_path, fake, client):
    site = deployed_site(tmp_path, 10)
    scan = S.scan_site(site)
    token = A.UploadToken(client, "site")
    missing = A.missing_hashes(client, token, scan)
    answered = []

    def fail_first_slow_others(kwargs):
        answered.append(True)
        if len(answered) == 1:
            return fail(400, 8000099, "refused")
        time.sleep(0.05)  # the others are still busy when the first one fails
        return None

    fake.faults["upload"] = [fail_first_slow_others]
    with pytest.raises(ERR.UploadError, match="refused"):
        A.upload_missing(client, token, scan, missing, concurrency=2, max_bucket_files=1)
    buckets = len(UB.plan_buckets(UB.files_to_send(scan, missing), 2, UB.MAX_BUCKET_BYTES, 1))
    assert buckets == len(missing) >= 9
    assert len(fake.calls_to("upload")) <= 3 < buckets
    assert not fake.calls_to("upsert_hashes")


# --------------------------------------------------------------------------- the whole flow


class TickingTime:
    """A ``time`` whose monotonic clock moves a second at every reading: every phase timed takes time."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        self.now += 1.0
        return self.now


def test_deploy_then_noop_then_one_file_change(tmp_path, fake, client, monkeypatch):
    monkeypatch.setattr(U, "time", TickingTime())
    build_tree(tmp_path)
    site = str(tmp_path)
    first = deploy_directory(client, "site", site, commit_message="first")
    assert first["changed"] and first["branch"] == "main"
    assert first["upload"]["uploaded"] == len(first["scan"].unique_hashes())
    dep = fake.deployments[0]
    assert first["deployment"]["id"] == dep["id"] == fake.project["canonical_deployment"]["id"]
    assert dep["manifest"] == first["scan"].manifest
    assert sorted(fake.special[dep["id"]]) == ["_headers", "_redirects", "_routes.json", "_worker.bundle"]
    assert dep["deployment_trigger"]["metadata"]["commit_message"].endswith(first["digest"][:32])

    # Where the time went, by phase: every phase that ran took some time (the fake API too).
    timings = first["upload"]["timings"]
    assert list(timings) == ["scan", "hash", "worker", "check_missing", "upload", "deployment", "wait"]
    assert all(timings[phase] > 0 for phase in ("scan", "check_missing", "upload", "deployment"))
    assert timings["wait"] == 0  # the engine does not wait: the module does

    calls = len(fake.calls)
    again = deploy_directory(client, "site", site, commit_message="another message")
    assert not again["changed"] and again["deployment"]["id"] == dep["id"]
    timings = again["upload"].pop("timings")
    assert timings["check_missing"] == timings["upload"] == 0 and timings["scan"] > 0  # nothing asked, nothing sent
    assert again["upload"] == {"files": len(again["scan"].files), "bytes": again["scan"].total_bytes,
                               "uploaded": 0, "uploaded_bytes": 0, "skipped": len(again["scan"].files), "buckets": 0,
                               "hash_cache_hits": again["scan"].cache_hits}
    made = [c[2] for c in fake.calls[calls:]]
    assert "upload" not in made and "create_deployment" not in made and "upload_token" not in made
    assert made == ["get_project"]  # production: the project's canonical deployment is enough

    write(tmp_path, "index.html", "<h1>changed</h1>")
    third = deploy_directory(client, "site", site)
    assert third["changed"] and third["upload"]["uploaded"] == 1 and third["upload"]["buckets"] == 1
    assert fake.uploaded_keys()[-1] == third["scan"].manifest["/index.html"]
    assert len(fake.deployments) == 2


def test_noop_is_per_branch_and_honours_force(tmp_path, fake, client):
    site = deployed_site(tmp_path, 5)
    assert deploy_directory(client, "site", site, branch="preview-a")["changed"]
    assert not deploy_directory(client, "site", site, branch="preview-a")["changed"]
    other = deploy_directory(client, "site", site, branch="preview-b")
    assert other["changed"] and other["upload"]["uploaded"] == 0  # content already there
    forced = deploy_directory(client, "site", site, branch="preview-b", force=True)
    assert forced["changed"] and len(fake.deployments) == 3


def test_special_file_change_is_a_change(tmp_path, fake, client):
    build_tree(tmp_path)
    deploy_directory(client, "site", str(tmp_path))
    write(tmp_path, "_redirects", "/x /y 302\n")
    result = deploy_directory(client, "site", str(tmp_path))
    assert result["changed"] and result["upload"]["uploaded"] == 0 and len(fake.deployments) == 2


def test_redeploying_an_older_site_is_a_change(tmp_path, fake, client):
    site = deployed_site(tmp_path, 3)
    deploy_directory(client, "site", site, branch="dev")
    path = write(tmp_path, "extra.txt", "x")
    deploy_directory(client, "site", site, branch="dev")
    os.remove(path)
    assert deploy_directory(client, "site", site, branch="dev")["changed"]  # back to the first
    assert len(fake.deployments) == 3


def test_production_noop_compares_with_the_live_deployment(tmp_path, fake, client):
    site = deployed_site(tmp_path, 3)
    first = deploy_directory(client, "site", site)["deployment"]
    write(tmp_path, "extra.txt", "x")
    deploy_directory(client, "site", site)
    fake.project["canonical_deployment"] = first  # a rollback to the first one
    assert deploy_directory(client, "site", site)["changed"]  # what we deploy is not live


def test_failed_deployment_with_the_same_digest_is_redeployed(tmp_path, fake, client):
    site = deployed_site(tmp_path, 3)
    deploy_directory(client, "site", site, branch="dev")
    fake.deployments[0]["latest_stage"] = {"name": "deploy", "status": "failure"}
    assert deploy_directory(client, "site", site, branch="dev")["changed"]


def test_check_mode_uploads_and_creates_nothing(tmp_path, fake, client):
    site = deployed_site(tmp_path, 10)
    result = deploy_directory(client, "site", site, check_mode=True)
    assert result["changed"] and result["deployment"] is None
    assert result["upload"]["uploaded"] == 10 and result["upload"]["uploaded_bytes"] == result["scan"].total_bytes
    made = set(c[2] for c in fake.calls)
    assert made <= {"get_project", "list_deployments", "upload_token", "check_missing"}
    deploy_directory(client, "site", site)
    result = deploy_directory(client, "site", site, check_mode=True)
    assert not result["changed"] and result["upload"]["uploaded"] == 0


def test_check_mode_for_a_missing_project(tmp_path, fake, client):
    site = deployed_site(tmp_path, 4)
    fake.faults["get_project"] = [lambda kwargs: fail(404, 8000007, "Project not found")]
    result = deploy_directory(client, "site", site, check_mode=True)
    assert result["changed"] and result["upload"]["uploaded"] == 4
    assert "project site does not exist: every file would be uploaded" in result["warnings"]
    with pytest.raises(ERR.UploadError, match="does not exist"):
        deploy_directory(client, "site", site)


def test_force_upload_skips_check_missing(tmp_path, fake, client):
    site = deployed_site(tmp_path, 6)
    deploy_directory(client, "site", site, branch="a")
    checks = len(fake.calls_to("check_missing"))
    result = deploy_directory(client, "site", site, branch="b", force_upload=True)
    assert result["upload"]["uploaded"] == 6 and len(fake.calls_to("check_missing")) == checks


def test_create_is_not_duplicated_when_the_first_try_succeeded_unseen(tmp_path, fake, client):
    site = deployed_site(tmp_path, 4)
    deploy_directory(client, "site", site, branch="dev")  # an older deployment with the same digest
    write(tmp_path, "new.txt", "n")
    deploy_directory(client, "site", site, branch="dev")
    os.remove(os.path.join(site, "new.txt"))
    state = {"cut": True}

    def create_then_drop_the_connection(kwargs):
        if state["cut"]:
            state["cut"] = False
            fake.do_create_deployment(kwargs)
            return requests.exceptions.ConnectionError("connection reset")
        return None

    fake.faults["create_deployment"] = [create_then_drop_the_connection]
    posts = len(fake.calls_to("create_deployment"))
    result = deploy_directory(client, "site", site, branch="dev")
    assert len(fake.calls_to("create_deployment")) == posts + 1 and len(fake.deployments) == 3
    assert result["deployment"]["id"] == fake.deployments[0]["id"]


def test_create_is_sent_again_when_the_first_try_did_not_land(tmp_path, fake, client):
    site = deployed_site(tmp_path, 4)
    deploy_directory(client, "site", site, branch="dev")
    answers = [requests.exceptions.ConnectionError("refused")]
    fake.faults["create_deployment"] = [lambda kwargs: answers.pop() if answers else None]
    result = deploy_directory(client, "site", site, branch="dev", force=True)
    assert len(fake.calls_to("create_deployment")) == 3 and len(fake.deployments) == 2
    assert result["deployment"]["id"] == "dep-2"


def test_project_info_and_logging(tmp_path, fake, client):
    site = deployed_site(tmp_path, 3)
    lines = []
    info = {"name": "site", "production_branch": "main", "canonical_deployment": None}
    result = deploy_directory(client, "site", site, project_info=info, log=lines.append)
    assert result["changed"] and not fake.calls_to("get_project")
    assert lines[0].startswith("scanned ") and lines[-1] == "created deployment %s" % result["deployment"]["id"]


def test_sigint_before_the_upload_changes_nothing(tmp_path, fake, client):
    site = deployed_site(tmp_path, 3)
    cancel = threading.Event()
    cancel.set()
    engine = U.DirectUpload(client, U.DeployRequest("site", site), cancel=cancel)
    with pytest.raises(ERR.UploadError) as err:
        engine.run()
    assert str(err.value) == "Interrupted (SIGINT) after the site was scanned; nothing was uploaded or changed."
    assert [c[2] for c in fake.calls] == []


def test_the_manifest_is_built_in_batches_as_one_json_dumps_would(tmp_path, monkeypatch):
    """ManifestField produces the field a batch of entries at a time: the bytes are those of one
    json.dumps of the whole manifest, sorted, across batch boundaries and with paths JSON escapes,
    and its length (the request's Content-Length) is theirs."""
    names = ["z.html", "a.html", "caf\u00e9.html", 'quo"te.txt', "back\\slash.txt", "\u65e5\u672c.txt", "A.css"]
    names += ["d%d/f%d.txt" % (i % 3, i) for i in range(10)]
    for index, name in enumerate(names):
        write(tmp_path, name, "x%d" % index)
    scan = S.scan_site(str(tmp_path))
    expected = json.dumps(scan.manifest, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode("utf-8")
    monkeypatch.setattr(U, "_MANIFEST_BATCH", 4)
    scan.files.reverse()  # a scan's files are sorted; the body does not rely on it
    field = U.build_deployment_fields(scan, "main")[0][1][1]
    assert bytes(field) == bytes(U.ManifestField(scan)) == expected and len(field) == len(expected)
    assert max(len(piece) for piece in field.pieces()) < len(expected) / 2
    assert bytes(U.ManifestField(S.scan_site(str(tmp_path / "d0")))) == b'{"/f0.txt":"%s","/f3.txt":"%s","/f6.txt":"%s","/f9.txt":"%s"}' % tuple(
        f.hash.encode() for f in sorted(S.scan_site(str(tmp_path / "d0")).files, key=lambda f: f.path))


def test_the_manifest_keeps_non_ascii_paths_as_they_are(tmp_path):
    write(tmp_path, "caf\u00e9.html", "x")
    text = bytes(U.ManifestField(S.scan_site(str(tmp_path)))).decode("utf-8")
    assert text.startswith('{"/caf\u00e9.html":"') and "\\u00e9" not in text


def test_bucket_plan_splits_big_uploads_for_overlap_but_not_small_ones():
    files = [S.SiteFile("/f%d" % i, "/x", 12000) for i in range(5000)]  # 60 MB
    buckets = UB.plan_buckets(files, concurrency=3)
    assert len(buckets) == 3 * UB.BUCKETS_PER_WORKER
    assert max(b.size for b in buckets) - min(b.size for b in buckets) <= 12000
    assert len(UB.plan_buckets(files[:50], concurrency=3)) == 1  # 600 kB: one request
    assert len(UB.plan_buckets(files[:200], concurrency=3)) == 3  # 2.4 MB: at least 1 MiB each


# --------------------------------------------------------------------------- full-stack sites


def worker_site(root):
    write(root, "index.html", "<h1>app</h1>")
    write(root, "_worker.js/index.js", 'import { v } from "./lib/v.js";\nexport default { fetch: () => new Response(v) };\n')
    write(root, "_worker.js/lib/v.js", 'export const v = "v1";\n')
    write(root, "_routes.json", '{"version": 1, "include": ["/*"], "exclude": ["/static/*"]}')
    return str(root)


def test_worker_directory_is_deployed_as_a_bundle_and_is_idempotent(tmp_path, fake, client):
    site = worker_site(tmp_path)
    first = deploy_directory(client, "site", site)
    assert first["changed"] and first["worker"] == {"mode": "directory", "modules": 2, "bytes": 104, "bundled": False}
    dep = fake.deployments[0]
    assert sorted(dep["manifest"]) == ["/index.html"]
    sent = fake.special[dep["id"]]
    assert sorted(sent) == ["_routes.json", "_worker.bundle"]
    bundle = WB.bundle_from_blob(sent["_worker.bundle"][1])
    assert [m.name for m in bundle.modules] == ["index.js", "lib/v.js"]
    assert sent["_worker.bundle"][2] == "application/octet-stream"
    assert first["digest"] != S.scan_site(site).digest  # the worker counts

    again = deploy_directory(client, "site", site)
    assert not again["changed"] and again["deployment"]["id"] == dep["id"] and again["digest"] == first["digest"]

    write(tmp_path, "_worker.js/lib/v.js", 'export const v = "v2";\n')
    edited = deploy_directory(client, "site", site)
    assert edited["changed"] and edited["upload"]["uploaded"] == 0 and len(fake.deployments) == 2


def test_excluded_worker_is_not_sent(tmp_path, fake, client):
    site = worker_site(tmp_path)
    out = deploy_directory(client, "site", site, exclude=["_worker.js"])
    assert out["worker"]["mode"] == "none" and "_worker.bundle" not in fake.special[fake.deployments[0]["id"]]
    assert any("_routes.json is not sent" in w for w in out["warnings"])


def test_bad_worker_is_refused_before_any_request(tmp_path, fake, client):
    write(tmp_path, "_worker.js/index.js", 'import x from "./missing.js";\n')
    with pytest.raises(ERR.UploadError, match=r'index.js:1: import "./missing.js"'):
        deploy_directory(client, "site", str(tmp_path))
    assert fake.calls == []


def test_functions_build_uses_the_environments_compatibility_settings(tmp_path, fake, client):
    write(tmp_path, "public/index.html", "x")
    write(tmp_path, "functions/hello.js", "export function onRequest() {}")
    exe = write(tmp_path, "bin/wrangler", "#!/bin/sh\nexit 0\n")
    os.chmod(exe, 0o755)
    fake.project["deployment_configs"] = {
        "production": {"compatibility_date": "2024-09-23", "compatibility_flags": ["nodejs_compat"]},
        "preview": {"compatibility_date": "2023-01-01", "compatibility_flags": []},
    }
    seen = []

    def run_command(argv, cwd, environ_update):
        seen.append(argv)
        out = argv[argv.index("--outfile") + 1]
        main = [WB.WorkerModule("functionsWorker-0.%d.js" % len(seen), "esm", b"export default {}")]
        with open(out, "wb") as handle:
            handle.write(WB.encode_bundle(main))
        with open(argv[argv.index("--output-routes-path") + 1], "w") as handle:
            handle.write('{"version":1,"include":["/hello"],"exclude":[]}')
        return 0, "", ""

    def engine(branch):
        request = U.DeployRequest("site", str(tmp_path / "public"), branch=branch, wrangler_executable=exe)
        return U.DirectUpload(client, request, run_command=run_command)

    first = engine("main").run()
    assert first["worker"]["mode"] == "functions"
    assert seen[-1][seen[-1].index("--compatibility-date") + 1] == "2024-09-23"
    assert seen[-1][seen[-1].index("--compatibility-flags") + 1] == "nodejs_compat"
    sent = fake.special[fake.deployments[0]["id"]]
    assert sent["_routes.json"][1] == b'{"version":1,"include":["/hello"],"exclude":[]}'
    assert not engine("main").run()["changed"]  # another random main module name, the same digest
    for preview_branch in ("feature", "topic"):  # before and after "main" in sort order
        engine(preview_branch).run(check_mode=True)
        assert seen[-1][seen[-1].index("--compatibility-date") + 1] == "2023-01-01"
        assert "--compatibility-flags" not in seen[-1]


def test_worker_importing_files_outside_it_is_bundled_by_wrangler_and_idempotent(tmp_path, fake, client):
    """SvelteKit's shape: .svelte-kit/cloudflare/_worker.js imports ../output/server/index.js."""
    kit = tmp_path / ".svelte-kit"
    write(kit, "cloudflare/index.html", "home")
    write(kit, "cloudflare/_worker.js", 'import { s } from "../output/server/index.js";\nexport default {};\n')
    write(kit, "output/server/index.js", "export const s = 1;\n")
    exe = write(tmp_path, "bin/wrangler", "#!/bin/sh\nexit 0\n")
    os.chmod(exe, 0o755)
    fake.project["deployment_configs"] = {"production": {"compatibility_date": "2024-09-23"}}
    seen = []

    def run_command(argv, cwd, environ_update):  # what wrangler pages functions build writes
        seen.append(argv)
        server = (kit / "output/server/index.js").read_bytes()
        main = [WB.WorkerModule("functionsWorker-0.%d.js" % len(seen), "esm", server + b"export default {};\n")]
        with open(argv[argv.index("--outfile") + 1], "wb") as handle:
            handle.write(WB.encode_bundle(main))
        return 0, "", ""

    def deploy(**options):
        request = U.DeployRequest("site", str(kit / "cloudflare"), wrangler_executable=exe, **options)
        return U.DirectUpload(client, request, run_command=run_command).run()

    first = deploy()
    assert first["changed"] and first["worker"] == {"mode": "file", "modules": 1, "bytes": 39, "bundled": True}
    assert seen[-1][seen[-1].index("--compatibility-date") + 1] == "2024-09-23"
    sent = fake.special[fake.deployments[0]["id"]]["_worker.bundle"][1]
    assert b"export const s = 1;" in sent and b"functionsWorker-0.1.js" in sent
    assert not deploy()["changed"]  # another random name, the same digest
    write(kit, "output/server/index.js", "export const s = 2;\n")
    assert deploy()["changed"]  # a file outside source changed what is deployed
    calls = len(fake.calls)
    with pytest.raises(ERR.UploadError, match=r'_worker.js:1: import "../output/server/index.js" \(points above'):
        deploy(worker_bundle="never")
    assert len(fake.calls) == calls  # refused before any request


# --------------------------------------------------------------------------- the core's bucket loop (any backend)


def _buckets(count, files_each=2):
    files = [S.SiteFile("/f%02d" % i, "/x", 10) for i in range(count * files_each)]
    return UB.plan_buckets(files, concurrency=count, min_buckets=count, max_files=files_each)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_send_buckets_sends_each_bucket_once_through_the_backends_callable(concurrency):
    buckets = _buckets(5)
    sent, lines = [], []
    done = UB.send_buckets(buckets, sent.append, concurrency, log=lines.append)
    assert sorted(map(id, sent)) == sorted(map(id, buckets)) == sorted(map(id, done))
    assert len(lines) == 5 and all(line.startswith("uploaded bucket ") for line in lines)


def test_send_buckets_stops_at_the_first_failure_and_names_the_bucket():
    buckets = _buckets(4)
    sent = []

    def send(bucket):
        sent.append(bucket)
        raise ERR.PagesAPIError("bad gateway", 502, [{"code": 1, "message": "x"}], "POST", "/upload")

    with pytest.raises(ERR.UploadError) as info:
        UB.send_buckets(buckets, send, 1)
    assert len(sent) == 1  # nothing after the failure started
    assert "failed to upload 2 files (bucket 1," in info.value.message and "bad gateway" in info.value.message
    assert info.value.status == 502


def test_send_buckets_starts_nothing_once_cancelled_and_says_what_was_sent():
    buckets = _buckets(3)
    flag = threading.Event()
    sent = []

    def send(bucket):
        sent.append(bucket)
        flag.set()  # SIGINT arrives while the first bucket is sent

    with pytest.raises(ERR.UploadError) as info:
        UB.send_buckets(buckets, send, 1, cancel=flag)
    assert len(sent) == 1
    assert "after uploading 1 buckets (2 of 6 files)" in info.value.message


# --------------------------------------------------------------------------- one entry: run() with a project to create


def test_run_checks_a_site_for_a_new_project_before_creating_it(fake, tmp_path, monkeypatch):
    for name in ("index.html", "a.html", "b.html"):
        write(tmp_path, name, name.encode())
    monkeypatch.setattr(U, "MAX_FILE_COUNT_ANY_PLAN", 2)
    created = []
    engine = U.DirectUpload(make_client(fake), U.DeployRequest("site", str(tmp_path), hash_cache=False))
    with pytest.raises(ERR.FileCountError) as info:
        engine.run(create_project=lambda: created.append(1))
    assert "3 files" in info.value.message and "the most any Pages plan allows" in info.value.message
    assert created == [] and fake.calls == []


@pytest.mark.parametrize("check_mode", [True, False])
def test_run_creates_a_missing_project_then_plans_and_deploys_in_one_call(fake, tmp_path, check_mode):
    write(tmp_path, "index.html", b"hi")
    engine = U.DirectUpload(make_client(fake), U.DeployRequest("site", str(tmp_path), hash_cache=False,
                                                               production_branch="main"))
    out = engine.run(check_mode=check_mode, create_project=lambda: None if check_mode else fake.project)
    assert out["changed"] and out["branch"] == "main" and out["upload"]["uploaded"] == 1
    assert not fake.calls_to("get_project")  # the caller knew it did not exist
    assert len(fake.calls_to("create_deployment")) == (0 if check_mode else 1)
    assert engine.cancel is None  # the SIGINT flag run() installed is gone


@pytest.mark.parametrize("option, value, words", [
    ("upload_concurrency", 0, "from 1 to 10"), ("upload_concurrency", 11, "from 1 to 10"),
    ("max_bucket_bytes", 1000, "from 65536 to 41943040"), ("max_bucket_bytes", 40 * UH.MiB + 1, "40 MiB"),
])
def test_upload_options_out_of_range_are_refused_by_name(option, value, words):
    options = {"project_name": "site", "source": "/x", "commit_hash": None, "commit_message": None,
               "commit_dirty": None, "exclude": [], "force": False, "force_upload": False, "branch": "main",
               "production_branch": None, option: value}
    with pytest.raises(ERR.UploadError) as err:
        U.DeployRequest.from_options(options)
    assert str(err.value).startswith(option + " must be") and words in str(err.value) and repr(value) in str(err.value)


def test_upload_options_reach_the_request():
    options = {"project_name": "site", "source": "/x", "commit_hash": None, "commit_message": None,
               "commit_dirty": None, "exclude": [], "force": False, "force_upload": False,
               "branch": "main", "production_branch": None, "upload_concurrency": 1, "max_bucket_bytes": 65536}
    request = U.DeployRequest.from_options(options)
    assert (request.concurrency, request.max_bucket_bytes) == (1, 65536)
    default = U.DeployRequest.from_options(dict(options, upload_concurrency=None, max_bucket_bytes=None))
    assert (default.concurrency, default.max_bucket_bytes) == (3, 40 * UH.MiB)


@pytest.mark.parametrize("order", ["path", "reversed"])
def test_files_to_send_picks_the_first_file_of_each_missing_hash(order):
    class File:
        def __init__(self, path, hash):
            self.path, self.hash = path, hash

    class Scan:
        files = [File("/a", "A"), File("/b", "B"), File("/c", "A"), File("/d", "C"), File("/e", "D"), File("/f", "C")]

    missing = ["A", "C", "D"] if order == "path" else ["D", "C", "A"]
    assert [f.path for f in UB.files_to_send(Scan, missing)] == ["/a", "/d", "/e"]
    assert [f.path for f in UB.files_to_send(Scan, ["C"])] == ["/d"]
    assert UB.files_to_send(Scan, []) == []


def test_unique_hashes_keep_the_first_of_each_in_path_order(tmp_path):
    contents = {"a/1.txt": "x", "b.txt": "y", "c/2.txt": "x", "d.txt": "z", "e.txt": "y", "f.txt": "w"}
    for name, content in contents.items():
        write(tmp_path, name, content)
    scan = S.scan_site(str(tmp_path))
    by_path = dict((f.path, f.hash) for f in scan.files)
    expected = [by_path["/a/1.txt"], by_path["/b.txt"], by_path["/d.txt"], by_path["/f.txt"]]
    assert scan.unique_hashes() == expected
    assert scan.unique_hashes() is not scan.unique_hashes()  # a new list each time


def test_a_file_gone_before_it_is_sent_names_it_in_both_backends(tmp_path):
    from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import workers_assets as WA

    write(tmp_path, "a.txt", "a")
    write(tmp_path, "gone.txt", "gone")
    scan = S.scan_site(str(tmp_path))
    os.remove(str(tmp_path / "gone.txt"))
    for body in (A.BucketBody(scan.files), WA.MultipartBody(scan.files)):
        with pytest.raises(ERR.UploadError) as err:  # not an OSError, which the client would retry as a lost connection
            body.read()
        assert str(err.value).startswith("cannot read %s" % (tmp_path / "gone.txt"))
