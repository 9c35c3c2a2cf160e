# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The hash cache of direct uploads: a rerun stats files instead of reading them.

One JSON file per site directory records, for every file of the last scan, its manifest path and
one string ``"<hash> <size> <mtime_ns> <ctime_ns> <inode> <device>"`` (a string rather than a
list of numbers: fewer objects to parse and to hold). A file whose stat values are unchanged keeps
its hash. Safe the way git's index is (https://git-scm.com/docs/racy-git): an
entry is only recorded when its mtime and ctime are at least :data:`RACY_MARGIN_NS` older than
the moment the scan started, because a file written again within the file system's timestamp
granularity would keep the same mtime. A ctime cannot be set by a user (``touch -r`` restores the
mtime, not the ctime), so a content change with the size and mtime restored is still seen.

A cache that cannot be read, is not valid JSON, is of another format version or collection
version, or was written for another source directory is ignored (and replaced). Writes go to a
temporary file in the same directory and are renamed over the old one, so a reader, or a second
run on the same directory, sees either the old or the new file, never a torn one. The cache holds
no secret and no file content; it never changes what is deployed, only how fast the scan is.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _json
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.hash_cache_cleanup import (
    mark_used,
    remove_unused_caches,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._version import COLLECTION_VERSION

#: Version of the file's layout; a cache of another version is ignored (1: lists of numbers).
CACHE_FORMAT = 2

#: An entry whose mtime or ctime is not this much older than the start of the scan is "racy" and
#: not recorded: 2 s covers the coarsest common timestamp granularity (FAT) and a little clock skew.
RACY_MARGIN_NS = 2 * 1000 * 1000 * 1000

_KIND = "cfpages.cloudflare hash cache"


def default_cache_dir():
    """``$XDG_CACHE_HOME/cfpages.cloudflare/hash-cache`` (``~/.cache/...`` when unset), as the
    XDG base directory specification says (https://specifications.freedesktop.org/basedir-spec/latest/)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cfpages.cloudflare", "hash-cache")


def stat_key(st):
    """The values that must be unchanged for a cached hash to be used."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def stat_text(key):
    """A :func:`stat_key` as the cache records it, ``"<size> <mtime_ns> <ctime_ns> <inode> <device>"``:
    what a scanned file keeps (one string is a third of the memory of a tuple of five numbers)."""
    return "%d %d %d %d %d" % key


def stat_mtime_ns(key):
    """The mtime of a :func:`stat_text` (or of a :func:`stat_key` tuple, a racy file's); None for None."""
    if key is None:
        return None
    if isinstance(key, tuple):
        return key[1]
    return int(key.split(" ", 2)[1])


def _entry(file_hash, key):
    """The cache's record of a file: ``"<hash> <size> <mtime_ns> <ctime_ns> <inode> <device>"``."""
    return file_hash + " " + key


#: Entries serialised per json.dumps call when the cache is written: the whole text of 100,000
#: entries is never in memory at once.
_WRITE_BATCH = 4096


def _write_json(handle, header, files):
    """Write ``header`` with an ``entries`` object of ``files`` (path -> :func:`_entry`) to the
    text file ``handle``, a batch of entries at a time (json.dumps, the fast C encoder, per batch)."""
    handle.write(json.dumps(header, separators=(",", ":"), ensure_ascii=False)[:-1] + ',"entries":{')
    for start in range(0, len(files), _WRITE_BATCH):
        batch = dict((f.path, _entry(f.hash, f.stat_key)) for f in files[start:start + _WRITE_BATCH])
        handle.write(("," if start else "") + json.dumps(batch, separators=(",", ":"), ensure_ascii=False)[1:-1])
    handle.write("}}")


class HashCache:
    """The cached hashes of one site directory ``root``, kept in ``directory``.

    :meth:`lookup` during the scan (thread safe: the loaded entries are only read), then
    :meth:`save` with every hashed file. ``clean_up``: after writing, remove the cache files of
    ``directory`` not used for a long time (``_hash_cache_cleanup``; the default directory only).
    """

    def __init__(self, directory, root, clean_up=False):
        self.directory = directory
        self.root = root
        self.clean_up = clean_up
        self.path = os.path.join(directory, hashlib.sha256(os.fsencode(root)).hexdigest()[:32] + ".json")
        self.started_ns = time.time_ns()
        self.entries = {}
        self.ignored = None  # why an existing cache file was not used, for the log
        self.loaded = False  # whether the cache file was read and used
        self.loaded_entries = 0  # how many entries it held
        self._load()

    def _load(self):
        try:
            with open(self.path, "rb") as handle:
                data = _json.loads(handle.read())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            self.ignored = "unreadable (%s)" % (getattr(err, "strerror", None) or type(err).__name__)
            return
        if not isinstance(data, dict) or data.get("kind") != _KIND:
            self.ignored = "not a hash cache"
        elif data.get("format") != CACHE_FORMAT or data.get("collection") != COLLECTION_VERSION:
            self.ignored = "written by another version"
        elif data.get("source") != self.root:
            self.ignored = "written for another source directory"
        elif not isinstance(data.get("entries"), dict):
            self.ignored = "not a hash cache"
        else:
            self.entries = data["entries"]
            self.loaded = True
            self.loaded_entries = len(self.entries)

    def lookup(self, path, key):
        """The cached hash of the file at manifest ``path`` with :func:`stat_text` ``key``, or None
        (always for a racy file's tuple).
        Each path is looked up once (by the walk): its entry is dropped, so that the memory of the
        loaded entries is freed as the scan goes rather than held beside every file's."""
        entry = self.entries.pop(path, None)
        if not isinstance(entry, str):
            return None
        file_hash, _sep, rest = entry.partition(" ")
        return file_hash if len(file_hash) == 32 and rest == key else None

    def is_racy(self, key):
        """Whether a file of :func:`stat_key` ``key`` changed too recently to be recorded."""
        limit = self.started_ns - RACY_MARGIN_NS
        return key[1] >= limit or key[2] >= limit

    def save(self, files, hits=0):
        """Record ``files`` (objects with ``path``, ``stat_key`` and ``hash``), except the racy
        ones (a ``stat_key`` tuple: the scan asked :meth:`is_racy`) and those not hashed,
        replacing the cache file atomically; then forget the loaded
        entries (the scan is over: their memory is freed). ``hits``: how many of ``files`` came
        from this cache. Returns an error text when the cache could not be written (the deploy
        goes on without it), else None."""
        loaded, self.entries = self.loaded_entries, {}
        if self.loaded and hits == len(files) == loaded:
            kept = files  # all hits (see below): no need to filter 100,000 files to learn it
        else:
            kept = [f for f in files if f.hash and isinstance(f.stat_key, str)]
        if self.loaded and hits == len(kept) == loaded:
            # Every file it would record is a hit and it held no other entry, so the entries are
            # the same (a hit was not racy when it was written, so it is not racy now): nothing
            # to write, which is what a no-op rerun does. Its mtime says it is still used, so
            # that the clean-up keeps it.
            mark_used(self.path)
            return None
        header = {
            "kind": _KIND,
            "format": CACHE_FORMAT,
            "collection": COLLECTION_VERSION,
            "source": self.root,
            "started_ns": self.started_ns,
        }
        tmp = None
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                _write_json(handle, header, kept)
            os.replace(tmp, self.path)
            tmp = None
        except (OSError, ValueError) as err:
            return "not written: %s" % (getattr(err, "strerror", None) or err)
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        if self.clean_up:
            remove_unused_caches(self.directory)
        return None


def open_cache(setting, root):
    """The :class:`HashCache` for ``root`` from the ``hash_cache`` setting: None or True for the
    default directory, False for none (returns None), a string for that directory."""
    if setting is False:
        return None
    if setting in (None, True):
        return HashCache(default_cache_dir(), root, clean_up=True)
    return HashCache(os.path.abspath(os.path.expanduser(setting)), root)


def cache_summary(scan):
    """One progress line about the hash cache of ``scan`` (a ``scan.SiteScan``)."""
    cache = scan.cache
    line = "hash cache %s: %d of %d files unchanged" % (cache.path, scan.cache_hits, len(scan.files))
    if cache.ignored:
        line += "; the previous cache was ignored: %s" % cache.ignored
    if scan.cache_error:
        line += "; %s" % scan.cache_error
    return line
