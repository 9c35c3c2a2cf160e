# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The direct-upload engine: walk a built site, hash it as wrangler does, upload what the
account does not have yet and create the deployment.

The flow (``docs/upload-engine.md`` and pages-api.md section 5):

1. :func:`scan_site` walks the directory with wrangler's ignore rules plus ``exclude`` globs and
   hashes every file, streamed and in parallel: ``blake3(base64(content) + extension)[:32]``.
2. :func:`preflight` checks the 25 MiB per-file limit and the file count allowed by the upload
   token, before anything is uploaded.
3. :func:`missing_hashes` asks ``/pages/assets/check-missing`` (read-only) which contents the
   account lacks; :func:`upload_missing` sends them in buckets, concurrently, each request body
   streamed from disk (memory stays at a few read buffers whatever the bucket or site size),
   then calls ``upsert-hashes``.
4. :func:`build_deployment_fields` makes the multipart form and ``PagesClient.create_deployment``
   posts it; a retry after an ambiguous failure first looks for the deployment
   (:func:`find_deployment_by_digest`), so it is never created twice.

Idempotence: the form's ``commit_message`` ends with a trailer line ``cfpages-digest: <hex>``
(the first :data:`DIGEST_TRAILER_HEX` hex digits of :attr:`SiteScan.digest`, a sha256 over the
manifest and the special files). The API stores the message in
``deployment_trigger.metadata.commit_message``, so a later run reads back what is live on the
branch and reports no change when the digests are equal. :func:`deploy_directory` ties it all up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import json
import os
import re
import stat
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.cfpages.cloudflare.plugins.module_utils._api import PagesAPIError, found_envelope
from ansible_collections.cfpages.cloudflare.plugins.module_utils._content_types import MIME_TYPES
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments import (
    FAILED_STATUSES,
    deployment_branch,
    stage_of,
)

try:
    import blake3 as _blake3

    HAS_BLAKE3 = True
    BLAKE3_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by the module's missing_required_lib path
    _blake3 = None
    HAS_BLAKE3 = False
    BLAKE3_IMPORT_ERROR = traceback.format_exc()


# --------------------------------------------------------------------------- limits and tunables

MiB = 1024 * 1024

#: Pages refuses files above 25 MiB; exactly 25 MiB is allowed (pages-api.md 5.2).
MAX_ASSET_SIZE = 25 * MiB
#: File count allowed when the upload token has no ``max_file_count_allowed`` claim.
MAX_FILE_COUNT_DEFAULT = 20000
#: Bucket bounds, in raw file bytes and files: a 40 MiB bucket is a ~53.4 MiB JSON body
#: (base64 inflates by 4/3), the same bounds as wrangler, under Cloudflare's 100 MB body limit.
MAX_BUCKET_BYTES = 40 * MiB
MAX_BUCKET_FILES = 2000
#: Concurrent upload requests (wrangler's BULK_UPLOAD_CONCURRENCY).
UPLOAD_CONCURRENCY = 3
#: Big uploads are split into up to this many buckets per concurrent request, none smaller than
#: MIN_BUCKET_BYTES, so that reading and encoding the next bucket overlaps with the server
#: storing the previous one (measured: 60 MB in 12 buckets is ~20 % faster than in 3).
BUCKETS_PER_WORKER = 4
MIN_BUCKET_BYTES = 1 * 1024 * 1024
#: The API keeps at most 384 UTF-8 bytes of a commit message.
MAX_COMMIT_MESSAGE_BYTES = 384

#: Trailer line of the commit message that records the site digest.
DIGEST_TRAILER = "cfpages-digest"
DIGEST_TRAILER_HEX = 32
_TRAILER_RE = re.compile(r"(?:^|\n)%s: ([0-9a-f]{16,64})[ \t\r]*\n?\Z" % DIGEST_TRAILER)

#: Files of the site root that are sent as form fields of the deployment, not as assets.
SPECIAL_FILES = ("_headers", "_redirects", "_routes.json", "_worker.js")
_SPECIAL_CONTENT_TYPES = {
    "_headers": "application/octet-stream",
    "_redirects": "application/octet-stream",
    "_routes.json": "application/json",
    "_worker.js": "application/javascript",
}
# wrangler's ignore list (pages-api.md 5.2): these names only at the top level...
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

DEFAULT_CONTENT_TYPE = "application/octet-stream"


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


def _require_blake3():
    if not HAS_BLAKE3:
        raise UploadError("the blake3 Python library is required for direct uploads (pip install blake3)")


def hash_bytes(content, extension):
    """The asset key of ``content`` for a file with ``extension`` (no dot)."""
    _require_blake3()
    digest = _blake3.blake3(base64.b64encode(content))
    digest.update(extension.encode("utf-8"))
    return digest.hexdigest()[:32]


def hash_file(abspath, extension, size=None):
    """:func:`hash_bytes` of a file, streamed: base64 of 3-byte-aligned chunks is fed to blake3,
    so the whole file is never in memory. Returns ``(hash, bytes_read)``."""
    _require_blake3()
    if size is not None and size < _CHUNK:
        # The common case, a small file: one read, no chunking.
        fd = os.open(abspath, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            content = os.read(fd, size + 1)
            if len(content) <= size:
                digest = _blake3.blake3(base64.b64encode(content))
                digest.update(extension.encode("utf-8"))
                return digest.hexdigest()[:32], len(content)
        finally:
            os.close(fd)
    if size is not None and size >= _BLAKE3_THREADS_FROM:
        digest = _blake3.blake3(max_threads=_blake3.blake3.AUTO)
    else:
        digest = _blake3.blake3()
    total = 0
    carry = b""
    with open(abspath, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if carry:
                chunk = carry + chunk
            cut = len(chunk) - len(chunk) % 3
            carry = chunk[cut:]
            if cut:
                digest.update(base64.b64encode(chunk[:cut]) if cut < len(chunk) else base64.b64encode(chunk))
    if carry:
        digest.update(base64.b64encode(carry))
    digest.update(extension.encode("utf-8"))
    return digest.hexdigest()[:32], total


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


def _mib(size):
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
        listed = ", ".join("%s (%s)" % (f.path, _mib(f.size)) for f in big[:50])
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


# --------------------------------------------------------------------------- upload token


def decode_jwt_claims(jwt):
    """The payload of a JWT as a dict (the signature is not checked: the server does that)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
    except (AttributeError, IndexError, ValueError, TypeError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


class UploadToken:
    """The project's upload JWT, fetched lazily and refreshed shortly before ``exp`` (60 s, or a
    quarter of the token's lifetime when that is shorter) or when the API rejects it.

    ``exp`` is read against our own clock when the token carries ``iat`` (lifetime = exp - iat,
    counted from when we fetched it), which makes clock skew harmless. Thread-safe.
    """

    def __init__(self, client, project, margin=60.0, clock=time.time):
        self.client = client
        self.project = project
        self.margin = margin
        self.clock = clock
        self.fetches = 0
        self._lock = threading.Lock()
        self._jwt = None
        self._claims = {}
        self._expires_at = None
        self._lifetime = None

    def _fetch(self):
        jwt = self.client.get_upload_token(self.project)
        now = self.clock()
        claims = decode_jwt_claims(jwt)
        exp = claims.get("exp")
        iat = claims.get("iat")
        expires_at = lifetime = None
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            if isinstance(iat, (int, float)) and not isinstance(iat, bool) and exp > iat:
                lifetime = float(exp - iat)
                expires_at = now + lifetime
            else:
                expires_at = float(exp)
                lifetime = max(0.0, expires_at - now)
        self._jwt, self._claims, self._expires_at, self._lifetime = jwt, claims, expires_at, lifetime
        self.fetches += 1

    def _stale(self):
        if self._jwt is None:
            return True
        if self._expires_at is None:
            return False
        margin = min(self.margin, (self._lifetime or 0.0) / 4.0)
        return self.clock() >= self._expires_at - margin

    def get(self, refresh=False):
        """The JWT; a new one when ``refresh`` or when the current one is about to expire."""
        with self._lock:
            if refresh or self._stale():
                self._fetch()
            return self._jwt

    def provider(self):
        """A ``jwt_provider(refresh)`` for one request. A refresh asked with a JWT that another
        thread has already replaced does not fetch again."""
        handed = [None]

        def provide(refresh):
            with self._lock:
                if self._stale() or (refresh and handed[0] == self._jwt):
                    self._fetch()
                handed[0] = self._jwt
                return self._jwt

        return provide

    @property
    def claims(self):
        self.get()
        return dict(self._claims)

    @property
    def max_file_count(self):
        value = self.claims.get("max_file_count_allowed")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return MAX_FILE_COUNT_DEFAULT


# --------------------------------------------------------------------------- check-missing


def missing_hashes(client, token, scan):
    """The hashes of ``scan`` the account does not have (``/pages/assets/check-missing``,
    read-only), in path order."""
    hashes = scan.unique_hashes()
    if not hashes:
        return []
    result = client.assets_request("check-missing", {"hashes": hashes}, token.provider())
    if not isinstance(result, list):
        raise UploadError("check-missing answered %r instead of a list of hashes" % (result,))
    wanted = set(r for r in result if isinstance(r, str))
    return [h for h in hashes if h in wanted]


# --------------------------------------------------------------------------- buckets


class Bucket:
    __slots__ = ("files", "size")

    def __init__(self):
        self.files = []
        self.size = 0


def plan_buckets(files, max_bytes=MAX_BUCKET_BYTES, max_files=MAX_BUCKET_FILES, min_buckets=1):
    """Split ``files`` into buckets of at most ``max_bytes`` raw bytes and ``max_files`` files.

    Largest files first, each into the least-filled bucket that has room (at least
    ``min_buckets`` buckets, so that concurrent requests share the work evenly); a file that fits
    nowhere opens a new bucket. A single file larger than ``max_bytes`` gets a bucket of its own.
    Empty buckets are dropped.
    """
    if not files:
        return []
    total = sum(f.size for f in files)
    count = max(
        1,
        min(len(files), min_buckets),
        -(-total // max_bytes),
        -(-len(files) // max_files),
    )
    buckets = [Bucket() for _index in range(count)]
    heap = [(0, 0, i) for i in range(count)]
    for f in sorted(files, key=lambda x: (-x.size, x.path)):
        placed = False
        while heap:
            size, nfiles, index = heap[0]
            if nfiles >= max_files:
                heapq.heappop(heap)
                continue
            if size + f.size > max_bytes and size > 0:
                break
            bucket = buckets[index]
            bucket.files.append(f)
            bucket.size += f.size
            heapq.heapreplace(heap, (bucket.size, len(bucket.files), index))
            placed = True
            break
        if not placed:
            bucket = Bucket()
            bucket.files.append(f)
            bucket.size = f.size
            buckets.append(bucket)
            heapq.heappush(heap, (bucket.size, 1, len(buckets) - 1))
    return [b for b in buckets if b.files]


def bucket_plan(files, concurrency=UPLOAD_CONCURRENCY, max_bytes=MAX_BUCKET_BYTES, max_files=MAX_BUCKET_FILES):
    """The buckets :func:`upload_missing` uses for ``files``."""
    total = sum(f.size for f in files)
    wanted = min(BUCKETS_PER_WORKER * max(1, concurrency), max(1, -(-total // MIN_BUCKET_BYTES)))
    return plan_buckets(files, max_bytes, max_files, min_buckets=wanted)


def _b64_len(size):
    return 4 * ((size + 2) // 3)


class BucketBody:
    """The JSON body of one ``/pages/assets/upload`` request, produced while it is sent.

    ``[{"key": hash, "value": base64(content), "metadata": {"contentType": type},
    "base64": true}, ...]``: file-like (``read`` and ``len``), so requests sends it with a
    ``Content-Length`` and reads it in blocks; only one read buffer per file is in memory.
    Each instance is read once: make a new one per attempt.
    """

    def __init__(self, files):
        self.files = files
        self._heads = []
        self._tails = []
        length = 2 + max(0, len(files) - 1)
        for f in files:
            head = ('{"key":"%s","value":"' % f.hash).encode("ascii")
            tail = ('","metadata":{"contentType":%s},"base64":true}' % json.dumps(f.content_type)).encode("utf-8")
            self._heads.append(head)
            self._tails.append(tail)
            length += len(head) + _b64_len(f.size) + len(tail)
        self._length = length
        self._pieces = self._generate()
        self._current = b""
        self._offset = 0

    def __len__(self):
        return self._length

    def _generate(self):
        yield b"["
        for index, f in enumerate(self.files):
            if index:
                yield b","
            yield self._heads[index]
            read = 0
            carry = b""
            with open(f.abspath, "rb") as handle:
                while True:
                    chunk = handle.read(_CHUNK)
                    if not chunk:
                        break
                    read += len(chunk)
                    if read > f.size:
                        break
                    if carry:
                        chunk = carry + chunk
                    cut = len(chunk) - len(chunk) % 3
                    carry = chunk[cut:]
                    if cut:
                        yield base64.b64encode(chunk[:cut] if cut < len(chunk) else chunk)
            if read != f.size:
                raise UploadError("%s changed since it was hashed (size %d, now %d); run again" % (f.abspath, f.size, read))
            if carry:
                yield base64.b64encode(carry)
            yield self._tails[index]
        yield b"]"

    def read(self, size=-1):
        if size is None or size < 0:
            rest = [self._current[self._offset:]] + list(self._pieces)
            self._current, self._offset = b"", 0
            return b"".join(rest)
        out = []
        need = size
        while need > 0:
            if self._offset >= len(self._current):
                try:
                    self._current = next(self._pieces)
                except StopIteration:
                    self._current = b""
                    self._offset = 0
                    break
                self._offset = 0
            available = len(self._current) - self._offset
            if self._offset == 0 and available <= need:
                out.append(self._current)
                self._offset = available
                need -= available
            else:
                take = min(available, need)
                out.append(self._current[self._offset:self._offset + take])
                self._offset += take
                need -= take
        return b"".join(out)


def _check_unchanged(files):
    changed = []
    for f in files:
        try:
            st = os.stat(f.abspath)
        except OSError:
            changed.append(f.path)
            continue
        if st.st_size != f.size or (f.mtime_ns is not None and st.st_mtime_ns != f.mtime_ns):
            changed.append(f.path)
    if changed:
        raise UploadError(
            "%d file%s changed or disappeared since the site was hashed: %s; run again"
            % (len(changed), "" if len(changed) == 1 else "s", ", ".join(changed[:20]))
        )


def _counts(scan, sent_files, buckets):
    sent_bytes = sum(f.size for f in sent_files)
    return {
        "files": len(scan.files),
        "bytes": scan.total_bytes,
        "uploaded": len(sent_files),
        "uploaded_bytes": sent_bytes,
        "skipped": len(scan.files) - len(sent_files),
        "buckets": buckets,
    }


def files_to_send(scan, missing):
    """One file per missing hash (identical contents are sent once)."""
    wanted = set(missing)
    out = []
    for f in scan.files:
        if f.hash in wanted:
            out.append(f)
            wanted.discard(f.hash)
    return out


def upload_missing(
    client,
    token,
    scan,
    missing,
    log=None,
    concurrency=UPLOAD_CONCURRENCY,
    max_bucket_bytes=MAX_BUCKET_BYTES,
    max_bucket_files=MAX_BUCKET_FILES,
):
    """Upload the files whose hash is in ``missing`` in buckets, ``concurrency`` at a time, then
    ``upsert-hashes`` with every hash of the site.

    Returns the counts ``files, bytes, uploaded, uploaded_bytes, skipped, buckets`` plus
    ``warnings`` (a list; a failed ``upsert-hashes`` only warns, as in wrangler). One ``log``
    line per bucket. A bucket that still fails after the client's retries raises
    :class:`UploadError`; what was uploaded stays, so a re-run sends only the rest.
    """
    log = log or (lambda line: None)
    send = files_to_send(scan, missing)
    buckets = bucket_plan(send, concurrency, max_bucket_bytes, max_bucket_files)
    _check_unchanged(send)
    stop = threading.Event()
    total = len(buckets)

    def upload(index, bucket):
        if stop.is_set():
            return None
        started = time.monotonic()
        try:
            client.request(
                "POST",
                "/pages/assets/upload",
                data=lambda: BucketBody(bucket.files),
                content_type="application/json",
                idempotent=True,
                jwt_provider=token.provider(),
            )
        except PagesAPIError as err:
            stop.set()
            raise UploadError(
                "failed to upload %d files (bucket %d/%d, %s, e.g. %s): %s. Files already uploaded are kept: "
                "running again uploads only the missing ones."
                % (len(bucket.files), index + 1, total, _mib(bucket.size), bucket.files[0].path, err),
                err.status,
                err.errors,
            )
        except BaseException:
            stop.set()
            raise
        log(
            "uploaded bucket %d/%d: %d files, %s in %.2fs"
            % (index + 1, total, len(bucket.files), _mib(bucket.size), time.monotonic() - started)
        )
        return len(bucket.files)

    if total == 1 or concurrency <= 1:
        for index, bucket in enumerate(buckets):
            upload(index, bucket)
    elif total:
        with ThreadPoolExecutor(max_workers=min(concurrency, total)) as pool:
            futures = [pool.submit(upload, i, b) for i, b in enumerate(buckets)]
            first_error = None
            for future in futures:
                try:
                    future.result()
                except Exception as err:  # pylint: disable=broad-exception-caught
                    if first_error is None:
                        first_error = err
            if first_error is not None:
                raise first_error

    counts = _counts(scan, send, total)
    counts["warnings"] = []
    hashes = scan.unique_hashes()
    if hashes:
        try:
            client.assets_request("upsert-hashes", {"hashes": hashes}, token.provider())
        except PagesAPIError as err:
            counts["warnings"].append(
                "upsert-hashes failed (%s): the upload itself succeeded, but a later deploy may upload "
                "these files again" % err
            )
    return counts


# --------------------------------------------------------------------------- deployment form


def truncate_utf8(text, limit):
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return text if isinstance(text, str) else raw.decode("utf-8")
    return raw[:max(0, limit)].decode("utf-8", "ignore")


def trailer_line(digest):
    """``cfpages-digest: <hex>``: the last line of the commit message we send."""
    return "%s: %s" % (DIGEST_TRAILER, digest[:DIGEST_TRAILER_HEX])


def compose_commit_message(message, digest=None):
    """The ``commit_message`` to send: the user's ``message`` (truncated first) and, when
    ``digest`` is given, a last line ``cfpages-digest: <hex>``; at most 384 UTF-8 bytes."""
    message = message or ""
    if not digest:
        return truncate_utf8(message, MAX_COMMIT_MESSAGE_BYTES) if message else None
    trailer = trailer_line(digest)
    if not message.strip():
        return trailer
    separator = "\n\n"
    budget = MAX_COMMIT_MESSAGE_BYTES - len((separator + trailer).encode("utf-8"))
    return truncate_utf8(message.rstrip("\n"), budget) + separator + trailer


def digest_of_deployment(deployment):
    """The digest recorded in a deployment's commit message trailer, or None."""
    if not isinstance(deployment, dict):
        return None
    metadata = (deployment.get("deployment_trigger") or {}).get("metadata") or {}
    message = metadata.get("commit_message")
    if not isinstance(message, str):
        return None
    match = _TRAILER_RE.search(message)
    return match.group(1) if match else None


def manifest_json(scan):
    return json.dumps(scan.manifest, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def build_deployment_fields(
    scan, branch=None, commit_hash=None, commit_message=None, commit_dirty=None, digest_trailer=True
):
    """The multipart form of ``POST .../deployments`` as requests ``files=`` tuples, in wrangler's
    order: ``manifest``, ``branch``, ``commit_message`` (with the digest trailer, at most 384
    UTF-8 bytes), ``commit_hash``, ``commit_dirty`` (``"true"``/``"false"``), then the special
    files ``_headers``, ``_redirects``, ``_routes.json``, ``_worker.js`` as files (read into
    memory, so a retry re-sends them)."""
    fields = [("manifest", (None, manifest_json(scan).encode("utf-8")))]
    if branch:
        fields.append(("branch", (None, branch)))
    message = compose_commit_message(commit_message, scan.digest if digest_trailer else None)
    if message:
        fields.append(("commit_message", (None, message.encode("utf-8"))))
    if commit_hash:
        fields.append(("commit_hash", (None, commit_hash)))
    if commit_dirty is not None:
        fields.append(("commit_dirty", (None, "true" if commit_dirty else "false")))
    for name in SPECIAL_FILES:
        path = scan.special.get(name)
        if path:
            with open(path, "rb") as handle:
                fields.append((name, (name, handle.read(), _SPECIAL_CONTENT_TYPES[name])))
    return fields


# --------------------------------------------------------------------------- finding deployments

def _stage_status(deployment):
    return stage_of(deployment)[1]


def _digest_matches(deployment, digest):
    found = digest_of_deployment(deployment)
    return bool(found) and digest.startswith(found)


def newest_of_branch(client, project, branch, limit=25):
    """The newest deployment of ``branch`` among the ``limit`` newest of the project, or None."""
    for deployment in client.list_deployments(project, limit=limit):
        if isinstance(deployment, dict) and deployment_branch(deployment) == branch:
            return deployment
    return None


def find_deployment_by_digest(client, project, branch, digest, limit=25, exclude_ids=()):
    """The newest deployment of ``branch`` (among the project's ``limit`` newest) when it
    carries ``digest`` in its commit message trailer and did not fail; else None.

    Only the newest one of the branch counts: an older deployment with the same content is not
    what the branch serves. ``exclude_ids`` are deployments known before a create, so a retry's
    recheck only accepts a deployment the first try made.
    """
    deployment = newest_of_branch(client, project, branch, limit)
    if deployment is None or deployment.get("id") in exclude_ids:
        return None
    if _stage_status(deployment) in FAILED_STATUSES or not _digest_matches(deployment, digest):
        return None
    return deployment


def live_deployment(client, project_info, branch, digest=None, limit=25, need_newest=True):
    """``(live, newest)`` for ``branch``: what the branch serves and its newest deployment.

    Production (``branch`` is the production branch): live is the project's
    ``canonical_deployment`` (rollbacks included) -- or the newest one when that one carries
    ``digest`` and is still in progress (it becomes live when it finishes). Preview: both are
    the newest deployment of the branch. Without ``need_newest``, a live production deployment
    that already carries ``digest`` is returned without listing deployments (newest is None).
    """
    project = project_info["name"]
    if branch == project_info.get("production_branch"):
        live = project_info.get("canonical_deployment")
        if not need_newest and digest and _serves(live, digest):
            return live, None
        newest = newest_of_branch(client, project, branch, limit)
        if (
            digest
            and newest is not None
            and (live is None or newest.get("id") != live.get("id"))
            and _stage_status(newest) not in FAILED_STATUSES + ("success",)
            and _digest_matches(newest, digest)
        ):
            live = newest
        return live, newest
    newest = newest_of_branch(client, project, branch, limit)
    return newest, newest


def _serves(deployment, digest):
    return isinstance(deployment, dict) and _stage_status(deployment) not in FAILED_STATUSES and _digest_matches(deployment, digest)


# --------------------------------------------------------------------------- the whole flow


def deploy_directory(
    client,
    project,
    source_dir,
    branch=None,
    commit_hash=None,
    commit_message=None,
    commit_dirty=None,
    exclude=(),
    force_upload=False,
    check_mode=False,
    log=None,
    force=False,
    follow_symlinks=True,
    concurrency=UPLOAD_CONCURRENCY,
    project_info=None,
    workers=None,
    scan=None,
):
    """Deploy ``source_dir`` to ``project`` (direct upload). Returns a dict:

    ``changed``; ``deployment`` (the created deployment, or the live one when nothing changed,
    or None in check mode); ``upload`` (counts: ``files, bytes, uploaded, uploaded_bytes,
    skipped, buckets`` -- in check mode what would be uploaded); ``scan`` (the :class:`SiteScan`);
    ``branch`` (the branch deployed to); ``digest``; ``warnings`` (list of strings).

    Unchanged (``changed=False``, no upload, no deployment) when what the branch serves carries
    the same site digest (same files, special files and branch), unless ``force``. Check mode
    hashes and asks check-missing only. ``project_info`` saves the GET of the project, and
    ``scan`` (a :class:`SiteScan` of ``source_dir`` the caller already made) the walk and hashing.
    """
    log = log or (lambda line: None)
    if scan is None:
        scan = scan_site(source_dir, exclude=exclude, follow_symlinks=follow_symlinks, workers=workers)
    warnings = list(scan.warnings)
    log(
        "scanned %s: %d files, %s, %d special file(s); hashed in %.2fs"
        % (scan.root, len(scan.files), _mib(scan.total_bytes), len(scan.special), scan.hash_seconds)
    )
    preflight(scan)
    result = {"changed": True, "deployment": None, "scan": scan, "digest": scan.digest, "warnings": warnings}

    info = project_info if project_info is not None else client.get_project(project)
    if info is None:
        if check_mode:
            send = files_to_send(scan, scan.unique_hashes())
            result.update(branch=branch, upload=_counts(scan, send, len(bucket_plan(send, concurrency))))
            warnings.append("project %s does not exist: every file would be uploaded" % project)
            return result
        raise UploadError("Pages project %s does not exist; create it first (create_project: true)" % project)
    effective_branch = branch or info.get("production_branch")
    result["branch"] = effective_branch

    live, newest = live_deployment(client, dict(info, name=project), effective_branch, scan.digest, need_newest=force)
    if not force and _serves(live, scan.digest):
        log("branch %s already serves this site (deployment %s): nothing to do" % (effective_branch, live.get("id")))
        result.update(changed=False, deployment=live, upload=_counts(scan, [], 0))
        return result

    token = UploadToken(client, project)
    preflight(scan, token.max_file_count)
    if force_upload:
        missing = scan.unique_hashes()
    else:
        missing = missing_hashes(client, token, scan)
    log("check-missing: %d of %d distinct contents are missing" % (len(missing), len(scan.unique_hashes())))
    if check_mode:
        send = files_to_send(scan, missing)
        result["upload"] = _counts(scan, send, len(bucket_plan(send, concurrency)))
        return result

    counts = upload_missing(client, token, scan, missing, log=log, concurrency=concurrency)
    warnings.extend(counts.pop("warnings", []))
    result["upload"] = counts

    fields = build_deployment_fields(scan, effective_branch, commit_hash, commit_message, commit_dirty)
    before = tuple(d["id"] for d in (newest, live) if isinstance(d, dict) and d.get("id"))

    def recheck():
        found = find_deployment_by_digest(client, project, effective_branch, scan.digest, exclude_ids=before)
        return found_envelope(found)

    deployment = client.create_deployment(project, fields, recheck=recheck)
    log("created deployment %s" % ((deployment or {}).get("id"),))
    result["deployment"] = deployment
    return result
