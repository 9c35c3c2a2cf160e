# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Deployment events for the Event-Driven Ansible source (extensions/eda/plugins/event_source/deployments.py).

:class:`DeploymentWatcher` remembers the latest stage of every deployment it has seen and, on each
:meth:`~DeploymentWatcher.poll`, returns one event per new deployment and per change of its latest
stage (name or status) since the previous poll. It only calls :class:`PagesClient` (blocking): the
source runs it in a thread. An event holds the few fields below, never the deployment's
``env_vars`` or ``build_config`` (where secrets live)::

    {"cfpages": {"project": "docs",
                 "deployment": {"id", "short_id", "environment", "branch", "stage", "status", "url",
                                "outcome", "skip"},
                 "previous": {"stage", "status"}}}      # both None for a new deployment

``outcome`` is ``success``, ``failure``, ``skipped`` or ``pending`` (``lifecycle.outcome_of``): a
build Cloudflare skipped is ``skipped`` whatever its stage status says, and ``skip`` then holds its
``reason``, ``message`` and ``superseded_by`` (the id of the deployment that superseded it, or None);
``skip`` is None for every other deployment.
"""

from __future__ import annotations

from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import DEPLOYMENTS_PER_PAGE
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError, project_not_found_advice
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.lifecycle import (
    deployment_branch,
    outcome_of,
    skip_details,
    stage_of,
)

# What one poll may cost at most before the source warns: half of Cloudflare's 1,200 requests per
# 5 minutes per user (https://developers.cloudflare.com/fundamentals/api/reference/limits/), so
# modules and the dashboard keep the other half.
QUOTA_SHARE = 600
QUOTA_WINDOW = 300.0


def deployment_event(project, deployment, previous=(None, None), skip=None):
    """The event for ``deployment`` of ``project``; ``previous`` is the (stage, status) seen before;
    ``skip`` is ``lifecycle.skip_details()`` of a skipped build."""
    stage, status = stage_of(deployment)
    if skip is not None:
        newer = skip.get("superseded_by") or {}
        skip = {"reason": skip.get("reason"), "message": skip.get("message"), "superseded_by": newer.get("id")}
    return {
        "cfpages": {
            "project": project,
            "deployment": {
                "id": deployment.get("id"),
                "short_id": deployment.get("short_id"),
                "environment": deployment.get("environment"),
                "branch": deployment_branch(deployment, deployment.get("production_branch")),
                "stage": stage,
                "status": status,
                "url": deployment.get("url"),
                "outcome": outcome_of(deployment),
                "skip": skip,
            },
            "previous": {"stage": previous[0], "status": previous[1]},
        }
    }


def requests_per_window(projects, interval, all_projects):
    """About how many API requests the polls send per rate-limit window (5 minutes)."""
    per_poll = max(1, projects)
    if all_projects:
        per_poll += -(-max(1, projects) // 10)  # the project list, 10 a page
    return per_poll * QUOTA_WINDOW / interval


class DeploymentWatcher:
    """See the module docstring. ``projects``: names to watch, or None for every project of the
    account (listed again on every poll, so new projects are watched from then on).

    ``emit_existing``: whether the first poll of a project reports the deployments it already has
    (as new ones) or only learns them. A project that appears in the account after the first poll
    is new, and so are all its deployments: they are reported either way.
    """

    def __init__(self, client, projects=None, emit_existing=False, log=None):
        self.client = client
        self.projects = list(projects) if projects else None
        self.emit_existing = emit_existing
        self.log = log or (lambda line: None)
        self.seen = {}  # project -> {deployment id: (stage, status)}
        self.polls = 0

    def project_names(self):
        if self.projects is not None:
            return list(self.projects)
        return [p.get("name") for p in self.client.list_projects() if p.get("name")]

    def poll(self):
        """One round over the projects: the events, oldest change first within each project.

        The first poll raises every API error (bad credentials, a listed project that does not
        exist): the source stops with it. Later polls log a project's error and go on.
        """
        first = self.polls == 0
        events = []
        for name in self.project_names():
            try:
                events.extend(self._poll_project(name, first))
            except PagesAPIError as err:
                if first:
                    if err.is_not_found:
                        raise ValueError("project %r does not exist in account %s (projects option). %s"
                                         % (name, self.client.account_id,
                                            project_not_found_advice(name, self.client.account_id))) from err
                    raise
                self.log("polling the deployments of %s failed, trying again next poll: %s" % (name, err))
        self.polls += 1
        return events

    def _poll_project(self, name, first):
        known = self.seen.get(name)
        baseline = known is None and first and not self.emit_existing
        if known is None:
            known = {}
        # The newest page is where new deployments and those still building are (25 a page).
        page = list(self.client.list_deployments(name, limit=DEPLOYMENTS_PER_PAGE))
        on_page = {d.get("id") for d in page}
        # A deployment still building that fell off the page (many new ones): read it alone.
        for deployment_id, (_stage, _status, outcome) in list(known.items()):
            if outcome == "pending" and deployment_id not in on_page:
                deployment = self.client.get_deployment(name, deployment_id)
                if deployment is None:
                    del known[deployment_id]
                else:
                    page.append(deployment)
        events = []
        for deployment in sorted(page, key=lambda d: d.get("created_on") or ""):
            deployment_id = deployment.get("id")
            current = stage_of(deployment)
            before = known.get(deployment_id)
            outcome = outcome_of(deployment)
            if not baseline and (before is None or before[:2] != current or before[2] != outcome):
                # A skipped build costs one more listing, to name the build that superseded it.
                skip = skip_details(self.client, name, deployment) if outcome == "skipped" else None
                events.append(deployment_event(name, deployment, before[:2] if before else (None, None), skip))
            known[deployment_id] = current + (outcome,)
        self.seen[name] = known
        return events
