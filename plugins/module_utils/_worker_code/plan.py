# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Which code a deployment carries, decided and checked before any request, as
``wrangler pages deploy`` decides it (wrangler 4.x ``src/api/pages/deploy.ts``):

1. ``SOURCE/_worker.js`` (a file or a directory) is advanced mode; Functions are then ignored.
   ``worker_bundle`` says how it is sent: ``never`` as ``--no-bundle`` sends it (made in Python,
   :mod:`.bundle`), ``always`` bundled by wrangler as ``pages deploy`` bundles it by
   default (:func:`.functions_build.build_worker`), ``auto`` (the default) bundled only when it
   imports files that are not modules of it (SvelteKit's ``_worker.js`` imports
   ``../output/server/index.js``), so a self-contained worker needs no Node.js.
2. Otherwise Pages Functions, when there is a Functions directory: compiled by wrangler
   (:mod:`.functions_build`); a directory without routes deploys without Functions, with a warning.
3. Otherwise no worker.

``_routes.json`` of the site goes with a worker only (validated first, :mod:`._routes`); without
one it is not sent (a warning says so). A Functions build's generated routes are sent when the
site has no ``_routes.json`` of its own. :attr:`WorkerPlan.digest` covers all of it (for a
bundled worker, the bundle wrangler made: so a change to a file it imports from outside
``_worker.js`` deploys again), for the deployment's site digest.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code import (
    bundle as WB,
    functions_build as _functions_build,
    routes as _routes,
)

ROUTES = "_routes.json"
FILE_CONTENT_TYPE = "application/octet-stream"  # wrangler sends these files without a type
WORKER_BUNDLE_CHOICES = ("auto", "always", "never")


class WorkerPlan:
    """``mode`` (``none``, ``file``, ``directory``, ``functions``), ``bundle``, ``bundled`` (a
    ``_worker.js`` bundled by wrangler), ``routes`` and ``routing_config`` (bytes to send, or
    None), ``digest`` (hex, or None without a worker), ``warnings``."""

    def __init__(self, mode="none", bundle=None, routes=None, routing_config=None, digest_of_bundle=None, warnings=None,
                 bundled=False):
        self.mode = mode
        self.bundle = bundle
        self.bundled = bundled
        self.routes = routes
        self.routing_config = routing_config
        self.warnings = list(warnings or [])
        self.digest = None
        if bundle is not None:
            digest = hashlib.sha256(b"cfpages-worker-plan-v1\n")
            # An unbundled worker keeps the label it always had, so its digest (and a rerun's no-op) stays.
            label = mode + "+bundled" if bundled else mode
            digest.update(("%s\0%s\n" % (label, digest_of_bundle or WB.digest_of(bundle))).encode("ascii"))
            for label, data in ((b"routes", routes), (b"config", routing_config)):
                if data is not None:
                    digest.update(b"\3" + label + b"\0%d\0" % len(data) + data)
            self.digest = digest.hexdigest()

    def summary(self):
        """The module's ``worker`` result: ``{mode, modules, bytes, bundled}``."""
        if self.bundle is None:
            return {"mode": "none", "modules": 0, "bytes": 0, "bundled": False}
        return {"mode": self.mode, "modules": len(self.bundle.modules), "bytes": self.bundle.size,
                "bundled": self.bundled}

    def fields(self):
        """The deployment form's files for the worker, in wrangler's order (requests ``files=``
        tuples): ``functions-filepath-routing-config.json``, ``_worker.bundle``, ``_routes.json``."""
        if self.bundle is None:
            return []
        out = []
        if self.routing_config is not None:
            name = _functions_build.ROUTING_CONFIG
            out.append((name, (name, self.routing_config, FILE_CONTENT_TYPE)))
        out.append((WB.BUNDLE_FIELD, (WB.BUNDLE_FIELD, self.bundle.encode(), WB.BUNDLE_CONTENT_TYPE)))
        if self.routes is not None:
            out.append((ROUTES, (ROUTES, self.routes, FILE_CONTENT_TYPE)))
        return out


def default_functions_dir(source_dir):
    """``functions`` beside ``source_dir`` (where wrangler, run in a project's root, finds it)."""
    return os.path.join(os.path.dirname(os.path.abspath(source_dir).rstrip(os.sep)), "functions")


def resolve_functions_dir(source_dir, functions_dir):
    """``(path or None, explicit)``: the Functions directory to build. ``None`` means the default
    (used when it exists), ``""`` none at all; an explicit path must be a directory."""
    if functions_dir is None:
        path = default_functions_dir(source_dir)
        return (path if os.path.isdir(path) else None), False
    if functions_dir == "":
        return None, True
    if not os.path.isdir(functions_dir):
        raise ERR.WorkerError(
            "functions_dir %s is not a directory (set functions_dir: \"\" to deploy without Functions)" % functions_dir
        )
    return os.path.abspath(functions_dir), True


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


class SiteCode:
    """What :func:`inspect_site` found, checked without a request: ``mode`` so far (``functions``
    means a build is still to run), the collected ``bundle`` of a ``_worker.js``, the
    ``functions_dir`` and ``wrangler`` to build with, ``bundle_with`` (the wrangler that is to
    bundle the ``_worker.js``, or None), the site's ``_routes.json`` bytes and ``warnings``.
    :meth:`plan` makes the :class:`WorkerPlan` (running the Functions build or the bundling)."""

    def __init__(self, source_dir):
        self.source_dir = source_dir
        self.mode = "none"
        self.bundle = None
        self.functions_dir = None
        self.wrangler = None
        self.bundle_with = None
        self.routes = None
        self.routes_path = os.path.join(source_dir, ROUTES)
        self.warnings = []

    def plan(self, compatibility_date=None, compatibility_flags=(), log=None, run_command=None):
        """The :class:`WorkerPlan`; builds the Functions (with the compatibility date and flags of
        the environment deployed to, ``run_command`` as in
        :func:`.functions_build.build_functions`) when there are any. Raises :class:`WorkerError`."""
        log = log or (lambda line: None)
        warnings = list(self.warnings)
        if self.bundle_with is not None:
            if run_command is None:
                raise ERR.WorkerError("bundling _worker.js needs a command runner (AnsibleModule.run_command)")
            built, digest = _functions_build.build_worker(
                self.source_dir, self.mode == "directory", self.bundle_with, run_command, compatibility_date,
                compatibility_flags, log=log,
            )
            warnings.extend(WB.check_size(built))
            log("worker (%s) bundled by wrangler: %d module(s), %d bytes" % (self.mode, len(built.modules), built.size))
            return WorkerPlan(self.mode, built, self.routes, None, digest, warnings, bundled=True)
        if self.mode in ("file", "directory"):
            log("worker (%s): %d module(s), %d bytes" % (self.mode, len(self.bundle.modules), self.bundle.size))
            return WorkerPlan(self.mode, self.bundle, self.routes, None, None, warnings)
        if self.mode != "functions":
            return WorkerPlan(warnings=warnings)
        if run_command is None:
            raise ERR.WorkerError("building Pages Functions needs a command runner (AnsibleModule.run_command)")
        built = _functions_build.build_functions(
            self.functions_dir, self.source_dir, self.wrangler, run_command, compatibility_date, compatibility_flags,
            log=log,
        )
        if built is None:
            warnings.append(
                "no routes found in the Functions directory %s (no file exports an onRequest handler): deploying "
                "without Functions, as wrangler does" % self.functions_dir
            )
            if self.routes is not None:
                warnings.append("%s is not sent: this deployment has no worker" % self.routes_path)
            return WorkerPlan(warnings=warnings)
        warnings.extend(WB.check_size(built.bundle))
        log("Functions built: %d module(s), %d bytes" % (len(built.bundle.modules), built.bundle.size))
        routes = self.routes if self.routes is not None else built.routes
        return WorkerPlan("functions", built.bundle, routes, built.routing_config, built.digest, warnings)


def _choose_bundling(code, bundle, worker_path, worker_bundle, wrangler_executable):
    """Decide how the collected ``_worker.js`` ``bundle`` is sent (see the module docstring): set
    ``code.bundle``, or ``code.bundle_with`` (wrangler must exist). Raises :class:`WorkerError`."""
    unresolved = WB.unresolved_imports(bundle)
    if worker_bundle not in WORKER_BUNDLE_CHOICES:
        raise ERR.WorkerError("worker_bundle must be one of %s, not %s" % (", ".join(WORKER_BUNDLE_CHOICES), worker_bundle))
    if worker_bundle == "never" or (worker_bundle == "auto" and not unresolved):
        if unresolved:
            try:
                WB.check_imports(bundle, unresolved=unresolved)
            except ERR.WorkerError as err:
                if not any(item.on_disk for item in unresolved):
                    raise
                raise ERR.WorkerError(err.message + (
                    " worker_bundle is never; worker_bundle: auto bundles it with wrangler, as wrangler pages deploy "
                    "does without --no-bundle."))
        code.bundle = bundle
        code.warnings.extend(WB.check_size(bundle))
        return
    if worker_bundle == "auto":
        nowhere = [item for item in unresolved if item.on_disk is None]
        if nowhere:  # no bundler finds these either
            WB.check_imports(bundle, unresolved=nowhere)
        shown = ", ".join('%s:%d "%s"' % (item.module.name, item.found.line, item.found.specifier)
                          for item in unresolved[:3])
        why = "imports %d file%s that %s not part of it (%s%s)" % (
            len(unresolved), "" if len(unresolved) == 1 else "s", "is" if len(unresolved) == 1 else "are", shown,
            ", ..." if len(unresolved) > 3 else "")
    else:
        why = "is to be bundled (worker_bundle: always)"
    wrangler = _functions_build.which_wrangler(wrangler_executable)
    if wrangler is None:
        raise ERR.WorkerError(_functions_build.missing_bundler_message(worker_path, why, wrangler_executable))
    code.bundle_with = wrangler


def inspect_site(source_dir, functions_dir=None, wrangler_executable=None, skip=(), worker_bundle="auto"):
    """Everything about the site's code that needs no request: the ``_worker.js`` bundle and its
    checks (entry module, imports, size) or the wrangler that is to bundle it (``worker_bundle``),
    which Functions directory and wrangler a build would use (wrangler must exist), and
    ``_routes.json`` (validated when it will be sent). Names in ``skip`` (``_worker.js``,
    ``_routes.json``: excluded by the task) are left out. Raises :class:`WorkerError`."""
    if not source_dir or not os.path.exists(source_dir):
        raise ERR.WorkerError("source directory %s does not exist" % source_dir)
    if not os.path.isdir(source_dir):
        raise ERR.WorkerError("source %s is not a directory" % source_dir)
    source_dir = os.path.abspath(source_dir)
    code = SiteCode(source_dir)
    worker_path = os.path.join(source_dir, WB.WORKER_NAME)
    has_worker = WB.WORKER_NAME not in skip and (os.path.isdir(worker_path) or os.path.isfile(worker_path))
    functions_path, explicit = resolve_functions_dir(source_dir, functions_dir)
    if has_worker:
        if os.path.isdir(worker_path):
            code.mode, bundle = "directory", WB.collect_directory(worker_path)
        else:
            code.mode, bundle = "file", WB.collect_file(worker_path)
        _choose_bundling(code, bundle, worker_path, worker_bundle, wrangler_executable)
        if functions_path:
            code.warnings.append(
                "%s is not deployed: %s is an advanced-mode worker, which replaces Pages Functions (as in wrangler)%s"
                % (functions_path, worker_path, "" if explicit else "; set functions_dir: \"\" to silence this")
            )
    elif functions_path:
        code.mode = "functions"
        code.functions_dir = functions_path
        code.wrangler = _functions_build.find_wrangler(functions_path, wrangler_executable)
    if ROUTES not in skip and os.path.isfile(code.routes_path):
        if code.mode == "none":
            code.warnings.append(
                "%s is not sent: it only applies to a worker (_worker.js or Functions), and this deployment has none"
                % code.routes_path
            )
        else:
            code.routes = _read(code.routes_path)
            _routes.validate_routes(code.routes, code.routes_path)
    return code


def plan_worker(source_dir, functions_dir=None, wrangler_executable=None, compatibility_date=None,
                compatibility_flags=(), log=None, run_command=None, worker_bundle="auto"):
    """:func:`inspect_site`, then :meth:`SiteCode.plan`: the :class:`WorkerPlan` of ``source_dir``."""
    code = inspect_site(source_dir, functions_dir, wrangler_executable, worker_bundle=worker_bundle)
    return code.plan(compatibility_date, compatibility_flags, log, run_command)
