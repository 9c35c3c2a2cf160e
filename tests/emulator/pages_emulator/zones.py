"""Zones: what a custom domain can be checked against (``GET /zones``), seeded by tests.

The API's list (developers.cloudflare.com/api/resources/zones/methods/list/) answers the zones the
credential can see, filtered by ``name`` (exact by default; the documented operators
``equal:``, ``not_equal:``, ``starts_with:``, ``ends_with:``, ``contains:`` as prefixes),
``status``, ``account.id`` and ``account.name``, 20 to a page by default and 50 at most. Tests add
zones with ``POST /__emulator/zones`` (``{"name", "account_id"}``, optional ``type``: ``full``
(default), ``partial`` or ``secondary``, and ``status``: ``active`` (default), ``pending``, ...).
Not emulated: per-token permissions (every credential of an account may read its zones).
"""
from __future__ import annotations

import json
import re
import uuid

from . import errors
from .util import iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS zones (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (account, name)
);
"""
TYPES = ("full", "partial", "secondary")
STATUSES = ("initializing", "pending", "active", "moved")
NAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ACCOUNT_RE = re.compile(r"^[0-9a-f]{32}$")
NAME_OPERATORS = {
    "equal": lambda value, wanted: value == wanted,
    "not_equal": lambda value, wanted: value != wanted,
    "starts_with": lambda value, wanted: value.startswith(wanted),
    "ends_with": lambda value, wanted: value.endswith(wanted),
    "contains": lambda value, wanted: wanted in value,
}
PER_PAGE_DEFAULT, PER_PAGE_MAX, PER_PAGE_MIN = 20, 50, 5


class ZoneError(ValueError):
    """A bad seeding request; ``status`` is the HTTP status to answer."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Zones:
    def __init__(self, store, clock):
        self.store = store
        self.clock = clock
        store.db.executescript(SCHEMA)

    def reset(self):
        self.store.db.execute("DELETE FROM zones")

    def add(self, values) -> dict:
        """Seed one zone from ``values`` (the body of ``POST /__emulator/zones``)."""
        if not isinstance(values, dict):
            raise ZoneError("body must be a JSON object")
        unknown = sorted(set(values) - {"name", "account_id", "type", "status"})
        if unknown:
            raise ZoneError("unknown key(s): " + ", ".join(unknown))
        name = values.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name.lower()):
            raise ZoneError("name must be a domain name such as example.com")
        account = values.get("account_id")
        if not isinstance(account, str) or not ACCOUNT_RE.match(account):
            raise ZoneError("account_id must be 32 lowercase hexadecimal characters")
        kind = values.get("type", "full")
        status = values.get("status", "active")
        if kind not in TYPES:
            raise ZoneError("type must be one of " + ", ".join(TYPES))
        if status not in STATUSES:
            raise ZoneError("status must be one of " + ", ".join(STATUSES))
        name = name.lower()
        if self.store.db.execute("SELECT 1 FROM zones WHERE account=? AND name=?", (account, name)).fetchone():
            raise ZoneError("account %s has a zone named %s already" % (account, name), 409)
        now = iso(self.clock())
        zone = {
            "id": uuid.uuid4().hex,
            "name": name,
            "status": status,
            "paused": False,
            "type": kind,
            "development_mode": 0,
            "name_servers": [] if kind == "partial" else ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
            "original_name_servers": None,
            "original_registrar": None,
            "original_dnshost": None,
            "created_on": now,
            "modified_on": now,
            "activated_on": now if status == "active" else None,
            "account": {"id": account, "name": "Emulated account"},
            "owner": {"id": None, "type": "user", "email": None},
            "permissions": ["#zone:read", "#zone:edit"],
            "meta": {"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3, "phishing_detected": False},
            "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "price": 0, "currency": "USD",
                     "frequency": "", "is_subscribed": False, "can_subscribe": False, "legacy_id": "free",
                     "legacy_discount": False, "externally_managed": False},
        }
        if kind == "partial":
            zone["cname_suffix"] = "cdn.cloudflare.net"
        self.store.db.execute("INSERT INTO zones (id, account, name, data) VALUES (?, ?, ?, ?)",
                              (zone["id"], account, name, json.dumps(zone)))
        return zone

    def listing(self, query, caller) -> tuple[list, dict]:
        """The zones of ``caller``'s account that match ``query`` (the request's query string), one page."""
        rows = self.store.db.execute("SELECT data FROM zones WHERE account=? ORDER BY name", (caller,)).fetchall()
        zones = [json.loads(row["data"]) for row in rows]
        name = query.get("name")
        if name is not None:
            operator, _, wanted = name.partition(":") if name.split(":", 1)[0] in NAME_OPERATORS else ("equal", "", name)
            zones = [z for z in zones if NAME_OPERATORS[operator](z["name"], wanted.lower())]
        for key, pick in (("status", lambda z: z["status"]), ("account.id", lambda z: z["account"]["id"]),
                          ("account.name", lambda z: z["account"]["name"])):
            if query.get(key) is not None:
                zones = [z for z in zones if pick(z) == query[key]]
        try:
            page = int(query.get("page", 1))
            per_page = int(query.get("per_page", PER_PAGE_DEFAULT))
        except ValueError:
            raise errors.APIError(400, 1001, "Invalid list options: page and per_page must be numbers.") from None  # [G] code
        if page < 1 or not PER_PAGE_MIN <= per_page <= PER_PAGE_MAX:
            raise errors.APIError(400, 1001, "Invalid list options: per_page must be between %d and %d."  # [G] code
                                  % (PER_PAGE_MIN, PER_PAGE_MAX))
        chunk = zones[(page - 1) * per_page: page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(zones),
                "total_pages": -(-len(zones) // per_page)}
        return chunk, info
