# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The hash cache of direct uploads: a rerun stats files instead of reading them.

One JSON file per site directory records, for every file of the last scan, its manifest path,
``size``, ``mtime_ns``, ``ctime_ns``, inode, device and asset hash. A file whose six values are
unchanged keeps its hash. Safe the way git's index is (https://git-scm.com/docs/racy-git): an
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

from ansible_collections.cfpages.cloudflare.plugins.module_utils._version import COLLECTION_VERSION

#: Version of the file's layout; a cache of another version is ignored.
CACHE_FORMAT = 1

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


class HashCache:
    """The cached hashes of one site directory ``root``, kept in ``directory``.

    :meth:`lookup` during the scan (thread safe: the loaded entries are only read), then
    :meth:`save` with every hashed file.
    """

    def __init__(self, directory, root):
        self.directory = directory
        self.root = root
        self.path = os.path.join(directory, hashlib.sha256(os.fsencode(root)).hexdigest()[:32] + ".json")
        self.started_ns = time.time_ns()
        self.entries = {}
        self.ignored = None  # why an existing cache file was not used, for the log
        self.loaded = False  # whether the cache file was read and used
        self._load()

    def _load(self):
        try:
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read())
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

    def lookup(self, path, key):
        """The cached hash of the file at manifest ``path`` with :func:`stat_key` ``key``, or None."""
        entry = self.entries.get(path)
        if (
            isinstance(entry, list)
            and len(entry) == 6
            and isinstance(entry[5], str)
            and len(entry[5]) == 32
            and tuple(entry[:5]) == key
        ):
            return entry[5]
        return None

    def _is_racy(self, key):
        limit = self.started_ns - RACY_MARGIN_NS
        return key[1] >= limit or key[2] >= limit

    def save(self, files, hits=None):
        """Record ``files`` (objects with ``path``, ``stat_key`` and ``hash``), except the racy
        ones and those not hashed, replacing the cache file atomically. ``hits``: how many of
        them came from this cache. Returns an error text when the cache could not be written
        (the deploy goes on without it), else None."""
        if self.loaded and hits == len(files) == len(self.entries):
            # Every file a hit and no other entry: the same entries (an entry that was not racy
            # when it was written is not racy now), so a no-op rerun writes nothing.
            return None
        entries = {}
        for f in files:
            key = f.stat_key
            if f.hash and key is not None and not self._is_racy(key):
                entries[f.path] = list(key) + [f.hash]
        if self.loaded and entries == self.entries:
            return None  # unchanged (a no-op rerun): nothing to write
        data = {
            "kind": _KIND,
            "format": CACHE_FORMAT,
            "collection": COLLECTION_VERSION,
            "source": self.root,
            "started_ns": self.started_ns,
            "entries": entries,
        }
        tmp = None
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                # dumps, not dump: only the one-shot encoder is the fast C one.
                handle.write(json.dumps(data, separators=(",", ":"), ensure_ascii=False))
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
        return None


def open_cache(setting, root):
    """The :class:`HashCache` for ``root`` from the ``hash_cache`` setting: None or True for the
    default directory, False for none (returns None), a string for that directory."""
    if setting is False:
        return None
    directory = default_cache_dir() if setting in (None, True) else os.path.abspath(os.path.expanduser(setting))
    return HashCache(directory, root)


def cache_summary(scan):
    """One progress line about the hash cache of ``scan`` (a ``_site.SiteScan``)."""
    cache = scan.cache
    line = "hash cache %s: %d of %d files unchanged" % (cache.path, scan.cache_hits, len(scan.files))
    if cache.ignored:
        line += "; the previous cache was ignored: %s" % cache.ignored
    if scan.cache_error:
        line += "; %s" % scan.cache_error
    return line
