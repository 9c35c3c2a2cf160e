# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The direct-upload flow: deploy a built site to a Pages project the way ``wrangler pages
deploy`` does, uploading only what the account does not have yet (``docs/upload-engine.md``).

A :class:`DeployRequest` is built once from the task's options, and :meth:`DirectUpload.run` is the
one entry a module calls: it plans, then applies unless in check mode. :meth:`DirectUpload.prepare`
makes a :class:`DeployPlan` without changing anything: it scans the site and checks its limits
(``scan``; for a project that does not exist yet, the most files any plan allows), compares its
digest with what the branch serves (asked once: :class:`_deployments.BranchDeployments`), and asks
check-missing (``pages_assets``). :meth:`DirectUpload.apply` uploads the missing files and creates the
deployment; a retry after an ambiguous failure first looks for the deployment
(:meth:`_deployments.BranchDeployments.created_since`), so it is never created twice.

Idempotence: the form's ``commit_message`` ends with a trailer line ``cfpages-digest: <hex>``
(the first :data:`DIGEST_TRAILER_HEX` hex digits of ``SiteScan.digest``, a sha256 over the
manifest and the special files). The API stores the message in
``deployment_trigger.metadata.commit_message``, so a later run reads back what is live on the
branch and reports no change when the digests are equal -- and when the live deployment was
made with the configuration its environment has now (``settings``: a site with code runs
with the environment variables, bindings and settings of the moment its deployment was created).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from dataclasses import dataclass

from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.buckets import (
    MAX_BUCKET_BYTES,
    UPLOAD_CONCURRENCY,
    files_to_send,
    plan_buckets,
    upload_counts,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.pages_assets import (
    MAX_FILE_COUNT_ANY_PLAN,
    UploadToken,
    missing_hashes,
    upload_missing,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.throughput import REQUEST_TIME_LIMIT
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.settings import (
    UNCHANGED,
    ConfigComparison,
    deploy_reason,
    environment_config,
    settings_line,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.lifecycle import (
    FAILED_STATUSES,
    BranchDeployments,
    stage_of,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.hash_cache import cache_summary
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.scan import (
    SPECIAL_FILES,
    WORKER_FILES,
    _Excluder,
    format_mib,
    preflight,
    scan_site,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code.plan import inspect_site
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.site_checks import (
    INDEX_MARKER,
    empty_site_message,
    file_name_problems,
    has_root_index,
    is_empty_site,
    lost_index_warning,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.interrupt import SigintFlag

#: The API keeps at most 384 UTF-8 bytes of a commit message.
MAX_COMMIT_MESSAGE_BYTES = 384

#: Trailer line of the commit message that records the site digest.
DIGEST_TRAILER = "cfpages-digest"
DIGEST_TRAILER_HEX = 32
_TRAILER_RE = re.compile(r"(?:^|\n)%s: ([0-9a-f]{16,64})[ \t\r]*\n?\Z" % DIGEST_TRAILER)

#: Content types of the special files in the deployment form.
_SPECIAL_CONTENT_TYPES = {
    "_headers": "application/octet-stream",
    "_redirects": "application/octet-stream",
}


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


def compose_commit_message(message, digest=None, marks=()):
    """The ``commit_message`` to send: the user's ``message`` (truncated first) and, when
    ``digest`` is given, the lines ``marks`` then a last line ``cfpages-digest: <hex>``; at most
    384 UTF-8 bytes."""
    message = message or ""
    if not digest:
        return truncate_utf8(message, MAX_COMMIT_MESSAGE_BYTES) if message else None
    trailer = "\n".join(list(marks) + [trailer_line(digest)])
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


#: Manifest entries serialised per json.dumps call (ManifestField).
_MANIFEST_BATCH = 4096


class ManifestField:
    """The ``manifest`` field, UTF-8 JSON ``{"/path": "hash", ...}`` sorted by path (the same bytes
    as ``json.dumps(scan.manifest, separators=(",", ":"), ensure_ascii=False, sort_keys=True)``),
    produced a batch of entries at a time while it is sent (``_client.bodies.FormData``): at
    100,000 files neither a dict of the manifest nor its 7 MB of text is held. Its length, which
    the request's ``Content-Length`` needs first, is worked out by a pass that keeps nothing."""

    def __init__(self, scan):
        self._files = sorted(scan.files, key=lambda f: f.path)  # already sorted after a scan: linear
        self._length = None

    def pieces(self):
        files = self._files
        yield b"{"
        for start in range(0, len(files), _MANIFEST_BATCH):
            batch = dict((f.path, f.hash) for f in files[start:start + _MANIFEST_BATCH])
            if start:
                yield b","
            yield json.dumps(batch, separators=(",", ":"), ensure_ascii=False)[1:-1].encode("utf-8")
        yield b"}"

    def __len__(self):
        if self._length is None:
            self._length = sum(len(piece) for piece in self.pieces())
        return self._length

    def __bytes__(self):
        return b"".join(self.pieces())


def build_deployment_fields(
    scan, branch=None, commit_hash=None, commit_message=None, commit_dirty=None, digest_trailer=True,
    digest=None, worker_fields=(), marks=(),
):
    """The multipart form of ``POST .../deployments`` as requests ``files=`` tuples, in wrangler's
    order: ``manifest``, ``branch``, ``commit_message`` (with the trailer of ``digest``, by default
    the scan's, at most 384 UTF-8 bytes), ``commit_hash``, ``commit_dirty`` (``"true"``/``"false"``),
    the special files ``_headers``, ``_redirects`` as files (read into memory, so a retry re-sends
    them), then ``worker_fields`` (``WorkerPlan.fields()``: the worker bundle and its routes).
    ``marks``: more lines for the commit message, before the digest trailer."""
    fields = [("manifest", (None, ManifestField(scan)))]
    if branch:
        fields.append(("branch", (None, branch)))
    marks = ((INDEX_MARKER,) if has_root_index(scan) else ()) + tuple(marks)
    message = compose_commit_message(commit_message, (digest or scan.digest) if digest_trailer else None, marks)
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
    fields.extend(worker_fields)
    return fields


def deploy_digest(site_digest, worker_digest=None):
    """The digest a deployment records: the site's, combined with the worker's when there is one
    (a site without a worker keeps the digest it always had)."""
    if not worker_digest:
        return site_digest
    return hashlib.sha256(("cfpages-deploy-v1\n%s\n%s\n" % (site_digest, worker_digest)).encode("ascii")).hexdigest()


# --------------------------------------------------------------------------- what the branch serves


def carries_digest(deployment, digest):
    """Whether ``deployment`` records ``digest`` in its commit message trailer."""
    found = digest_of_deployment(deployment)
    return bool(found) and digest.startswith(found)


def serves(deployment, digest):
    """Whether ``deployment`` is (or becomes) this site: it carries ``digest`` and did not fail."""
    return (
        isinstance(deployment, dict)
        and stage_of(deployment)[1] not in FAILED_STATUSES
        and carries_digest(deployment, digest)
    )


# --------------------------------------------------------------------------- the whole flow


#: The phases ``upload.timings`` reports, in seconds: ``scan`` (the site's code, the walk, the hash
#: cache), ``hash`` (hashing what the cache did not have, once the walk is done; the digest and the
#: checks), ``worker`` (a Functions build or a bundling by wrangler), ``check_missing`` (the upload
#: token and check-missing), ``upload`` (the buckets and upsert-hashes), ``deployment`` (what the
#: branch serves, and creating the deployment), ``wait`` (waiting for it to finish: the module's).
TIMINGS = ("scan", "hash", "worker", "check_missing", "upload", "deployment", "wait")

#: ``upload_concurrency`` at most: more requests at once share the same uplink and only add load.
MAX_UPLOAD_CONCURRENCY = 10
#: ``max_bucket_bytes`` at least: smaller buckets only add requests (the rate limit counts them).
MIN_BUCKET_BYTES_OPTION = 64 * 1024


@dataclass(frozen=True)
class DeployRequest:
    """What one direct-upload deploy asks for: ``project``, ``source`` (the site directory),
    ``branch`` (None: the production branch), ``production_branch`` (the production branch of a project
    that does not exist yet: the one it is created with), the commit fields, ``exclude`` globs, ``force``
    (deploy even when the branch serves this site), ``force_upload`` (skip check-missing),
    ``follow_symlinks`` (``"all"``/True, ``"inside"``, False: see ``scan.scan_site``), ``allow_empty``
    (deploy a site without files), ``concurrency`` (upload requests at once, at most; the module's
    ``upload_concurrency``), ``max_bucket_bytes`` (file bytes per upload request, at most),
    ``request_time_limit`` (seconds an upload request may take; buckets aim at a tenth of it),
    ``workers`` (hashing threads), ``hash_cache`` (the hash cache's directory; None: the default
    one; False: none). Bad values raise :class:`UploadError` naming the module option."""

    project: str
    source: str
    branch: str | None = None
    commit_hash: str | None = None
    commit_message: str | None = None
    commit_dirty: bool | None = None
    exclude: tuple | list = ()
    force: bool = False
    force_upload: bool = False
    follow_symlinks: bool | str = True
    allow_empty: bool = False
    concurrency: int = UPLOAD_CONCURRENCY
    workers: int | None = None
    functions_dir: str | None = None
    wrangler_executable: str | None = None
    worker_bundle: str = "auto"
    hash_cache: str | bool | None = None
    production_branch: str | None = None
    max_bucket_bytes: int = MAX_BUCKET_BYTES
    request_time_limit: float = REQUEST_TIME_LIMIT

    def __post_init__(self):
        checks = (
            ("upload_concurrency", self.concurrency, 1, MAX_UPLOAD_CONCURRENCY, "requests at once"),
            ("max_bucket_bytes", self.max_bucket_bytes, MIN_BUCKET_BYTES_OPTION, MAX_BUCKET_BYTES,
             "bytes: Pages takes at most 40 MiB of files per upload request, as wrangler sends"),
        )
        for option, value, low, high, unit in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise UploadError("%s must be a whole number from %d to %d %s; got %r" % (option, low, high, unit, value))
        if not self.request_time_limit > 0:
            raise UploadError("request_time_limit must be more than 0 seconds; got %r" % (self.request_time_limit,))

    @classmethod
    def from_options(cls, options):
        """The request of a ``pages_deployment`` task (its module options)."""
        return cls(
            options["project_name"], options["source"], branch=options["branch"],
            production_branch=options["production_branch"] or options["branch"] or "main",
            commit_hash=options["commit_hash"],
            commit_message=options["commit_message"], commit_dirty=options["commit_dirty"],
            exclude=options["exclude"], force=options["force"], force_upload=options["force_upload"],
            functions_dir=options.get("functions_dir"), wrangler_executable=options.get("wrangler_executable"),
            worker_bundle=options.get("worker_bundle") or "auto",
            follow_symlinks=options.get("follow_symlinks", "all"), allow_empty=bool(options.get("allow_empty")),
            hash_cache=options.get("hash_cache"),
            concurrency=_option(options, "upload_concurrency", UPLOAD_CONCURRENCY),
            max_bucket_bytes=_option(options, "max_bucket_bytes", MAX_BUCKET_BYTES),
        )


def _option(options, name, default):
    value = options.get(name)
    return default if value is None else value


class DeployPlan:
    """What :meth:`DirectUpload.apply` would do: ``project_info`` (None: the project does not
    exist), ``branch``, ``view`` (its :class:`BranchDeployments`), ``serving`` (the deployment that serves
    the branch now) and ``live`` (what it serves, or the deployment in progress that will serve this site),
    ``unchanged`` (the branch already serves this site), ``token`` and ``missing`` (hashes to
    upload), ``worker`` (the ``WorkerPlan``) and ``digest`` (the site's and the worker's,
    :func:`deploy_digest`); ``config`` (the configuration of the environment ``branch`` deploys
    to), ``configuration`` (a ``settings.ConfigComparison`` with the live deployment, for a
    site with code that has one; else None) and ``reason`` (``settings.REASONS``)."""

    def __init__(self, scan, project_info, branch, concurrency, worker, max_bucket_bytes=MAX_BUCKET_BYTES):
        self.scan = scan
        self.project_info = project_info
        self.branch = branch
        self.concurrency = concurrency
        self.max_bucket_bytes = max_bucket_bytes
        self.timings = dict.fromkeys(TIMINGS, 0.0)  # the engine's, which fills it
        self.worker = worker
        self.digest = deploy_digest(scan.digest, worker.digest)
        self.warnings = list(scan.warnings) + list(worker.warnings)
        self.view = None
        self.serving = None
        self.live = None
        self.unchanged = False
        self.token = None
        self.missing = []
        self.config = environment_config(project_info, branch)
        self.configuration = None
        self.reason = None

    @property
    def uses_config(self):
        """Whether the deployment's configuration matters: only code (a worker, Functions) reads
        environment variables and bindings, so a static site compares by its files alone."""
        return self.worker.mode != "none"

    def marks(self):
        """The commit message lines that record the configuration (a site with code only)."""
        return (settings_line(self.config),) if self.uses_config else ()

    def upload_counts(self):
        """The ``upload`` counts of what would be uploaded."""
        send = files_to_send(self.scan, self.missing)
        return upload_counts(self.scan, send, len(plan_buckets(send, self.concurrency, self.max_bucket_bytes)))

    def result(self, deployment=None, upload=None):
        """The engine's answer: ``changed``; ``deployment`` (the created one, the live one when
        unchanged, else None); ``upload`` (counts: ``files, bytes, uploaded, uploaded_bytes,
        skipped, buckets, hash_cache_hits``); ``worker`` (``mode, modules, bytes``); ``scan``;
        ``branch``; ``serving`` (the deployment that served the branch before, for a diff's ``before``;
        None for none or no project); ``digest``; ``warnings`` (strings); ``reason`` (why it deploys, or
        ``unchanged``); ``configuration_changes`` (what differs from the live deployment's
        configuration) and ``configuration`` (``{before, after}`` of the compared fields, secret
        values blank; None when not compared)."""
        upload = dict(upload if upload is not None else self.upload_counts())
        upload["hash_cache_hits"] = self.scan.cache_hits
        upload["timings"] = {name: round(seconds, 3) for name, seconds in self.timings.items()}
        return {
            "changed": not self.unchanged,
            "deployment": self.live if self.unchanged else deployment,
            "upload": upload,
            "worker": self.worker.summary(),
            "scan": self.scan,
            "branch": self.branch,
            "serving": self.serving,
            "digest": self.digest,
            "warnings": self.warnings,
            "reason": self.reason,
            "configuration_changes": list(self.configuration.changes) if self.configuration else [],
            "configuration": (
                {"before": self.configuration.before, "after": self.configuration.after} if self.configuration else None
            ),
        }


class DirectUpload:
    """The engine for one :class:`DeployRequest`: :meth:`prepare` (read-only), then :meth:`apply`."""

    def __init__(self, client, request, log=None, run_command=None, code=None, cancel=None):
        self.client = client
        self.request = request
        self.log = log or (lambda line: None)
        self.run_command = run_command  # for a Functions build: AnsibleModule.run_command
        # Set on SIGINT (a SigintFlag the caller entered); None: apply() catches SIGINT itself.
        self.cancel = cancel
        self._scan = None
        self._code = code  # a SiteCode the caller already inspected
        self.timings = dict.fromkeys(TIMINGS, 0.0)  # seconds per phase (TIMINGS), as they pass

    @contextlib.contextmanager
    def _timed(self, phase):
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[phase] += time.monotonic() - started

    def inspect(self):
        """The site's code (``plan.SiteCode``), checked once, without a request: the
        ``_worker.js`` bundle, ``_routes.json``, and wrangler when there are Functions to build.
        ``exclude`` applies to ``_worker.js`` and ``_routes.json`` too."""
        if self._code is None:
            r = self.request
            excluder = _Excluder(r.exclude)
            skip = [name for name in WORKER_FILES if excluder.rules and excluder(name, name)]
            self._code = inspect_site(r.source, r.functions_dir, r.wrangler_executable, skip=skip,
                                      worker_bundle=r.worker_bundle)
        return self._code

    def worker_plan(self, info, branch):
        """The ``WorkerPlan``: the Functions build uses the compatibility date and flags of the
        environment ``branch`` deploys to (``deployment_configs`` of ``info``), as wrangler does."""
        env = "production" if info is None or branch == info.get("production_branch") else "preview"
        config = (((info or {}).get("deployment_configs") or {}).get(env)) or {}
        return self.inspect().plan(
            config.get("compatibility_date") or None, config.get("compatibility_flags") or (), self.log, self.run_command
        )

    def _stop_if_cancelled(self, what):
        if self.cancel is not None and self.cancel.is_set():
            raise UploadError("Interrupted (SIGINT) %s." % what)

    def scan(self):
        """The site, walked and hashed (once), with every file within the per-file size limit."""
        if self._scan is None:
            r = self.request
            started = time.monotonic()
            scan = scan_site(
                r.source, exclude=r.exclude, follow_symlinks=r.follow_symlinks, workers=r.workers,
                hash_cache=r.hash_cache,
            )
            self.timings["scan"] += scan.walk_seconds
            self.timings["hash"] += time.monotonic() - started - scan.walk_seconds
            checks_started = time.monotonic()
            self.log(
                "scanned %s: %d files, %s, %d special file(s); hashed in %.2fs"
                % (scan.root, len(scan.files), format_mib(scan.total_bytes), len(scan.special), scan.hash_seconds)
            )
            if scan.cache is not None:
                self.log(cache_summary(scan))
            preflight(scan)
            problem, name_warnings = file_name_problems(scan)
            if problem:
                raise UploadError(problem)
            scan.warnings.extend(name_warnings)
            if not r.allow_empty and is_empty_site(scan, self.inspect().mode != "none"):
                raise UploadError(empty_site_message(scan.root))
            self.timings["hash"] += time.monotonic() - checks_started
            self._scan = scan
        return self._scan

    def check_new_site(self):
        """Every check of the site that needs no project, with the most files any Pages plan allows as
        the limit: run before a project is created for it, so that a site the API would refuse fails
        first (a project's own limit is known only from its upload token)."""
        self.inspect()
        scan = self.scan()
        preflight(scan, MAX_FILE_COUNT_ANY_PLAN, "the most any Pages plan allows")
        self._stop_if_cancelled("after the site was scanned; nothing was uploaded or changed")
        return scan

    def prepare(self, project_info=None, exists=True):
        """The plan: scan, preflight, compare with what the branch serves (unchanged when it carries
        the same site digest and, for a site with code, was made with the environment's configuration
        as it is now; unless ``force``), then the upload token, the file count limit and check-missing.
        ``project_info`` (the project object) saves its GET, and ``exists=False`` says there is none;
        what the branch serves is listed at most once."""
        r = self.request
        with self._timed("scan"):
            self.inspect()
        scan = self.scan()
        self._stop_if_cancelled("after the site was scanned; nothing was uploaded or changed")
        with self._timed("deployment"):
            info = project_info if project_info is not None or not exists else self.client.get_project(r.project)
        branch = r.branch or (info or {}).get("production_branch") or r.production_branch
        with self._timed("worker"):
            worker = self.worker_plan(info, branch)
        plan = DeployPlan(scan, info, branch, r.concurrency, worker, r.max_bucket_bytes)
        plan.timings = self.timings
        if info is None:
            self.check_new_site()
            plan.reason = deploy_reason(None, False, False)
            plan.missing = scan.unique_hashes()
            plan.warnings.append("project %s does not exist: every file would be uploaded" % r.project)
            return plan
        plan.view = BranchDeployments(self.client, dict(info, name=r.project), plan.branch)
        with self._timed("deployment"):
            plan.serving = plan.view.live()
            plan.live = plan.view.live(carries=lambda deployment: carries_digest(deployment, plan.digest))
        production = plan.branch == info.get("production_branch")
        lost_index = lost_index_warning(scan, info.get("canonical_deployment") if production else None, production)
        if lost_index:
            plan.warnings.append(lost_index)
        if plan.live is not None and plan.uses_config:
            plan.configuration = ConfigComparison(plan.live, plan.config)
        live_failed = plan.live is not None and stage_of(plan.live)[1] in FAILED_STATUSES
        plan.reason = deploy_reason(
            plan.live, carries_digest(plan.live, plan.digest), live_failed, plan.configuration, r.force
        )
        if plan.reason == UNCHANGED:
            self.log(
                "branch %s already serves this site (deployment %s): nothing to do" % (plan.branch, plan.live.get("id"))
            )
            plan.unchanged = True
            return plan
        changes = plan.configuration.changes if plan.configuration else []
        self.log("deploying: %s%s" % (plan.reason, " (%s)" % ", ".join(changes) if changes else ""))
        with self._timed("check_missing"):
            plan.token = UploadToken(self.client, r.project)
            preflight(scan, plan.token.max_file_count)
            plan.missing = scan.unique_hashes() if r.force_upload else missing_hashes(self.client, plan.token, scan)
        self.log(
            "check-missing: %d of %d distinct contents are missing" % (len(plan.missing), len(scan.unique_hashes()))
        )
        return plan

    def apply(self, plan):
        """Upload what ``plan`` found missing and create the deployment; returns :meth:`DeployPlan.result`."""
        r = self.request
        if plan.project_info is None:
            raise UploadError("Pages project %s does not exist; create it first (create_project: true)" % r.project)
        if plan.unchanged:
            return plan.result()
        with contextlib.ExitStack() as stack:
            cancel = self.cancel if self.cancel is not None else stack.enter_context(SigintFlag())
            stack.enter_context(self._timed("upload"))
            counts = upload_missing(
                self.client, plan.token, plan.scan, plan.missing, log=self.log, concurrency=r.concurrency, cancel=cancel,
                max_bucket_bytes=r.max_bucket_bytes, time_limit=r.request_time_limit,
            )
            if cancel.is_set():
                raise UploadError(
                    "Interrupted (SIGINT) after every file was uploaded; no deployment was created. Running the task "
                    "again uploads nothing and creates the deployment."
                )
        plan.warnings.extend(counts.pop("warnings", []))
        fields = build_deployment_fields(plan.scan, plan.branch, r.commit_hash, r.commit_message, r.commit_dirty,
                                         digest=plan.digest, worker_fields=plan.worker.fields(), marks=plan.marks())
        recheck = plan.view.created_since(
            plan.view.known_ids(), accept=lambda deployment: serves(deployment, plan.digest)
        )
        with self._timed("deployment"):
            deployment = self.client.create_deployment(r.project, fields, recheck=recheck)
        self.log("created deployment %s" % ((deployment or {}).get("id"),))
        return plan.result(deployment, counts)

    def run(self, project_info=None, check_mode=False, create_project=None):
        """The one entry for a deploy: :meth:`prepare`, then :meth:`apply` unless ``check_mode`` (which
        reports what would be uploaded). ``create_project`` (a callable returning the project it creates,
        None in check mode) is for a project that does not exist yet: it is called once the site passed
        :meth:`check_new_site`. Unless the caller gave ``cancel``, SIGINT stops the run between steps."""
        with contextlib.ExitStack() as stack:
            if self.cancel is None:
                self.cancel = stack.enter_context(SigintFlag())
                stack.callback(setattr, self, "cancel", None)
            if project_info is None and create_project is not None:
                self.check_new_site()
                project_info = create_project()
                if project_info is None:
                    plan = self.prepare(exists=False)
                    return plan.result() if check_mode else self.apply(plan)
            plan = self.prepare(project_info)
            return plan.result() if check_mode else self.apply(plan)
