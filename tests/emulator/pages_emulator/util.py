"""Small helpers: time stamps, name/alias rules, deep merge."""
from __future__ import annotations

import datetime as _dt
import json
import re
import secrets
import string

PROJECT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON value")


def parse_json(raw):
    """A request body (bytes or str) as JSON, or ValueError: the API answers 400 to anything else.

    JavaScript's JSON.parse, which Cloudflare's API runs on, refuses the NaN and Infinity literals
    Python accepts; Python's parser raises RecursionError (a 500 here) on nesting deeper than its
    recursion limit, which no Pages request body has."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def iso(ts: float) -> str:
    """RFC 3339 with microseconds and a ``Z``, like ``2025-09-05T22:06:18.403967Z``."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def today(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d")


def valid_project_name(name) -> bool:
    return isinstance(name, str) and len(name) <= 58 and bool(PROJECT_NAME_RE.match(name))


def branch_alias(branch: str) -> str | None:
    """Branch alias slug (pages-api.md section 4); ``None`` when it comes out empty."""
    s = re.sub(r"[^a-z0-9-]", "-", branch.lower()).strip("-")
    s = s[:28]  # no re-trim after cutting
    return s or None


def random_alnum(n: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def truncate_commit_message(msg: str) -> str:
    raw = msg.encode("utf-8")
    if len(raw) <= 384:
        return msg
    return raw[:384].decode("utf-8", "ignore") + "\n\n[commit_message truncated]"
