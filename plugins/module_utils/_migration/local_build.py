# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The migration report's view of a local build of a Pages project (no network).

The API cannot return what only the uploaded files say: whether the code is an advanced-mode
``_worker.js`` or a ``functions/`` directory, the ``_routes.json`` rules, the ``_headers`` and
``_redirects`` files and whether there is a top-level ``404.html``. :func:`read_local_build` reads
them from the directory ``pages_deployment`` would upload.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import LocalBuildError, WorkerError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code.plan import resolve_functions_dir
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code.bundle import WORKER_NAME

ROUTES = "_routes.json"
HEADERS = "_headers"
REDIRECTS = "_redirects"
# Early Hints are made from the `Link` headers of a response
# (https://developers.cloudflare.com/pages/configuration/early-hints/).
LINK_HEADER_RE = re.compile(r"^\s+link\s*:", re.IGNORECASE | re.MULTILINE)
MAX_SMALL_FILE = 1024 * 1024  # _headers, _redirects and _routes.json are small by Pages' own limits


class LocalBuild:
    """What a local build shows: ``worker`` (``file``, ``directory`` or None), ``functions_dir``,
    ``routes`` (``{"include": [...], "exclude": [...]}`` or None), ``headers`` and ``redirects``
    (their text or None), ``has_404`` and ``has_index`` (top level)."""

    def __init__(self, path):
        self.path = path
        self.worker = None
        self.functions_dir = None
        self.routes = None
        self.headers = None
        self.redirects = None
        self.has_404 = False
        self.has_index = False

    @property
    def has_code(self):
        return self.worker is not None or self.functions_dir is not None

    @property
    def link_headers(self):
        return bool(self.headers and LINK_HEADER_RE.search(self.headers))


def _read_text(path, option):
    try:
        size = os.path.getsize(path)
        if size > MAX_SMALL_FILE:
            raise LocalBuildError("%s (in %s) is %d bytes: larger than Pages accepts for it" % (path, option, size))
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except UnicodeDecodeError:
        raise LocalBuildError("%s (in %s) is not UTF-8 text" % (path, option)) from None
    except OSError as err:
        raise LocalBuildError("%s (in %s) cannot be read: %s" % (path, option, err.strerror or err)) from None


def _parse_routes(text, path):
    """``_routes.json``'s include and exclude rules. Its full validation is pages_deployment's; here
    a file Pages would refuse is reported, not translated."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise LocalBuildError("%s is not valid JSON" % path) from None
    if not isinstance(data, dict):
        raise LocalBuildError("%s must be a JSON object with include and exclude lists" % path)
    rules = {}
    for key in ("include", "exclude"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(rule, str) for rule in value):
            raise LocalBuildError("%s: %s must be a list of strings" % (path, key))
        rules[key] = value
    if not rules["include"]:
        raise LocalBuildError("%s: include must have at least one rule (Pages refuses it otherwise)" % path)
    return rules


def read_local_build(source, functions_dir=None):
    """The :class:`LocalBuild` of ``source`` (the directory uploaded to Pages) and the Functions
    directory (``functions_dir``; default ``functions`` beside ``source``, ``""`` none), as
    ``pages_deployment`` finds them. Raises :class:`LocalBuildError`."""
    if not os.path.isdir(source):
        raise LocalBuildError("source %s is not a directory" % source)
    build = LocalBuild(source)
    worker_path = os.path.join(source, WORKER_NAME)
    if os.path.isdir(worker_path):
        build.worker = "directory"
    elif os.path.isfile(worker_path):
        build.worker = "file"
    try:
        build.functions_dir = resolve_functions_dir(source, functions_dir)[0]
    except WorkerError as err:
        raise LocalBuildError(str(err)) from None
    routes_path = os.path.join(source, ROUTES)
    if os.path.isfile(routes_path):
        build.routes = _parse_routes(_read_text(routes_path, "source"), routes_path)
    for name, attr in ((HEADERS, "headers"), (REDIRECTS, "redirects")):
        path = os.path.join(source, name)
        if os.path.isfile(path):
            setattr(build, attr, _read_text(path, "source"))
    build.has_404 = os.path.isfile(os.path.join(source, "404.html"))
    build.has_index = os.path.isfile(os.path.join(source, "index.html"))
    return build
