# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Deleting every deployment of a preview branch (``pages_deployment`` ``state=absent`` with ``branch``).

The clean-up of a closed pull request's previews. It is a prune with no keep rule, narrowed to one
branch: the branch's deployments come from :meth:`BranchDeployments.every` (the one paging rule),
:func:`plan_prune` decides (so a build still running is skipped, as a prune skips it), and
:func:`execute_prune` deletes, a few at a time inside the rate-limit budget. Every deletion is forced:
the newest deployment holds the branch alias, and while the deletions run in parallel the alias
moves to the next-newest one, which an unforced delete would then be refused for (8000035).
"""

from __future__ import annotations

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import BranchCleanupRefused
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.lifecycle import (
    PREVIEW,
    BranchDeployments,
    apply_prune,
    canonical_id,
    plan_prune,
    project_production_branch,
)


def plan_branch_cleanup(view):
    """``(deployments, plan)`` for deleting every deployment of ``view.branch`` (a :class:`BranchDeployments`).

    ``plan`` is :func:`plan_prune`'s (``kept`` empty, ``delete`` oldest first, each forced, ``skipped``
    the builds still running). Raises :class:`BranchCleanupRefused` for the production branch, before
    any deployment is listed.
    """
    branch = view.branch
    if not branch:
        raise BranchCleanupRefused("branch must name a preview branch to delete its deployments, not an empty string.")
    production_branch = project_production_branch(view.project)
    if view.production:
        raise BranchCleanupRefused(
            "Branch %s is the production branch of project %s: state=absent with branch deletes only the deployments "
            "of a preview branch. Delete old production deployments with state=pruned, or one with deployment_id."
            % (branch, view.project.get("name"))
        )
    deployments = view.every()
    plan = plan_prune(
        deployments,
        canonical=canonical_id(view.project),
        environment=PREVIEW,
        branch=branch,
        delete_aliased=True,
        production_branch=production_branch,
    )
    for entry in plan["delete"]:
        why = "a deployment of preview branch '%s' (state=absent with branch)" % branch
        if entry["aliases"]:
            why += "; it served the branch alias"
        entry.update(reason=why, force=True)
    return deployments, plan


class BranchCleanup:
    """Delete every deployment of ``branch`` of ``project`` (the project object, or None when it does
    not exist: nothing to delete). After :meth:`run`: :meth:`result` (the module's result keys),
    :meth:`diff`, ``warnings``, and ``error`` / ``status`` when the task must fail."""

    def __init__(self, client, project, branch):
        self.client = client
        self.project = project
        self.branch = branch
        self.before = []
        self.report = {"branch": branch, "deleted": [], "skipped": [], "failed": []}
        self.warnings = []
        self.error = None
        self.status = None

    def run(self, check_mode, log=None):
        if self.project is None:
            return self
        deployments, plan = plan_branch_cleanup(BranchDeployments(self.client, self.project, self.branch))
        self.before = [d["id"] for d in deployments]
        report, stopped = apply_prune(self.client, self.project["name"], plan, check_mode, log=log)
        self.report.update(report)
        if stopped is not None:
            self.status = stopped.status
            self.error = (
                "deleting the deployments of branch %s stopped after %d of %d (%d not attempted): %s. Run the task "
                "again to delete the rest." % (self.branch, len(report["deleted"]), len(plan["delete"]),
                                               len(report["remaining"]), stopped)
            )
        elif report["failed"]:
            self.error = "%d of %d deletions of branch %s failed: %s" % (
                len(report["failed"]), len(plan["delete"]), self.branch,
                "; ".join("%s: %s" % (f["id"], f["reason"]) for f in report["failed"]))
        if self.report["skipped"]:
            self.warnings.append(
                "%d deployment(s) of branch %s were not deleted (%s); run the task again once they ended."
                % (len(self.report["skipped"]), self.branch,
                   "; ".join("%s: %s" % (e["id"], e["reason"]) for e in self.report["skipped"]))
            )
        return self

    @property
    def deleted_ids(self):
        return [entry["id"] for entry in self.report["deleted"]]

    def result(self):
        return {"changed": bool(self.report["deleted"]), "branch_cleanup": self.report, "deleted_ids": self.deleted_ids}

    def diff(self):
        gone = set(self.deleted_ids)
        return (
            {"branch": self.branch, "deployments": self.before},
            {"branch": self.branch, "deployments": [i for i in self.before if i not in gone]},
        )
