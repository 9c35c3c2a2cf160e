# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""JSON read from files and answers the collection did not write: ``_routes.json``, the hash cache, API answers."""

from __future__ import annotations

import json


def _refuse_constant(name):
    # Python reads NaN, Infinity and -Infinity; JSON (RFC 8259) has no such literals, and JavaScript's
    # JSON.parse, which Cloudflare and wrangler use, refuses them.
    raise ValueError("%s is not a JSON value" % name)


def loads(text):
    """``text`` (str or UTF-8 bytes) as JSON, or ValueError for anything that is not JSON.

    Python's parser recurses once per level of nesting, so a document nested deeper than the
    interpreter's recursion limit raises RecursionError, which is not a ValueError: it is one here.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply") from None
