# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""How bucket uploads pace themselves: gateway timeouts (HTTP 524) and each bucket's read timeout.

Cloudflare answers 524 when the upload service takes too long. wrangler then drops its upload queue
to one request at a time, waits ``2^n * 5`` seconds more than for other errors (``n`` = the
bucket's gateway errors so far) and counts an attempt only from the fifth gateway error on
(workers-sdk, packages/wrangler/src/pages/upload.ts: ``MAX_UPLOAD_GATEWAY_ERRORS = 5``;
``isGatewayError()`` is status 524). :class:`UploadPacer` does the same for the engine's threads;
``PagesClient.request(gateway_backoff=...)`` applies it to each bucket's retries.
"""

from __future__ import annotations

import contextlib
import threading

GATEWAY_TIMEOUT_STATUS = 524
#: Gateway errors of one bucket before each further one counts as a retry (wrangler's).
MAX_GATEWAY_ERRORS = 5
#: Base of the extra wait after a gateway error: 5, 10, 20, 40, 80 s (wrangler's).
GATEWAY_BACKOFF_SECONDS = 5.0
#: A bucket's read timeout grows by one second per this many bytes of request body, on top of the
#: client's timeout: a full bucket (~53 MiB of JSON) may take about 53 s more to send and store.
TIMEOUT_BYTES_PER_SECOND = 1024 * 1024


def bucket_timeout(base_timeout, body_bytes):
    """The read timeout of one bucket upload: ``base_timeout`` plus time for its body."""
    return float(base_timeout) + float(body_bytes) / TIMEOUT_BYTES_PER_SECOND


class UploadPacer:
    """Shared by the threads of one upload: how many buckets may be in flight, which drops to
    one for the rest of the upload after the first gateway timeout (buckets already in flight
    finish), and the extra wait of each gateway error."""

    def __init__(self, concurrency, log=None):
        self.limit = max(1, int(concurrency))
        self.active = 0
        self.narrowed = False
        self.log = log or (lambda line: None)
        self._cond = threading.Condition()

    def __enter__(self):
        self._acquire(None)
        return self

    @contextlib.contextmanager
    def slot(self, allowed):
        """``with pacer.slot(allowed):`` as ``with pacer:``, also waiting until fewer than
        ``allowed()`` requests are in flight (asked again whenever one ends: it changes as the
        throughput is measured)."""
        self._acquire(allowed)
        try:
            yield self
        finally:
            self.__exit__(None, None, None)

    def _acquire(self, allowed):
        with self._cond:
            while self.active >= (self.limit if allowed is None else min(self.limit, allowed())):
                self._cond.wait()
            self.active += 1

    def __exit__(self, *exc_info):
        with self._cond:
            self.active -= 1
            self._cond.notify_all()
        return False

    def gateway_backoff(self, gateway_errors):
        """For ``PagesClient.request``: one upload at a time from now on; wait ``2^n * 5`` s more;
        the retry counts only from the :data:`MAX_GATEWAY_ERRORS`-th gateway error on."""
        with self._cond:
            if not self.narrowed:
                self.narrowed = True
                self.limit = 1
                self.log("gateway timeout (HTTP 524): uploading one bucket at a time from now on")
        return GATEWAY_BACKOFF_SECONDS * (2 ** gateway_errors), gateway_errors + 1 >= MAX_GATEWAY_ERRORS
