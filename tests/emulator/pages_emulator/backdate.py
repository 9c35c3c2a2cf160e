"""Backdating a deployment: make it look older, so that tests of age rules (``older_than``, a
clean-up's "older than N days") need not wait. ``POST /__emulator/backdate``.

Only ``created_at`` moves (and with it ``created_on`` and the stage times derived from it); the
deployment keeps its place in the newest-first order, which follows creation.
"""
from __future__ import annotations

from .util import iso


class BackdateError(ValueError):
    """Bad request to the endpoint; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def backdate(store, values) -> dict:
    """Move deployment ``deployment_id`` of ``project`` (``account_id`` when several accounts have
    one of that name) ``seconds`` back in time; return ``{"id", "created_on"}``."""
    if not isinstance(values, dict):
        raise BackdateError("body must be a JSON object")
    unknown = sorted(set(values) - {"project", "deployment_id", "seconds", "account_id"})
    if unknown:
        raise BackdateError(f"unknown key(s): {', '.join(unknown)}")
    seconds = values.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise BackdateError("seconds must be a number, 0 or more")
    name, dep_id, account = values.get("project"), values.get("deployment_id"), values.get("account_id")
    projects = [p for p in store.find_projects_by_name(name) if account is None or p["account"] == account]
    if len(projects) > 1:
        raise BackdateError(f"several accounts have a project named {name!r}: set account_id")
    d = store.get_deployment(dep_id) if isinstance(dep_id, str) else None
    if not projects or d is None or d["project_id"] != projects[0]["id"]:
        raise BackdateError(f"no deployment {dep_id!r} in a project named {name!r}", 404)
    d["created_at"] -= seconds
    check = d.get("worker_check")
    if isinstance(check, dict) and check.get("ended_at") is not None:
        check["ended_at"] = max(d["created_at"], check["ended_at"] - seconds)
    store.update_deployment(d)
    return {"id": d["id"], "created_on": iso(d["created_at"])}
