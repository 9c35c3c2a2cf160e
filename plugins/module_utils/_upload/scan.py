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

import hashlib
import itertools
import os
import re
import stat
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import FileCountError, UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.hashing import (
    MiB,
    _require_blake3,
    extension_of,
    hash_file,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.content_types import content_type_of
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.site_checks import (
    outside_link_warnings,
    outside_links_refused,
    unreadable,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.hash_cache import (
    open_cache,
    stat_key,
    stat_mtime_ns,
    stat_text,
)


#: Pages refuses files above 25 MiB; exactly 25 MiB is allowed (wrangler's MAX_ASSET_SIZE,
#: packages/wrangler/src/pages/constants.ts).
MAX_ASSET_SIZE = 25 * MiB

#: Files of the site root that are sent as form fields of the deployment, not as assets.
SPECIAL_FILES = ("_headers", "_redirects")
#: The site's code: never assets, sent as the worker (``plan``).
WORKER_FILES = ("_routes.json", "_worker.js")
# wrangler's ignore list (packages/wrangler/src/pages/validate.ts): these names only at the top level...
_TOP_LEVEL_IGNORED = frozenset(SPECIAL_FILES + WORKER_FILES + ("functions", ".wrangler"))
# ...and these at any depth ("**/name" in minimatch, which never lets ** cross a dot-directory).
_ANY_DEPTH_IGNORED = frozenset((".DS_Store", "node_modules", ".git"))
# Files hashed per task of the thread pool.
_HASH_BATCH = 32
# Files per update of the site digest (site_digest).
_DIGEST_BATCH = 4096


class ScanRules:
    """Which names a backend leaves out of the assets: ``top_level`` (ignored at the top of the
    site), ``any_depth`` (at any depth, outside dot-directories) and ``special`` (top-level files
    kept apart in :attr:`SiteScan.special`, not uploaded as assets)."""

    __slots__ = ("top_level", "any_depth", "special")

    def __init__(self, top_level, any_depth, special):
        self.top_level = frozenset(top_level)
        self.any_depth = frozenset(any_depth)
        self.special = tuple(special)


#: ``wrangler pages deploy``'s rules (the default of :func:`scan_site`).
PAGES_RULES = ScanRules(_TOP_LEVEL_IGNORED, _ANY_DEPTH_IGNORED, SPECIAL_FILES)


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
                body = body.replace("\\", "\\\\").replace("]", "\\]")  # a leading "]" is a member
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
    """One asset: ``path`` is the manifest key (``/a/b.html``).

    Kept small, 100,000 of them are in memory at once (Pages' paid-plan limit; issue 29): a
    scanned file has no absolute path of its own (``abspath`` joins the scan's one ``root``
    string and ``path`` when a file is opened), and ``stat_key`` is one string (see
    :func:`hash_cache.stat_text`) rather than a tuple of five numbers."""

    __slots__ = ("path", "_root", "_abspath", "size", "hash", "_content_type", "stat_key")

    def __init__(self, path, abspath, size, hash=None, content_type=None, stat_key=None, root=None):  # pylint: disable=redefined-builtin
        self.path = path
        self._abspath = abspath  # None for a scanned file: root + path
        self._root = root
        self.size = size
        self.hash = hash
        self._content_type = content_type
        self.stat_key = stat_key  # hash_cache.stat_text() of the file (a tuple when racy), for the hash cache

    @property
    def abspath(self):
        if self._abspath is None:
            return self._root + self.path  # a POSIX path: the scan's root never ends with "/" but "/" itself
        return self._abspath

    @property
    def mtime_ns(self):
        """The file's mtime when it was scanned (None if unknown), to see a change before upload."""
        return stat_mtime_ns(self.stat_key)

    @property
    def content_type(self):
        # Looked up when first needed (only uploaded files need it): a rerun uploads few files.
        if self._content_type is None:
            self._content_type = content_type_of(self.path)
        return self._content_type

    @content_type.setter
    def content_type(self, value):
        self._content_type = value

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
        self.walk_seconds = 0.0  # the part of hash_seconds the walk took (scan_site sets it)
        self.cache = None  # the _hash_cache.HashCache used, if any
        self.cache_hits = 0  # files whose hash came from the cache
        self.cache_error = None  # why the cache could not be written
        self._unique_hashes = None

    @property
    def manifest(self):
        return {f.path: f.hash for f in self.files}

    def unique_hashes(self):
        """Every distinct hash, in path order (a new list; worked out once: a deploy asks 3 times).
        Repeated hashes are found by sorting a copy: a set of every hash would cost 4 MiB at
        100,000 files, and few sites repeat many."""
        if self._unique_hashes is None:
            hashes = [f.hash for f in self.files]
            ordered = sorted(hashes)
            repeated = set(a for a, b in zip(ordered, itertools.islice(ordered, 1, None)) if a == b)
            del ordered
            if repeated:
                seen = set()
                unique = []
                for h in hashes:
                    if h in repeated:
                        if h in seen:
                            continue
                        seen.add(h)
                    unique.append(h)
                hashes = unique
            self._unique_hashes = hashes
        return list(self._unique_hashes)


def _walk(root, excluder, follow_symlinks, sink=None, rules=PAGES_RULES, racy=None):
    """Collect ``(files, special, warnings)``; files as SiteFile without hashes, each also
    passed to ``sink`` as soon as it is found. ``follow_symlinks``: True or ``"all"`` (follow,
    warn once per target outside ``root``), ``"inside"`` (refuse links out of ``root``), False.
    ``racy``: the hash cache's ``is_racy`` (a racy file keeps its stat key as a tuple, which the
    cache neither looks up nor records), or None."""
    files = []
    special = {}
    warnings = []
    bad_names = []
    outside = {}  # target outside root -> the links to it
    root_st = os.stat(root)
    base = root.rstrip("/")  # every file's absolute path is base + its manifest path (SiteFile.abspath)
    real_root = os.path.join(os.path.realpath(root), "")
    excluding = bool(excluder.rules)
    S_IFDIR, S_ISREG = stat.S_IFDIR, stat.S_ISREG  # pylint: disable=invalid-name  # locals: the loop runs per file

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
            if name in rules.any_depth and not any(part.startswith(".") for part in prefix.split("/")[:-1]):
                continue
            if top and name in rules.top_level and name not in rules.special:
                if name == "functions":
                    warnings.append(
                        "%s/ is not uploaded (as with wrangler): Pages Functions are built from functions_dir, by "
                        "default the functions directory beside the site" % entry.path
                    )
                continue
            if not name.isascii():  # an ASCII name is valid UTF-8 (and isascii() costs nothing)
                try:
                    name.encode("utf-8")
                except UnicodeEncodeError:
                    bad_names.append(os.fsencode(os.path.join(absdir, name)).decode("utf-8", "backslashreplace"))
                    continue
            if excluding and excluder(rel, name):
                continue
            is_link = False
            try:
                if entry.is_dir(follow_symlinks=False):
                    # A real directory: its inode comes with the directory entry, no stat needed.
                    mode, key = S_IFDIR, (dev, entry.inode())
                elif not entry.is_symlink():
                    # A regular file (or a socket, a FIFO, a device): the common case, kept short.
                    st = entry.stat(follow_symlinks=False)
                    mode = st.st_mode
                    if S_ISREG(mode) and not (top and name in rules.special):
                        key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)  # stat_key()
                        site_file = SiteFile("/" + rel, None, key[0], None, None,
                                             key if racy is not None and racy(key) else "%d %d %d %d %d" % key, base)
                        files.append(site_file)
                        if sink is not None:
                            sink(site_file)
                        continue
                else:
                    is_link = True
                    if not follow_symlinks:
                        warnings.append("skipped symbolic link /%s (follow_symlinks is off)" % rel)
                        continue
                    st = os.stat(entry.path)
                    mode, key = st.st_mode, (st.st_dev, st.st_ino)
                    # A link to a device, a pipe or a socket is skipped below whatever its target: only a
                    # file or a directory out of the source is deployed, and worth the warning.
                    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
                        target = os.path.realpath(entry.path)
                        if not os.path.join(target, "").startswith(real_root):
                            outside.setdefault(target, []).append("/" + rel)
                            if follow_symlinks == "inside":
                                continue
            except FileNotFoundError:
                warnings.append("skipped dangling symbolic link /%s" % rel)
                continue
            except OSError as err:
                if is_link:
                    warnings.append("skipped symbolic link /%s: %s" % (rel, err.strerror or err))
                    continue
                raise UploadError("cannot stat %s: %s" % (entry.path, err.strerror or err))
            if stat.S_ISDIR(mode):
                if key in ancestors:
                    warnings.append("skipped /%s: symbolic link loop back to one of its parent directories" % rel)
                    continue
                visit(entry.path, rel + "/", key[0], ancestors | {key})
            elif stat.S_ISREG(mode):
                if top and name in rules.special:
                    special[name] = entry.path
                    continue
                key = stat_key(st)
                site_file = SiteFile("/" + rel, None, key[0], stat_key=key if racy is not None and racy(key)
                                     else stat_text(key), root=base)
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
    if outside and follow_symlinks == "inside":
        raise UploadError(outside_links_refused(root, outside))
    warnings.extend(outside_link_warnings(root, outside))
    return files, special, warnings


def _from_cache(f, cache):
    """Give ``f`` its hash from the hash cache ``cache`` (None: no cache); True when it did."""
    if cache is None or f.size > MAX_ASSET_SIZE:
        return False
    f.hash = cache.lookup(f.path, f.stat_key)
    return f.hash is not None


def _hash_batch(batch, cache=None):
    """Hash the files of ``batch`` (their hash from ``cache`` when it has it); returns how many
    came from the cache."""
    hits = 0
    for f in batch:
        if f.size > MAX_ASSET_SIZE:
            continue  # preflight() rejects it; hashing it would only cost time
        if _from_cache(f, cache):
            hits += 1
            continue
        try:
            f.hash, read = hash_file(f.abspath, extension_of(f.path), f.size)
        except OSError as err:
            raise UploadError(unreadable(f.abspath, err))
        if read != f.size:
            raise UploadError("%s changed while it was being hashed; run again" % f.abspath)
    return hits


def site_digest(files, special, presorted=False):
    """sha256 hex over the sorted manifest and the special files (names and bytes); ``presorted``:
    ``files`` are sorted by path already."""
    digest = hashlib.sha256(b"cfpages-site-digest-v1\n")
    ordered = files if presorted else sorted(files, key=lambda x: x.path)
    # An update per few thousand files: 100,000 small updates cost more than the hashing, and one
    # update of the whole manifest text would hold it (and its list of lines) all at once.
    for start in range(0, len(ordered), _DIGEST_BATCH):
        digest.update("".join(["%s\0%s\n" % (f.path, f.hash) for f in ordered[start:start + _DIGEST_BATCH]])
                      .encode("utf-8"))
    for name in sorted(special):
        try:
            with open(special[name], "rb") as handle:
                data = handle.read()
        except OSError as err:
            raise UploadError(unreadable(special[name], err))
        digest.update(("\1%s\0%d\0" % (name, len(data))).encode("utf-8"))
        digest.update(data)
    return digest.hexdigest()


def default_workers():
    """Hashing threads: file reads and blake3 release the GIL, base64 does not; twice the cores
    (at most 8) keeps every core busy while some threads wait for the disk."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def scan_site(source_dir, exclude=(), follow_symlinks=True, workers=None, hash_cache=False, rules=PAGES_RULES):
    """Walk ``source_dir`` and hash every file (see the module docstring for the rules).

    ``hash_cache`` is the ``hash_cache`` setting (:func:`hash_cache.open_cache`; the default,
    False, hashes every file); the scan's ``cache_hits``/``cache_misses`` count its lookups.

    Symbolic links are followed (as wrangler does), to files and to directories, also outside
    the site (each target outside it named once in a warning); a link back to one of its own
    parent directories (a loop) and a dangling link are skipped with a warning. With
    ``follow_symlinks="inside"`` a link out of the site fails the scan (every such link named,
    none walked); with ``follow_symlinks=False`` every link is skipped. ``rules`` (a
    :class:`ScanRules`) say which names are not assets: Pages' by default.
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
    cache = open_cache(hash_cache, root)
    racy = cache.is_racy if cache is not None else None
    if workers <= 1:
        files, special, warnings = _walk(root, excluder, follow_symlinks, rules=rules, racy=racy)
        walked = time.monotonic()
        hits = _hash_batch(files, cache)
    else:
        # Hash while walking: batches of the files not in the cache go to the pool as the walk
        # finds them (a pool's threads start with its first task: none for a no-op rerun).
        pool = ThreadPoolExecutor(max_workers=workers)
        pending = []
        batch = []
        cached = []  # files whose hash came from the cache

        lookup = cache.lookup if cache is not None else None

        def sink(site_file):
            if lookup is not None and site_file.size <= MAX_ASSET_SIZE:
                site_file.hash = lookup(site_file.path, site_file.stat_key)
                if site_file.hash is not None:
                    cached.append(site_file)
                    return
            batch.append(site_file)
            if len(batch) >= _HASH_BATCH:
                pending.append(pool.submit(_hash_batch, batch[:]))
                del batch[:]

        try:
            files, special, warnings = _walk(root, excluder, follow_symlinks, sink, rules, racy)
            walked = time.monotonic()
            if batch:
                pending.append(pool.submit(_hash_batch, batch))
            for future in pending:
                future.result()
            hits = len(cached)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    files.sort(key=lambda f: f.path)
    # Saved before the digest is computed: saving frees the cache's loaded entries.
    cache_error = cache.save(files, hits) if cache is not None else None
    elapsed = time.monotonic() - started
    scan = SiteScan(root, files, special, site_digest(files, special, presorted=True), warnings, elapsed)
    scan.cache, scan.cache_hits, scan.cache_error = cache, hits, cache_error
    scan.walk_seconds = walked - started  # the walk and the hash cache's lookups (hashing overlaps it)
    return scan


# --------------------------------------------------------------------------- preflight


def format_mib(size):
    return "%.1f MiB" % (size / float(MiB))


def preflight(scan, max_file_count=None, limit_from="the upload token's max_file_count_allowed"):
    """Raise :class:`UploadError` for files above 25 MiB (each named), or :class:`FileCountError`
    for more files than ``max_file_count`` (the count, the limit and ``limit_from``, where the
    limit comes from). ``None`` skips the count check."""
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
        raise FileCountError(
            "the site has %d files but this project's deployments may have at most %d "
            "(%s); exclude files or upgrade the plan." % (len(scan.files), max_file_count, limit_from)
        )
