# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Bucket size and concurrency from the uplink's throughput, measured as the upload goes.

A request to the upload endpoint must end within a time limit: wrangler's HTTP client (undici)
gives up after 300 s without an answer (``headersTimeout``), and on a slow uplink three concurrent
40 MiB buckets (wrangler's ``BULK_UPLOAD_CONCURRENCY`` and ``MAX_BUCKET_SIZE``,
packages/wrangler/src/pages/constants.ts) take longer than that: every upload fails, whatever the
retries. So the engine does not plan the buckets up front. It sends a small first bucket alone,
measures how many body bytes a second the link carried (all requests in flight together), and
sizes every later bucket, when it starts, so that it takes about :data:`TARGET_FRACTION` of the
time limit with the requests that share the link; when even one file would not fit that time with
others in flight, fewer requests run at once. A bucket grows at most :data:`GROWTH` times over the
biggest one measured, so one optimistic measurement cannot jump to a bucket that times out.
"""

from __future__ import annotations

import threading
import time

#: Seconds within which an upload request must end (wrangler's client; the issue measured it).
REQUEST_TIME_LIMIT = 300.0
#: Each bucket is sized to take this fraction of the limit: well under it, since a shared link's
#: throughput moves and the measurement includes the server's own time.
TARGET_FRACTION = 0.1
#: The first bucket, sent alone: small enough to end in time on any usable link (about 1.7 s at
#: 200 KB/s), big enough to measure.
FIRST_BUCKET_BYTES = 256 * 1024
#: The most a bucket may grow over the biggest bucket measured so far.
GROWTH = 4
#: Raw file bytes per body byte: base64 turns 3 bytes into 4 (the JSON framing is small).
RAW_PER_BODY_BYTE = 0.75


class Throughput:
    """The link's throughput, from finished requests: body bytes over seconds, times the requests
    that were in flight during each (time-weighted), so the figure is the whole link's. Thread
    safe. ``clock``: for tests."""

    def __init__(self, clock=time.monotonic, keep=4):
        self.clock = clock
        self.keep = keep
        self.samples = []  # aggregate bytes/s of the last ``keep`` finished requests
        self.biggest = 0  # the biggest bucket (raw bytes) measured
        self._lock = threading.Lock()
        self._inflight = 0
        self._area = 0.0  # integral of requests in flight over time
        self._since = clock()

    def _advance(self):
        now = self.clock()
        self._area += self._inflight * (now - self._since)
        self._since = now
        return now

    def start(self):
        """A request starts; returns the token :meth:`finish` takes."""
        with self._lock:
            now = self._advance()
            self._inflight += 1
            return now, self._area

    def finish(self, token, body_bytes, raw_bytes):
        """The request started with ``token`` ended after sending ``body_bytes`` (``raw_bytes`` of files)."""
        with self._lock:
            now = self._advance()
            self._inflight -= 1
            started, area = token
            seconds = now - started
            if seconds <= 0 or body_bytes <= 0:
                return
            sharing = max(1.0, (self._area - area) / seconds)
            self.samples = (self.samples + [body_bytes / seconds * sharing])[-self.keep:]
            self.biggest = max(self.biggest, raw_bytes)

    def abandon(self, token):
        """The request started with ``token`` failed: nothing to learn from it."""
        with self._lock:
            self._advance()
            self._inflight -= 1

    def rate(self):
        """Body bytes a second the link carries (the lowest recent figure: a slowdown counts at
        once, a speed-up only when it lasts), or None before any request ended."""
        with self._lock:
            return min(self.samples) if self.samples else None


class BucketSizer:
    """What the next bucket may hold and how many requests may run at once.

    ``max_bytes`` and ``concurrency`` are the ceilings (the ``max_bucket_bytes`` and
    ``upload_concurrency`` options, or wrangler's 40 MiB and 3); ``time_limit`` the request time
    limit (:data:`REQUEST_TIME_LIMIT`)."""

    def __init__(self, max_bytes, concurrency, time_limit=REQUEST_TIME_LIMIT, throughput=None):
        self.max_bytes = max(1, int(max_bytes))
        self.concurrency = max(1, int(concurrency))
        self.target = float(time_limit) * TARGET_FRACTION
        self.throughput = throughput or Throughput()

    def bucket_bytes(self, sharing):
        """Raw bytes for a bucket that will share the link with ``sharing`` requests (itself included)."""
        rate = self.throughput.rate()
        if rate is None:
            return min(self.max_bytes, FIRST_BUCKET_BYTES)
        fits = int(rate / max(1, sharing) * self.target * RAW_PER_BODY_BYTE)
        grown = max(FIRST_BUCKET_BYTES, self.throughput.biggest) * GROWTH
        return max(1, min(self.max_bytes, fits, grown))

    def allowed(self, raw_bytes):
        """How many requests may be in flight while one of ``raw_bytes`` is (itself included):
        before the first measurement one; then as many as keep it within the target, at least
        one, at most ``concurrency``."""
        rate = self.throughput.rate()
        if rate is None:
            return 1
        seconds_alone = raw_bytes / RAW_PER_BODY_BYTE / rate
        if seconds_alone <= 0:
            return self.concurrency
        return max(1, min(self.concurrency, int(self.target / seconds_alone)))
