# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The rule Pages applies to the name of a new project, checked before anything is created."""

from __future__ import annotations

import re

# The API schema's pages_project_name pattern is ^[a-z0-9][a-z0-9-]*$
# (https://github.com/cloudflare/api-schemas, openapi.json); create-cloudflare checks the rest of
# the rule before it creates a Pages project: no trailing dash, at most 58 characters
# (https://github.com/cloudflare/workers-sdk/blob/main/packages/create-cloudflare/src/validators.ts).
# The name becomes the <name>.pages.dev label, hence the DNS-label alphabet.
PROJECT_NAME_MAX_LENGTH = 58
_PROJECT_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")


def project_name_problem(name, option="project_name"):
    """Why Pages would refuse ``name`` for a new project (a sentence naming ``option``), or None."""
    if not isinstance(name, str) or not name:
        return "%s must not be empty." % option
    if len(name) <= PROJECT_NAME_MAX_LENGTH and _PROJECT_NAME_RE.match(name):
        return None
    reasons = []
    if len(name) > PROJECT_NAME_MAX_LENGTH:
        reasons.append("it has %d characters, at most %d are allowed" % (len(name), PROJECT_NAME_MAX_LENGTH))
    others = sorted(set(c for c in name if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-")))
    if others:
        reasons.append("it contains %s" % ", ".join(repr(c) for c in others[:10]))
    if name.startswith("-") or name.endswith("-"):
        reasons.append("it starts or ends with a dash")
    return (
        "%s %r is not a valid Pages project name (%s): use only lowercase letters a-z, digits and dashes, "
        "not at the start or the end, at most %d characters." % (option, name, "; ".join(reasons), PROJECT_NAME_MAX_LENGTH)
    )
