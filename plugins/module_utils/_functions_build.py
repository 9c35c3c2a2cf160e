# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Pages Functions compiled by wrangler, as ``wrangler pages deploy`` compiles them.

A ``functions/`` directory needs a JS bundler and wrangler's router template, so the build is
``wrangler pages functions build`` (wrangler 4.x ``src/pages/build.ts``), run in a temporary
directory::

    wrangler pages functions build FUNCTIONS_DIR --outfile T/_worker.bundle
        --output-routes-path T/_routes.json --output-config-path T/functions-filepath-routing-config.json
        --build-output-directory SOURCE [--compatibility-date D] [--compatibility-flags F ...]

``--outfile`` writes the upload-ready multipart bundle (what the deploy sends as
``_worker.bundle``); ``_routes.json`` is the generated one (sent unless the site has its own);
the routing config is sent for display. Exit status 156 means "no routes" (no file exports a
handler): wrangler's deploy then warns and deploys without Functions, and so do we.

The bundle carries random names (the main module ``functionsWorker-0.<random>.js``, a comment
with the temporary routes file): :func:`normalized_digest` hashes the modules without them, so the
same Functions give the same digest on every run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile

from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_bundle import (
    WorkerError,
    bundle_from_blob,
)

WRANGLER = "wrangler"
#: wrangler's EXIT_CODE_FUNCTIONS_NO_ROUTES_ERROR.
EXIT_NO_ROUTES = 156
ROUTING_CONFIG = "functions-filepath-routing-config.json"
# Credentials never reach the build: it makes no API call.
_SECRET_ENV = ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CF_API_TOKEN", "CF_API_KEY",
               "CF_EMAIL", "CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID")
_RANDOM_NAMES = (
    (re.compile(rb"functionsWorker-0\.\d+\.js"), b"functionsWorker.js"),
    (re.compile(rb"[^\s\"'`]*\.wrangler/tmp/[^\s\"'`]*"), b".wrangler/tmp/(build)"),
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def missing_wrangler_message(functions_dir, executable=None):
    where = ("wrangler_executable %s is not an executable file" % executable) if executable else (
        "wrangler was not found on PATH")
    return (
        "Pages Functions in %s must be compiled by wrangler, but %s. Install it (npm install --global wrangler, "
        "which needs Node.js) or set wrangler_executable to its path; or set functions_dir: \"\" to deploy the "
        "static part alone, without Functions." % (functions_dir, where)
    )


def find_wrangler(functions_dir, executable=None):
    """The wrangler to run: ``executable`` (a path, or a name looked up on PATH), else
    ``wrangler`` on PATH. Raises :class:`WorkerError` with what to install when there is none."""
    if executable:
        if os.sep in executable or (os.altsep and os.altsep in executable):
            path = os.path.abspath(os.path.expanduser(executable))
            found = path if os.path.isfile(path) and os.access(path, os.X_OK) else None
        else:
            found = shutil.which(executable)
        if not found:
            raise WorkerError(missing_wrangler_message(functions_dir, executable))
        return found
    found = shutil.which(WRANGLER)
    if not found:
        raise WorkerError(missing_wrangler_message(functions_dir))
    return found


def build_command(wrangler, functions_dir, source_dir, out_dir, compatibility_date=None, compatibility_flags=()):
    command = [
        wrangler, "pages", "functions", "build", functions_dir,
        "--outfile", os.path.join(out_dir, "_worker.bundle"),
        "--output-routes-path", os.path.join(out_dir, "_routes.json"),
        "--output-config-path", os.path.join(out_dir, ROUTING_CONFIG),
        "--build-output-directory", source_dir,
    ]
    if compatibility_date:
        command += ["--compatibility-date", compatibility_date]
    for flag in compatibility_flags or ():
        command += ["--compatibility-flags", flag]
    return command


def _environment(work_dir):
    """Variables set for the build: no metrics, no colours, non-interactive, and the credential
    variables emptied (the command runner only adds to the environment)."""
    env = dict((name, "") for name in _SECRET_ENV if name in os.environ)
    env.update({
        "WRANGLER_SEND_METRICS": "false",
        "WRANGLER_SEND_ERROR_REPORTS": "false",
        "WRANGLER_LOG_PATH": os.path.join(work_dir, "logs"),
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        "CI": "true",
    })
    return env


class FunctionsBuild:
    """What the build made: ``bundle`` (a :class:`WorkerBundle`, mode ``functions``, its
    ``body`` the upload-ready blob), ``routes`` (the generated ``_routes.json`` bytes or None),
    ``routing_config`` (bytes or None) and ``digest`` (see :func:`normalized_digest`)."""

    def __init__(self, bundle, routes, routing_config):
        self.bundle = bundle
        self.routes = routes
        self.routing_config = routing_config
        self.digest = normalized_digest(bundle, routes, routing_config)


def normalized_digest(bundle, routes=None, routing_config=None):
    """sha256 hex of the build's modules, routes and routing config with wrangler's random names
    replaced by fixed ones."""

    def stable(data):
        for pattern, replacement in _RANDOM_NAMES:
            data = pattern.sub(replacement, data)
        return data

    digest = hashlib.sha256(b"cfpages-functions-v1\n")
    for module in bundle.modules:
        name = stable(module.name.encode("utf-8"))
        content = stable(module.content)
        digest.update(b"\2" + name + b"\0" + module.type.encode("ascii") + b"\0%d\0" % len(content))
        digest.update(content)
    for label, data in ((b"routes", routes), (b"config", routing_config)):
        if data is not None:
            digest.update(b"\3" + label + b"\0%d\0" % len(data) + data)
    return digest.hexdigest()


def _tail(output, lines=25):
    text = _ANSI.sub("", output or "").strip()
    return "\n".join(text.splitlines()[-lines:])


def build_functions(functions_dir, source_dir, wrangler, run_command, compatibility_date=None,
                    compatibility_flags=(), log=None):
    """Compile ``functions_dir`` with ``wrangler``. Returns a :class:`FunctionsBuild`, or None
    when the directory has no routes (wrangler's exit status 156). Raises :class:`WorkerError`
    when the build fails, with the end of wrangler's output.

    ``run_command(argv, cwd, environ_update)`` runs the build and returns ``(rc, stdout,
    stderr)``: ``AnsibleModule.run_command`` in a module (module code may not start processes
    itself)."""
    log = log or (lambda line: None)
    functions_dir = os.path.abspath(functions_dir)
    work_dir = tempfile.mkdtemp(prefix="cfpages-functions-")
    try:
        out_dir = os.path.join(work_dir, "out")
        os.mkdir(out_dir)
        command = build_command(wrangler, functions_dir, os.path.abspath(source_dir), out_dir,
                                compatibility_date, compatibility_flags)
        log("building Functions: %s" % " ".join(command))
        try:
            rc, stdout, stderr = run_command(command, work_dir, _environment(work_dir))
        except OSError as err:
            raise WorkerError("cannot run %s to build the Pages Functions in %s: %s. %s" % (
                wrangler, functions_dir, err.strerror or err, missing_wrangler_message(functions_dir, wrangler)))
        output = (stdout or "") + (stderr or "")
        if rc == EXIT_NO_ROUTES:
            return None
        if rc != 0:
            raise WorkerError(
                "wrangler could not build the Pages Functions in %s (exit status %d):\n%s"
                % (functions_dir, rc, _tail(output))
            )
        bundle_path = os.path.join(out_dir, "_worker.bundle")
        if not os.path.isfile(bundle_path):
            raise WorkerError("wrangler built the Pages Functions in %s but wrote no bundle:\n%s"
                              % (functions_dir, _tail(output)))

        def read(name):
            path = os.path.join(out_dir, name)
            if not os.path.isfile(path):
                return None
            with open(path, "rb") as handle:
                return handle.read()

        bundle = bundle_from_blob(read("_worker.bundle"), mode="functions", root=functions_dir)
        return FunctionsBuild(bundle, read("_routes.json"), read(ROUTING_CONFIG))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
