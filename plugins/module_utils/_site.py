# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The site side of a direct upload, with no network: walk a built site with wrangler's ignore
rules plus ``exclude`` globs, hash every file as wrangler does, find content types, compute the
site digest, and check the per-file size and file count limits (``docs/upload-engine.md``).

:func:`scan_site` walks the directory and hashes every file, streamed and in parallel:
``blake3(base64(content) + extension)[:32]``; :func:`preflight` checks the 25 MiB per-file limit
and the file count allowed by the upload token, before anything is uploaded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.cfpages.cloudflare.plugins.module_utils._content_types import content_type_of

try:
    import blake3 as _blake3

    HAS_BLAKE3 = True
    BLAKE3_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by the module's missing_required_lib path
    _blake3 = None
    HAS_BLAKE3 = False
    BLAKE3_IMPORT_ERROR = traceback.format_exc()


# --------------------------------------------------------------------------- limits

MiB = 1024 * 1024

#: Pages refuses files above 25 MiB; exactly 25 MiB is allowed (wrangler's MAX_ASSET_SIZE,
#: packages/wrangler/src/pages/constants.ts).
MAX_ASSET_SIZE = 25 * MiB

#: Files of the site root that are sent as form fields of the deployment, not as assets.
SPECIAL_FILES = ("_headers", "_redirects", "_routes.json", "_worker.js")
# wrangler's ignore list (packages/wrangler/src/pages/validate.ts): these names only at the top level...
_TOP_LEVEL_IGNORED = frozenset(SPECIAL_FILES + ("functions", ".wrangler"))
# ...and these at any depth ("**/name" in minimatch, which never lets ** cross a dot-directory).
_ANY_DEPTH_IGNORED = frozenset((".DS_Store", "node_modules", ".git"))

# Raw bytes read per step while hashing or uploading: a multiple of 3, so that base64 of the
# chunks concatenates to base64 of the whole file.
_CHUNK = 3 * 256 * 1024
# Files at least this big are hashed by blake3 with several threads.
_BLAKE3_THREADS_FROM = 8 * MiB
# Files hashed per task of the thread pool.
_HASH_BATCH = 32


class UploadError(Exception):
    """A direct upload cannot go on; the message names the offending paths, or the count and the
    limit. ``status`` and ``errors`` carry the API's answer when an API call was the cause."""

    def __init__(self, message, status=0, errors=None):
        self.message = message
        self.status = status
        self.errors = list(errors or [])
        super().__init__(message)

    def to_result(self):
        return {"status": self.status, "errors": self.errors}


# --------------------------------------------------------------------------- hashing and types


def extension_of(name):
    """The extension without its dot, as Node's ``path.extname(name).substring(1)``:
    ``a.tar.gz`` -> ``gz``, ``.DS_Store`` -> ``''``, ``foo.`` -> ``''``; case is kept."""
    name = name.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    if dot <= 0 or name == "..":
        return ""
    return name[dot + 1:]


def _require_blake3():
    if not HAS_BLAKE3:
        raise UploadError("the blake3 Python library is required for direct uploads (pip install blake3)")


def hash_bytes(content, extension):
    """The asset key of ``content`` for a file with ``extension`` (no dot)."""
    _require_blake3()
    digest = _blake3.blake3(base64.b64encode(content))
    digest.update(extension.encode("utf-8"))
    return digest.hexdigest()[:32]


class Base64Stream:
    """base64 of a file, produced in pieces while the file is read ``_CHUNK`` bytes at a time (a
    multiple of 3, the odd bytes carried over), so the whole file is never in memory.

    Iterate once. ``bytes_read`` counts the raw bytes read; with ``limit``, reading stops as
    soon as more than ``limit`` bytes were read (the file grew), and the rest is not encoded.
    """

    def __init__(self, abspath, limit=None):
        self.abspath = abspath
        self.limit = limit
        self.bytes_read = 0

    def __iter__(self):
        carry = b""
        with open(self.abspath, "rb") as handle:
            while True:
                chunk = handle.read(_CHUNK)
                if not chunk:
                    break
                self.bytes_read += len(chunk)
                if self.limit is not None and self.bytes_read > self.limit:
                    return
                if carry:
                    chunk = carry + chunk
                cut = len(chunk) - len(chunk) % 3
                carry = chunk[cut:]
                if cut:
                    yield base64.b64encode(chunk[:cut] if cut < len(chunk) else chunk)
        if carry:
            yield base64.b64encode(carry)


def hash_file(abspath, extension, size=None):
    """:func:`hash_bytes` of a file, streamed (:class:`Base64Stream` feeds blake3), so the whole
    file is never in memory. Returns ``(hash, bytes_read)``."""
    _require_blake3()
    if size is not None and size < _CHUNK:
        # The common case, a small file: one read, no chunking.
        fd = os.open(abspath, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            content = os.read(fd, size + 1)
            if len(content) <= size:
                return hash_bytes(content, extension), len(content)
        finally:
            os.close(fd)
    if size is not None and size >= _BLAKE3_THREADS_FROM:
        digest = _blake3.blake3(max_threads=_blake3.blake3.AUTO)
    else:
        digest = _blake3.blake3()
    stream = Base64Stream(abspath)
    for piece in stream:
        digest.update(piece)
    digest.update(extension.encode("utf-8"))
    return digest.hexdigest()[:32], stream.bytes_read


# --------------------------------------------------------------------------- exclude globs


def compile_glob(pattern):
    """Compile one ``exclude`` pattern into ``(regex, anchored)``.

    Syntax (fnmatch-style, matched against the path relative to the site with ``/``):
    ``*`` any characters except ``/``; ``?`` one character except ``/``; ``[abc]``/``[!abc]``
    a class; ``**`` as a whole segment any number of directories (``**/x``, ``a/**``,
    ``a/**/b``). A pattern without ``/`` matches the name of a file or directory at any depth
    (``*.map``, ``.next``); a pattern with ``/`` is anchored at the site root (a leading ``/``
    is allowed, a trailing one ignored). Dot-files are not special. A matching directory is
    skipped whole.
    """
    if not isinstance(pattern, str) or not pattern.strip().strip("/"):
        raise UploadError("invalid exclude pattern %r: it must be a non-empty glob" % (pattern,))
    pat = pattern.strip()
    anchored = "/" in pat.rstrip("/")
    pat = pat.strip("/")
    out = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "/" and pat[i:] == "/**":
            out.append("(?:/.*)?")
            break
        if c == "*":
            j = i
            while j < n and pat[j] == "*":
                j += 1
            whole = (j - i) >= 2 and (i == 0 or pat[i - 1] == "/") and (j == n or pat[j] == "/")
            if whole and j == n:
                out.append(".*")
            elif whole:
                out.append("(?:[^/]*/)*")
                j += 1  # the "/" after "**" is part of the repetition
            else:
                out.append("[^/]*")
            i = j
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and pat[j] in "!^":
                j += 1
            if j < n and pat[j] == "]":
                j += 1
            j = pat.find("]", j)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pat[i + 1:j]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                if not negate and body.startswith("^"):
                    body = "\\" + body
                out.append("[^/%s]" % body if negate else "[%s]" % body)
                i = j + 1
                continue
        else:
            out.append(re.escape(c))
        i += 1
    try:
        regex = re.compile("(?s:%s)\\Z" % "".join(out))
    except re.error as err:
        raise UploadError("invalid exclude pattern %r: %s" % (pattern, err))
    return regex, anchored


class _Excluder:
    def __init__(self, patterns):
        if isinstance(patterns, str):
            patterns = [patterns]
        self.rules = [compile_glob(p) for p in (patterns or ())]

    def __call__(self, relpath, name):
        for regex, anchored in self.rules:
            if regex.match(relpath if anchored else name):
                return True
        return False


# --------------------------------------------------------------------------- scanning


class SiteFile:
    """One asset: ``path`` is the manifest key (``/a/b.html``)."""

    __slots__ = ("path", "abspath", "size", "mtime_ns", "hash", "content_type")

    def __init__(self, path, abspath, size, mtime_ns=None, hash=None, content_type=None):  # pylint: disable=redefined-builtin
        self.path = path
        self.abspath = abspath
        self.size = size
        self.mtime_ns = mtime_ns
        self.hash = hash
        self.content_type = content_type or content_type_of(path)

    def __repr__(self):
        return "SiteFile(%r, size=%d, hash=%r, content_type=%r)" % (self.path, self.size, self.hash, self.content_type)


class SiteScan:
    """What :func:`scan_site` found. ``special`` maps ``_headers``/``_redirects``/``_routes.json``/
    ``_worker.js`` to their absolute paths; ``digest`` is a sha256 hex over the manifest and the
    special files' bytes; ``warnings`` lists what was skipped and why; ``hash_seconds`` is the
    time the walk and the hashing took."""

    def __init__(self, root, files, special, digest, warnings=None, hash_seconds=0.0):
        self.root = root
        self.files = files
        self.special = special
        self.total_bytes = sum(f.size for f in files)
        self.digest = digest
        self.warnings = list(warnings or [])
        self.hash_seconds = hash_seconds

    @property
    def manifest(self):
        return {f.path: f.hash for f in self.files}

    def unique_hashes(self):
        """Every distinct hash, in path order."""
        seen = set()
        out = []
        for f in self.files:
            if f.hash not in seen:
                seen.add(f.hash)
                out.append(f.hash)
        return out


def _walk(root, excluder, follow_symlinks, sink=None):
    """Collect ``(files, special, warnings)``; files as SiteFile without hashes, each also
    passed to ``sink`` as soon as it is found."""
    files = []
    special = {}
    warnings = []
    bad_names = []
    root_st = os.stat(root)

    def visit(absdir, prefix, dev, ancestors):
        try:
            with os.scandir(absdir) as it:
                entries = list(it)
        except OSError as err:
            raise UploadError("cannot read directory %s: %s" % (absdir, err.strerror or err))
        top = not prefix
        for entry in entries:
            name = entry.name
            rel = prefix + name
            if name in _ANY_DEPTH_IGNORED and not any(part.startswith(".") for part in prefix.split("/")[:-1]):
                continue
            if top and name in _TOP_LEVEL_IGNORED and name not in SPECIAL_FILES:
                if name == "functions":
                    warnings.append(
                        "functions/ is not uploaded: Pages Functions must be compiled by wrangler "
                        "(ship a _worker.js file instead)"
                    )
                continue
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                bad_names.append(os.fsencode(os.path.join(absdir, name)).decode("utf-8", "backslashreplace"))
                continue
            if excluder.rules and excluder(rel, name):
                continue
            is_link = False
            try:
                if entry.is_dir(follow_symlinks=False):
                    # A real directory: its inode comes with the directory entry, no stat needed.
                    mode, key = stat.S_IFDIR, (dev, entry.inode())
                else:
                    is_link = entry.is_symlink()
                    if is_link and not follow_symlinks:
                        warnings.append("skipped symbolic link /%s (follow_symlinks is off)" % rel)
                        continue
                    st = os.stat(entry.path) if is_link else entry.stat(follow_symlinks=False)
                    mode, key = st.st_mode, (st.st_dev, st.st_ino)
            except FileNotFoundError:
                warnings.append("skipped dangling symbolic link /%s" % rel)
                continue
            except OSError as err:
                if is_link:
                    warnings.append("skipped symbolic link /%s: %s" % (rel, err.strerror or err))
                    continue
                raise UploadError("cannot stat %s: %s" % (entry.path, err.strerror or err))
            if stat.S_ISDIR(mode):
                if top and name in SPECIAL_FILES:
                    raise UploadError(
                        "%s is a directory: only a single-file _worker.js is supported "
                        "(bundle the advanced-mode worker into one file)" % entry.path
                    )
                if key in ancestors:
                    warnings.append("skipped /%s: symbolic link loop back to one of its parent directories" % rel)
                    continue
                visit(entry.path, rel + "/", key[0], ancestors | {key})
            elif stat.S_ISREG(mode):
                if top and name in SPECIAL_FILES:
                    special[name] = entry.path
                    continue
                site_file = SiteFile("/" + rel, entry.path, st.st_size, st.st_mtime_ns)
                files.append(site_file)
                if sink is not None:
                    sink(site_file)
            else:
                warnings.append("skipped /%s: not a regular file or directory" % rel)

    visit(root, "", root_st.st_dev, frozenset([(root_st.st_dev, root_st.st_ino)]))
    if bad_names:
        raise UploadError(
            "file names must be valid UTF-8; rename or exclude: %s" % ", ".join(sorted(bad_names)[:20])
        )
    return files, special, warnings


def _hash_batch(batch):
    for f in batch:
        if f.size > MAX_ASSET_SIZE:
            continue  # preflight() rejects it; hashing it would only cost time
        f.hash, read = hash_file(f.abspath, extension_of(f.path), f.size)
        if read != f.size:
            raise UploadError("%s changed while it was being hashed; run again" % f.abspath)
    return len(batch)


def site_digest(files, special):
    """sha256 hex over the sorted manifest and the special files (names and bytes)."""
    digest = hashlib.sha256(b"cfpages-site-digest-v1\n")
    for f in sorted(files, key=lambda x: x.path):
        digest.update(("%s\0%s\n" % (f.path, f.hash)).encode("utf-8"))
    for name in sorted(special):
        with open(special[name], "rb") as handle:
            data = handle.read()
        digest.update(("\1%s\0%d\0" % (name, len(data))).encode("utf-8"))
        digest.update(data)
    return digest.hexdigest()


def default_workers():
    """Hashing threads: file reads and blake3 release the GIL, base64 does not; twice the cores
    (at most 8) keeps every core busy while some threads wait for the disk."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def scan_site(source_dir, exclude=(), follow_symlinks=True, workers=None):
    """Walk ``source_dir`` and hash every file (see the module docstring for the rules).

    Symbolic links are followed (as wrangler does), to files and to directories, also outside
    the site; a link back to one of its own parent directories (a loop) and a dangling link are
    skipped with a warning. With ``follow_symlinks=False`` every link is skipped.
    """
    _require_blake3()
    if not source_dir or not os.path.exists(source_dir):
        raise UploadError("source directory %s does not exist" % source_dir)
    if not os.path.isdir(source_dir):
        raise UploadError("source %s is not a directory" % source_dir)
    root = os.path.abspath(source_dir)
    excluder = _Excluder(exclude)
    workers = workers or default_workers()
    started = time.monotonic()
    if workers <= 1:
        files, special, warnings = _walk(root, excluder, follow_symlinks)
        _hash_batch(files)
    else:
        # Hash while walking: batches go to the pool as the walk finds them.
        pool = ThreadPoolExecutor(max_workers=workers)
        pending = []
        batch = []

        def sink(site_file):
            batch.append(site_file)
            if len(batch) >= _HASH_BATCH:
                pending.append(pool.submit(_hash_batch, batch[:]))
                del batch[:]

        try:
            files, special, warnings = _walk(root, excluder, follow_symlinks, sink)
            if batch:
                pending.append(pool.submit(_hash_batch, batch))
            for future in pending:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    files.sort(key=lambda f: f.path)
    elapsed = time.monotonic() - started
    return SiteScan(root, files, special, site_digest(files, special), warnings, elapsed)


# --------------------------------------------------------------------------- preflight


def format_mib(size):
    return "%.1f MiB" % (size / float(MiB))


def preflight(scan, max_file_count=None):
    """Raise :class:`UploadError` for files above 25 MiB (each named) or more files than
    ``max_file_count`` (the count and the limit). ``None`` skips the count check."""
    big = [f for f in scan.files if f.size > MAX_ASSET_SIZE]
    big += [
        SiteFile("/" + name, path, os.path.getsize(path))
        for name, path in sorted(scan.special.items())
        if os.path.getsize(path) > MAX_ASSET_SIZE
    ]
    if big:
        listed = ", ".join("%s (%s)" % (f.path, format_mib(f.size)) for f in big[:50])
        more = " and %d more" % (len(big) - 50) if len(big) > 50 else ""
        raise UploadError(
            "Pages only supports files up to 25 MiB in size; %d file%s too large: %s%s. "
            "Exclude them (exclude: [...]) or make them smaller."
            % (len(big), "" if len(big) == 1 else "s are", listed, more)
        )
    if max_file_count is not None and len(scan.files) > max_file_count:
        raise UploadError(
            "the site has %d files but this project's deployments may have at most %d "
            "(the upload token's max_file_count_allowed); exclude files or upgrade the plan."
            % (len(scan.files), max_file_count)
        )
