"""Branch heads of git-connected projects: the commit a build of a branch checks out.

A build request names only the branch (the API builds its head), so a test sets the head with
``POST /__emulator/branch_head`` to make two builds see the same commit, or a push between them.
The head is stored with the project (it goes with the project on a reset or a delete).
"""
from __future__ import annotations

import re

COMMIT_HASH_RE = re.compile(r"^[0-9a-f]{7,64}$")


class BranchHeadError(ValueError):
    """Bad request to the endpoint; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _text(values: dict, key: str, required: bool) -> str | None:
    value = values.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BranchHeadError(f"{key} must be a non-empty string")
    return value


def set_branch_head(store, values) -> dict:
    """Record ``values`` (``project``, ``branch``, ``commit_hash``, optional ``commit_message``
    and ``account_id``) as the head of that branch; return what was recorded."""
    if not isinstance(values, dict):
        raise BranchHeadError("body must be a JSON object")
    unknown = sorted(set(values) - {"project", "branch", "commit_hash", "commit_message", "account_id"})
    if unknown:
        raise BranchHeadError(f"unknown key(s): {', '.join(unknown)}")
    name = _text(values, "project", True)
    branch = _text(values, "branch", True)
    commit_hash = _text(values, "commit_hash", True)
    if not COMMIT_HASH_RE.match(commit_hash):
        raise BranchHeadError("commit_hash must be 7 to 64 lowercase hex characters")
    message = values.get("commit_message")
    if message is not None and not isinstance(message, str):
        raise BranchHeadError("commit_message must be a string")
    account = _text(values, "account_id", False)
    found = [p for p in store.find_projects_by_name(name) if account is None or p["account"] == account]
    if not found:
        raise BranchHeadError(f"no project named {name!r}", 404)
    if len(found) > 1:
        raise BranchHeadError(f"several accounts have a project named {name!r}: set account_id")
    project = found[0]
    if "source" not in project:
        raise BranchHeadError(f"project {name!r} is a Direct Upload project: it has no git branches")
    head = {"commit_hash": commit_hash, "commit_message": message if message is not None else f"HEAD of {branch}"}
    project.setdefault("branch_heads", {})[branch] = head
    store.update_project(project)
    return {"project": name, "branch": branch, **head}


def branch_head(project: dict, branch: str) -> dict | None:
    """``{"commit_hash", "commit_message"}`` set for ``branch`` of ``project``, or None."""
    return (project.get("branch_heads") or {}).get(branch)
