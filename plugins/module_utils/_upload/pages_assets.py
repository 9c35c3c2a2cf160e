# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The assets side of a direct upload: the project's upload token, ``check-missing``, the
buckets, each bucket's JSON body streamed from disk, the concurrent upload and
``upsert-hashes`` (``docs/upload-engine.md``).

:func:`missing_hashes` asks ``/pages/assets/check-missing`` (read-only) which contents the
account lacks; :func:`upload_missing` sends them in buckets, concurrently, each request body
streamed from disk (memory stays at a few read buffers whatever the bucket or site size), then
calls ``upsert-hashes``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import UploadCancelled
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.buckets import (
    MAX_BUCKET_BYTES,
    MAX_BUCKET_FILES,
    UPLOAD_CONCURRENCY,
    BucketQueue,
    _check_unchanged,
    even_share,
    files_to_send,
    upload_counts,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils import _json
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.hashing import Base64Stream
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.scan import format_mib
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.pacing import UploadPacer, bucket_timeout
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.throughput import REQUEST_TIME_LIMIT, BucketSizer

# --------------------------------------------------------------------------- limits and tunables

#: File count allowed when the upload token has no ``max_file_count_allowed`` claim.
MAX_FILE_COUNT_DEFAULT = 20000
#: The most files any plan allows per deployment (paid plans, since 2026-01-23;
#: https://developers.cloudflare.com/pages/platform/limits/): checked before a project is created,
#: when its own limit (the upload token's claim) cannot be known yet.
MAX_FILE_COUNT_ANY_PLAN = 100000


# --------------------------------------------------------------------------- upload token


def decode_jwt_claims(jwt):
    """The payload of a JWT as a dict (the signature is not checked: the server does that)."""
    try:
        payload = jwt.split(".")[1]
        claims = _json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
    except (AttributeError, IndexError, ValueError, TypeError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


class UploadToken:
    """The project's upload JWT, fetched lazily and refreshed shortly before ``exp`` (60 s, or a
    quarter of the token's lifetime when that is shorter) or when the API rejects it.

    ``exp`` is read against our own clock when the token carries ``iat`` (lifetime = exp - iat,
    counted from when we fetched it), which makes clock skew harmless. Thread-safe.
    """

    def __init__(self, client, project, margin=60.0, clock=time.time):
        self.client = client
        self.project = project
        self.margin = margin
        self.clock = clock
        self.fetches = 0
        self._lock = threading.Lock()
        self._jwt = None
        self._claims = {}
        self._expires_at = None
        self._lifetime = None

    def _fetch(self):
        jwt = self.client.get_upload_token(self.project)
        now = self.clock()
        claims = decode_jwt_claims(jwt)
        exp = claims.get("exp")
        iat = claims.get("iat")
        expires_at = lifetime = None
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            if isinstance(iat, (int, float)) and not isinstance(iat, bool) and exp > iat:
                lifetime = float(exp - iat)
                expires_at = now + lifetime
            else:
                expires_at = float(exp)
                lifetime = max(0.0, expires_at - now)
        self._jwt, self._claims, self._expires_at, self._lifetime = jwt, claims, expires_at, lifetime
        self.fetches += 1

    def _stale(self):
        if self._jwt is None:
            return True
        if self._expires_at is None:
            return False
        margin = min(self.margin, (self._lifetime or 0.0) / 4.0)
        return self.clock() >= self._expires_at - margin

    def get(self, refresh=False):
        """The JWT; a new one when ``refresh`` or when the current one is about to expire."""
        with self._lock:
            if refresh or self._stale():
                self._fetch()
            return self._jwt

    def provider(self):
        """A ``jwt_provider(refresh)`` for one request. A refresh asked with a JWT that another
        thread has already replaced does not fetch again."""
        handed = [None]

        def provide(refresh):
            with self._lock:
                if self._stale() or (refresh and handed[0] == self._jwt):
                    self._fetch()
                handed[0] = self._jwt
                return self._jwt

        return provide

    @property
    def claims(self):
        self.get()
        return dict(self._claims)

    @property
    def max_file_count(self):
        value = self.claims.get("max_file_count_allowed")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return MAX_FILE_COUNT_DEFAULT


# --------------------------------------------------------------------------- check-missing


def missing_hashes(client, token, scan):
    """The hashes of ``scan`` the account does not have (``/pages/assets/check-missing``,
    read-only), in path order."""
    hashes = scan.unique_hashes()
    if not hashes:
        return []
    result = client.assets_request("check-missing", {"hashes": hashes}, token.provider())
    if not isinstance(result, list):
        raise UploadError("check-missing answered %r instead of a list of hashes" % (result,))
    wanted = set(r for r in result if isinstance(r, str))
    return [h for h in hashes if h in wanted]


def _b64_len(size):
    return 4 * ((size + 2) // 3)


def _head(f):
    return ('{"key":"%s","value":"' % f.hash).encode("ascii")


def _tail(f):
    return ('","metadata":{"contentType":%s},"base64":true}' % json.dumps(f.content_type)).encode("utf-8")


def body_length(files):
    """The length in bytes of the :class:`BucketBody` of ``files``, without reading them."""
    return 1 + len(files) + sum(len(_head(f)) + _b64_len(f.size) + len(_tail(f)) for f in files) if files else 2


class BucketBody:
    """The JSON body of one ``/pages/assets/upload`` request, produced while it is sent.

    ``[{"key": hash, "value": base64(content), "metadata": {"contentType": type},
    "base64": true}, ...]``: file-like (``read`` and ``len``), so requests sends it with a
    ``Content-Length`` and reads it in blocks; only one read buffer per file is in memory.
    Each instance is read once: make a new one per attempt (``length``, from
    :func:`body_length`, saves computing it again). When ``cancel`` (anything with ``is_set()``)
    is set, reading raises :class:`UploadCancelled`, which cuts the request off.
    """

    def __init__(self, files, cancel=None, length=None):
        self.files = files
        self.cancel = cancel
        self._length = body_length(files) if length is None else length
        self._pieces = self._generate()
        self._current = b""
        self._offset = 0

    def __len__(self):
        return self._length

    def _generate(self):
        yield b"["
        for index, f in enumerate(self.files):
            if index:
                yield b","
            yield _head(f)
            content = Base64Stream(f.abspath, limit=f.size)
            for piece in content:
                if self.cancel is not None and self.cancel.is_set():
                    raise UploadCancelled()
                yield piece
            if content.bytes_read != f.size:
                raise UploadError(
                    "%s changed since it was hashed (size %d, now %d); run again" % (f.abspath, f.size, content.bytes_read)
                )
            if f.mtime_ns is not None and _mtime_ns(f.abspath) != f.mtime_ns:
                # Rewritten in place while it was sent: what went out may not be what the hash names.
                raise UploadError("%s changed since it was hashed (modified during the upload); run again" % f.abspath)
            yield _tail(f)
        yield b"]"

    def read(self, size=-1):
        if size is None or size < 0:
            rest = [self._current[self._offset:]] + list(self._pieces)
            self._current, self._offset = b"", 0
            return b"".join(rest)
        out = []
        need = size
        while need > 0:
            if self._offset >= len(self._current):
                try:
                    self._current = next(self._pieces)
                except StopIteration:
                    self._current = b""
                    self._offset = 0
                    break
                self._offset = 0
            available = len(self._current) - self._offset
            if self._offset == 0 and available <= need:
                out.append(self._current)
                self._offset = available
                need -= available
            else:
                take = min(available, need)
                out.append(self._current[self._offset:self._offset + take])
                self._offset += take
                need -= take
        return b"".join(out)


def _mtime_ns(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def upload_missing(
    client,
    token,
    scan,
    missing,
    log=None,
    concurrency=UPLOAD_CONCURRENCY,
    max_bucket_bytes=MAX_BUCKET_BYTES,
    max_bucket_files=MAX_BUCKET_FILES,
    cancel=None,
    time_limit=REQUEST_TIME_LIMIT,
):
    """Upload the files whose hash is in ``missing`` in buckets, at most ``concurrency`` at a time,
    then ``upsert-hashes`` with every hash of the site. Once ``cancel`` (anything with ``is_set()``,
    e.g. a SIGINT flag) is set, no bucket starts, bodies being sent are cut off, and
    :class:`UploadError` says what was uploaded and that a re-run sends only the rest.

    Each bucket is made when it starts (``buckets.BucketQueue``, smallest files first): at most
    ``max_bucket_bytes`` of files and ``max_bucket_files`` files, no more than an even share of
    the upload (``buckets.even_share``, as a planned upload shares it), and no more than the
    throughput measured so far sends in a tenth of ``time_limit`` with the requests that share the
    link; the first bucket is small and goes alone, and fewer requests run at once when a bucket
    would not fit that time with others (``throughput``).

    Returns the counts ``files, bytes, uploaded, uploaded_bytes, skipped, buckets`` plus
    ``warnings`` (a list; a failed ``upsert-hashes`` only warns, as in wrangler). One ``log``
    line per bucket. A bucket that still fails after the client's retries raises
    :class:`UploadError`; what was uploaded stays, so a re-run sends only the rest. After a gateway
    timeout (524) the rest goes one bucket at a time, with wrangler's longer backoff
    (:mod:`pacing`); each bucket's read timeout grows with its size.
    """
    log = log or (lambda line: None)
    send = files_to_send(scan, missing)
    _check_unchanged(send)
    stop = threading.Event()
    done = []
    pacer = UploadPacer(concurrency, log)
    sizer = BucketSizer(even_share(send, concurrency, max_bucket_bytes), concurrency, time_limit)
    queue = BucketQueue(send, max_bucket_files)

    def stopped():
        return stop.is_set() or (cancel is not None and cancel.is_set())

    def upload(bucket):
        started = time.monotonic()
        length = body_length(bucket.files)
        try:
            with pacer.slot(lambda: sizer.allowed(bucket.size)):
                if stopped():
                    return
                measure = sizer.throughput.start()
                try:
                    client.request(
                        "POST",
                        "/pages/assets/upload",
                        data=lambda: BucketBody(bucket.files, cancel, length),
                        content_type="application/json",
                        idempotent=True,
                        jwt_provider=token.provider(),
                        timeout=bucket_timeout(client.timeout, length),
                        gateway_backoff=pacer.gateway_backoff,
                    )
                except BaseException:
                    sizer.throughput.abandon(measure)
                    raise
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
               sum(len(b.files) for b in done), len(send))
        )

    def work():
        while not stopped():
            # Sized now, for the requests the link will carry at once (the pacer's limit drops to
            # one after a gateway timeout).
            bucket = queue.take(sizer.bucket_bytes(min(pacer.limit, sizer.concurrency)))
            if bucket is None:
                return
            upload(bucket)

    workers = min(max(1, concurrency), len(send))
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
    total = queue.made
    if cancel is not None and cancel.is_set():
        raise UploadError(
            "Interrupted (SIGINT) after uploading %d buckets (%d of %d files); no deployment was created. "
            "Files already uploaded are kept: running the task again uploads only the missing ones."
            % (len(done), sum(len(b.files) for b in done), len(send))
        )

    counts = upload_counts(scan, send, total)
    counts["warnings"] = []
    hashes = scan.unique_hashes()
    if hashes:
        try:
            client.assets_request("upsert-hashes", {"hashes": hashes}, token.provider())
        except PagesAPIError as err:
            counts["warnings"].append(
                "upsert-hashes failed (%s): the upload itself succeeded, but a later deploy may upload "
                "these files again" % err
            )
    return counts
