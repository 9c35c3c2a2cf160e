# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Backend-neutral bucket planning: which files go in which upload request, so that concurrent
requests share the work evenly, each stays under the request-size bounds, and a file that changed
since it was hashed is caught before anything is sent."""

from __future__ import annotations

import heapq
import os
import threading
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.hashing import MiB
#: Bucket bounds, in raw file bytes and files: a 40 MiB bucket is a ~53.4 MiB JSON body
#: (base64 inflates by 4/3), the same bounds as wrangler (packages/wrangler/src/pages/constants.ts),
#: under Cloudflare's 100 MB body limit.
MAX_BUCKET_BYTES = 40 * MiB
MAX_BUCKET_FILES = 2000
#: Concurrent upload requests (wrangler's BULK_UPLOAD_CONCURRENCY).
UPLOAD_CONCURRENCY = 3
#: Big uploads are split into up to this many buckets per concurrent request, none smaller than
#: MIN_BUCKET_BYTES, so that reading and encoding the next bucket overlaps with the server
#: storing the previous one (measured: 60 MB in 12 buckets is ~20 % faster than in 3).
BUCKETS_PER_WORKER = 4
MIN_BUCKET_BYTES = 1 * 1024 * 1024


# --------------------------------------------------------------------------- buckets


class Bucket:
    __slots__ = ("files", "size", "number")

    def __init__(self):
        self.files = []
        self.size = 0
        self.number = 0  # its place in the upload, from 1 (BucketQueue)


def plan_buckets(
    files, concurrency=UPLOAD_CONCURRENCY, max_bytes=MAX_BUCKET_BYTES, max_files=MAX_BUCKET_FILES, min_buckets=None
):
    """The buckets :func:`upload_missing` sends ``files`` in: each at most ``max_bytes`` raw bytes
    and ``max_files`` files.

    At least ``min_buckets`` buckets; by default up to :data:`BUCKETS_PER_WORKER` per concurrent
    request but none under :data:`MIN_BUCKET_BYTES`, so that concurrent requests share the work
    evenly and a big upload overlaps encoding with sending. Largest files first, each into the
    least-filled bucket that has room; a file that fits nowhere opens a new bucket. A single
    file larger than ``max_bytes`` gets a bucket of its own. Empty buckets are dropped.
    """
    if not files:
        return []
    total = sum(f.size for f in files)
    if min_buckets is None:
        min_buckets = min(BUCKETS_PER_WORKER * max(1, concurrency), max(1, -(-total // MIN_BUCKET_BYTES)))
    count = max(
        1,
        min(len(files), min_buckets),
        -(-total // max_bytes),
        -(-len(files) // max_files),
    )
    buckets = [Bucket() for _index in range(count)]
    heap = [(0, 0, i) for i in range(count)]
    for f in sorted(files, key=lambda x: (-x.size, x.path)):
        placed = False
        while heap:
            size, nfiles, index = heap[0]
            if nfiles >= max_files:
                heapq.heappop(heap)
                continue
            if size + f.size > max_bytes and size > 0:
                break
            bucket = buckets[index]
            bucket.files.append(f)
            bucket.size += f.size
            heapq.heapreplace(heap, (bucket.size, len(bucket.files), index))
            placed = True
            break
        if not placed:
            bucket = Bucket()
            bucket.files.append(f)
            bucket.size = f.size
            buckets.append(bucket)
            heapq.heappush(heap, (bucket.size, 1, len(buckets) - 1))
    return [b for b in buckets if b.files]


def even_share(files, concurrency=UPLOAD_CONCURRENCY, max_bytes=MAX_BUCKET_BYTES):
    """The most raw bytes a bucket holds when ``files`` are shared evenly the way :func:`plan_buckets`
    shares them (up to :data:`BUCKETS_PER_WORKER` buckets per concurrent request, none under
    :data:`MIN_BUCKET_BYTES`, none over ``max_bytes``)."""
    total = sum(f.size for f in files)
    share = -(-total // (BUCKETS_PER_WORKER * max(1, concurrency)))
    return max(1, min(max_bytes, max(MIN_BUCKET_BYTES, share)))


class BucketQueue:
    """The files of an upload, handed out a bucket at a time, each bucket made when it is about to be
    sent (its size can then follow the throughput measured so far). Smallest files first, so that
    the first, small buckets measure the link and the largest files go when it is known. Thread safe."""

    def __init__(self, files, max_files=MAX_BUCKET_FILES):
        self.files = sorted(files, key=lambda f: (f.size, f.path))
        self.max_files = max(1, int(max_files))
        self.made = 0
        self._next = 0
        self._lock = threading.Lock()

    def take(self, max_bytes):
        """The next bucket: files in order while they fit ``max_bytes`` and ``max_files`` (at least
        one file, however big); None when every file was handed out. ``bucket.number`` counts from 1."""
        with self._lock:
            if self._next >= len(self.files):
                return None
            bucket = Bucket()
            files = self.files
            index = self._next
            while index < len(files) and len(bucket.files) < self.max_files:
                f = files[index]
                if bucket.files and bucket.size + f.size > max_bytes:
                    break
                bucket.files.append(f)
                bucket.size += f.size
                index += 1
            self._next = index
            self.made += 1
            bucket.number = self.made
            return bucket


def _check_unchanged(files):
    changed = []
    for f in files:
        try:
            st = os.stat(f.abspath)
        except OSError:
            changed.append(f.path)
            continue
        if st.st_size != f.size or (f.mtime_ns is not None and st.st_mtime_ns != f.mtime_ns):
            changed.append(f.path)
    if changed:
        raise UploadError(
            "%d file%s changed or disappeared since the site was hashed: %s; run again"
            % (len(changed), "" if len(changed) == 1 else "s", ", ".join(changed[:20]))
        )


def upload_counts(scan, sent_files, buckets):
    """The ``upload`` counts of a deploy that sends ``sent_files`` of ``scan`` in ``buckets`` requests."""
    sent_bytes = sum(f.size for f in sent_files)
    return {
        "files": len(scan.files),
        "bytes": scan.total_bytes,
        "uploaded": len(sent_files),
        "uploaded_bytes": sent_bytes,
        "skipped": len(scan.files) - len(sent_files),
        "buckets": buckets,
    }


def files_to_send(scan, missing):
    """One file per missing hash (identical contents are sent once)."""
    if not missing:
        return []
    wanted = set(missing)
    out = []
    for f in scan.files:
        if f.hash in wanted:
            out.append(f)
            wanted.discard(f.hash)
    return out
