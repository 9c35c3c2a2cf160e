# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the Workers assets backend: which files are assets (wrangler deploy's rules, not
Pages'), the hash, the limits, and the upload session / buckets / completion token flow."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import os

import blake3
import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import FileCountError, UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import scan as _scan
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import workers_assets as WA
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write


def site(tmp_path):
    for rel in ("index.html", "_headers", "_redirects", "_routes.json", "node_modules/x.js", ".assetsignore",
                "private/key.txt", "a/b.css", "functions/api.js"):
        write(tmp_path, rel, "content of %s\n" % rel)
    write(tmp_path, ".assetsignore", "# secrets\nprivate\n\n*.map\n")
    write(tmp_path, "app.js.map", "{}")
    return tmp_path


def paths(scan):
    return [f.path for f in scan.files]


def test_workers_rules_are_wranglers(tmp_path):
    root = site(tmp_path)
    scan = _scan.scan_site(str(root), exclude=WA.assetsignore_patterns(str(root)), rules=WA.WORKERS_RULES)
    # Top-level _headers/_redirects travel in assets.config; .assetsignore and what it lists stay out;
    # unlike Pages, node_modules, _routes.json and functions/ are assets.
    assert paths(scan) == ["/_routes.json", "/a/b.css", "/functions/api.js", "/index.html", "/node_modules/x.js"]
    assert sorted(scan.special) == ["_headers", "_redirects"]
    assert WA.read_special(scan) == {"_headers": "content of _headers\n", "_redirects": "content of _redirects\n"}


def test_pages_rules_unchanged(tmp_path):
    root = site(tmp_path)
    scan = _scan.scan_site(str(root))
    assert "/node_modules/x.js" not in paths(scan) and "/_routes.json" not in paths(scan)
    assert "/.assetsignore" in paths(scan)


def test_hash_is_wranglers(tmp_path):
    """workers-sdk deploy-helpers/src/deploy/helpers/hash.ts: blake3(base64(bytes) + extension)[:32]."""
    data = b"\x00\x01binary\xff" * 100
    write(tmp_path, "img/logo.png", data)
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    expected = blake3.blake3(base64.b64encode(data) + b"png").hexdigest()[:32]
    assert WA.manifest_of(scan) == {"/img/logo.png": {"hash": expected, "size": len(data)}}


def test_negated_assetsignore_is_refused(tmp_path):
    write(tmp_path, ".assetsignore", "*.txt\n!keep.txt\n")
    with pytest.raises(UploadError, match="negated patterns"):
        WA.assetsignore_patterns(str(tmp_path))


def test_limits(tmp_path, monkeypatch):
    write(tmp_path, "a.txt", "a")
    write(tmp_path, "b.txt", "b")
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    with pytest.raises(FileCountError, match="at most 1 static assets"):
        WA.preflight(scan, max_file_count=1)
    WA.preflight(scan)
    scan.files[0].size = WA.MAX_ASSET_SIZE + 1
    with pytest.raises(UploadError, match=r"25 MiB each; 1 file too large: /a.txt"):
        WA.preflight(scan)
    scan.files[0].size = WA.MAX_ASSET_SIZE
    WA.preflight(scan)


def parse_multipart(body, content_type):
    """``[(name, (filename, base64 bytes, part type))]`` of a multipart body, read the way requests
    reads a file-like body (in blocks, after len()), parsed by the standard library's MIME parser."""
    length = len(body)
    blocks = []
    while True:
        block = body.read(8192)
        if not block:
            break
        blocks.append(block)
    raw = b"".join(blocks)
    assert len(raw) == length
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    assert message.is_multipart() and not message.defects
    return [(part.get_param("name", header="content-disposition"),
             (part.get_filename(), part.get_payload(decode=False).encode(), part["Content-Type"]))
            for part in message.get_payload()]


class FakeApi:
    """The session asks for ``missing`` hashes in buckets of ``per_bucket``; the last bucket answers the
    completion token."""

    class client:  # noqa: N801 - stands for PagesClient's attributes the backend reads
        timeout = 30.0

    def __init__(self, missing, per_bucket=2):
        self.missing = list(missing)
        self.per_bucket = per_bucket
        self.sessions = []
        self.uploads = []

    def assets_upload_session(self, script, manifest):
        self.sessions.append((script, manifest))
        buckets = [self.missing[i:i + self.per_bucket] for i in range(0, len(self.missing), self.per_bucket)]
        return {"jwt": "upload-jwt" if buckets else "completion-jwt", "buckets": buckets}

    def upload_assets(self, jwt, body, content_type, timeout=None, gateway_backoff=None):
        assert jwt == "upload-jwt" and timeout > 30.0 and gateway_backoff is not None
        files = parse_multipart(body(), content_type)
        assert parse_multipart(body(), content_type) == files  # one body per attempt, each whole
        self.uploads.append(files)
        done = sum(len(u) for u in self.uploads) == len(self.missing)
        return {"jwt": "completion-jwt"} if done else {}


def test_upload_sends_only_what_the_session_asks(tmp_path):
    for name in ("a.html", "b.css", "c.js", "same.html"):
        write(tmp_path, name, "x" if name == "same.html" else name)
    write(tmp_path, "a-copy.html", "a.html")
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    by_path = dict((f.path, f) for f in scan.files)
    missing = [by_path["/a.html"].hash, by_path["/c.js"].hash, by_path["/same.html"].hash]
    api = FakeApi(missing)
    jwt, counts = WA.upload_assets(api, "site", scan, concurrency=1)
    assert jwt == "completion-jwt"
    assert api.sessions[0][1]["/a-copy.html"] == {"hash": by_path["/a.html"].hash, "size": 6}
    sent = [part for bucket in api.uploads for part in bucket]
    assert [p[0] for p in sent] == missing  # one part per asked hash, named by it
    name, (filename, body, ctype) = sent[0]
    assert filename == name and base64.b64decode(body) == b"a.html" and ctype == "text/html; charset=utf-8"
    assert sent[1][1][2] == "text/javascript; charset=utf-8"  # mime@4, as wrangler deploy types it
    assert counts["uploaded"] == 3 and counts["skipped"] == 2 and counts["buckets"] == 2 and counts["files"] == 5


def test_multipart_body_is_streamed_with_its_length(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 1)  # more than one read block, not a multiple of 3
    write(tmp_path, "big.bin", data)
    write(tmp_path, "empty.txt", "")
    write(tmp_path, "page.html", "<h1>hi</h1>")
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    body = WA.MultipartBody(scan.files, "b0undary")
    assert body.content_type == "multipart/form-data; boundary=b0undary"
    assert len(body) == WA.multipart_length(scan.files, "b0undary")
    parts = parse_multipart(body, body.content_type)
    assert [p[0] for p in parts] == [f.hash for f in scan.files]
    assert base64.b64decode(parts[0][1][1]) == data and parts[0][1][2] == WA.part_type(scan.files[0])
    assert parts[1][1][1] == b"" and parts[2][1][2] == "text/html; charset=utf-8"
    # requests sends it as it is, with its Content-Length, without reading it first
    requests = pytest.importorskip("requests")
    body = WA.MultipartBody(scan.files)
    prepared = requests.Request("POST", "http://emulator.invalid/", data=body,
                                headers={"Content-Type": body.content_type}).prepare()
    assert prepared.body is body and prepared.headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in prepared.headers


def test_multipart_body_refuses_a_file_changed_since_hashed(tmp_path):
    write(tmp_path, "a.html", "abc")
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    write(tmp_path, "a.html", "abcd")
    with pytest.raises(UploadError, match="changed since it was hashed"):
        WA.MultipartBody(scan.files).read()


def test_nothing_missing_means_no_upload(tmp_path):
    write(tmp_path, "a.html", "a")
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    api = FakeApi([])
    jwt, counts = WA.upload_assets(api, "site", scan)
    assert jwt == "completion-jwt" and api.uploads == [] and counts["uploaded"] == 0


def test_unknown_type_is_sent_as_application_null(tmp_path):
    write(tmp_path, "LICENSE", "MIT")
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    assert WA.part_type(scan.files[0]) == "application/null"


def test_asked_hash_not_in_manifest(tmp_path):
    write(tmp_path, "a.html", "a")
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    with pytest.raises(UploadError, match="does not have"):
        WA.upload_assets(FakeApi(["f" * 32]), "site", scan)


def test_no_completion_token(tmp_path):
    write(tmp_path, "a.html", "a")
    scan = _scan.scan_site(str(tmp_path), rules=WA.WORKERS_RULES)
    api = FakeApi([scan.files[0].hash])
    api.upload_assets = lambda jwt, body, content_type, timeout=None, gateway_backoff=None: {}
    with pytest.raises(UploadError, match="completion token"):
        WA.upload_assets(api, "site", scan)


@pytest.mark.parametrize("path, expected", [
    ("/index.html", "text/html; charset=utf-8"),
    ("/app.mjs", "text/javascript; charset=utf-8"),
    ("/data.json", "application/json"),
    ("/logo.svg", "image/svg+xml"),
    ("/a/LICENSE", None),
    ("/x.es", None),  # mime@3 knows .es, mime@4 does not
    ("/photo.jxl", "image/jxl"),
])
def test_workers_content_types_are_mime4(path, expected):
    from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.content_types import (
        content_type_of, workers_content_type_of)
    assert workers_content_type_of(path) == expected
    # The Pages table is untouched (mime@3, octet-stream when unknown).
    assert content_type_of("/app.js") == "application/javascript" and content_type_of("/a/LICENSE") == "application/octet-stream"
