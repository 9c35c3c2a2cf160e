# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the hash cache (``_hash_cache``) through ``_site.scan_site``."""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import (
    hash_cache as HC,
    hashing as UH,
    scan as S,
)
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write as write_file

pytestmark = pytest.mark.skipif(not UH.HAS_BLAKE3, reason="blake3 is not installed")

OLD_NS = 1_600_000_000 * 10**9  # 2020: safely older than any scan


def write(root, rel, content, mtime_ns=OLD_NS):
    path = write_file(root, rel, content)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@pytest.fixture(autouse=True)
def _short_racy_margin(request, monkeypatch):
    """Files written by a test are only milliseconds old and their ctime cannot be set back: with
    the real margin every entry would be racy. The racy tests keep the real one."""
    if "racy" not in request.node.name:
        monkeypatch.setattr(HC, "RACY_MARGIN_NS", 0)


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    write(root, "index.html", b"<h1>home</h1>")
    write(root, "a/b.css", b"body{}")
    write(root, "a/c.js", b"console.log(1)")
    return root


@pytest.fixture
def cache_dir(tmp_path):
    return str(tmp_path / "cache")


class CountingHash:
    """Wraps _site.hash_file to record which files were read."""

    def __init__(self, monkeypatch):
        self.read = []
        real = UH.hash_file

        def counting(abspath, extension, size=None):
            self.read.append(os.path.basename(abspath))
            return real(abspath, extension, size)

        monkeypatch.setattr(S, "hash_file", counting)


def scan(site, cache_dir, workers=1):
    return S.scan_site(str(site), workers=workers, hash_cache=cache_dir)


def fresh_manifest(site):
    return S.scan_site(str(site), workers=1, hash_cache=False).manifest


def test_hit_on_unchanged_files(site, cache_dir, monkeypatch):
    first = scan(site, cache_dir)
    assert first.cache_hits == 0
    counter = CountingHash(monkeypatch)
    second = scan(site, cache_dir, workers=4)
    assert second.cache_hits == 3
    assert counter.read == []
    assert second.manifest == first.manifest == fresh_manifest(site)
    assert second.digest == first.digest


def test_cache_file_holds_no_content(site, cache_dir):
    write(site, "secret.txt", b"THE-CONTENT-ITSELF")
    scanned = scan(site, cache_dir)
    with open(scanned.cache.path, "rb") as handle:
        raw = handle.read()
    assert b"THE-CONTENT-ITSELF" not in raw
    data = json.loads(raw)
    assert set(data["entries"]) == {"/index.html", "/a/b.css", "/a/c.js", "/secret.txt"}
    assert oct(os.stat(scanned.cache.path).st_mode & 0o777) == oct(0o600)


def test_miss_on_changed_size(site, cache_dir, monkeypatch):
    scan(site, cache_dir)
    write(site, "a/b.css", b"body{color:red}")  # same (old) mtime, other size
    counter = CountingHash(monkeypatch)
    second = scan(site, cache_dir)
    assert counter.read == ["b.css"]
    assert second.cache_hits == 2
    assert second.manifest == fresh_manifest(site)


def test_miss_on_changed_mtime(site, cache_dir, monkeypatch):
    scan(site, cache_dir)
    write(site, "a/b.css", b"body{x:1}"[:6], mtime_ns=OLD_NS + 10**9)  # same size, other mtime
    counter = CountingHash(monkeypatch)
    second = scan(site, cache_dir)
    assert counter.read == ["b.css"]
    assert second.manifest == fresh_manifest(site)


def test_miss_on_changed_ctime_with_size_and_mtime_restored(site, cache_dir, monkeypatch):
    """touch -r: content changed, size and mtime restored; only the ctime tells."""
    scan(site, cache_dir)
    time.sleep(0.01)
    write(site, "a/b.css", b"BODY{}")  # same size and, restored, the same mtime
    counter = CountingHash(monkeypatch)
    second = scan(site, cache_dir)
    assert counter.read == ["b.css"]
    assert second.manifest == fresh_manifest(site)


def test_miss_on_inode_file_replaced_by_rename(site, cache_dir, monkeypatch):
    scan(site, cache_dir)
    before = os.stat(os.path.join(str(site), "a", "c.js"))
    tmp = write(site, "a/.c.js.new", b"console.log(2)")
    os.rename(tmp, os.path.join(str(site), "a", "c.js"))
    after = os.stat(os.path.join(str(site), "a", "c.js"))
    assert after.st_ino != before.st_ino and after.st_size == before.st_size
    assert after.st_mtime_ns == before.st_mtime_ns
    # A real replace changes the ctime too; make the inode the only difference the cache sees.
    cache = HC.HashCache(cache_dir, str(site))
    fields = cache.entries["/a/c.js"].split(" ")
    fields[3] = str(after.st_ctime_ns)
    cache.entries["/a/c.js"] = " ".join(fields)
    with open(cache.path, "w", encoding="utf-8") as handle:
        json.dump(dict(kind=HC._KIND, format=HC.CACHE_FORMAT, collection=HC.COLLECTION_VERSION,
                       source=str(site), entries=cache.entries), handle)
    counter = CountingHash(monkeypatch)
    second = scan(site, cache_dir)
    assert "c.js" in counter.read
    assert second.manifest == fresh_manifest(site)


def test_racy_entry_is_not_trusted(site, cache_dir, monkeypatch):
    """A file written within the timestamp granularity of the scan is hashed again next time,
    even when a second write in the same tick left size and mtime unchanged."""
    path = write(site, "racy.txt", b"version-1", mtime_ns=None)  # mtime: now
    first = scan(site, cache_dir)
    with open(first.cache.path, encoding="utf-8") as handle:
        assert "/racy.txt" not in json.load(handle)["entries"]
    st = os.stat(path)
    with open(path, "wb") as handle:
        handle.write(b"version-2")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same timestamp tick
    counter = CountingHash(monkeypatch)
    second = scan(site, cache_dir)
    assert "racy.txt" in counter.read
    assert second.manifest["/racy.txt"] == UH.hash_bytes(b"version-2", "txt")


def test_racy_margin(site, cache_dir):
    cache = HC.HashCache(cache_dir, str(site))
    now = cache.started_ns
    assert cache.is_racy((1, now - HC.RACY_MARGIN_NS + 1, OLD_NS, 1, 1))
    assert cache.is_racy((1, OLD_NS, now, 1, 1))
    assert not cache.is_racy((1, now - HC.RACY_MARGIN_NS - 1, OLD_NS, 1, 1))


@pytest.mark.parametrize("content", [
    b"", b"{not json", b"\xff\xfe", b"[]", b'{"kind": "something else"}', b"null",
    # Nested deeper than Python's parser recurses (it raised RecursionError, which failed every deploy).
    b"[" * 100000, b'{"a": ' * 100000,
    b"\x00\x01binary\x89PNG", b"9" * 100000, b"1e999999", b'{"kind": NaN}',
    # The real cache cut short, and with entries of the wrong type.
    "truncated", "entries-list", "entries-deep",
])
def test_corrupt_cache_is_ignored(site, cache_dir, content):
    first = scan(site, cache_dir)
    if isinstance(content, str):
        with open(first.cache.path, "rb") as handle:
            real = handle.read()
        data = json.loads(real)
        content = {
            "truncated": real[:len(real) // 2],
            "entries-list": json.dumps(dict(data, entries=list(data["entries"]))).encode(),
            "entries-deep": json.dumps(dict(data, entries="@")).encode().replace(b'"@"', b"[" * 50000 + b"]" * 50000),
        }[content]
    with open(first.cache.path, "wb") as handle:
        handle.write(content)
    second = scan(site, cache_dir)
    assert second.cache_hits == 0
    assert second.cache.ignored
    assert second.manifest == first.manifest
    assert scan(site, cache_dir).cache_hits == 3  # rewritten, valid again


def test_bad_entries_are_misses(site, cache_dir):
    first = scan(site, cache_dir)
    with open(first.cache.path, encoding="utf-8") as handle:
        data = json.load(handle)
    data["entries"]["/index.html"] = "garbage"
    data["entries"]["/a/b.css"] = [42]  # the old format's list
    data["entries"]["/a/c.js"] = data["entries"]["/a/c.js"][:31] + "  " + data["entries"]["/a/c.js"][33:]
    with open(first.cache.path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    second = scan(site, cache_dir)
    assert second.cache_hits == 0
    assert second.manifest == first.manifest


@pytest.mark.parametrize("field,value,reason", [
    ("format", HC.CACHE_FORMAT + 1, "another version"),
    ("collection", "0.0.0-other", "another version"),
    ("source", "/elsewhere", "another source directory"),
])
def test_foreign_cache_is_ignored(site, cache_dir, field, value, reason):
    first = scan(site, cache_dir)
    with open(first.cache.path, encoding="utf-8") as handle:
        data = json.load(handle)
    data[field] = value
    # A poisoned hash, which must not be deployed.
    data["entries"]["/index.html"] = "0" * 32 + data["entries"]["/index.html"][32:]
    with open(first.cache.path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    second = scan(site, cache_dir)
    assert second.cache_hits == 0
    assert reason in second.cache.ignored
    assert second.manifest == first.manifest


def test_unreadable_cache_is_ignored(site, cache_dir):
    first = scan(site, cache_dir)
    os.chmod(first.cache.path, 0)
    try:
        if os.access(first.cache.path, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        second = scan(site, cache_dir)
        assert second.cache_hits == 0 and "unreadable" in second.cache.ignored
    finally:
        os.chmod(first.cache.path, 0o600)


def test_unopenable_cache_is_ignored_and_replaced(site, cache_dir, monkeypatch):
    """Permission denied, whoever runs the test (root reads a file of mode 0)."""
    first = scan(site, cache_dir)
    real_open = open

    def denying_open(path, *args, **kwargs):
        if path == first.cache.path and args[:1] == ("rb",):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    with monkeypatch.context() as patched:  # (undo() would also restore the real racy margin)
        patched.setattr("builtins.open", denying_open)
        second = scan(site, cache_dir)
    assert second.cache_hits == 0 and "unreadable (Permission denied)" == second.cache.ignored
    assert second.manifest == first.manifest
    assert scan(site, cache_dir).cache_hits == 3


def test_directory_in_place_of_the_cache_does_not_fail(site, cache_dir):
    first = scan(site, cache_dir)
    os.remove(first.cache.path)
    os.mkdir(first.cache.path)
    second = scan(site, cache_dir)
    assert second.cache_hits == 0 and second.cache.ignored.startswith("unreadable")
    assert second.cache_error and "not written" in second.cache_error
    assert second.manifest == first.manifest


def test_unwritable_cache_dir_does_not_fail(site, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file where the directory should be")
    scanned = scan(site, str(blocker / "cache"))
    assert scanned.cache_error and "not written" in scanned.cache_error
    assert scanned.manifest == fresh_manifest(site)


def test_off_and_default_location(site, tmp_path, monkeypatch):
    assert S.scan_site(str(site), workers=1, hash_cache=False).cache is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    scanned = S.scan_site(str(site), workers=1, hash_cache=None)
    assert scanned.cache.path.startswith(str(tmp_path / "xdg" / "cfpages.cloudflare" / "hash-cache") + os.sep)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert HC.default_cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "cfpages.cloudflare", "hash-cache")


def test_two_sites_share_a_directory(tmp_path, cache_dir):
    one, two = tmp_path / "one", tmp_path / "two"
    write(one, "x.txt", b"one")
    write(two, "x.txt", b"two")
    scan(one, cache_dir)
    scan(two, cache_dir)
    assert scan(one, cache_dir).cache_hits == 1
    assert scan(two, cache_dir).manifest["/x.txt"] == UH.hash_bytes(b"two", "txt")


def _scan_many(args):
    root, cache_dir, rounds = args
    manifests = set()
    for _round in range(rounds):
        scanned = S.scan_site(root, workers=2, hash_cache=cache_dir)
        manifests.add(json.dumps(scanned.manifest, sort_keys=True))
    return manifests


def test_concurrent_runs_never_corrupt_it(tmp_path, cache_dir):
    root = tmp_path / "site"
    for index in range(300):
        write(root, "d%d/f%d.txt" % (index % 7, index), b"x" * index)
    expected = json.dumps(fresh_manifest(root), sort_keys=True)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_scan_many, [(str(root), cache_dir, 8)] * 4)
    assert set().union(*results) == {expected}
    final = S.scan_site(str(root), workers=1, hash_cache=cache_dir)
    assert final.cache.ignored is None and final.cache_hits == 300
    assert [n for n in os.listdir(cache_dir) if n.startswith(".tmp-")] == []


def test_unchanged_cache_is_not_rewritten(site, cache_dir):
    first = scan(site, cache_dir)
    before = os.stat(first.cache.path)
    second = scan(site, cache_dir)
    assert second.cache_hits == 3
    after = os.stat(second.cache.path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    write(site, "new.txt", b"new")
    third = scan(site, cache_dir)
    assert third.cache_hits == 3 and os.stat(third.cache.path).st_ino != before.st_ino


def test_rewritten_only_when_its_entries_change(site, cache_dir, monkeypatch):
    """A racy file (never recorded) does not make every rerun rewrite the cache; a deleted file does
    (its entry goes), and the loaded entries are freed once the scan is saved."""
    first = scan(site, cache_dir)
    write(site, "new.txt", b"new", mtime_ns=None)
    monkeypatch.setattr(HC.HashCache, "is_racy", lambda self, key: key[1] != OLD_NS)  # new.txt is racy
    before = os.stat(first.cache.path)
    second = scan(site, cache_dir)
    assert second.cache_hits == 3 and second.cache.loaded and second.cache.entries == {}
    assert os.stat(second.cache.path).st_ino == before.st_ino
    os.unlink(os.path.join(str(site), "a", "c.js"))
    third = scan(site, cache_dir)
    assert third.cache_hits == 2 and os.stat(third.cache.path).st_ino != before.st_ino
    with open(third.cache.path, encoding="utf-8") as handle:
        assert set(json.load(handle)["entries"]) == {"/index.html", "/a/b.css"}


@pytest.mark.parametrize("batch", [1, 2, 3, 4096])
def test_written_a_batch_of_entries_at_a_time(site, cache_dir, monkeypatch, batch):
    monkeypatch.setattr(HC, "_WRITE_BATCH", batch)
    first = scan(site, cache_dir)
    with open(first.cache.path, encoding="utf-8") as handle:
        data = json.load(handle)
    assert data["format"] == HC.CACHE_FORMAT and data["source"] == str(site)
    assert sorted(data["entries"]) == ["/a/b.css", "/a/c.js", "/index.html"]
    assert scan(site, cache_dir).cache_hits == 3


def test_recorded_entries_are_the_hash_and_the_five_stat_numbers(site, cache_dir):
    """The file written is the same whatever form a scanned file keeps its stat key in (one string
    since issue 29); a scanned file gives back its absolute path and mtime from that form."""
    scanned = scan(site, cache_dir)
    with open(scanned.cache.path, encoding="utf-8") as handle:
        entries = json.load(handle)["entries"]
    expected = {}
    for f in scanned.files:
        st = os.stat(os.path.join(str(site), *f.path.split("/")))
        expected[f.path] = "%s %d %d %d %d %d" % (f.hash, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
        assert f.abspath == os.path.join(str(site), f.path[1:]) and f.mtime_ns == st.st_mtime_ns
    assert entries == expected and len(expected) == 3


def test_a_racy_file_keeps_its_mtime_for_the_upload_check(site, cache_dir):
    path = write(site, "racy.txt", b"new", mtime_ns=None)
    scanned = scan(site, cache_dir)
    racy = [f for f in scanned.files if f.path == "/racy.txt"][0]
    assert racy.mtime_ns == os.stat(path).st_mtime_ns and racy.abspath == path
    with open(scanned.cache.path, encoding="utf-8") as handle:
        assert "/racy.txt" not in json.load(handle)["entries"]
