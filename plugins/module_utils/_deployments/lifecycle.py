# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Deployment lifecycle logic shared by ``pages_deployment`` and the info/prune tooling.

Everything here is either a pure function over API objects (environment resolution, stage
interpretation, prune planning) or a small loop over :class:`PagesClient` calls (waiting for a
deployment, the build-log tail, finding the live deployment of a branch). Nothing here calls
``fail_json``: callers decide what a result means for their task.
"""

from __future__ import annotations

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import (
    BulkStopped,
    DEPLOYMENT_NOT_FOUND,
    PagesAPIError,
    PruneStopped,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import found_envelope
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.bulk import BULK_WORKERS, run_bulk
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.poll import DONE, poll_until
from ansible_collections.cfpages.cloudflare.plugins.module_utils._time import parse_timestamp

PRODUCTION = "production"
PREVIEW = "preview"
ENVIRONMENTS = (PRODUCTION, PREVIEW)

# Code of "You cannot delete an aliased deployment without a `?force=true` parameter".
ALIASED_DELETE_CODE = 8000035

# latest_stage.status values (pages-api.md 3.4) that end a deployment.
FAILED_STATUSES = ("failure", "canceled")
FINAL_STAGE = "deploy"

LOG_TAIL_LINES = 20

# Deployment.skip_reason (Cloudflare API reference, Pages Deployment object): why Pages skipped a
# build. Since 2026-08-11 a queued build that a newer build of the same branch supersedes is
# skipped with superseded_queued_build (developers.cloudflare.com/changelog, Pages).
SUPERSEDED = "superseded_queued_build"
SKIP_REASONS = {
    "commit_message": "the commit message asked to skip it ([CI Skip] or similar)",
    "preview_deployments_disabled": "preview deployments are turned off for the project",
    "production_deployments_disabled": "production deployments are turned off for the project",
    "path_config": "no changed file matches the project's build watch paths",
    "branch_config": "the project's branch settings exclude this branch",
    "pages_to_workers_conversion": "the project is being converted to a Worker",
    SUPERSEDED: "a newer build of the same branch superseded it while it was queued",
}


# --------------------------------------------------------------------------- small readers


def project_production_branch(project, default=None):
    if isinstance(project, dict) and project.get("production_branch"):
        return project["production_branch"]
    return default


def canonical_id(project):
    """The id of the live production deployment of ``project`` (None when there is none)."""
    canonical = (project or {}).get("canonical_deployment") if isinstance(project, dict) else None
    if isinstance(canonical, dict):
        return canonical.get("id")
    return None


def is_git_project(project):
    """A project connected to GitHub/GitLab has a ``source``; direct-upload projects have none."""
    return bool(isinstance(project, dict) and project.get("source"))


def resolve_environment(production_branch, branch):
    """The environment a deployment of ``branch`` lands in.

    The API deploys to production when ``branch`` is omitted or equals the project's production
    branch, and to preview otherwise (pages-api.md section 4; wrangler's ``isProduction``).
    """
    if branch is None or branch == "" or branch == production_branch:
        return PRODUCTION
    return PREVIEW


def deployment_branch(deployment, production_branch=None):
    """The branch a deployment was made for (``deployment_trigger.metadata.branch``).

    Falls back to the production branch for a production deployment without branch metadata,
    and to ``""`` for a preview one.
    """
    trigger = deployment.get("deployment_trigger") or {}
    metadata = trigger.get("metadata") or {}
    branch = metadata.get("branch")
    if branch:
        return branch
    if deployment.get("environment") == PRODUCTION and production_branch:
        return production_branch
    return ""


def deployment_commit_hash(deployment):
    trigger = deployment.get("deployment_trigger") or {}
    return (trigger.get("metadata") or {}).get("commit_hash")


def stage_of(deployment):
    """``(name, status)`` of the deployment's ``latest_stage`` (``(None, None)`` when absent)."""
    stage = deployment.get("latest_stage") if isinstance(deployment, dict) else None
    if not isinstance(stage, dict):
        return None, None
    return stage.get("name"), stage.get("status")


def outcome_of(deployment):
    """``success``, ``failure``, ``skipped`` or ``pending`` for a deployment object.

    A build Cloudflare skipped (``is_skipped``) is ``skipped`` whatever its stage says (a skipped
    build's queued stage may read ``canceled``: it never ran, it did not fail). Otherwise a
    deployment has succeeded when its ``deploy`` stage succeeded and has failed when any stage
    ended in ``failure`` or ``canceled``.
    """
    if isinstance(deployment, dict) and deployment.get("is_skipped") is True:
        return "skipped"
    name, status = stage_of(deployment)
    if status in FAILED_STATUSES:
        return "failure"
    if name == FINAL_STAGE and status == "success":
        return "success"
    return "pending"


def skip_text(reason):
    """What a ``skip_reason`` means, in words (an unknown one is shown as it is)."""
    if not reason:
        return "Cloudflare gave no reason"
    return "%s (%s)" % (SKIP_REASONS[reason], reason) if reason in SKIP_REASONS else str(reason)


def superseding_deployment(client, project, deployment):
    """The deployment that superseded ``deployment`` (a build skipped as superseded_queued_build):
    the first later deployment of its branch, in its environment, that Cloudflare did not skip; None
    when there is none (any more). ``project`` is the project's name."""
    branch = deployment_branch(deployment, deployment.get("production_branch"))
    created = parse_timestamp(deployment.get("created_on"))
    later = []
    for other in client.list_deployments(project, env=deployment.get("environment") or None):
        if not isinstance(other, dict) or other.get("id") == deployment.get("id"):
            continue
        when = parse_timestamp(other.get("created_on"))
        if when is None or created is None or when <= created:
            break  # newest first: the rest are older
        if deployment_branch(other, other.get("production_branch")) == branch and other.get("is_skipped") is not True:
            later.append(other)
    return later[-1] if later else None


def skip_details(client, project, deployment):
    """What a module or event reports for a skipped build: ``reason`` (the API's ``skip_reason``),
    ``message`` (in words) and ``superseded_by`` (:func:`summarize` of the deployment that superseded
    it, for superseded_queued_build when it can be found; else None). None when not skipped."""
    if not isinstance(deployment, dict) or deployment.get("is_skipped") is not True:
        return None
    reason = deployment.get("skip_reason")
    newer = None
    if reason == SUPERSEDED:
        try:
            newer = superseding_deployment(client, project, deployment)
        except PagesAPIError:
            newer = None  # the skip is the news; who superseded it is a detail
    message = "Cloudflare skipped deployment %s: %s." % (deployment.get("id"), skip_text(reason))
    if newer is not None:
        message += " Deployment %s (%s) builds branch %s instead." % (
            newer.get("id"), newer.get("url"), deployment_branch(newer, newer.get("production_branch")))
    return {
        "reason": reason,
        "message": message,
        "superseded_by": summarize(newer, newer.get("production_branch")) if newer is not None else None,
    }


def stage_text(deployment):
    name, status = stage_of(deployment)
    if name is None:
        return "unknown stage"
    return "%s (%s)" % (name, status)


# --------------------------------------------------------------------------- summaries


def summarize(deployment, production_branch=None):
    """The few fields of a deployment that reports (prune lists, messages) show."""
    name, status = stage_of(deployment)
    return {
        "id": deployment.get("id"),
        "short_id": deployment.get("short_id"),
        "environment": deployment.get("environment"),
        "branch": deployment_branch(deployment, production_branch),
        "created_on": deployment.get("created_on"),
        "url": deployment.get("url"),
        "aliases": deployment.get("aliases") or [],
        "stage": "%s:%s" % (name, status) if name else None,
    }


# --------------------------------------------------------------------------- prune planning


def newest_per_branch(deployments, production_branch=None):
    """Ids of the newest deployment of every branch in ``deployments`` (newest-first order)."""
    seen = set()
    ids = set()
    for deployment in _newest_first(deployments):
        branch = deployment_branch(deployment, production_branch)
        if branch in seen:
            continue
        seen.add(branch)
        ids.add(deployment.get("id"))
    return ids


def _newest_first(deployments):
    """Newest first by ``created_on``; the API's order breaks ties (stable sort)."""
    indexed = list(enumerate(deployments))

    def key(item):
        index, deployment = item
        created = parse_timestamp(deployment.get("created_on"))
        return (-(created.timestamp() if created is not None else float("-inf")), index)

    return [deployment for _index, deployment in sorted(indexed, key=key)]


def serves_custom_domains(deployment):
    """True for a production deployment whose ``aliases`` list a custom domain (a URL not on
    ``pages.dev``): the API lists them on the live one (wrangler keeps only the ``.pages.dev``
    alias for that reason, workers-sdk packages/wrangler/src/pages/deploy.ts)."""
    if not isinstance(deployment, dict) or deployment.get("environment") != "production":
        return False
    for alias in deployment.get("aliases") or []:
        host = str(alias).split("://", 1)[-1].split("/", 1)[0].lower()
        if host and not host.endswith(".pages.dev"):
            return True
    return False


def plan_prune(
    deployments,
    canonical=None,
    keep=None,
    keep_per_branch=None,
    cutoff=None,
    environment=None,
    branch=None,
    delete_aliased=False,
    production_branch=None,
):
    """Decide which deployments a prune deletes. Pure: no API calls.

    ``deployments`` is every deployment of the project (any order; the function sorts newest
    first). ``canonical`` is the id of the live production deployment. ``cutoff`` (an aware
    datetime, from ``_time.older_than_cutoff()``) is the ``older_than`` rule: only deployments
    created before it may be deleted.

    Rules, in this order, for every deployment of the selected ``environment`` / ``branch``:

    1. *kept* when it is one of the newest ``keep`` of its environment, or one of the newest
       ``keep_per_branch`` of its branch, or created at or after ``cutoff`` (any rule keeps it);
    2. otherwise *skipped* when it is the live production deployment (always; also a production
       deployment whose ``aliases`` list custom domains, which only the live one does), when its build is
       still running, when it is aliased (has ``aliases``, or is the newest deployment of its
       branch, which holds the branch alias and which Cloudflare refuses to delete without
       ``force``) and ``delete_aliased`` is false, or when it is the newest successful production
       deployment (always: after a rollback the API may report either it or the rollback's target
       as ``canonical_deployment``, and which one cannot be checked offline);
    3. otherwise *deleted* (with ``force`` when it is aliased).

    Returns ``{"kept": [...], "delete": [...], "skipped": [...]}``; each entry is
    :func:`summarize` plus ``reason`` (and ``force`` for deletions). ``delete`` is oldest first.
    """
    if keep is not None and keep < 0:
        raise ValueError("keep cannot be negative")
    if keep_per_branch is not None and keep_per_branch < 0:
        raise ValueError("keep_per_branch cannot be negative")

    ordered = _newest_first([d for d in deployments if isinstance(d, dict) and d.get("id")])
    newest_ids = newest_per_branch(ordered, production_branch)
    newest_production = next(
        (d.get("id") for d in ordered if d.get("environment") == "production" and outcome_of(d) == "success"), None
    )

    env_rank = {}
    branch_rank = {}
    kept, delete, skipped = [], [], []
    for deployment in ordered:
        env = deployment.get("environment")
        dep_branch = deployment_branch(deployment, production_branch)
        if environment is not None and env != environment:
            continue
        if branch is not None and dep_branch != branch:
            continue
        env_position = env_rank.get(env, 0)
        env_rank[env] = env_position + 1
        branch_position = branch_rank.get(dep_branch, 0)
        branch_rank[dep_branch] = branch_position + 1

        record = summarize(deployment, production_branch)
        created = parse_timestamp(deployment.get("created_on"))

        reason = None
        if keep is not None and env_position < keep:
            reason = "one of the newest %d %s deployments (keep)" % (keep, env)
        elif keep_per_branch is not None and branch_position < keep_per_branch:
            reason = "one of the newest %d deployments of branch '%s' (keep_per_branch)" % (keep_per_branch, dep_branch)
        elif cutoff is not None and created is None:
            reason = "its age is unknown (created_on %r), so older_than cannot select it" % deployment.get("created_on")
        elif cutoff is not None and created >= cutoff:
            reason = "created after %s (older_than)" % cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
        if reason is not None:
            kept.append(dict(record, reason=reason))
            continue

        aliased = bool(deployment.get("aliases")) or deployment.get("id") in newest_ids
        if canonical is not None and deployment.get("id") == canonical:
            skipped.append(dict(record, reason="the live production deployment (canonical) is never deleted"))
        elif serves_custom_domains(deployment):
            skipped.append(dict(record, reason="it serves the custom domains in its aliases, so it is live: never deleted"))
        elif outcome_of(deployment) == "pending":
            skipped.append(dict(record, reason="still in progress (%s)" % stage_text(deployment)))
        elif aliased and not delete_aliased:
            if deployment.get("id") in newest_ids:
                why = "the newest deployment of branch '%s' holds the branch alias" % dep_branch
            else:
                why = "aliased (%s)" % ", ".join(deployment.get("aliases") or [])
            skipped.append(dict(record, reason="%s; Cloudflare deletes it only with force (set delete_aliased)" % why))
        elif deployment.get("id") == newest_production:
            skipped.append(
                dict(record, reason="the newest successful production deployment is never deleted (it may be the live one)")
            )
        else:
            reason = "not kept by any rule"
            if aliased:
                reason += "; aliased, deleted with force (delete_aliased)"
            delete.append(dict(record, reason=reason, force=aliased))

    delete.reverse()  # oldest first
    return {"kept": kept, "delete": delete, "skipped": skipped}


def execute_prune(client, project, planned, log=None, workers=BULK_WORKERS):
    """Delete the planned deployments (ids collected beforehand, oldest first), ``workers`` at a time.

    Returns ``(deleted, skipped, failed)``: a deployment that is already gone, or that the API
    refuses as aliased, is *skipped* (with the reason); any other error is *failed*, and the
    remaining deletions are still attempted. Raises :class:`PruneStopped` when the client's
    rate-limit budget is spent or the task is interrupted.
    """
    log = log or (lambda line: None)

    def delete(entry):
        client.delete_deployment(project, entry["id"], force=bool(entry.get("force")))
        log("deleted deployment %s (%s, branch %s)" % (entry["id"], entry.get("environment"), entry.get("branch")))

    stopped = None
    try:
        done, failures = run_bulk(planned, delete, workers=workers, pacer=getattr(client, "pacer", None))
    except BulkStopped as exc:
        stopped, done, failures = exc, exc.done, exc.failures
    deleted = [dict(entry) for entry in done]
    skipped, failed = [], []
    for entry, err in failures:
        if err.has_code(DEPLOYMENT_NOT_FOUND):  # a bare 404 is a wrong URL, not "already deleted"
            skipped.append(dict(entry, reason="already deleted"))
        elif err.has_code(ALIASED_DELETE_CODE):
            skipped.append(dict(entry, reason="Cloudflare refused it as aliased: %s" % err.message))
        else:
            failed.append(dict(entry, reason="delete failed: %s" % err))
    deleted, skipped, failed = without_force(deleted), without_force(skipped), without_force(failed)
    if stopped is not None:
        raise PruneStopped(str(stopped), stopped.status, deleted, skipped, failed, without_force(stopped.not_attempted))
    return deleted, skipped, failed


def without_force(entries):
    """The planned deletions as reported: without the ``force`` flag the plan gives each."""
    return [dict((k, v) for k, v in entry.items() if k != "force") for entry in entries]


def apply_prune(client, project, plan, check_mode, log=None):
    """Carry out :func:`plan_prune`'s ``plan`` (in check mode: only report it).

    Returns ``(report, stopped)``: ``report`` holds ``deleted`` (in check mode: what would be),
    ``skipped`` (the plan's and the API's) and ``failed``, plus ``remaining`` when the deletions
    stopped part-way; ``stopped`` is then the :class:`PruneStopped`, else None.
    """
    report = {"deleted": [], "skipped": list(plan["skipped"]), "failed": []}
    if check_mode:
        report["deleted"] = without_force(plan["delete"])
        return report, None
    stopped = None
    try:
        deleted, skipped, failed = execute_prune(client, project, plan["delete"], log=log)
    except PruneStopped as exc:
        stopped, deleted, skipped, failed = exc, exc.deleted, exc.skipped, exc.failed
        report["remaining"] = exc.remaining
    report["deleted"] = deleted
    report["skipped"].extend(skipped)
    report["failed"] = failed
    return report, stopped


# --------------------------------------------------------------------------- what a branch serves


def newest_of_branch(client, project, branch, environment=None):
    """The newest deployment of ``branch`` of ``project`` (the project object), or None.

    The one paging rule of every look-up here: the deployments of the branch's environment
    (``environment``, else the one ``branch`` deploys to), newest first, page after page until
    the first one of the branch, so a branch whose last deployment is older than the newest 25
    is still found, and the usual case costs one request.
    """
    production_branch = project_production_branch(project)
    environment = environment or resolve_environment(production_branch, branch)
    for deployment in client.list_deployments(project["name"], env=environment):
        if isinstance(deployment, dict) and deployment_branch(deployment, production_branch) == branch:
            return deployment
    return None


class BranchDeployments:
    """What ``branch`` of ``project`` (the project object) serves, and its newest deployment
    (listed once, when first needed). Every caller that asks "what is live on this branch" --
    the diff's ``before``, a build's no-op check, the direct upload's no-op check and the
    recheck of a retried POST -- asks it here, so their answers agree."""

    def __init__(self, client, project, branch):
        self.client = client
        self.project = project
        self.branch = branch
        self._newest = None
        self._listed = False

    @property
    def production(self):
        return resolve_environment(project_production_branch(self.project), self.branch) == PRODUCTION

    @property
    def canonical(self):
        live = self.project.get("canonical_deployment")
        return live if isinstance(live, dict) and live.get("id") else None

    @property
    def newest(self):
        if not self._listed:
            self._newest = newest_of_branch(self.client, self.project, self.branch)
            self._listed = True
        return self._newest

    def every(self):
        """Every deployment of the branch in the environment it deploys to, newest first (all pages:
        the API cannot filter by branch)."""
        production_branch = project_production_branch(self.project)
        environment = PRODUCTION if self.production else PREVIEW
        return [
            d for d in self.client.list_deployments(self.project["name"], env=environment)
            if isinstance(d, dict) and deployment_branch(d, production_branch) == self.branch
        ]

    def live(self, carries=None):
        """The deployment that serves the branch, or None.

        Production: the project's ``canonical_deployment`` (which a rollback moves). With
        ``carries`` (a predicate, e.g. "has this site's digest"), a newest deployment that is
        still in progress and ``carries`` counts as live, since it becomes live when it
        finishes -- unless the canonical one ``carries`` already (then nothing is listed).
        Preview: the newest deployment of the branch (it holds the branch alias).
        """
        if not self.production:
            return self.newest
        canonical = self.canonical
        if carries is None or (canonical is not None and carries(canonical)):
            return canonical
        newest = self.newest
        if newest is not None and outcome_of(newest) == "pending" and carries(newest):
            return newest
        return canonical

    def known_ids(self):
        """The ids of the deployments seen so far (what a create must not mistake for its own)."""
        seen = (self.canonical, self.newest)
        return frozenset(d["id"] for d in seen if isinstance(d, dict) and d.get("id"))

    def created_since(self, known_ids, accept=None, environment=None):
        """A ``recheck`` for a POST that creates a deployment of the branch (a deploy, a build, a
        retry): the envelope of the newest deployment of the branch when it is not one of
        ``known_ids`` (read before the POST) and ``accept(deployment)`` (when given); else None."""

        def recheck():
            newest = newest_of_branch(self.client, self.project, self.branch, environment)
            if newest is None or newest.get("id") in known_ids:
                return None
            return found_envelope(newest) if accept is None or accept(newest) else None

        return recheck


def find_live_deployment(client, project, branch):
    """The deployment that currently serves ``branch`` (see :meth:`BranchDeployments.live`)."""
    return BranchDeployments(client, project, branch).live()


def is_newest_of_branch(client, project, deployment):
    """Whether ``deployment`` is the newest deployment of its branch (it holds the branch alias)."""
    branch = deployment_branch(deployment, project_production_branch(project))
    newest = newest_of_branch(client, project, branch, deployment.get("environment") or None)
    return newest is not None and newest.get("id") == deployment.get("id")


def log_tail(client, project, deployment_id, lines=LOG_TAIL_LINES):
    """The last ``lines`` lines of the deployment's build log (``[]`` when there is none), taken
    from the end of the whole log (``data`` is oldest first)."""
    try:
        logs = client.get_deployment_logs(project, deployment_id) or {}
    except PagesAPIError:
        return []
    data = logs.get("data") if isinstance(logs, dict) else None
    if not isinstance(data, list):
        return []
    text = []
    for entry in data[-lines:] if lines else data:
        if isinstance(entry, dict):
            text.append(str(entry.get("line", "")))
        else:
            text.append(str(entry))
    return text


def wait_for_deployment(client, project, deployment, timeout, log=None):
    """Poll the deployment until it succeeded, failed or ``timeout`` seconds passed.

    Returns ``(deployment, outcome)`` with outcome ``success``, ``failure``, ``skipped``,
    ``timeout`` or ``missing`` (deleted while waiting). Polls after 1 s, then every 1.5x longer up
    to 5 s (:func:`_poll.poll_until`); logs every stage change.
    """
    log = log or (lambda line: None)
    stages = []

    def settled(current):
        stage = stage_text(current)
        if not stages or stages[-1] != stage:
            log("deployment %s: %s" % (current.get("id"), stage))
            stages.append(stage)
        return outcome_of(current) != "pending"

    def refresh(current):
        return client.get_deployment(project, current["id"])

    current, state = poll_until(deployment, refresh, settled, timeout, interval=1.0, max_interval=5.0, factor=1.5)
    if state == DONE:
        return current, outcome_of(current)
    return current, state
