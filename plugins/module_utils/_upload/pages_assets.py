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
import threading
import time

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import (
    PagesAPIError,
    UploadError,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.buckets import (
    MAX_BUCKET_BYTES,
    MAX_BUCKET_FILES,
    UPLOAD_CONCURRENCY,
    BucketQueue,
    check_unchanged,
    even_share,
    files_to_send,
    send_buckets,
    sent_content,
    upload_counts,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils import _json
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.bodies import StreamedBody
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


#: Hashes per check-missing or upsert-hashes request. wrangler sends every hash at once; a batch
#: bounds what one request holds (its JSON both ways, the answer as strings and their set: about
#: 2 MB here against 17 MB for 100,000 hashes, most of it kept by the allocator afterwards) and
#: how long it takes on a slow uplink (0.35 MB of JSON).
HASH_BATCH = 10000


def missing_hashes(client, token, scan):
    """The hashes of ``scan`` the account does not have (``/pages/assets/check-missing``,
    read-only, :data:`HASH_BATCH` hashes a request), in path order."""
    hashes = scan.unique_hashes()
    missing = []
    for start in range(0, len(hashes), HASH_BATCH):
        batch = hashes[start:start + HASH_BATCH]
        result = client.assets_request("check-missing", {"hashes": batch}, token.provider())
        if not isinstance(result, list):
            raise UploadError("check-missing answered %r instead of a list of hashes" % (result,))
        wanted = set(r for r in result if isinstance(r, str))
        missing.extend(h for h in batch if h in wanted)
    return missing


def _b64_len(size):
    return 4 * ((size + 2) // 3)


def _head(f):
    return ('{"key":"%s","value":"' % f.hash).encode("ascii")


def _tail(f):
    return ('","metadata":{"contentType":%s},"base64":true}' % json.dumps(f.content_type)).encode("utf-8")


def body_length(files):
    """The length in bytes of the :class:`BucketBody` of ``files``, without reading them."""
    return 1 + len(files) + sum(len(_head(f)) + _b64_len(f.size) + len(_tail(f)) for f in files) if files else 2


class BucketBody(StreamedBody):
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
        super().__init__(body_length(files) if length is None else length)

    def _generate(self):
        yield b"["
        for index, f in enumerate(self.files):
            if index:
                yield b","
            yield _head(f)
            yield from sent_content(f, self.cancel)
            yield _tail(f)
        yield b"]"


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
    :class:`UploadError`; what was uploaded stays, so a re-run sends only the rest (the loop is the
    core's :func:`buckets.send_buckets`; this backend's part is the JSON bucket body). After a gateway
    timeout (524) the rest goes one bucket at a time, with wrangler's longer backoff
    (:mod:`pacing`); each bucket's read timeout grows with its size.
    """
    send = files_to_send(scan, missing)
    check_unchanged(send)
    pacer = UploadPacer(concurrency, log)
    sizer = BucketSizer(even_share(send, concurrency, max_bucket_bytes), concurrency, time_limit)
    queue = BucketQueue(send, max_bucket_files)

    def send_bucket(bucket):
        length = body_length(bucket.files)
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
        return length

    send_buckets(queue, send_bucket, concurrency, cancel=cancel, log=log, pacer=pacer, sizer=sizer)
    counts = upload_counts(scan, send, queue.made)
    counts["warnings"] = []
    hashes = scan.unique_hashes()
    for start in range(0, len(hashes), HASH_BATCH):
        try:
            client.assets_request("upsert-hashes", {"hashes": hashes[start:start + HASH_BATCH]}, token.provider())
        except PagesAPIError as err:
            counts["warnings"].append(
                "upsert-hashes failed (%s): the upload itself succeeded, but a later deploy may upload "
                "these files again" % err
            )
            break
    return counts
