"""Deploy hooks: an unauthenticated POST that starts a build of one branch of a git project.

The real API has no endpoint to create or list hooks (the dashboard makes them,
https://developers.cloudflare.com/pages/configuration/deploy-hooks/); tests register one with
``POST /__emulator/deploy_hooks``. Hooks live in the store's meta table, so they survive a restart
and ``/__emulator/reset`` clears them.
"""
from __future__ import annotations

import json
import uuid

from . import errors

META_KEY = "deploy_hooks"
HOOK_PATH = "/pages/webhooks/deploy_hooks/"


class DeployHooks:
    def __init__(self, store):
        self.store = store

    def _all(self) -> dict:
        return json.loads(self.store.meta_get(META_KEY) or "{}")

    def reset(self):
        self.store.meta_set(META_KEY, "{}")

    def register(self, body, model) -> str:
        """Check ``{"account_id", "project", "branch"}`` and store a new hook; return its id."""
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        account, project, branch = body.get("account_id"), body.get("project"), body.get("branch")
        if not all(isinstance(v, str) and v for v in (account, project)):
            raise ValueError("account_id and project are required strings")
        p = model.store.get_project(account, project)
        if p is None:
            raise ValueError(f"no project {project!r} in account {account}")
        if "source" not in p:
            raise ValueError("deploy hooks exist only for git-connected projects")
        hooks = self._all()
        hook_id = str(uuid.uuid4())
        hooks[hook_id] = {"account": account, "project": project,
                          "branch": branch if isinstance(branch, str) and branch else p["production_branch"]}
        self.store.meta_set(META_KEY, json.dumps(hooks))
        return hook_id

    def trigger(self, hook_id: str, model) -> dict:
        """Start the hook's build; the deployment's trigger type is ``deploy_hook``."""
        hook = self._all().get(hook_id)
        if hook is None:
            # [G] the real body for an unknown hook is not recorded; the not-found shape is a guess
            raise errors.APIError(404, 8000000, "Deploy hook not found.")
        d = model.create_deployment(hook["account"], hook["project"], {"branch": hook["branch"]})
        d["trigger_type"] = "deploy_hook"
        model.store.update_deployment(d)
        return d
