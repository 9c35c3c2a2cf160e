# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""How an asset is named: ``blake3(base64(content) + extension)[:32]``, wrangler's rule for Pages
assets (packages/wrangler/src/pages/hash.ts), computed streamed so that no file is ever wholly in
memory. Backend-neutral: every upload backend keys its files this way."""

from __future__ import annotations

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import UploadError
import base64
import os
import traceback


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

# Raw bytes read per step while a file is hashed or sent: a multiple of 3, so that base64 of the
# chunks concatenates to base64 of the whole file. Small, so that the hashing and upload threads
# reuse their freed buffers (the read and its 128 KiB of base64) instead of each thread's glibc
# arena keeping megabytes of freed 768 KiB and 1 MiB ones (about 15 MiB at 100,000 files, measured
# with MALLOC_ARENA_MAX=1 as the reference). requests hands a body to the socket 16 KiB at a time.
_CHUNK = 3 * 32 * 1024
# The step for a file blake3 hashes with several threads: updates big enough to share out.
_THREADED_CHUNK = 3 * 256 * 1024
# Files at least this big are hashed by blake3 with several threads.
_BLAKE3_THREADS_FROM = 8 * MiB


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
    """base64 of a file, produced in pieces while the file is read ``chunk`` bytes at a time (a
    multiple of 3, the odd bytes carried over), so the whole file is never in memory.

    Iterate once. ``bytes_read`` counts the raw bytes read; with ``limit``, reading stops as
    soon as more than ``limit`` bytes were read (the file grew), and the rest is not encoded.
    """

    def __init__(self, abspath, limit=None, chunk=_CHUNK):
        self.abspath = abspath
        self.limit = limit
        self.chunk = chunk
        self.bytes_read = 0

    def __iter__(self):
        carry = b""
        with open(self.abspath, "rb") as handle:
            while True:
                # read(n) allocates n bytes before it knows the file is shorter: with ``limit`` ask
                # for no more than can come (one byte past it tells a grown file), so a small file
                # never costs a 768 KiB buffer (100,000 of them left freed memory scattered).
                want = self.chunk if self.limit is None else min(self.chunk, self.limit + 1 - self.bytes_read)
                chunk = handle.read(want)
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
        stream = Base64Stream(abspath, chunk=_THREADED_CHUNK)
    else:
        digest = _blake3.blake3()
        stream = Base64Stream(abspath)
    for piece in stream:
        digest.update(piece)
    digest.update(extension.encode("utf-8"))
    return digest.hexdigest()[:32], stream.bytes_read
