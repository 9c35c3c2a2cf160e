# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""One way to wait for an API object (a deployment's build, a custom domain's validation):
read it again with growing pauses until it is settled, it is gone, or the time is up."""

from __future__ import annotations

import time

DONE = "done"
TIMEOUT = "timeout"
MISSING = "missing"


def poll_until(value, refresh, done, timeout, interval=1.0, max_interval=5.0, factor=1.5):
    """Wait until ``done(value)`` is true; returns ``(value, DONE | TIMEOUT | MISSING)``.

    ``value`` is the object as last seen; ``refresh(value)`` reads it again (None: it is gone,
    MISSING). ``done`` is asked first about ``value`` itself, then after every read; it may act
    (e.g. retry a validation) and return false to go on. The first pause is ``interval`` seconds,
    each next one ``factor`` times longer up to ``max_interval``; the last read happens at the
    deadline, ``timeout`` seconds from the call. ``time.sleep`` and ``time.monotonic`` are looked
    up at call time, so tests replace this module's ``time`` with a fake clock.
    """
    deadline = time.monotonic() + max(0.0, float(timeout))
    delay = interval
    while True:
        if done(value):
            return value, DONE
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return value, TIMEOUT
        time.sleep(min(delay, remaining))
        delay = min(max_interval, delay * factor)
        refreshed = refresh(value)
        if refreshed is None:
            return value, MISSING
        value = refreshed
