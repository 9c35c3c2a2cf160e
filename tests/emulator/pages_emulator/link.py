"""A slow uplink and Cloudflare's per-request time limit, for upload tests.

``--bandwidth BYTES_PER_S`` (or ``bandwidth`` in ``POST /__emulator/config``) reads the bodies of
``POST /pages/assets/upload`` at that rate. The requests share it as they would share one link:
each piece read reserves the next free slot of the link, so two requests at once each get half.

``--request-timeout SECONDS`` (``request_timeout``) ends an API request that has not been answered
after that long with Cloudflare's 524 page and closes its connection; nothing of it is stored.
wrangler's HTTP client (undici) gives up on a request after 300 s without a response
(``headersTimeout``), which is what fails a 40 MiB bucket on a slow link (workers-sdk issues about
``BULK_UPLOAD_CONCURRENCY``); the emulator's default is that figure.
"""
from __future__ import annotations

import asyncio
import time

# A piece of body read at a time: small enough that concurrent requests interleave finely, big
# enough that a fast link is not slowed by the loop's overhead.
MIN_PIECE = 4 * 1024
MAX_PIECE = 256 * 1024


class Link:
    """One shared uplink of ``rate`` bytes a second (0: unlimited)."""

    def __init__(self, rate: float = 0.0, clock=time.monotonic):
        self.rate = float(rate)
        self.clock = clock
        self.free_at = 0.0  # when the link has sent everything reserved so far

    def piece(self) -> int:
        """How many bytes to read at a time: about a tenth of a second's worth."""
        return int(min(MAX_PIECE, max(MIN_PIECE, self.rate / 10)))

    async def carry(self, nbytes: int):
        """Wait until ``nbytes`` more bytes have crossed the link."""
        if self.rate <= 0 or nbytes <= 0:
            return
        now = self.clock()
        start = max(now, self.free_at)
        self.free_at = start + nbytes / self.rate
        delay = self.free_at - now
        if delay > 0:
            await asyncio.sleep(delay)

    async def read_body(self, request, limit: int) -> bytes:
        """The whole body of ``request``, at the link's rate; more than ``limit`` bytes is a 413."""
        if self.rate <= 0:
            return await request.read()
        chunks = []
        total = 0
        while True:
            chunk = await request.content.read(self.piece())
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise BodyTooLarge(total)
            chunks.append(chunk)
            await self.carry(len(chunk))
        return b"".join(chunks)


class BodyTooLarge(Exception):
    pass
