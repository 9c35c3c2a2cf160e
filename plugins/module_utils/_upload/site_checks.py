# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Checks of a scanned site that protect what is live, made before anything changes remotely:
an empty site, a production site that loses its ``index.html``, and file names Pages cannot serve.

They read only ``scan.files`` (objects with a manifest ``path`` such as ``/a/b.html``) and
``scan.special`` (the special files found, by name), so they work on any scan of the engine.
"""

from __future__ import annotations

import re

ROOT_INDEX = "/index.html"
#: A line the engine writes into the commit message of a deployment whose site has /index.html,
#: so that the next production deploy can tell that the live site had one (the API does not
#: return a deployment's files).
INDEX_MARKER = "cfpages-index: yes"
_INDEX_MARKER_RE = re.compile(r"(?:^|\n)%s[ \t\r]*(?:\n|\Z)" % re.escape(INDEX_MARKER))

# C0 controls and DEL. A request line cannot carry them, and URL parsers drop or reject them
# (the WHATWG URL standard strips tab and newline from URLs: https://url.spec.whatwg.org/#concept-basic-url-parser),
# so a file whose name holds one cannot be fetched under that name.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
NAMES_LISTED = 20


def printable_path(path):
    """``path`` with control characters escaped (``\\n``, ``\\t``, ``\\x1b``), for messages."""
    def escape(match):
        char = match.group(0)
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, "\\x%02x" % ord(char))

    return _CONTROL_RE.sub(escape, path)


def _listed(paths):
    shown = ", ".join(printable_path(p) for p in paths[:NAMES_LISTED])
    if len(paths) > NAMES_LISTED:
        shown += " and %d more" % (len(paths) - NAMES_LISTED)
    return shown


def file_name_problems(scan):
    """``(error, warnings)`` for the names of the site's files: an error message (or None) for
    names with a control character, which a URL cannot carry (URL parsers drop tabs and newlines,
    https://url.spec.whatwg.org/#concept-basic-url-parser), so the file could not be reached under
    its name; a warning for names with a backslash, which browsers turn into ``/``
    (https://url.spec.whatwg.org/#path-state), so only a link written with ``%5C`` reaches them."""
    # One look at all the names first: almost every site has none of these (a pass per file costs more).
    names = "/".join([f.path for f in scan.files])
    if "\\" not in names and not _CONTROL_RE.search(names):
        return None, []
    control = [f.path for f in scan.files if _CONTROL_RE.search(f.path)]
    backslash = [f.path for f in scan.files if "\\" in f.path and not _CONTROL_RE.search(f.path)]
    error = None
    if control:
        error = (
            "file names with a control character (such as a newline) cannot be reached by any URL, so Pages "
            "could not serve these files: %s. Rename them, or leave them out with exclude." % _listed(control)
        )
    warnings = []
    if backslash:
        warnings.append(
            "file names with a backslash: %s. Browsers turn a backslash in a URL into '/', so only a link "
            "written with %%5C reaches these files; rename them, or leave them out with exclude." % _listed(backslash)
        )
    return error, warnings


def is_empty_site(scan, has_worker=False):
    """No asset and no worker (a worker, from ``_worker.js`` or Functions, can answer every request
    by itself; ``_headers``, ``_redirects`` and ``_routes.json`` alone serve nothing but 404s)."""
    return not scan.files and not has_worker


def empty_site_message(source):
    return (
        "source %s has no files to deploy (special files such as _headers or _redirects alone do not count), "
        "so the deployment would answer 404 for every page; this usually means the build step wrote nothing. "
        "Nothing was changed. Set allow_empty: true to deploy an empty site anyway." % source
    )


def has_root_index(scan):
    found = getattr(scan, "_root_index", None)  # worked out once per scan: a deploy asks three times
    if found is None:
        found = any(f.path == ROOT_INDEX for f in scan.files)
        scan._root_index = found  # pylint: disable=protected-access
    return found


def deployment_had_root_index(deployment):
    """Whether ``deployment`` (made by this collection) recorded an /index.html; False when unknown."""
    if not isinstance(deployment, dict):
        return False
    metadata = (deployment.get("deployment_trigger") or {}).get("metadata") or {}
    message = metadata.get("commit_message")
    return isinstance(message, str) and bool(_INDEX_MARKER_RE.search(message))


def lost_index_warning(scan, live, production):
    """A warning when a production deploy replaces a live site that had /index.html with one that
    has none (and no ``_worker.js`` to answer ``/``); else None."""
    if not production or has_root_index(scan) or "_worker.js" in scan.special:
        return None
    if not deployment_had_root_index(live):
        return None
    return (
        "the site has no /index.html, but the live production deployment %s has one: after this deploy "
        "the home page (/) answers 404. Check that the build wrote the whole site." % live.get("id")
    )


def unreadable(path, err):
    """The message for a file of the site that cannot be read (``err``: the OSError)."""
    return "cannot read %s: %s. Make it readable, or leave it out with exclude." % (path, err.strerror or err)


def outside_link_warnings(root, outside):
    """One warning per link target outside ``root`` (``outside``: target -> the links to it)."""
    return [
        "symbolic link%s %s lead%s outside the source %s to %s, which is deployed too (as wrangler does); "
        "set follow_symlinks: inside to refuse such links"
        % ("" if len(links) == 1 else "s", _listed(links), "s" if len(links) == 1 else "", root, target)
        for target, links in sorted(outside.items())
    ]


def outside_links_refused(root, outside):
    """The error of ``follow_symlinks: inside`` for the links out of ``root``."""
    pairs = sorted((link, target) for target, links in outside.items() for link in links)
    shown = ", ".join("%s -> %s" % (printable_path(link), target) for link, target in pairs[:NAMES_LISTED])
    if len(pairs) > NAMES_LISTED:
        shown += " and %d more" % (len(pairs) - NAMES_LISTED)
    return (
        "follow_symlinks is inside, but %d symbolic link%s in the source %s lead%s outside it: %s. Nothing was "
        "uploaded. Remove the links, copy their targets into the site, or leave them out with exclude."
        % (len(pairs), "" if len(pairs) == 1 else "s", root, "s" if len(pairs) == 1 else "", shown)
    )
