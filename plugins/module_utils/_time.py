# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Times and ages: the API's timestamps and the ``older_than`` option ("30d", "12h", a date)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}
_PART = re.compile(r"\s*(\d+)\s*([a-z]+)\s*")
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)

OLDER_THAN_HELP = (
    "an age such as '30d', '12h', '2w', '90m', '1d12h' (units s, m, h, d, w) "
    "or a date or time such as '2026-01-31' or '2026-01-31T12:00:00Z'"
)


def parse_duration(value):
    """Seconds in an age like ``30d``, ``1d12h`` or ``90 minutes``; None when it is not one."""
    text = str(value).strip().lower()
    if not text:
        return None
    pos = 0
    total = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match or match.group(2) not in _UNITS:
            return None
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total


def parse_timestamp(value):
    """An aware UTC datetime from the API's timestamps (``2026-09-11T20:12:37.66251Z``) or a date.

    A time without an offset is taken as UTC. Returns None when ``value`` is not a timestamp.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        when = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro,
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    if offset and offset.upper() != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:  # RFC 3339: an offset is at most 23:59 either way
            return None
        try:
            when -= sign * timedelta(hours=hours, minutes=minutes)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the year 1 in UTC
            return None
    return when


def older_than_cutoff(value, now=None):
    """The moment before which something counts as "older than ``value``".

    ``value`` is an age (``30d``: now minus 30 days) or a date/time (that moment). Raises
    ValueError with a message for the user when it is neither.
    """
    now = now or datetime.now(timezone.utc)
    seconds = parse_duration(value)
    if seconds is not None:
        try:
            return now - timedelta(seconds=seconds)
        except (OverflowError, ValueError):
            raise ValueError(
                "older_than=%r reaches back before the year 1; use a smaller age, such as '3650d'." % (value,)
            ) from None
    when = parse_timestamp(value)
    if when is not None:
        return when
    if isinstance(value, str) and _TIMESTAMP.match(value.strip()):
        raise ValueError(
            "older_than=%r is not a date and time that exists (a UTC offset runs from -23:59 to +23:59, and the "
            "moment must fall between the years 1 and 9999 in UTC); it must be %s" % (value, OLDER_THAN_HELP)
        )
    raise ValueError("older_than=%r is not %s" % (value, OLDER_THAN_HELP))
