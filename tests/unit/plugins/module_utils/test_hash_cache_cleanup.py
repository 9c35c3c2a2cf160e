# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the hash cache's age-based clean-up (``_hash_cache_cleanup``)."""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import (
    hash_cache as HC,
    hash_cache_cleanup as CL,
    hashing as UH,
    scan as S,
)
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write as write_file

DAY = 24 * 60 * 60
NOW = 1_800_000_000.0
OLD = NOW - (CL.MAX_AGE_DAYS + 1) * DAY
RECENT = NOW - (CL.MAX_AGE_DAYS - 1) * DAY
SITE_MTIME = 1_600_000_000  # 2020: the site files of the engine tests are safely older than any scan


def make(directory, name, mtime):
    path = directory / name
    path.write_text("{}")
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def cache_dir(tmp_path):
    directory = tmp_path / "hash-cache"
    directory.mkdir()
    return directory


def test_old_removed_recent_and_foreign_kept(cache_dir):
    old = make(cache_dir, "0123456789abcdef0123456789abcdef.json", OLD)
    old_tmp = make(cache_dir, ".tmp-k2j_x9.json", OLD)
    recent = make(cache_dir, "fedcba9876543210fedcba9876543210.json", RECENT)
    foreign = [make(cache_dir, name, OLD) for name in (
        "notes.txt", "0123456789ABCDEF0123456789ABCDEF.json", "0123456789abcdef0123456789abcdef.json.bak",
        "0123456789abcdef0123456789abcde.json")]
    (cache_dir / ("a" * 32 + ".json")).mkdir()  # named like a cache file, but a directory
    assert CL.remove_unused_caches(str(cache_dir), now=NOW) == 2
    assert not old.exists() and not old_tmp.exists()
    assert recent.exists()
    assert all(path.exists() for path in foreign)
    assert (cache_dir / ("a" * 32 + ".json")).is_dir()
    assert (cache_dir / CL.STAMP_NAME).stat().st_mtime == NOW


def test_at_most_once_per_interval(cache_dir):
    assert CL.remove_unused_caches(str(cache_dir), now=NOW) == 0
    old = make(cache_dir, "0123456789abcdef0123456789abcdef.json", OLD)
    assert CL.remove_unused_caches(str(cache_dir), now=NOW + CL.INTERVAL_SECONDS - 60) == 0
    assert old.exists()
    assert CL.remove_unused_caches(str(cache_dir), now=NOW + CL.INTERVAL_SECONDS) == 1
    assert not old.exists()


def test_errors_ignored(cache_dir, monkeypatch):
    old = make(cache_dir, "0123456789abcdef0123456789abcdef.json", OLD)
    other = make(cache_dir, "fedcba9876543210fedcba9876543210.json", OLD)

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(CL.os, "unlink", refuse)
    assert CL.remove_unused_caches(str(cache_dir), now=NOW) == 0
    assert old.exists() and other.exists()
    # A directory that cannot be listed (here: one that is not there) is no error either.
    assert CL.remove_unused_caches(str(cache_dir / "missing"), now=NOW) == 0


@pytest.mark.skipif(not UH.HAS_BLAKE3, reason="blake3 is not installed")
def test_engine_cleans_the_default_directory_only(tmp_path, monkeypatch):
    monkeypatch.setattr(HC, "RACY_MARGIN_NS", 0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    site = tmp_path / "site"
    path = write_file(site, "index.html", b"<h1>home</h1>")
    os.utime(path, (SITE_MTIME, SITE_MTIME))
    default = tmp_path / "xdg" / "cfpages.cloudflare" / "hash-cache"
    default.mkdir(parents=True)
    stale = make(default, "0123456789abcdef0123456789abcdef.json", time.time() - (CL.MAX_AGE_DAYS + 1) * DAY)
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    stale_chosen = make(chosen, "0123456789abcdef0123456789abcdef.json", time.time() - (CL.MAX_AGE_DAYS + 1) * DAY)

    S.scan_site(str(site), hash_cache=str(chosen))
    assert stale_chosen.exists()  # a directory the user chose is left as it is
    scan = S.scan_site(str(site), hash_cache=None)
    assert not scan.cache_error
    assert not stale.exists()
    assert os.path.exists(scan.cache.path)


@pytest.mark.skipif(not UH.HAS_BLAKE3, reason="blake3 is not installed")
def test_a_used_cache_is_kept_fresh(tmp_path, monkeypatch):
    """A no-op rerun writes nothing, but it touches a cache file older than a day: used means not removed."""
    monkeypatch.setattr(HC, "RACY_MARGIN_NS", 0)
    site = tmp_path / "site"
    path = write_file(site, "index.html", b"<h1>home</h1>")
    os.utime(path, (SITE_MTIME, SITE_MTIME))
    first = S.scan_site(str(site), hash_cache=str(tmp_path / "cache"))
    stale = time.time() - (CL.MAX_AGE_DAYS + 1) * DAY
    os.utime(first.cache.path, (stale, stale))
    second = S.scan_site(str(site), hash_cache=str(tmp_path / "cache"))
    assert second.cache_hits == 1
    assert os.stat(second.cache.path).st_mtime > time.time() - 60
