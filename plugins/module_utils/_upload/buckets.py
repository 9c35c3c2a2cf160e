# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Backend-neutral buckets: which files go in which upload request, so that concurrent requests
share the work evenly, each stays under the request-size bounds, and a file that changed since it
was hashed is caught before anything is sent; and :func:`send_buckets`, the loop that sends them a
few at a time, stops on the first failure or on SIGINT, and says what was sent. A backend gives it
a callable that sends one bucket (the Pages backend: a JSON body, ``pages_assets.upload_missing``)."""

from __future__ import annotations

import heapq
import operator
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError, UploadCancelled, UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.hashing import MiB, Base64Stream
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.pacing import UploadPacer
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.scan import format_mib

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


_path_of = operator.attrgetter("path")
_size_of = operator.attrgetter("size")


class BucketQueue:
    """The files of an upload, handed out a bucket at a time, each bucket made when it is about to be
    sent (its size can then follow the throughput measured so far). Smallest files first, so that
    the first, small buckets measure the link and the largest files go when it is known. Thread safe."""

    def __init__(self, files, max_files=MAX_BUCKET_FILES):
        # By (size, path) as two stable sorts: no (size, path) tuple per file (100,000 of them).
        self.files = sorted(files, key=_path_of)
        self.files.sort(key=_size_of)
        self.file_count = len(self.files)
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


def check_unchanged(files):
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


def sent_content(f, cancel=None):
    """The base64 of scanned file ``f`` in pieces, as a bucket body sends it: read from disk while
    it is sent, :class:`UploadCancelled` as soon as ``cancel`` (anything with ``is_set()``) is set,
    and :class:`UploadError` when the file cannot be read or is no longer what was hashed (its
    size, or its mtime after it was read: rewritten in place while it was sent)."""
    content = Base64Stream(f.abspath, limit=f.size)
    try:
        for piece in content:
            if cancel is not None and cancel.is_set():
                raise UploadCancelled()
            yield piece
    except OSError as err:
        raise UploadError("cannot read %s: %s" % (f.abspath, err.strerror or err))
    if content.bytes_read != f.size:
        raise UploadError("%s changed since it was hashed (size %d, now %d); run again" % (f.abspath, f.size, content.bytes_read))
    if f.mtime_ns is not None and _mtime_ns(f.abspath) != f.mtime_ns:
        raise UploadError("%s changed since it was hashed (modified during the upload); run again" % f.abspath)


def _mtime_ns(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


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
    """One file per missing hash (identical contents are sent once): the first in path order.
    ``missing`` (distinct hashes) in path order, as check-missing's answer is kept, is matched in
    one pass; a set of 100,000 hashes would cost 4 MiB."""
    if not missing:
        return []
    out = []
    for f in scan.files:
        if f.hash == missing[len(out)]:
            out.append(f)
            if len(out) == len(missing):
                return out
    wanted = set(missing)  # not in path order
    out = []
    for f in scan.files:
        if f.hash in wanted:
            out.append(f)
            wanted.discard(f.hash)
    return out


# --------------------------------------------------------------------------- sending


class FixedBuckets:
    """Buckets cut beforehand (a backend whose server cuts them, as Workers' upload session does),
    handed out in order with the :class:`BucketQueue` interface (``max_bytes`` cannot change them)."""

    def __init__(self, buckets):
        self._buckets = list(buckets)
        self.file_count = sum(len(b.files) for b in self._buckets)
        self.made = 0
        self._lock = threading.Lock()

    def take(self, max_bytes):  # pylint: disable=unused-argument
        with self._lock:
            if self.made >= len(self._buckets):
                return None
            bucket = self._buckets[self.made]
            self.made += 1
            bucket.number = self.made
            return bucket


def send_buckets(source, send, concurrency=UPLOAD_CONCURRENCY, cancel=None, log=None, pacer=None, sizer=None):
    """Send the buckets of ``source`` with ``send(bucket)``, at most ``concurrency`` at a time; return
    the buckets sent. The one upload loop of every backend.

    ``source`` is a :class:`BucketQueue` (each bucket made as it starts, sized by ``sizer``) or a
    list of buckets cut beforehand. ``send`` makes one request (its body is the backend's business),
    returns the body's length in bytes, and raises :class:`PagesAPIError` when it fails after the
    client's retries, or :class:`UploadCancelled` when ``cancel`` cut its body off. ``sizer`` (a
    ``throughput.BucketSizer``, optional) measures each request and says how big the next bucket
    may be and how many may be in flight so that each stays well under the request time limit;
    ``pacer`` (a ``pacing.UploadPacer``) holds that limit and narrows it after a gateway timeout.

    The first failure stops every bucket not yet started and raises :class:`UploadError` naming the
    bucket; once ``cancel`` (anything with ``is_set()``, e.g. a SIGINT flag) is set, no bucket
    starts and :class:`UploadError` says what was sent. Either way what was uploaded stays, so a
    re-run sends only the rest. One ``log`` line per bucket.
    """
    if isinstance(source, (list, tuple)):
        source = FixedBuckets(source)
    log = log or (lambda line: None)
    pacer = pacer or UploadPacer(concurrency)
    stop = threading.Event()
    done = []
    total_files = source.file_count

    def stopped():
        return stop.is_set() or (cancel is not None and cancel.is_set())

    def send_one(bucket):
        started = time.monotonic()
        allowed = (lambda: sizer.allowed(bucket.size)) if sizer is not None else None
        try:
            with pacer.slot(allowed):
                if stopped():
                    return
                measure = sizer.throughput.start() if sizer is not None else None
                try:
                    length = send(bucket)
                except BaseException:
                    if sizer is not None:
                        sizer.throughput.abandon(measure)
                    raise
                if sizer is not None:
                    sizer.throughput.finish(measure, length, bucket.size)
        except UploadCancelled:
            return
        except PagesAPIError as err:
            stop.set()
            raise UploadError(
                "failed to upload %d files (bucket %d, %s, e.g. %s): %s. Files already uploaded are kept: "
                "running again uploads only the missing ones."
                % (len(bucket.files), bucket.number, format_mib(bucket.size), bucket.files[0].path, err),
                err.status,
                err.errors,
            )
        except BaseException:
            stop.set()
            raise
        done.append(bucket)
        log(
            "uploaded bucket %d: %d files, %s in %.2fs (%d of %d files sent)"
            % (bucket.number, len(bucket.files), format_mib(bucket.size), time.monotonic() - started,
               sum(len(b.files) for b in done), total_files)
        )

    def work():
        while not stopped():
            # Sized now, for the requests the link will carry at once (the pacer's limit drops to
            # one after a gateway timeout).
            sharing = min(pacer.limit, sizer.concurrency) if sizer is not None else pacer.limit
            bucket = source.take(sizer.bucket_bytes(sharing) if sizer is not None else MAX_BUCKET_BYTES)
            if bucket is None:
                return
            send_one(bucket)

    workers = min(max(1, concurrency), total_files)
    if workers == 1:
        work()
    elif workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(work) for _index in range(workers)]
            first_error = None
            for future in futures:
                try:
                    future.result()
                except Exception as err:  # pylint: disable=broad-exception-caught
                    if first_error is None:
                        first_error = err
            if first_error is not None:
                raise first_error
    if cancel is not None and cancel.is_set():
        raise UploadError(
            "Interrupted (SIGINT) after uploading %d buckets (%d of %d files); no deployment was created. "
            "Files already uploaded are kept: running the task again uploads only the missing ones."
            % (len(done), sum(len(b.files) for b in done), total_files)
        )
    return done
