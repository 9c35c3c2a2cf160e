# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The Workers backend of the upload engine: static assets of a Worker, sent by Cloudflare's
direct upload (developers.cloudflare.com/workers/static-assets/direct-upload/):

1. ``POST .../workers/scripts/{name}/assets-upload-session`` with the manifest (path -> hash, size);
   the server answers the buckets of hashes it does not have and an upload token; no bucket means
   the token is already the completion token;
2. each bucket ``POST .../workers/assets/upload?base64=true`` (multipart, one part per file named by
   its hash, base64 body, the part's type served later) with the upload token; the answer that
   completes the session carries the completion token. The body is streamed from disk
   (:class:`MultipartBody`), never a whole bucket in memory;
3. the completion token goes with the script (``assets.jwt`` of its metadata).

The core is shared with Pages: :mod:`.scan` walks and hashes (wrangler hashes Workers assets exactly
as Pages assets, ``hex(blake3(base64(bytes) + extension))[:32]``: workers-sdk
``packages/deploy-helpers/src/deploy/helpers/hash.ts``, used by its ``assets.ts``), :mod:`.hash_cache`
skips unchanged files, :mod:`.buckets` checks files did not change since they were hashed and
:mod:`.pacing` paces gateway timeouts. What differs is which files are assets (:data:`WORKERS_RULES`,
``.assetsignore``) and the limits.
"""

from __future__ import annotations

import os

from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.bodies import StreamedBody, closing_delimiter, new_boundary, part_head
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import FileCountError, UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import buckets as _buckets
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.content_types import workers_content_type_of
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.throughput import BucketSizer
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.pacing import UploadPacer, bucket_timeout
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.scan import MAX_ASSET_SIZE, ScanRules, format_mib

ASSETS_IGNORE = ".assetsignore"
#: wrangler deploy leaves out the top-level ``.assetsignore``, ``_redirects`` and ``_headers`` (the
#: last two travel in ``assets.config``) and whatever ``.assetsignore`` lists; unlike Pages, nothing
#: else (workers-shared ``utils/helpers.ts`` ``createAssetsIgnoreFunction``).
WORKERS_SPECIAL = ("_headers", "_redirects")
WORKERS_RULES = ScanRules((ASSETS_IGNORE,) + WORKERS_SPECIAL, (), WORKERS_SPECIAL)
#: The documented limits of static assets (developers.cloudflare.com/workers/platform/limits/#static-assets):
#: 20,000 files on the Free plan, 100,000 on paid plans, 25 MiB a file.
FREE_FILE_COUNT = 20000
PAID_FILE_COUNT = 100000
#: The part type that tells Cloudflare to serve a file without Content-Type (wrangler's, for unknown types).
NO_CONTENT_TYPE = "application/null"


def assetsignore_patterns(root):
    """The patterns of ``root/.assetsignore`` as ``exclude`` globs (blank lines and ``#`` comments
    dropped). It uses .gitignore syntax; negations (``!``) are refused rather than half-followed."""
    path = os.path.join(root, ASSETS_IGNORE)
    if not os.path.isfile(path):
        return []
    try:
        with open(path, "r", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UploadError("cannot read %s: %s" % (path, err))
    patterns = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            raise UploadError(
                "%s: negated patterns (%s) are not supported; list what to leave out, or use exclude" % (path, line)
            )
        patterns.append(line)
    return patterns


def preflight(scan, max_file_count=PAID_FILE_COUNT):
    """Refuse files above 25 MiB (each named) and more than ``max_file_count`` files, before any
    request."""
    big = [f for f in scan.files if f.size > MAX_ASSET_SIZE]
    if big:
        listed = ", ".join("%s (%s)" % (f.path, format_mib(f.size)) for f in big[:50])
        raise UploadError(
            "Workers static assets may be at most 25 MiB each; %d file%s too large: %s. Exclude them "
            "(exclude: [...] or .assetsignore) or make them smaller." % (len(big), "" if len(big) == 1 else "s are", listed)
        )
    if len(scan.files) > max_file_count:
        raise FileCountError(
            "the site has %d files but a Worker may have at most %d static assets (%d on the Free plan, "
            "developers.cloudflare.com/workers/platform/limits/#static-assets); exclude files."
            % (len(scan.files), max_file_count, FREE_FILE_COUNT)
        )


def manifest_of(scan):
    """The session's manifest: ``{"/path": {"hash", "size"}}``."""
    return dict((f.path, {"hash": f.hash, "size": f.size}) for f in scan.files)


def read_special(scan):
    """``{"_headers": text, "_redirects": text}`` of the site (those it has), as wrangler sends them in
    ``assets.config``."""
    out = {}
    for name in WORKERS_SPECIAL:
        path = scan.special.get(name)
        if path:
            try:
                with open(path, "rb") as handle:
                    out[name] = handle.read().decode("utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise UploadError("cannot read %s: %s" % (path, err))
    return out


def part_type(site_file):
    """The multipart part's type: the type the file is served with (wrangler's for Workers, not the
    Pages one of ``SiteFile.content_type``), or ``application/null`` for none."""
    return workers_content_type_of(site_file.path) or NO_CONTENT_TYPE


def _part_head(boundary, f):
    return part_head(boundary, f.hash, f.hash, part_type(f))


def _base64_length(size):
    return 4 * ((size + 2) // 3)


def multipart_length(files, boundary):
    """The length in bytes of the :class:`MultipartBody` of ``files``, without reading them."""
    return sum(len(_part_head(boundary, f)) + _base64_length(f.size) + 2 for f in files) + len(closing_delimiter(boundary))


class MultipartBody(StreamedBody):
    """The ``multipart/form-data`` body of one ``/workers/assets/upload?base64=true`` request,
    produced while it is sent (as the Pages ``BucketBody``, with a multipart body): one part per
    file, named by its hash, its content base64-encoded from disk block by block
    (:class:`Base64Stream`), so only one read buffer per file is in memory whatever the bucket's
    size. Read once: make one per attempt. The file must still be what was hashed (size and mtime),
    or :class:`UploadError`."""

    def __init__(self, files, boundary=None, cancel=None):
        # Base64 has no CR or LF, so no part can contain the delimiter "\r\n--<boundary>".
        self.boundary = boundary or new_boundary()
        self.files = files
        self.cancel = cancel
        super().__init__(multipart_length(files, self.boundary))

    @property
    def content_type(self):
        return "multipart/form-data; boundary=%s" % self.boundary

    def _generate(self):
        for f in self.files:
            yield _part_head(self.boundary, f)
            yield from _buckets.sent_content(f, self.cancel)
            yield b"\r\n"
        yield closing_delimiter(self.boundary)


def upload_assets(api, script, scan, concurrency=_buckets.UPLOAD_CONCURRENCY, log=None):
    """Run the direct upload of ``scan`` for ``script`` (a :class:`WorkersApi`). Returns
    ``(completion_jwt, upload_counts)``. Only the files of the buckets the server asks for are read
    and sent, one per hash."""
    log = log or (lambda line: None)
    session = api.assets_upload_session(script, manifest_of(scan))
    jwt = session.get("jwt")
    asked = [list(bucket) for bucket in (session.get("buckets") or []) if bucket]
    if not jwt:
        raise UploadError("the asset upload session answered no token")
    if not asked:
        log("assets: nothing to upload (%d files already known)" % len(scan.files))
        return jwt, _buckets.upload_counts(scan, [], 0)
    by_hash = {}
    for f in scan.files:
        by_hash.setdefault(f.hash, f)
    unknown = [h for bucket in asked for h in bucket if h not in by_hash]
    if unknown:
        raise UploadError("the upload session asked for %d hash(es) the manifest does not have" % len(unknown))
    # The server cuts the buckets; the core's loop sends them (the Pages side plans its own).
    buckets = []
    for hashes in asked:
        bucket = _buckets.Bucket()
        bucket.files = [by_hash[h] for h in hashes]
        bucket.size = sum(f.size for f in bucket.files)
        buckets.append(bucket)
    sent = [f for bucket in buckets for f in bucket.files]
    _buckets.check_unchanged(sent)
    pacer = UploadPacer(concurrency, log)
    completion = []

    def send(bucket):
        # Each attempt gets a new body (read once), with the boundary the Content-Type names.
        body = MultipartBody(bucket.files)
        result = api.upload_assets(
            jwt, lambda: MultipartBody(bucket.files, body.boundary), body.content_type,
            timeout=bucket_timeout(api.client.timeout, len(body)), gateway_backoff=pacer.gateway_backoff,
        )
        if result.get("jwt"):
            completion.append(result["jwt"])
        return len(body)

    # The server's buckets cannot be resized; the sizer still lets fewer run at once on a slow link.
    sizer = BucketSizer(_buckets.MAX_BUCKET_BYTES, concurrency)
    _buckets.send_buckets(buckets, send, concurrency, log=log, pacer=pacer, sizer=sizer)
    if not completion:
        raise UploadError("every asset was uploaded but no answer carried the completion token")
    return completion[-1], _buckets.upload_counts(scan, sent, len(buckets))
