# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The content type a direct upload sends for each asset, as wrangler does: mime@3 for Pages,
mime@4 with a charset for Workers static assets."""

from __future__ import annotations

# mime@3's whole table (generated; tools/generate_content_types.py).
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.mime_types import MIME_TYPES
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.mime_types_v4 import MIME4_CHANGES

DEFAULT_CONTENT_TYPE = "application/octet-stream"


def _extension_key(relpath):
    """The key mime's ``getType`` looks ``relpath`` up by, or None (a dot-less name below the top)."""
    relpath = relpath.lstrip("/")
    last = relpath.rpartition("/")[2].rpartition("\\")[2].lower()
    has_path = len(last) < len(relpath)
    ext = last.rsplit(".", 1)[-1]
    has_dot = len(ext) < len(last) - 1
    return ext if has_dot or not has_path else None


def workers_content_type_of(relpath):
    """The type ``wrangler deploy`` sends for a Workers static asset, or None for none: mime@4's
    ``getType``, with ``; charset=utf-8`` added to a ``text/*`` type (workers-sdk
    packages/workers-shared/utils/helpers.ts ``getContentType``)."""
    ext = _extension_key(relpath)
    if ext is None:
        return None
    ctype = MIME4_CHANGES[ext] if ext in MIME4_CHANGES else MIME_TYPES.get(ext)
    if ctype and ctype.startswith("text/") and "charset" not in ctype:
        ctype += "; charset=utf-8"
    return ctype


def content_type_of(relpath):
    """The content type wrangler sends for a file: mime@3 ``getType(relpath)`` (``relpath`` is
    relative to the site, ``/``-separated, with or without a leading ``/``), else octet-stream.

    Like mime@3, a name without a dot is looked up whole only at the top level (a file named
    ``json`` is ``application/json``, ``a/json`` is not), and a leading dot is not an extension.
    """
    relpath = relpath.lstrip("/")
    last = relpath.rpartition("/")[2].rpartition("\\")[2].lower()
    has_path = len(last) < len(relpath)
    ext = last.rsplit(".", 1)[-1]
    has_dot = len(ext) < len(last) - 1
    if has_dot or not has_path:
        return MIME_TYPES.get(ext) or DEFAULT_CONTENT_TYPE
    return DEFAULT_CONTENT_TYPE
