"""The API rate limiter: N requests per SECONDS per credential, then every call blocked for SECONDS.

Cloudflare documents 1,200 requests per 5 minutes per user and, once exceeded, a block of all
calls for the next 5 minutes with HTTP 429 and ``Retry-After``; every REST response carries
``Ratelimit: "default";r=<remaining>;t=<seconds to reset>`` and ``Ratelimit-Policy:
"default";q=<quota>;w=<window seconds>`` (https://developers.cloudflare.com/fundamentals/api/reference/limits/,
following draft-ietf-httpapi-ratelimit-headers). Cloudflare does not say how its window moves;
this one is a fixed window that opens with the first request after the previous one (or the
block) ended, which is what "the time the next window resets" describes.
"""
from __future__ import annotations

import hashlib
import math
import re

SPEC_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")
POLICY_NAME = "default"


def parse_spec(spec):
    """``"N/SECONDS"`` -> ``(N, SECONDS)``; ``None`` (or ``""``/``"off"``) -> None. ValueError if malformed."""
    if spec is None:
        return None
    if not isinstance(spec, str):
        raise ValueError("rate_limit must be a string N/SECONDS or null")
    if spec.strip().lower() in ("", "off", "none"):
        return None
    m = SPEC_RE.match(spec)
    if not m or int(m.group(1)) < 1 or float(m.group(2)) <= 0:
        raise ValueError(f"rate_limit {spec!r}: expected N/SECONDS with N >= 1 and SECONDS > 0, e.g. 1200/300")
    return int(m.group(1)), float(m.group(2))


def format_spec(limit):
    if limit is None:
        return None
    quota, window = limit
    return "%d/%s" % (quota, ("%g" % window))


def credential_key(headers, path):
    """The key a request is counted under: a hash of its credential (never the credential itself).

    Upload-JWT asset calls (``/pages/assets/*``) are a key of their own, separate from the API
    token or key of the same user.
    """
    authz = (headers.get("Authorization") or "").strip()
    if authz:
        kind = "assets" if "/pages/assets/" in path else "api"
        material = kind + "\0" + authz
    else:
        email = (headers.get("X-Auth-Email") or "").strip().lower()
        material = "key\0" + email + "\0" + (headers.get("X-Auth-Key") or "").strip()
    return hashlib.sha256(material.encode("utf-8", "replace")).hexdigest()[:24]


class _Window:
    __slots__ = ("opened", "count", "blocked_until")

    def __init__(self):
        self.opened = None
        self.count = 0
        self.blocked_until = 0.0


class RateLimiter:
    """``check(key, now)`` -> ``(allowed, headers)``; the headers go on every response."""

    def __init__(self, limit=None):
        self.limit = limit
        self.windows = {}

    def configure(self, limit):
        """A new limit starts every key afresh."""
        self.limit = limit
        self.windows.clear()

    def check(self, key, now):
        if self.limit is None:
            return True, {}
        quota, window = self.limit
        state = self.windows.setdefault(key, _Window())
        if now < state.blocked_until:
            return False, self._headers(0, state.blocked_until - now, blocked=True)
        if state.opened is None or now >= state.opened + window:
            state.opened, state.count = now, 0
        if state.count >= quota:
            # This request exceeds the window: it and every request for the next `window` seconds fail.
            state.blocked_until = now + window
            state.opened, state.count = None, 0
            return False, self._headers(0, window, blocked=True)
        state.count += 1
        return True, self._headers(quota - state.count, state.opened + window - now)

    def _headers(self, remaining, seconds, blocked=False):
        quota, window = self.limit
        reset = max(0, math.ceil(seconds - 1e-9))
        headers = {
            "Ratelimit": '"%s";r=%d;t=%d' % (POLICY_NAME, remaining, reset),
            "Ratelimit-Policy": '"%s";q=%d;w=%d' % (POLICY_NAME, quota, math.ceil(window)),
        }
        if blocked:
            headers["Retry-After"] = str(max(1, reset))
        return headers
