# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""When to try a request again: the backoff between attempts and the server's ``Retry-After``."""

from __future__ import annotations

import email.utils
import math
import random
from datetime import datetime, timezone

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if unusable."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        now = now if now is not None else datetime.now(timezone.utc)
        seconds = (when - now).total_seconds()
    # float() also reads "nan" and "inf", which are no delay-seconds (RFC 9110: digits).
    return max(0.0, seconds) if math.isfinite(seconds) else None


def backoff_delay(attempt, rng=random):
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt))
    return delay / 2.0 + rng.uniform(0, delay / 2.0)
