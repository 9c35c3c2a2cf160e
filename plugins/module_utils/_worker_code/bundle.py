# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The ``_worker.bundle`` of a deployment, made in Python as ``wrangler pages deploy --no-bundle``
makes it (wrangler 4.x, ``src/api/pages/deploy.ts``, ``src/api/pages/create-worker-bundle-contents.ts``,
``src/deployment-bundle/find-additional-modules.ts``, ``rules.ts``, ``create-worker-upload-form.ts``).

- A ``_worker.js`` *directory*: ``index.js`` is the main module; every other file is a module by
  the first rule its name matches: ``**/*.js``, ``**/*.mjs`` ES modules
  (``application/javascript+module``), ``**/*.txt``, ``**/*.html``, ``**/*.sql`` text modules
  (``text/plain``), ``**/*.bin`` data modules (``application/octet-stream``), ``**/*.wasm``,
  ``**/*.wasm?module`` WebAssembly modules (``application/wasm``); other files are not sent.
  Module names are paths relative to the directory, found depth-first with each directory's
  entries in byte order (Node's ``readdir``); ``.wrangler`` at the top is skipped, symbolic links
  to directories are not followed.
- A ``_worker.js`` *file*: a single ES module named ``_worker.js``.
- The bundle is a ``multipart/form-data`` body whose boundary only its first line tells: a
  ``metadata`` part ``{"main_module": "<name>"}``, then one part per module (the main one first)
  with its name as field and file name and its content type. The deployment form sends it as
  the file ``_worker.bundle`` (``application/octet-stream``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
import zlib

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import WorkerError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code import js_imports as _js_imports
from ansible_collections.cfpages.cloudflare.plugins.module_utils import _json

MiB = 1024 * 1024

#: The Worker size limits (https://developers.cloudflare.com/workers/platform/limits/#worker-size),
#: which Pages Functions and advanced mode share: 3 MiB (Workers Free) and 10 MiB (Workers Paid),
#: measured as the gzip-compressed size of all modules, as wrangler reports it.
WORKER_GZIP_LIMIT_FREE = 3 * MiB
WORKER_GZIP_LIMIT_PAID = 10 * MiB
#: Every file of a Pages deployment is at most 25 MiB
#: (https://developers.cloudflare.com/pages/platform/limits/#file-size): the bundle too.
MAX_BUNDLE_BYTES = 25 * MiB

ENTRY_MODULE = "index.js"
WORKER_NAME = "_worker.js"
BUNDLE_FIELD = "_worker.bundle"
BUNDLE_CONTENT_TYPE = "application/octet-stream"

#: Module types of wrangler's rules, in the order a name is tried: (type, content type, suffixes).
MODULE_RULES = (
    ("esm", "application/javascript+module", (".js", ".mjs")),
    ("text", "text/plain", (".txt", ".html", ".sql")),
    ("buffer", "application/octet-stream", (".bin",)),
    ("compiled-wasm", "application/wasm", (".wasm", ".wasm?module")),
)
CONTENT_TYPES = dict((rule[0], rule[1]) for rule in MODULE_RULES)
MODULE_TYPES = dict((rule[1], rule[0]) for rule in MODULE_RULES)


class WorkerModule:
    """One module: ``name`` (path in the bundle), ``type`` (``esm``, ``text``, ``buffer``,
    ``compiled-wasm``), ``content`` (bytes) and ``path`` (the file it came from, or None)."""

    __slots__ = ("name", "type", "content", "path")

    def __init__(self, name, type, content, path=None):  # pylint: disable=redefined-builtin
        self.name = name
        self.type = type
        self.content = content
        self.path = path

    @property
    def content_type(self):
        return CONTENT_TYPES[self.type]

    def __repr__(self):
        return "WorkerModule(%r, %r, %d bytes)" % (self.name, self.type, len(self.content))


class WorkerBundle:
    """The modules of a worker (``modules[0]`` is the main module) and how it was made
    (``mode``: ``file``, ``directory`` or ``functions``). ``body`` is the upload-ready
    multipart blob when it came from elsewhere (wrangler's Functions build); otherwise
    :meth:`encode` makes it."""

    def __init__(self, mode, modules, root=None, body=None):
        self.mode = mode
        self.modules = list(modules)
        self.root = root
        self.body = body

    @property
    def main_module(self):
        return self.modules[0].name

    @property
    def size(self):
        """Bytes of all modules, uncompressed."""
        return sum(len(m.content) for m in self.modules)

    def gzip_size(self):
        """Bytes of all modules gzip-compressed together (zlib's default level, as Node's
        ``zlib.gzipSync`` that wrangler's size report uses)."""
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        size = 0
        for module in self.modules:
            size += len(compressor.compress(module.content))
        return size + len(compressor.flush())

    def encode(self, boundary=None):
        """The upload-ready bytes: :attr:`body` when set, else :func:`encode_bundle`."""
        if self.body is not None:
            return self.body
        return encode_bundle(self.modules, boundary)

    def digest_update(self, digest):
        """Feed the modules (names, types, contents) to a hashlib object."""
        for module in self.modules:
            digest.update(("\2%s\0%s\0%d\0" % (module.name, module.type, len(module.content))).encode("utf-8"))
            digest.update(module.content)


# --------------------------------------------------------------------------- collecting modules


def module_type_of(name):
    """The module type wrangler gives a file named ``name`` (relative path), or None."""
    for module_type, _content_type, suffixes in MODULE_RULES:
        if name.endswith(suffixes):
            return module_type
    return None


def _read(path, label):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise WorkerError("cannot read %s: %s" % (label, err.strerror or err))


def _as_text(content):
    """The main module as wrangler reads it: decoded as UTF-8 (invalid bytes become U+FFFD)
    and encoded again."""
    return content.decode("utf-8", "replace").encode("utf-8")


def _walk_names(root):
    """Relative names of the files under ``root``, in Node's ``readdir`` order, depth first."""
    names = []
    bad = []

    def visit(absdir, prefix):
        try:
            with os.scandir(absdir) as it:
                entries = sorted(it, key=lambda e: os.fsencode(e.name))
        except OSError as err:
            raise WorkerError("cannot read directory %s: %s" % (absdir, err.strerror or err))
        for entry in entries:
            try:
                rel = prefix + entry.name
                rel.encode("utf-8")
            except UnicodeEncodeError:
                bad.append(os.fsencode(entry.path).decode("utf-8", "backslashreplace"))
                continue
            if entry.is_dir(follow_symlinks=False):
                if not (prefix == "" and entry.name == ".wrangler"):
                    visit(entry.path, rel + "/")
            else:
                names.append((rel, entry.path))

    visit(root, "")
    if bad:
        raise WorkerError("module file names must be valid UTF-8; rename: %s" % ", ".join(sorted(bad)[:20]))
    return names


def collect_directory(worker_dir):
    """The bundle of a ``_worker.js`` directory (see the module docstring). Raises
    :class:`WorkerError` when ``index.js`` is missing."""
    entry_path = os.path.join(worker_dir, ENTRY_MODULE)
    if not os.path.isfile(entry_path):
        raise WorkerError(
            "the _worker.js directory %s has no %s: it is the entry module of an advanced-mode worker "
            "(Pages runs _worker.js/index.js)" % (worker_dir, ENTRY_MODULE)
        )
    modules = [WorkerModule(ENTRY_MODULE, "esm", _as_text(_read(entry_path, entry_path)), entry_path)]
    for name, path in _walk_names(worker_dir):
        module_type = module_type_of(name)
        if module_type is None or name == ENTRY_MODULE:
            continue
        try:
            mode = os.stat(path).st_mode
        except OSError as err:
            raise WorkerError("cannot read module %s: %s" % (path, err.strerror or err))
        if not stat.S_ISREG(mode):
            raise WorkerError("module %s of the _worker.js directory is not a regular file" % path)
        modules.append(WorkerModule(name, module_type, _read(path, path), path))
    return WorkerBundle("directory", modules, root=worker_dir)


def collect_file(worker_file):
    """The bundle of a single ``_worker.js`` file: one ES module named ``_worker.js``."""
    return WorkerBundle("file", [WorkerModule(WORKER_NAME, "esm", _as_text(_read(worker_file, worker_file)), worker_file)],
                        root=os.path.dirname(worker_file))


# --------------------------------------------------------------------------- multipart


def _escape_name(value):
    # What undici's FormData serialisation does to field and file names.
    return value.replace("\n", "%0A").replace("\r", "%0D").replace('"', "%22")


def _normalize_linefeeds(value):
    return re.sub(r"\r?\n|\r", "\r\n", value)


def new_boundary():
    """A boundary of the form undici (wrangler's FormData) uses."""
    return "----formdata-undici-0%011d" % secrets.randbelow(10 ** 11)


def encode_bundle(modules, boundary=None):
    """The multipart ``_worker.bundle`` bytes of ``modules`` (the first is the main module)."""
    modules = list(modules)
    if boundary is None:
        boundary = new_boundary()
        while any(boundary.encode("ascii") in m.content for m in modules):
            boundary = new_boundary()
    metadata = json.dumps({"main_module": modules[0].name}, separators=(",", ":"), ensure_ascii=False)
    prefix = "--%s\r\nContent-Disposition: form-data" % boundary
    out = [("%s; name=\"metadata\"\r\n\r\n%s\r\n" % (prefix, _normalize_linefeeds(metadata))).encode("utf-8")]
    for module in modules:
        head = '%s; name="%s"; filename="%s"\r\nContent-Type: %s\r\n\r\n' % (
            prefix, _escape_name(_normalize_linefeeds(module.name)), _escape_name(module.name), module.content_type
        )
        out.extend((head.encode("utf-8"), module.content, b"\r\n"))
    out.append(("--%s--\r\n" % boundary).encode("ascii"))
    return b"".join(out)


_DISPOSITION_PARAM = re.compile(r';\s*([A-Za-z*]+)="((?:[^"\\]|\\.)*)"')


def parse_bundle(blob):
    """``(metadata, [(name, content_type, bytes)])`` of a multipart bundle whose boundary is its
    first line. Raises :class:`WorkerError` when it is not one."""
    first, sep, _rest = blob.partition(b"\r\n")
    if not sep or not first.startswith(b"--") or len(first) < 3:
        raise WorkerError("the worker bundle is not a multipart body (no boundary line)")
    delimiter = b"\r\n" + first
    body = b"\r\n" + blob
    pieces = body.split(delimiter)
    if len(pieces) < 3 or not pieces[-1].startswith(b"--"):
        raise WorkerError("the worker bundle is not a complete multipart body")
    parts = []
    metadata = None
    for piece in pieces[1:-1]:
        if not piece.startswith(b"\r\n"):
            raise WorkerError("the worker bundle has a malformed part")
        head, sep, data = piece[2:].partition(b"\r\n\r\n")
        if not sep:
            raise WorkerError("the worker bundle has a part without headers")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _colon, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params = dict(_DISPOSITION_PARAM.findall(headers.get("content-disposition", "")))
        name = params.get("name")
        if name is None:
            raise WorkerError("the worker bundle has a part without a name")
        if name == "metadata" and "filename" not in params:
            try:
                metadata = _json.loads(data)
            except ValueError:
                raise WorkerError("the worker bundle's metadata is not JSON")
            continue
        parts.append((name, headers.get("content-type", "application/octet-stream"), data))
    if not isinstance(metadata, dict) or not isinstance(metadata.get("main_module"), str):
        raise WorkerError("the worker bundle has no metadata with a main_module")
    return metadata, parts


def bundle_from_blob(blob, mode="functions", root=None):
    """A :class:`WorkerBundle` of an upload-ready blob (kept as its :attr:`~WorkerBundle.body`)."""
    metadata, parts = parse_bundle(blob)
    main = metadata["main_module"]
    modules = []
    for name, content_type, data in parts:
        module_type = MODULE_TYPES.get(content_type.split(";")[0].strip().lower())
        if module_type is None:
            raise WorkerError("the worker bundle's module %s has an unknown content type %s" % (name, content_type))
        modules.append(WorkerModule(name, module_type, data))
    modules.sort(key=lambda m: m.name != main)
    if not modules or modules[0].name != main:
        raise WorkerError("the worker bundle has no module %s (its main_module)" % main)
    return WorkerBundle(mode, modules, root=root, body=blob)


# --------------------------------------------------------------------------- checks


class UnresolvedImport:
    """A relative specifier of ``module`` (a :class:`WorkerModule`) that names no module of the
    bundle: ``found`` (the ``js_imports.StaticImport``), ``target`` (the module name it
    resolves to, or None above the bundle's root) and ``on_disk`` (the file it names, when one
    exists beside the module's own file: a bundler could inline it)."""

    __slots__ = ("module", "found", "target", "on_disk")

    def __init__(self, module, found, target, on_disk):
        self.module = module
        self.found = found
        self.target = target
        self.on_disk = on_disk


# What a bundler tries after a specifier without a known extension (esbuild's resolveExtensions
# that matter for a server build's output).
_RESOLVE_SUFFIXES = ("", ".js", ".mjs", ".cjs", ".ts", ".mts", ".json", "/index.js", "/index.mjs")


def _file_named(module, specifier):
    """The file ``specifier`` names from ``module``'s file, or None (no file, or a module without one)."""
    if module.path is None:
        return None
    path = specifier.split("?", 1)[0].split("#", 1)[0]
    if not path or path.startswith("/"):
        return None
    base = os.path.normpath(os.path.join(os.path.dirname(module.path), path))
    for suffix in _RESOLVE_SUFFIXES:
        if os.path.isfile(base + suffix):
            return base + suffix
    return None


def unresolved_imports(bundle):
    """The :class:`UnresolvedImport` list of the bundle's ES modules."""
    names = set(m.name for m in bundle.modules)
    out = []
    for module in bundle.modules:
        if module.type != "esm":
            continue
        text = module.content.decode("utf-8", "replace")
        for found in _js_imports.static_imports(text):
            if not _js_imports.is_relative(found.specifier):
                continue
            target = _js_imports.resolve(module.name, found.specifier)
            if target in names:
                continue
            out.append(UnresolvedImport(module, found, target, _file_named(module, found.specifier)))
    return out


def check_imports(bundle, where=None, unresolved=None):
    """Raise :class:`WorkerError` naming each ES module and relative specifier that does not
    resolve to a module of the bundle (at most 20 listed); ``unresolved`` is
    :func:`unresolved_imports` when already known."""
    if unresolved is None:
        unresolved = unresolved_imports(bundle)
    problems = []
    for item in unresolved:
        module, found, target = item.module, item.found, item.target
        label = os.path.join(where or bundle.root or "", module.name) if bundle.mode == "directory" else (
            module.path or module.name)
        reason = "points above the bundle's root" if target is None else "no module %s in the bundle" % target
        problems.append('%s:%d: %s "%s" (%s)' % (label, found.line, found.keyword, found.specifier, reason))
    if problems:
        more = " and %d more" % (len(problems) - 20) if len(problems) > 20 else ""
        hint = (
            "A single-file _worker.js cannot import other files: bundle it, or make _worker.js a directory with "
            "index.js and its modules" if bundle.mode == "file" else
            "Every relative import must name a .js/.mjs/.wasm/.txt/.html/.sql/.bin file of the _worker.js directory"
        )
        raise WorkerError(
            "the worker has %d unresolved import%s: %s%s. %s." % (
                len(problems), "" if len(problems) == 1 else "s", "; ".join(problems[:20]), more, hint)
        )


def check_size(bundle):
    """Raise :class:`WorkerError` above the limits every plan has (10 MiB gzip-compressed, the
    bundle file 25 MiB); return warnings (above the Workers Free plan's 3 MiB)."""
    gzip_size = bundle.gzip_size()
    raw = len(bundle.body) if bundle.body is not None else bundle.size
    if raw > MAX_BUNDLE_BYTES:
        raise WorkerError(
            "the worker bundle is %.1f MiB; Pages accepts files up to 25 MiB "
            "(https://developers.cloudflare.com/pages/platform/limits/#file-size)" % (raw / float(MiB))
        )
    if gzip_size > WORKER_GZIP_LIMIT_PAID:
        raise WorkerError(
            "the worker is %.1f MiB gzip-compressed (%.1f MiB uncompressed); a Worker may be at most 10 MiB "
            "compressed on the Workers Paid plan and 3 MiB on the Free plan "
            "(https://developers.cloudflare.com/workers/platform/limits/#worker-size)"
            % (gzip_size / float(MiB), bundle.size / float(MiB))
        )
    if gzip_size > WORKER_GZIP_LIMIT_FREE:
        return [
            "the worker is %.1f MiB gzip-compressed: above the Workers Free plan's 3 MiB limit (the Paid plan "
            "allows 10 MiB; https://developers.cloudflare.com/workers/platform/limits/#worker-size)"
            % (gzip_size / float(MiB))
        ]
    return []


def digest_of(bundle):
    """sha256 hex of the bundle's modules (not of its multipart bytes, whose boundary is random)."""
    digest = hashlib.sha256(b"cfpages-worker-v1\n")
    bundle.digest_update(digest)
    return digest.hexdigest()
