# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of _site for what mutation testing (tests/mutation.sh) found no test noticing: glob
edge cases of exclude, the 25 MiB bound and its message, the hash cache's bound, warnings of the
walk and the number of hashing threads."""

from __future__ import annotations

import os

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import hashing as UH, scan as S
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write

pytestmark = pytest.mark.skipif(not UH.HAS_BLAKE3, reason="blake3 is not installed")

MiB = 1024 * 1024


def matches(pattern, path):
    regex, _anchored = S.compile_glob(pattern)
    return regex.match(path) is not None


# --------------------------------------------------------------------------- exclude globs


@pytest.mark.parametrize("pattern, path, expected", [
    ("docs/**", "docs", True),  # the directory itself, so it is skipped whole
    ("docs/**", "docs/a/b.txt", True),
    ("a/*", "a/b", True),
    ("a/*", "a/b/c", False),  # one star stays within a directory
    ("a***", "abc", True),
    ("a**b", "a/x/b", False),  # ** only spans directories as a whole path part
    ("[]]x", "]x", True),  # a ] first in a class is a member
    ("[!]]x", "ax", True),
    ("[!]]x", "]x", False),
    ("my file.txt", "my file.txt", True),
    ("my file.txt", "my-file.txt", False),
])
def test_glob_edge_cases(pattern, path, expected):
    assert matches(pattern, path) is expected


def test_an_invalid_glob_is_named():
    with pytest.raises(ERR.UploadError, match=r"invalid exclude pattern '\[z-a\]': bad character range z-a"):
        S.compile_glob("[z-a]")


# --------------------------------------------------------------------------- the 25 MiB bound


def scan_of(*sizes):
    files = [S.SiteFile("/f%02d" % i, "/x", size) for i, size in enumerate(sizes)]
    return S.SiteScan("/site", files, {}, "digest")


def test_a_file_of_exactly_25_mib_is_allowed():
    S.preflight(scan_of(25 * MiB, 1))
    with pytest.raises(ERR.UploadError, match=r"; 1 file too large: /f00 \(25\.0 MiB\)\. Exclude them"):
        S.preflight(scan_of(25 * MiB + 1))


def test_too_large_files_are_counted_and_at_most_50_named():
    with pytest.raises(ERR.UploadError, match=r"; 2 files are too large: /f00 \(30\.0 MiB\), /f01 \(30\.0 MiB\)\. "):
        S.preflight(scan_of(30 * MiB, 30 * MiB))
    with pytest.raises(ERR.UploadError) as err:
        S.preflight(scan_of(*[26 * MiB] * 50))
    assert "/f49 (26.0 MiB). Exclude" in str(err.value) and "more" not in str(err.value)
    with pytest.raises(ERR.UploadError) as err:
        S.preflight(scan_of(*[26 * MiB] * 52))
    assert "/f49 (26.0 MiB) and 2 more. Exclude" in str(err.value) and "/f50" not in str(err.value)


class Cache:
    def __init__(self):
        self.looked_up = []

    def lookup(self, path, key):
        self.looked_up.append(path)
        return "cached-hash"


def test_the_hash_cache_serves_files_up_to_25_mib_only():
    cache = Cache()
    at_bound = S.SiteFile("/at", "/x", 25 * MiB)
    assert S._from_cache(at_bound, cache) and at_bound.hash == "cached-hash"  # pylint: disable=protected-access
    over = S.SiteFile("/over", "/x", 26 * MiB)
    assert not S._from_cache(over, cache) and over.hash is None  # pylint: disable=protected-access
    assert cache.looked_up == ["/at"]


# --------------------------------------------------------------------------- the walk


def test_what_the_walk_skips_is_named_in_a_warning(tmp_path):
    write(tmp_path, "index.html", "hi")
    os.mkfifo(str(tmp_path / "pipe"))
    os.symlink("loop", str(tmp_path / "loop"))  # a link to itself: stat fails with ELOOP
    scan = S.scan_site(str(tmp_path))
    assert [f.path for f in scan.files] == ["/index.html"]
    assert "skipped /pipe: not a regular file or directory" in scan.warnings
    assert any(w.startswith("skipped symbolic link /loop: ") and "symbolic links" in w for w in scan.warnings), scan.warnings


@pytest.mark.parametrize("follow_symlinks", [True, "inside"])
def test_a_link_to_a_device_out_of_the_source_is_skipped_with_one_message(tmp_path, follow_symlinks):
    """Not also "leads outside the source ..., which is deployed too": nothing of it is deployed."""
    write(tmp_path, "index.html", "hi")
    os.symlink("/dev/zero", str(tmp_path / "zero"))
    scan = S.scan_site(str(tmp_path), follow_symlinks=follow_symlinks)
    assert [f.path for f in scan.files] == ["/index.html"]
    assert scan.warnings == ["skipped /zero: not a regular file or directory"]


def test_at_most_20_undecodable_names_are_listed(tmp_path):
    for i in range(21):
        with open(os.path.join(os.fsencode(str(tmp_path)), b"bad-\xff%02d" % i), "wb"):
            pass
    with pytest.raises(ERR.UploadError) as err:
        S.scan_site(str(tmp_path))
    assert str(err.value).startswith("file names must be valid UTF-8; rename or exclude: ")
    assert str(err.value).count("bad-") == 20


@pytest.mark.parametrize("cpus, workers", [(None, 2), (1, 2), (3, 6), (4, 8), (16, 8)])
def test_hashing_threads_are_twice_the_cores_from_2_to_8(monkeypatch, cpus, workers):
    monkeypatch.setattr(S.os, "cpu_count", lambda: cpus)
    assert S.default_workers() == workers


def test_a_site_file_shows_what_it_is():
    assert repr(S.SiteFile("/a.html", "/x/a.html", 3, hash="h", content_type="text/html")) == (
        "SiteFile('/a.html', size=3, hash='h', content_type='text/html')")


@pytest.mark.parametrize("workers", [1, 4])
def test_a_file_that_grows_while_it_is_hashed_fails_the_scan(tmp_path, monkeypatch, workers):
    path = write(tmp_path, "index.html", "hi")
    monkeypatch.setattr(S, "hash_file", lambda abspath, extension, size=None: ("h", size + 1))
    with pytest.raises(ERR.UploadError) as err:
        S.scan_site(str(tmp_path), workers=workers)
    assert str(err.value) == "%s changed while it was being hashed; run again" % path
