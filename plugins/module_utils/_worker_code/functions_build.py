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

The same command bundles an advanced-mode ``_worker.js`` the way ``wrangler pages deploy`` does
by default (:func:`build_worker`): given a build output directory that has a ``_worker.js``, it
builds that instead of Functions, with the same ``buildRawWorker`` (a file; esbuild, ES module
output, ``cloudflare:*`` and ``node:*`` left to the runtime, imports from anywhere inlined) or
``produceWorkerBundleForWorkerJSDirectory`` (a directory) call as the deploy (wrangler 4.x
``src/pages/build.ts``, ``src/api/pages/deploy.ts``, ``src/pages/functions/buildWorker.ts``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import WorkerError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code.bundle import bundle_from_blob

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


def _not_found(executable=None):
    return ("wrangler_executable %s is not an executable file" % executable) if executable else (
        "wrangler was not found on PATH")


def missing_wrangler_message(functions_dir, executable=None):
    return (
        "Pages Functions in %s must be compiled by wrangler, but %s. Install it (npm install --global wrangler, "
        "which needs Node.js) or set wrangler_executable to its path; or set functions_dir: \"\" to deploy the "
        "static part alone, without Functions." % (functions_dir, _not_found(executable))
    )


def missing_bundler_message(worker_path, why, executable=None):
    """Why ``worker_path`` needs bundling (``why``), and what would bundle it."""
    return (
        "%s %s, so it must be bundled as wrangler pages deploy bundles it, but %s. Install wrangler (npm install "
        "--global wrangler, which needs Node.js; a framework project has it in node_modules/.bin) or set "
        "wrangler_executable to its path." % (worker_path, why, _not_found(executable))
    )


def which_wrangler(executable=None):
    """The wrangler to run: ``executable`` (a path, or a name looked up on PATH), else
    ``wrangler`` on PATH; None when there is none."""
    if executable:
        if os.sep in executable or (os.altsep and os.altsep in executable):
            path = os.path.abspath(os.path.expanduser(executable))
            return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
        return shutil.which(executable)
    return shutil.which(WRANGLER)


def find_wrangler(functions_dir, executable=None):
    """:func:`which_wrangler`; raises :class:`WorkerError` with what to install when there is none."""
    found = which_wrangler(executable)
    if not found:
        raise WorkerError(missing_wrangler_message(functions_dir, executable))
    return found


def build_command(wrangler, functions_dir, source_dir, out_dir, compatibility_date=None, compatibility_flags=()):
    command = [
        wrangler, "pages", "functions", "build", functions_dir,
        "--outfile", os.path.join(out_dir, "_worker.bundle"),
        "--output-routes-path", os.path.join(out_dir, "_routes.json"),
        "--output-config-path", os.path.join(out_dir, ROUTING_CONFIG),
        "--build-output-directory", source_dir,
    ]
    return command + _compatibility_args(compatibility_date, compatibility_flags)


def worker_build_command(wrangler, source_dir, out_dir, directory=False, compatibility_date=None,
                         compatibility_flags=()):
    """The command that bundles ``source_dir/_worker.js`` into ``out_dir/_worker.bundle``. A file
    gets ``--sourcemap`` because ``pages deploy`` bundles it with ``sourcemap: true`` (its main
    module then ends with a ``sourceMappingURL`` comment; no map is uploaded without a Pages
    configuration file); a directory is bundled without, as ``pages deploy`` does."""
    command = [
        wrangler, "pages", "functions", "build",
        "--build-output-directory", source_dir,
        "--outfile", os.path.join(out_dir, "_worker.bundle"),
    ]
    if not directory:
        command.append("--sourcemap")
    return command + _compatibility_args(compatibility_date, compatibility_flags)


def _compatibility_args(compatibility_date=None, compatibility_flags=()):
    args = []
    if compatibility_date:
        args += ["--compatibility-date", compatibility_date]
    for flag in compatibility_flags or ():
        args += ["--compatibility-flags", flag]
    return args


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


def _run_build(command, work_dir, run_command, what, wrangler, fix):
    """Run a wrangler build; returns ``(rc, output)``. ``what`` names the build in errors, ``fix``
    says what to do when wrangler cannot be started."""
    try:
        rc, stdout, stderr = run_command(command, work_dir, _environment(work_dir))
    except OSError as err:
        raise WorkerError("cannot run %s to %s: %s. %s" % (wrangler, what, err.strerror or err, fix))
    return rc, (stdout or "") + (stderr or "")


def _read_output(path):
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


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
        rc, output = _run_build(command, work_dir, run_command, "build the Pages Functions in %s" % functions_dir,
                                wrangler, missing_wrangler_message(functions_dir, wrangler))
        if rc == EXIT_NO_ROUTES:
            return None
        if rc != 0:
            raise WorkerError(
                "wrangler could not build the Pages Functions in %s (exit status %d):\n%s"
                % (functions_dir, rc, _tail(output))
            )
        blob = _read_output(os.path.join(out_dir, "_worker.bundle"))
        if blob is None:
            raise WorkerError("wrangler built the Pages Functions in %s but wrote no bundle:\n%s"
                              % (functions_dir, _tail(output)))
        bundle = bundle_from_blob(blob, mode="functions", root=functions_dir)
        return FunctionsBuild(bundle, _read_output(os.path.join(out_dir, "_routes.json")),
                              _read_output(os.path.join(out_dir, ROUTING_CONFIG)))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def build_worker(source_dir, directory, wrangler, run_command, compatibility_date=None, compatibility_flags=(),
                 log=None):
    """Bundle ``source_dir/_worker.js`` (a directory when ``directory``) with ``wrangler``, as
    ``wrangler pages deploy`` does without ``--no-bundle``. Returns ``(bundle, digest)``: a
    :class:`WorkerBundle` (mode ``file`` or ``directory``, its ``body`` the upload-ready blob) and
    the :func:`normalized_digest` of its modules. Raises :class:`WorkerError` with the end of
    wrangler's output when the build fails; ``run_command`` as in :func:`build_functions`."""
    log = log or (lambda line: None)
    source_dir = os.path.abspath(source_dir)
    worker_path = os.path.join(source_dir, "_worker.js")
    work_dir = tempfile.mkdtemp(prefix="cfpages-worker-")
    try:
        out_dir = os.path.join(work_dir, "out")
        os.mkdir(out_dir)
        command = worker_build_command(wrangler, source_dir, out_dir, directory, compatibility_date,
                                       compatibility_flags)
        log("bundling the worker: %s" % " ".join(command))
        rc, output = _run_build(command, work_dir, run_command, "bundle %s" % worker_path, wrangler,
                                missing_bundler_message(worker_path, "is to be bundled", wrangler))
        if rc != 0:
            raise WorkerError("wrangler could not bundle %s (exit status %d):\n%s" % (worker_path, rc, _tail(output)))
        blob = _read_output(os.path.join(out_dir, "_worker.bundle"))
        if blob is None:
            raise WorkerError("wrangler bundled %s but wrote no bundle:\n%s" % (worker_path, _tail(output)))
        bundle = bundle_from_blob(blob, mode="directory" if directory else "file", root=worker_path)
        return bundle, normalized_digest(bundle)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
