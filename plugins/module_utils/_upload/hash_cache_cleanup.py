# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Age-based clean-up of the default hash-cache directory.

Every site directory deployed leaves one cache file there, and nothing else ever removes it. When
the engine writes a cache file in the default directory, :func:`remove_unused_caches` removes the
cache files not used for :data:`MAX_AGE_DAYS` (by mtime: a run that uses a cache without rewriting
it touches it, :func:`mark_used`). It looks at most once per :data:`INTERVAL_SECONDS` (the mtime of the stamp file
:data:`STAMP_NAME`), only at files named like its own (``<32 hex digits>.json`` and the
``.tmp-*.json`` files of interrupted writes), and never raises: a failed clean-up costs disk
space, never a deploy.
"""

from __future__ import annotations

import os
import re
import stat
import time

#: A cache file whose mtime is this many days old is removed (its site was not deployed since).
MAX_AGE_DAYS = 30

#: The directory is looked at no more often than this.
INTERVAL_SECONDS = 24 * 60 * 60

#: The stamp file whose mtime records the last clean-up.
STAMP_NAME = ".last-cleanup"

# What _hash_cache writes: sha256(root)[:32] + ".json", and tempfile.mkstemp(prefix=".tmp-", suffix=".json").
_OWN_FILE = re.compile(r"\A(?:[0-9a-f]{32}|\.tmp-[A-Za-z0-9_]+)\.json\Z")


def mark_used(path, now=None):
    """Set the mtime of the cache file ``path``, which a run used without rewriting it, to now when it is
    more than :data:`INTERVAL_SECONDS` old (so that the clean-up keeps it; a fresher one is left as it is,
    which spares a no-op rerun the write). Errors are ignored."""
    now = time.time() if now is None else now
    try:
        if now - os.stat(path).st_mtime > INTERVAL_SECONDS:
            os.utime(path, (now, now))
    except OSError:
        pass


def remove_unused_caches(directory, now=None):
    """Remove the cache files of ``directory`` unused for :data:`MAX_AGE_DAYS`, unless the last
    clean-up was less than :data:`INTERVAL_SECONDS` ago. Returns how many were removed (0 when it
    did not look, or on any error)."""
    now = time.time() if now is None else now
    stamp = os.path.join(directory, STAMP_NAME)
    try:
        try:
            if now - os.stat(stamp).st_mtime < INTERVAL_SECONDS:
                return 0
        except FileNotFoundError:
            pass
        # Stamp first: a clean-up that fails part way is not retried by every run of the day.
        with open(stamp, "a", encoding="utf-8"):
            pass
        os.utime(stamp, (now, now))
        limit = now - MAX_AGE_DAYS * 24 * 60 * 60
        removed = 0
        with os.scandir(directory) as entries:
            for entry in entries:
                if not _OWN_FILE.match(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode) and st.st_mtime < limit:
                        os.unlink(entry.path)
                        removed += 1
                except OSError:
                    continue  # gone meanwhile, or not ours to remove: the next one
        return removed
    except (OSError, ValueError):
        return 0
