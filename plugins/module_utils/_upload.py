# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The direct-upload flow: deploy a built site to a Pages project the way ``wrangler pages
deploy`` does, uploading only what the account does not have yet (``docs/upload-engine.md``).

A :class:`DeployRequest` is built once from the task's options. :meth:`DirectUpload.prepare`
makes a :class:`DeployPlan` without changing anything: it scans the site and checks its limits
(``_site``), compares its digest with what the branch serves, and asks check-missing
(``_assets``). :meth:`DirectUpload.apply` uploads the missing files and creates the deployment;
a retry after an ambiguous failure first looks for the deployment
(:func:`find_deployment_by_digest`), so it is never created twice.

Idempotence: the form's ``commit_message`` ends with a trailer line ``cfpages-digest: <hex>``
(the first :data:`DIGEST_TRAILER_HEX` hex digits of ``SiteScan.digest``, a sha256 over the
manifest and the special files). The API stores the message in
``deployment_trigger.metadata.commit_message``, so a later run reads back what is live on the
branch and reports no change when the digests are equal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ansible_collections.cfpages.cloudflare.plugins.module_utils._api import found_envelope
from ansible_collections.cfpages.cloudflare.plugins.module_utils._assets import (
    UPLOAD_CONCURRENCY,
    UploadToken,
    files_to_send,
    missing_hashes,
    plan_buckets,
    upload_counts,
    upload_missing,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments import (
    FAILED_STATUSES,
    deployment_branch,
    stage_of,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._site import (
    SPECIAL_FILES,
    UploadError,
    format_mib,
    preflight,
    scan_site,
)

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
    "_routes.json": "application/json",
    "_worker.js": "application/javascript",
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


@dataclass(frozen=True)
class DeployRequest:
    """What one direct-upload deploy asks for: ``project``, ``source`` (the site directory),
    ``branch`` (None: the production branch), the commit fields, ``exclude`` globs, ``force``
    (deploy even when the branch serves this site), ``force_upload`` (skip check-missing),
    ``follow_symlinks``, ``concurrency`` (upload requests at once), ``workers`` (hashing threads)."""

    project: str
    source: str
    branch: str | None = None
    commit_hash: str | None = None
    commit_message: str | None = None
    commit_dirty: bool | None = None
    exclude: tuple | list = ()
    force: bool = False
    force_upload: bool = False
    follow_symlinks: bool = True
    concurrency: int = UPLOAD_CONCURRENCY
    workers: int | None = None

    @classmethod
    def from_options(cls, options, branch):
        """The request of a ``pages_deployment`` task (its module options) deploying to ``branch``."""
        return cls(
            options["project_name"], options["source"], branch=branch, commit_hash=options["commit_hash"],
            commit_message=options["commit_message"], commit_dirty=options["commit_dirty"],
            exclude=options["exclude"], force=options["force"], force_upload=options["force_upload"],
        )


class DeployPlan:
    """What :meth:`DirectUpload.apply` would do: ``project_info`` (None: the project does not
    exist), ``branch``, ``live`` and ``newest`` (deployments of the branch), ``unchanged`` (the
    branch already serves this site), ``token`` and ``missing`` (hashes to upload)."""

    def __init__(self, scan, project_info, branch, concurrency):
        self.scan = scan
        self.project_info = project_info
        self.branch = branch
        self.concurrency = concurrency
        self.warnings = list(scan.warnings)
        self.live = None
        self.newest = None
        self.unchanged = False
        self.token = None
        self.missing = []

    def upload_counts(self):
        """The ``upload`` counts of what would be uploaded."""
        send = files_to_send(self.scan, self.missing)
        return upload_counts(self.scan, send, len(plan_buckets(send, self.concurrency)))

    def result(self, deployment=None, upload=None):
        """The engine's answer: ``changed``; ``deployment`` (the created one, the live one when
        unchanged, else None); ``upload`` (counts: ``files, bytes, uploaded, uploaded_bytes,
        skipped, buckets``); ``scan``; ``branch``; ``digest``; ``warnings`` (strings)."""
        return {
            "changed": not self.unchanged,
            "deployment": self.live if self.unchanged else deployment,
            "upload": upload if upload is not None else self.upload_counts(),
            "scan": self.scan,
            "branch": self.branch,
            "digest": self.scan.digest,
            "warnings": self.warnings,
        }


class DirectUpload:
    """The engine for one :class:`DeployRequest`: :meth:`prepare` (read-only), then :meth:`apply`."""

    def __init__(self, client, request, log=None):
        self.client = client
        self.request = request
        self.log = log or (lambda line: None)
        self._scan = None

    def scan(self):
        """The site, walked and hashed (once), with every file within the per-file size limit."""
        if self._scan is None:
            r = self.request
            scan = scan_site(r.source, exclude=r.exclude, follow_symlinks=r.follow_symlinks, workers=r.workers)
            self.log(
                "scanned %s: %d files, %s, %d special file(s); hashed in %.2fs"
                % (scan.root, len(scan.files), format_mib(scan.total_bytes), len(scan.special), scan.hash_seconds)
            )
            preflight(scan)
            self._scan = scan
        return self._scan

    def prepare(self, project_info=None):
        """The plan: scan, preflight, compare with what the branch serves (unchanged when it carries
        the same site digest, unless ``force``), then the upload token, the file count limit and
        check-missing. ``project_info`` (the project object) saves its GET."""
        r = self.request
        scan = self.scan()
        info = project_info if project_info is not None else self.client.get_project(r.project)
        plan = DeployPlan(scan, info, r.branch or (info or {}).get("production_branch"), r.concurrency)
        if info is None:
            plan.missing = scan.unique_hashes()
            plan.warnings.append("project %s does not exist: every file would be uploaded" % r.project)
            return plan
        plan.live, plan.newest = live_deployment(
            self.client, dict(info, name=r.project), plan.branch, scan.digest, need_newest=r.force
        )
        if not r.force and _serves(plan.live, scan.digest):
            self.log(
                "branch %s already serves this site (deployment %s): nothing to do" % (plan.branch, plan.live.get("id"))
            )
            plan.unchanged = True
            return plan
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
        counts = upload_missing(
            self.client, plan.token, plan.scan, plan.missing, log=self.log, concurrency=r.concurrency
        )
        plan.warnings.extend(counts.pop("warnings", []))
        fields = build_deployment_fields(plan.scan, plan.branch, r.commit_hash, r.commit_message, r.commit_dirty)
        before = tuple(d["id"] for d in (plan.newest, plan.live) if isinstance(d, dict) and d.get("id"))

        def recheck():
            found = find_deployment_by_digest(self.client, r.project, plan.branch, plan.scan.digest, exclude_ids=before)
            return found_envelope(found)

        deployment = self.client.create_deployment(r.project, fields, recheck=recheck)
        self.log("created deployment %s" % ((deployment or {}).get("id"),))
        return plan.result(deployment, counts)

    def run(self, project_info=None, check_mode=False):
        """:meth:`prepare`, then :meth:`apply` unless ``check_mode`` (which reports what would be uploaded)."""
        plan = self.prepare(project_info)
        return plan.result() if check_mode else self.apply(plan)
