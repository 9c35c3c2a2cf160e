# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the engine's safety checks: links out of the site, unreadable files, empty sites,
names Pages cannot serve, the index marker, and an upload cancelled by SIGINT."""

from __future__ import annotations

import os
import threading

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import (
    hashing as UH,
    pages_assets as A,
    pages_deploy as U,
    scan as S,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.site_checks import INDEX_MARKER
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write as write_file

pytestmark = pytest.mark.skipif(not UH.HAS_BLAKE3, reason="blake3 is not installed")


def write(root, rel, content=b"x"):
    return write_file(root, rel, content)


def outside_tree(tmp_path):
    site = tmp_path / "site"
    write(site, "index.html", b"<h1>hi</h1>")
    write(tmp_path, "private/key.pem", b"secret")
    write(tmp_path, "private/dir/a.txt", b"a")
    os.symlink(str(tmp_path / "private" / "key.pem"), str(site / "one.pem"))
    os.makedirs(str(site / "sub"))
    os.symlink(str(tmp_path / "private" / "key.pem"), str(site / "sub" / "two.pem"))
    os.symlink(str(tmp_path / "private" / "dir"), str(site / "linked"))
    os.symlink(str(site / "index.html"), str(site / "home.html"))  # inside: fine
    return str(site)


def test_links_out_of_the_site_are_followed_with_one_warning_per_target(tmp_path):
    scan = S.scan_site(outside_tree(tmp_path))
    assert sorted(f.path for f in scan.files) == [
        "/home.html", "/index.html", "/linked/a.txt", "/one.pem", "/sub/two.pem"]
    outside = [w for w in scan.warnings if "outside" in w]
    assert len(outside) == 2
    key = [w for w in outside if str(tmp_path / "private" / "key.pem") in w]
    assert len(key) == 1 and "/one.pem" in key[0] and "/sub/two.pem" in key[0] and "follow_symlinks: inside" in key[0]
    assert not any("home.html" in w for w in scan.warnings)


def test_inside_refuses_links_out_of_the_site_without_walking_them(tmp_path):
    site = outside_tree(tmp_path)
    os.symlink("/", os.path.join(site, "everything"))  # never walked: the scan would take ages
    with pytest.raises(ERR.UploadError) as err:
        S.scan_site(site, follow_symlinks="inside")
    message = str(err.value)
    for link in ("/one.pem", "/sub/two.pem", "/linked", "/everything -> /"):
        assert link in message
    assert "home.html" not in message and "Nothing was uploaded" in message


def test_inside_accepts_links_within_the_site(tmp_path):
    site = tmp_path / "site"
    write(site, "index.html", b"<h1>hi</h1>")
    os.symlink(str(site / "index.html"), str(site / "home.html"))
    scan = S.scan_site(str(site), follow_symlinks="inside")
    assert sorted(f.path for f in scan.files) == ["/home.html", "/index.html"] and scan.warnings == []


def unreadable_file(site):
    """A file nobody can read, root included: a write-only sysctl where there is one."""
    path = os.path.join(str(site), "locked.bin")
    if os.path.exists("/proc/sys/vm/drop_caches"):
        os.symlink("/proc/sys/vm/drop_caches", path)
        return path
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root reads any file, and there is no write-only sysctl here")
    write(site, "locked.bin")
    os.chmod(path, 0)
    return path


def test_unreadable_file_is_named(tmp_path):
    write(tmp_path, "index.html")
    path = unreadable_file(tmp_path)
    for workers in (1, 4):
        with pytest.raises(ERR.UploadError) as err:
            S.scan_site(str(tmp_path), workers=workers)
        assert str(err.value).startswith("cannot read %s: " % path) and "Errno" not in str(err.value)


def test_empty_site_is_refused_unless_allowed(tmp_path):
    write(tmp_path, "_headers", b"/*\n  X-A: 1\n")
    with pytest.raises(ERR.UploadError) as err:
        U.DirectUpload(None, U.DeployRequest("p", str(tmp_path))).scan()
    assert "no files" in str(err.value) and "allow_empty: true" in str(err.value)
    scan = U.DirectUpload(None, U.DeployRequest("p", str(tmp_path), allow_empty=True)).scan()
    assert scan.files == [] and list(scan.special) == ["_headers"]
    write(tmp_path, "_worker.js", b"export default {}")
    assert U.DirectUpload(None, U.DeployRequest("p", str(tmp_path))).scan().files == []


def test_names_with_control_characters_are_refused_backslashes_warned(tmp_path):
    write(tmp_path, "index.html")
    write(tmp_path, "back\\slash.txt")
    scan = U.DirectUpload(None, U.DeployRequest("p", str(tmp_path))).scan()
    assert any("/back\\slash.txt" in w for w in scan.warnings)
    write(tmp_path, "new\nline.txt")
    with pytest.raises(ERR.UploadError) as err:
        U.DirectUpload(None, U.DeployRequest("p", str(tmp_path))).scan()
    assert "/new\\nline.txt" in str(err.value)


def test_the_commit_message_marks_a_site_with_index_html(tmp_path):
    write(tmp_path, "about.html")
    without = dict(U.build_deployment_fields(S.scan_site(str(tmp_path)), "main", commit_message="m"))
    assert INDEX_MARKER not in without["commit_message"][1].decode()
    write(tmp_path, "index.html")
    scan = S.scan_site(str(tmp_path))
    message = dict(U.build_deployment_fields(scan, "main", commit_message="m"))["commit_message"][1].decode()
    assert message == "m\n\n%s\ncfpages-digest: %s" % (INDEX_MARKER, scan.digest[:32])
    assert U.digest_of_deployment({"deployment_trigger": {"metadata": {"commit_message": message}}}) == scan.digest[:32]
    assert len(U.compose_commit_message("é" * 400, scan.digest, (INDEX_MARKER,)).encode("utf-8")) <= 384


class Token:
    def provider(self):
        return lambda refresh: "jwt"


class CancellingClient:
    """Stores every upload; sets ``cancel`` once ``after`` uploads were stored."""

    timeout = 30.0

    def __init__(self, cancel, after):
        self.cancel = cancel
        self.after = after
        self.uploads = 0
        self.lock = threading.Lock()

    def request(self, method, path, data=None, **kwargs):
        body = data()
        while body.read(65536):
            pass
        with self.lock:
            self.uploads += 1
            if self.uploads >= self.after:
                self.cancel.set()

    def assets_request(self, endpoint, body, provider):
        raise AssertionError("nothing may follow a cancelled upload")


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_cancelled_upload_starts_no_more_buckets(tmp_path, concurrency):
    for i in range(12):
        write(tmp_path, "f%02d.bin" % i, os.urandom(1000 + i))
    scan = S.scan_site(str(tmp_path))
    cancel = threading.Event()
    client = CancellingClient(cancel, after=2)
    with pytest.raises(ERR.UploadError) as err:
        A.upload_missing(client, Token(), scan, scan.unique_hashes(), concurrency=concurrency,
                         max_bucket_files=1, cancel=cancel)
    assert client.uploads < 12 and client.uploads <= 2 + concurrency
    assert "Interrupted (SIGINT)" in str(err.value) and "of 12 files" in str(err.value)
    assert "running the task again uploads only the missing ones" in str(err.value)


def test_a_bucket_body_is_cut_off_when_cancelled(tmp_path):
    write(tmp_path, "big.bin", os.urandom(3 * 1024 * 1024))
    scan = S.scan_site(str(tmp_path))
    cancel = threading.Event()
    body = A.BucketBody(scan.files, cancel)
    assert body.read(1024)
    cancel.set()
    with pytest.raises(ERR.UploadCancelled):
        while body.read(65536):
            pass
