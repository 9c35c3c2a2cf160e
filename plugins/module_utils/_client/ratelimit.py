# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Pacing under Cloudflare's API rate limit, within a total waiting budget for the task.

Cloudflare allows 1,200 requests per 5 minutes per user; the request that exceeds it, and every
call for the next 5 minutes, gets HTTP 429 with ``Retry-After``. Every REST response says where
the caller stands: ``Ratelimit: "default";r=<remaining>;t=<seconds to reset>`` and
``Ratelimit-Policy: "default";q=<quota>;w=<window seconds>``
(https://developers.cloudflare.com/fundamentals/api/reference/limits/). The quota is per user,
so ``r`` already counts what other processes and the dashboard spent.

:class:`Pacer` keeps, per key (the API credential, and the upload JWT separately), an estimate
of the requests left in the current window: from the last headers, minus what this process sent
since; from the documented default when the API sends no headers. A request goes out at once
while more than a small reserve is left; otherwise it waits for the window to reset. A 429
blocks the key for ``Retry-After`` seconds. Every wait is charged to one :class:`WaitBudget`
(overlapping waits of concurrent requests are charged once); a wait the budget cannot cover
raises :class:`BudgetSpent` at once instead of sleeping part of it.
"""

from __future__ import annotations

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import BudgetSpent
import math
import re
import threading
import time

# Cloudflare's documented limit, used until the API says otherwise.
DEFAULT_QUOTA = 1200
DEFAULT_WINDOW = 300.0
# Default rate_limit_budget: one full block (300 s) plus the wait for one more window to reset.
DEFAULT_BUDGET = 600.0
# Seconds added to a window's reset time (``t`` is rounded up already; this covers a late clock tick).
RESET_SLACK = 0.1

_ITEM_RE = re.compile(r'^\s*(?:"[^"]*"|[A-Za-z*][A-Za-z0-9_.*:/%-]*)((?:\s*;\s*[a-z*][a-z0-9_.*-]*=[^;,]*)*)\s*$')


def parse_structured_params(value):
    """The parameters of the first item of a structured-field list header, as a dict of strings.

    ``"default";r=50;t=30`` -> ``{"r": "50", "t": "30"}``; None when the header is missing or malformed.
    """
    if not value:
        return None
    first = str(value).split(",", 1)[0]
    match = _ITEM_RE.match(first)
    if not match:
        return None
    params = {}
    for part in match.group(1).split(";"):
        if "=" in part:
            name, raw = part.split("=", 1)
            params[name.strip()] = raw.strip().strip('"')
    return params


def _number(params, name):
    """A finite number, or None: "nan" or "inf" in a header (from a proxy, say) would not convert to int."""
    try:
        number = float(params[name])
    except (KeyError, TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class WaitBudget:
    """Seconds the whole task may spend waiting for the rate limit, shared by all its requests."""

    def __init__(self, total, clock=None):
        self.total = max(0.0, float(total))
        self.clock = clock or time.monotonic
        self.spent = 0.0
        self._covered_until = None
        self._lock = threading.Lock()

    @property
    def left(self):
        return max(0.0, self.total - self.spent)

    def charge_until(self, until):
        """Charge a wait that ends at ``until`` (clock time); False (and nothing charged) if it does not fit.

        The part that overlaps a wait already charged (another thread waiting for the same
        reset) is free.
        """
        with self._lock:
            now = self.clock()
            start = now if self._covered_until is None else max(now, self._covered_until)
            cost = max(0.0, until - start)
            if self.spent + cost > self.total + 1e-9:
                return False
            self.spent += cost
            if self._covered_until is None or until > self._covered_until:
                self._covered_until = until
            return True


class _KeyState:
    def __init__(self, quota, window):
        self.quota = quota
        self.window = window
        self.remaining = quota
        self.reset_at = None  # clock time the current window ends; None: no window open yet
        self.blocked_until = 0.0
        self.from_headers = False
        self.in_flight = 0


class Pacer:
    """Decides when each request may go out; see the module docstring. Thread-safe.

    ``log`` gets one line per wait (when and why); ``sleep`` and ``clock`` are injectable for tests.
    """

    def __init__(self, budget, log=None, sleep=None, clock=None, quota=DEFAULT_QUOTA, window=DEFAULT_WINDOW):
        self.budget = budget
        self.log = log or (lambda line: None)
        self.sleep = sleep
        self.clock = clock or time.monotonic
        self.default_quota = quota
        self.default_window = window
        self.keys = {}
        self.waits = []  # one line (what, when, why) per wait, for the task's result
        self.waited = 0.0
        self.throttled = 0
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._last_until = None

    def cancel(self):
        """Wake every waiting request and refuse new waits (the task is being interrupted)."""
        self._cancelled.set()

    def _state(self, key):
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = _KeyState(self.default_quota, self.default_window)
        return state

    @staticmethod
    def reserve(state):
        """Requests left unused in each window, for other processes sharing the account's limit."""
        return max(1, state.quota // 20)

    # ------------------------------------------------------------------ before / after a request

    def before_request(self, key, what):
        """Block until ``key`` may send one request (``what`` names it in messages)."""
        while True:
            with self._lock:
                state = self._state(key)
                now = self.clock()
                if now < state.blocked_until:
                    until = state.blocked_until
                    reason = "the API answered 429 (rate limited): waiting %.0fs as Retry-After says" % (until - now)
                    blocked = True
                else:
                    if state.reset_at is None or now >= state.reset_at:
                        # A new window: the whole quota (the next response corrects the estimate).
                        state.remaining = state.quota
                        state.reset_at = None if state.from_headers else now + state.window
                    if state.remaining > self.reserve(state) or state.reset_at is None:
                        state.remaining -= 1
                        state.in_flight += 1
                        return
                    until = state.reset_at + RESET_SLACK
                    reason = "%d of %d requests per %.0fs left: pausing %.0fs until the window resets" % (
                        max(0, state.remaining), state.quota, state.window, until - now)
                    blocked = False
            self._wait(until, reason, what)
            with self._lock:
                # Waited: that block or window is over (unless a newer response moved it meanwhile).
                if blocked and state.blocked_until <= until:
                    state.blocked_until = 0.0
                elif not blocked and state.reset_at is not None and state.reset_at + RESET_SLACK <= until:
                    state.reset_at = self.clock() - 1.0

    def after_response(self, key, response):
        """Learn from the ``Ratelimit`` / ``Ratelimit-Policy`` headers of a response (None: no response came)."""
        headers = getattr(response, "headers", None)
        with self._lock:
            state = self._state(key)
            state.in_flight = max(0, state.in_flight - 1)
            now = self.clock()
            policy = parse_structured_params(_header(headers, "Ratelimit-Policy"))
            quota, window = _number(policy or {}, "q"), _number(policy or {}, "w")
            if quota and quota >= 1 and window and window > 0:
                state.quota, state.window = int(quota), float(window)
            current = parse_structured_params(_header(headers, "Ratelimit"))
            left, reset = _number(current or {}, "r"), _number(current or {}, "t")
            if left is not None and reset is not None:
                state.from_headers = True
                # Requests still in flight were sent after this one was counted, at the latest.
                state.remaining = int(left) - state.in_flight
                state.reset_at = now + max(0.0, reset)

    def throttled_for(self, key, retry_after):
        """A 429: block ``key`` for ``retry_after`` seconds (else until the reset the headers gave)."""
        with self._lock:
            state = self._state(key)
            self.throttled += 1
            now = self.clock()
            if retry_after is None:
                retry_after = (state.reset_at - now) if state.reset_at is not None and state.reset_at > now else 1.0
            state.blocked_until = max(state.blocked_until, now + retry_after)
            state.remaining = 0
            state.reset_at = None
            state.from_headers = False

    # ------------------------------------------------------------------ waiting

    def _wait(self, until, reason, what):
        now = self.clock()
        seconds = max(0.0, until - now)
        if self._cancelled.is_set():
            raise BudgetSpent("interrupted while waiting for the rate limit")
        if not self.budget.charge_until(until):
            raise BudgetSpent(
                "stopped to stay within rate_limit_budget=%.0fs (%.0fs of it already spent waiting): "
                "the next request would have to wait %.0fs more (%s). Cloudflare allows 1,200 API "
                "requests per 5 minutes per user and blocks every call for 5 minutes once that is exceeded; "
                "raise rate_limit_budget, or run the task again later"
                % (self.budget.total, self.budget.spent, seconds, reason.split(":")[0])
            )
        line = "%s: %s" % (what, reason)
        with self._lock:
            # Concurrent requests waiting for the same reset are one wait: say it once.
            first = self._last_until is None or abs(until - self._last_until) > 0.5
            if first:
                self._last_until = until
                self.waits.append(line)
                self.waited += seconds
        if first:
            self.log(line)
        if self.sleep is not None:
            self.sleep(seconds)
        elif self._cancelled.wait(seconds):
            raise BudgetSpent("interrupted while waiting for the rate limit")

    def summary(self):
        """What a task reports about the rate limit (with ``-v``)."""
        return {
            "waited_seconds": round(self.waited, 1),
            "waits": list(self.waits),
            "throttled_responses": self.throttled,
            "budget_seconds": self.budget.total,
            "budget_left_seconds": round(self.budget.left, 1),
        }


def _header(headers, name):
    if headers is None:
        return None
    try:
        return headers.get(name)
    except AttributeError:
        return None
