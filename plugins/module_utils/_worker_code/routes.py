# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Validation of a ``_routes.json`` (Functions invocation routes) before anything is sent.

The rules are those of Pages' documentation
(https://developers.cloudflare.com/pages/functions/routing/#functions-invocation-routes and its
"Limits": at least one include rule, at most 100 include and exclude rules together, each rule
at most 100 characters) and of wrangler's own check before a deploy
(``src/pages/functions/routes-validation.ts``): a JSON object with ``version`` 1 and the arrays
``include`` and ``exclude``, every rule starting with ``/``, and no rule made redundant by a
``/prefix/*`` rule of the same list.
"""

from __future__ import annotations

import json

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _json
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import WorkerError

ROUTES_VERSION = 1
MAX_RULES = 100
MAX_RULE_LENGTH = 100


def _js_length(text):
    """``String.prototype.length``: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _overlap(rules):
    """The first pair ``(wide, narrow)`` where the ``/x/*`` rule ``wide`` covers ``narrow``."""
    for wide in rules:
        if not wide.endswith("/*"):
            continue
        prefix = wide[:-1]
        for narrow in rules:
            if narrow != wide and narrow.startswith(prefix):
                return wide, narrow
    return None


def _shown(value):
    """``value`` as JSON for a message: at most 100 characters (a value can be nested deeper than json.dumps goes)."""
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError):
        text = "a nested %s" % type(value).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def validate_routes(content, where="_routes.json"):
    """The parsed ``_routes.json`` ``content`` (bytes or str); raises :class:`WorkerError`
    naming ``where`` and the problem."""

    def fail(problem):
        raise WorkerError("invalid %s: %s" % (where, problem))

    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            fail("it is not UTF-8 text")
    try:
        data = _json.loads(content)
    except ValueError as err:
        fail("it is not valid JSON (%s)" % err)
    if not isinstance(data, dict):
        fail('it must be a JSON object {"version": 1, "include": [...], "exclude": [...]}')
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, (int, float)) or version != ROUTES_VERSION:
        fail('"version" must be 1, not %s' % _shown(version))
    for key in ("include", "exclude"):
        if not isinstance(data.get(key), list):
            fail('"%s" must be an array of rules (it may be empty for exclude), not %s' % (key, _shown(data.get(key))))
        for rule in data[key]:
            if not isinstance(rule, str):
                fail('every rule must be a string; "%s" has %s' % (key, _shown(rule)))
    include, exclude = data["include"], data["exclude"]
    if not include:
        fail('"include" must have at least one rule (Pages invokes the worker only for included paths)')
    if len(include) + len(exclude) > MAX_RULES:
        fail("it has %d include and %d exclude rules; Pages allows at most %d together"
             % (len(include), len(exclude), MAX_RULES))
    for key in ("include", "exclude"):
        for rule in data[key]:
            if _js_length(rule) > MAX_RULE_LENGTH:
                fail('the %s rule "%s..." has %d characters; each rule may have at most %d'
                     % (key, rule[:40], _js_length(rule), MAX_RULE_LENGTH))
            if not rule.startswith("/"):
                fail('the %s rule "%s" must start with "/"' % (key, rule))
    for key in ("include", "exclude"):
        pair = _overlap(data[key])
        if pair:
            fail('the %s rules "%s" and "%s" overlap (the first covers the second); remove the narrower one'
                 % (key, pair[0], pair[1]))
    return data
