"""The Cache API of deployed workers (``caches.default``, ``caches.open(name)``), in memory.

workerd sends a worker's Cache API calls to the service named by the worker's
``cacheApiOutbound`` (workerd.capnp) as HTTP requests; the protocol is workerd's
(src/workerd/api/cache.c++): ``match`` = ``GET <url>`` with ``Cache-Control: only-if-cached``,
answered with ``CF-Cache-Status: HIT`` and the stored response, or ``MISS`` (a 504); ``put`` =
``PUT <url>`` whose body is the whole serialised HTTP response, answered 204 (stored) or 413 (not
stored); ``delete`` = ``PURGE <url>``, answered 200 (deleted) or 404. ``caches.open(name)`` adds a
``CF-Cache-Namespace: <name>`` header.

What gets stored, and for how long, follows Cloudflare's documentation of the Workers Cache API
(developers.cloudflare.com/workers/runtime-apis/cache/) and of Cache-Control and Edge TTL
(developers.cloudflare.com/cache/concepts/cache-control/, .../default-cache-behavior/):
``s-maxage`` before ``max-age`` before ``Expires``; ``no-store``, ``no-cache`` and ``private``
are not stored; without any of those the Edge TTL of the status applies (200/206/301 two hours,
302/303 twenty minutes, 404/410 three minutes, anything else not stored); a response with
``Set-Cookie`` is never stored unless ``Cache-Control: private=Set-Cookie`` says to store it
without the cookie. ``match`` honours ``If-None-Match``, ``If-Modified-Since`` and a single
``Range``.
"""
from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

EDGE_TTL = {200: 7200, 206: 7200, 301: 7200, 302: 1200, 303: 1200, 404: 180, 410: 180}
MAX_BYTES = 128 * 1024 * 1024     # all entries together; the oldest go first (a cache may evict)
NAMESPACE_HEADER = "CF-Cache-Namespace"
STATUS_HEADER = "CF-Cache-Status"


@dataclass
class Entry:
    status: int
    reason: str
    headers: list          # [(name, value)] as put, minus framing headers
    body: bytes
    expires_at: float


class PayloadError(ValueError):
    pass


def parse_payload(payload: bytes):
    """(status, reason, headers, body) of the serialised response a ``put`` sends."""
    head, sep, body = payload.partition(b"\r\n\r\n")
    if not sep:
        raise PayloadError("no end of headers")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/\d(?:\.\d)? (\d{3})(?: (.*))?$", lines[0])
    if not m:
        raise PayloadError(f"not a status line: {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    return int(m.group(1)), m.group(2) or "", headers, body


def _directives(value: str) -> dict:
    """Cache-Control directives: lower-case name -> value (None without ``=``)."""
    out = {}
    for part in re.findall(r'([^,=\s]+)\s*(?:=\s*("(?:[^"]*)"|[^,]*))?', value or ""):
        name, arg = part
        out.setdefault(name.lower(), arg.strip().strip('"') if arg else None)
    return out


def _seconds(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _http_date(value: str):
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def storage_decision(status: int, headers: list, now: float):
    """(ttl seconds or None when the response is not stored, the headers to store)."""
    lower = [(n.lower(), v) for n, v in headers]
    cc = _directives(", ".join(v for n, v in lower if n == "cache-control"))
    kept = [(n, v) for n, v in headers if n.lower() not in ("transfer-encoding", "connection")]
    if any(n == "set-cookie" for n, _ in lower):
        private = cc.get("private") or ""
        if "set-cookie" not in [f.strip().lower() for f in private.split(",")]:
            return None, kept
        kept = [(n, v) for n, v in kept if n.lower() != "set-cookie"]
        cc.pop("private")
    if "no-store" in cc or ("no-cache" in cc and cc["no-cache"] is None) or (
            "private" in cc and cc["private"] is None):
        return None, kept
    ttl = _seconds(cc.get("s-maxage"))
    if ttl is None:
        ttl = _seconds(cc.get("max-age"))
    if ttl is None:
        expires = next((v for n, v in lower if n == "expires"), None)
        if expires is not None:
            when = _http_date(expires)
            ttl = int(when - now) if when is not None else 0
    if ttl is None:
        ttl = EDGE_TTL.get(status)
    if not ttl or ttl <= 0:
        return None, kept
    return ttl, kept


def _etags(value: str) -> list:
    return [t.strip().removeprefix("W/") for t in value.split(",") if t.strip()]


def _single_range(value: str, size: int):
    """(start, end) of a one-range ``bytes=`` header, "unsatisfiable", or None (serve it all)."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value or "")
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        start, end = max(size - int(m.group(2)), 0), size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


class CacheStore:
    """Every deployed worker's caches: (scope, namespace, url) -> Entry, least recent first."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.entries: OrderedDict = OrderedDict()
        self.size = 0

    def wipe(self):
        self.entries.clear()
        self.size = 0

    def _drop(self, key):
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry.body)
        return entry

    def put(self, key: tuple, payload: bytes) -> int:
        """204 when stored, 413 when the response is not to be stored."""
        status, reason, headers, body = parse_payload(payload)
        now = self.clock()
        ttl, kept = storage_decision(status, headers, now)
        if ttl is None or len(body) > MAX_BYTES:
            return 413
        self._drop(key)
        self.entries[key] = Entry(status, reason, kept, body, now + ttl)
        self.size += len(body)
        while self.size > MAX_BYTES:
            self._drop(next(iter(self.entries)))
        return 204

    def delete(self, key: tuple) -> bool:
        entry = self._drop(key)
        return entry is not None and entry.expires_at > self.clock()

    def match(self, key: tuple, request_headers):
        """(status, headers, body) for a hit, None for a miss."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self.clock():
            self._drop(key)
            return None
        self.entries.move_to_end(key)
        headers = [(n, v) for n, v in entry.headers if n.lower() != STATUS_HEADER.lower()]
        headers.append((STATUS_HEADER, "HIT"))
        lower = {n.lower(): v for n, v in entry.headers}
        inm = request_headers.get("If-None-Match")
        if inm is not None and "etag" in lower:
            if inm.strip() == "*" or lower["etag"].strip().removeprefix("W/") in _etags(inm):
                return 304, headers, b""
        ims = request_headers.get("If-Modified-Since")
        if ims is not None and "last-modified" in lower:
            since, modified = _http_date(ims), _http_date(lower["last-modified"])
            if since is not None and modified is not None and modified <= since:
                return 304, headers, b""
        size = len(entry.body)
        wanted = _single_range(request_headers.get("Range"), size) if "Range" in request_headers else None
        if wanted == "unsatisfiable":
            return 416, [(STATUS_HEADER, "HIT"), ("Content-Range", f"bytes */{size}")], b""
        if wanted is not None:
            start, end = wanted
            headers = [(n, v) for n, v in headers if n.lower() not in ("content-length", "content-range")]
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
            return 206, headers, entry.body[start:end + 1]
        return entry.status, headers, entry.body
