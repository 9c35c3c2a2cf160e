# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one fake of the Pages API for the module tests: projects, deployments (aliases, stages,
build logs) and custom domains in memory, behind the methods of ``PagesClient``.

Installed with ``install_client`` (``fakes.autospec_client``), so every call a module makes is
checked against PagesClient's real signature. The conftest fixture ``pages_api`` does that and
shares the tests' one clock (``fakes.Clock``): objects created during a test are stamped with
it. The fake answers as the API does (``None`` for a missing object, :class:`PagesAPIError`
with Cloudflare's codes for a refused change, PATCH merging the named maps of a project) and
logs each call in ``calls`` as ``(method, positional arguments...)``.

To make the API do something else once: :meth:`FakePagesAPI.inject` (an error, another
answer, or something that happens just before the call, like another run deleting the object).
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from datetime import datetime, timezone

from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import DEPLOYMENTS_PER_PAGE, PROJECT_EXISTS
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import (
    DEPLOYMENT_NOT_FOUND,
    DOMAIN_NOT_FOUND,
    PROJECT_NOT_FOUND,
    PagesAPIError,
)
from ansible_collections.cfpages.cloudflare.plugins.modules.pages_project import BINDING_MAPS
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fakes import Clock

# The maps of named entries in a deployment config: a PATCH merges them entry by entry (null deletes one).
MAP_KEYS = ("env_vars",) + tuple(BINDING_MAPS)
# Calls that change nothing (everything else counts as a mutation).
READS = ("get_project", "list_projects", "list_deployments", "get_deployment", "get_deployment_logs",
         "list_domains", "get_domain", "get_upload_token", ("assets_request", "check-missing"))
CANNOT_DELETE_LIVE = 8000034
CANNOT_DELETE_ALIASED = 8000035
TOO_MANY_DEPLOYMENTS = 8000076
DIRECT_UPLOAD_CANNOT_GET_SOURCE = 8000039
_NO_ANSWER = object()


def api_error(status, code, message, method=None, path=None):
    return PagesAPIError("%s [code %d]" % (message, code), status, [{"code": code, "message": message}], method, path)


def stamp(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_env():
    return {
        "env_vars": None,
        "fail_open": True,
        "always_use_latest_compatibility_date": False,
        "compatibility_date": "2025-01-15",
        "compatibility_flags": [],
        "usage_model": "standard",
    }


def deployment(ident, environment="production", branch="main", stage=("deploy", "success"), aliases=None,
               commit_hash="", commit_message="", created_on="2026-09-01T00:00:00Z", **extra):
    """A Deployment object as the API returns it; ``stage`` is its latest stage (name, status)."""
    out = {
        "id": ident,
        "short_id": ident[:8],
        "environment": environment,
        "url": "https://%s.site.pages.dev" % ident[:8],
        "aliases": aliases,
        "created_on": created_on,
        "latest_stage": {"name": stage[0], "status": stage[1]},
        "deployment_trigger": {"type": "ad_hoc", "metadata": {
            "branch": branch, "commit_hash": commit_hash, "commit_message": commit_message}},
    }
    out.update(extra)
    return out


def domain(name, status="active", method="http", error=None, **extra):
    """A custom domain as the API returns it; ``error`` is the validation's error message."""
    validation = {"status": status, "method": method}
    verification = {"status": "active" if status == "active" else "pending"}
    if error:
        validation["error_message"] = error
        verification = {"status": "error", "error_message": error}
    out = {
        "id": "dom-" + name,
        "name": name,
        "status": status,
        "certificate_authority": "google",
        "zone_tag": "z" * 32,
        "validation_data": validation,
        "verification_data": verification,
    }
    out.update(extra)
    return out


class FakePagesAPI:
    """The Pages API of one account, in memory (see the module docstring)."""

    def __init__(self, clock=None):
        self.clock = clock or Clock()
        self.projects = {}  # name -> project as stored (secrets included)
        self.deployments = {}  # project -> [deployment], newest first
        self.domains = {}  # project -> {name: domain}
        self.logs = {}  # (project, deployment id) -> build log
        self.calls = []
        self.pages_read = 0  # pages of deployments read
        self.delete_limit = None  # a project with more deployments is not deleted (8000076)
        self.pacer = None  # PagesClient's rate-limit pacer (read by autospec_client)
        self._deployment_stages = {}  # (project, id) -> stages still to report, one per GET
        self._domain_statuses = {}  # (project, name) -> statuses still to report, one per GET
        self._builds = []  # what the next created deployments look like
        self._created = 0
        self._injected = []
        self.disconnected = set()  # git projects whose repository was disconnected
        self.assets = set()  # hashes of the account's uploaded assets
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ setting up

    def seed_project(self, name, **fields):
        """A project as the API creates it, with ``fields`` on top (``deployment_configs`` merged per environment)."""
        project = {
            "id": "id-" + name,
            "name": name,
            "subdomain": name + ".pages.dev",
            "domains": [name + ".pages.dev"],
            "production_branch": "main",
            "created_on": stamp(self.clock.time()),
            "build_config": {"web_analytics_tag": None, "web_analytics_token": None},
            "deployment_configs": {env: default_env() for env in ("production", "preview")},
            "latest_deployment": None,
            "canonical_deployment": None,
        }
        for key, value in fields.items():
            if key == "deployment_configs":
                for env, conf in value.items():
                    project["deployment_configs"][env].update(copy.deepcopy(conf))
            else:
                project[key] = copy.deepcopy(value)
        self.projects[name] = project
        self.deployments.setdefault(name, [])
        self.domains.setdefault(name, {})
        return project

    def seed_deployment(self, project, ident, live=False, stages=(), **fields):
        """Add :func:`deployment` ``(ident, **fields)`` as the oldest so far (add them newest first).
        ``live`` makes it the project's canonical deployment; ``stages`` are what successive GETs
        report as its latest stage, the last one staying."""
        item = deployment(ident, **fields)
        self.deployments[project].append(item)
        if live:
            self.projects[project]["canonical_deployment"] = item
        if stages:
            self._deployment_stages[(project, ident)] = list(stages)
        return item

    def remove_deployment(self, project, ident):
        """Delete a deployment behind the module's back (another run, the dashboard)."""
        self.deployments[project] = [d for d in self.deployments[project] if d["id"] != ident]

    def expect_build(self, stages=(("deploy", "success"),), **fields):
        """What the next created (or retried) deployment is: its stages (see seed_deployment) and
        fields overriding what the request asked for (``commit_hash`` built, say)."""
        self._builds.append((list(stages), fields))

    def seed_domain(self, project, name, statuses=(), **fields):
        """Add :func:`domain` ``(name, **fields)``; ``statuses`` are what successive GETs of it
        report (``"error"`` with an error message, None once it is gone), the last one staying."""
        item = domain(name, **fields)
        self.domains[project][name] = item
        if statuses:
            self._domain_statuses[(project, name)] = list(statuses)
        return item

    def script_domain(self, project, name, statuses):
        """The statuses successive GETs of a domain report from now on (see seed_domain)."""
        self._domain_statuses[(project, name)] = list(statuses)

    def inject(self, method, error=None, answer=_NO_ANSWER, before=None, match=None):
        """Once, at the next call of ``method`` (whose arguments include ``match``, when given):
        run ``before()``, then raise ``error``, or answer ``answer`` instead of what the API would."""
        self._injected.append((method, match, before, error, answer))

    # ------------------------------------------------------------------ looking at what happened

    def mutations(self):
        return [c for c in self.calls if c[0] not in READS and c[:2] not in READS]

    def called(self, method):
        return [c for c in self.calls if c[0] == method]

    # ------------------------------------------------------------------ the API

    def _enter(self, method, *args):
        """Log the call; run what was injected for it, if anything (else: _NO_ANSWER)."""
        with self._lock:
            self.calls.append((method,) + args)
            found = next((i for i, injected in enumerate(self._injected)
                          if injected[0] == method and (injected[1] is None or injected[1] in args)), None)
            if found is None:
                return _NO_ANSWER
            _method, _match, before, error, answer = self._injected.pop(found)
        if before is not None:
            before()
        if error is not None:
            raise error
        return answer

    def _project(self, name):
        if name not in self.projects:
            raise api_error(404, PROJECT_NOT_FOUND, "Project not found.")
        return self.projects[name]

    def _render(self, name):
        project = copy.deepcopy(self.projects[name])
        project["domains"] = [project["subdomain"]] + list(self.domains[name])
        # The API never returns the value of a secret_text variable.
        for conf in project["deployment_configs"].values():
            for entry in (conf.get("env_vars") or {}).values():
                if entry and entry.get("type") == "secret_text":
                    entry["value"] = ""
        return project

    @staticmethod
    def _merge_config(target, patch):
        for key, value in patch.items():
            if key in MAP_KEYS:
                if value is None:
                    target.pop(key, None)
                    continue
                merged = dict(target.get(key) or {})
                for entry_name, entry in value.items():
                    if entry is None:
                        merged.pop(entry_name, None)
                    else:
                        merged[entry_name] = copy.deepcopy(entry)
                target[key] = merged or (None if key == "env_vars" else {})
            else:
                target[key] = copy.deepcopy(value)

    # projects

    def get_project(self, name):
        answer = self._enter("get_project", name)
        if answer is not _NO_ANSWER:
            return answer
        return self._render(name) if name in self.projects else None

    def list_projects(self, limit=None):
        answer = self._enter("list_projects")
        if answer is not _NO_ANSWER:
            return iter(answer)
        names = list(self.projects)[:limit] if limit is not None else list(self.projects)
        return iter([self._render(name) for name in names])

    def _create_project(self, body):
        name = body["name"]
        if name in self.projects:
            raise api_error(409, PROJECT_EXISTS, "A project with this name already exists.", "POST", "/projects")
        project = self.seed_project(name, production_branch=body["production_branch"])
        project["build_config"].update(copy.deepcopy(body.get("build_config") or {}))
        if "source" in body:
            project["source"] = copy.deepcopy(body["source"])
        for env, conf in (body.get("deployment_configs") or {}).items():
            self._merge_config(project["deployment_configs"][env], conf)
        return self._render(name)

    def create_project(self, body):
        answer = self._enter("create_project", body)
        return self._create_project(body) if answer is _NO_ANSWER else answer

    def create_project_or_existing(self, body):
        answer = self._enter("create_project_or_existing", copy.deepcopy(body))
        if answer is not _NO_ANSWER:
            return answer
        if body["name"] in self.projects:  # another run created it after our read
            return self._render(body["name"]), False
        return self._create_project(body), True

    def update_project(self, name, body):
        answer = self._enter("update_project", name, copy.deepcopy(body))
        if answer is not _NO_ANSWER:
            return answer
        project = self._project(name)
        if "source" in body and "source" not in project:
            raise api_error(400, DIRECT_UPLOAD_CANNOT_GET_SOURCE,
                            "A Direct Upload project cannot be connected to a Git repository.")
        for key, value in body.items():
            if key == "deployment_configs":
                for env, conf in value.items():
                    self._merge_config(project["deployment_configs"][env], conf)
            elif key == "source":
                project["source"]["type"] = value.get("type", project["source"]["type"])
                project["source"].setdefault("config", {}).update(copy.deepcopy(value.get("config") or {}))
            elif key == "build_config":
                project[key].update(copy.deepcopy(value))
            else:
                project[key] = copy.deepcopy(value)
        return self._render(name)

    def connect_source(self, name, source):
        answer = self._enter("connect_source", name, copy.deepcopy(source))
        if answer is not _NO_ANSWER:
            return answer
        project = self._project(name)
        if "source" not in project and name not in self.disconnected:
            raise api_error(400, DIRECT_UPLOAD_CANNOT_GET_SOURCE,
                            "A Direct Upload project cannot be connected to a Git repository.", "POST", "/source")
        project["source"] = copy.deepcopy(source)
        self.disconnected.discard(name)
        return self._render(name)

    def disconnect_source(self, name):
        answer = self._enter("disconnect_source", name)
        if answer is not _NO_ANSWER:
            return answer
        project = self._project(name)
        if "source" not in project:
            raise api_error(400, DIRECT_UPLOAD_CANNOT_GET_SOURCE, "The project has no Git repository.", "DELETE",
                            "/source")
        del project["source"]
        self.disconnected.add(name)  # still a git project: it can be connected again
        return self._render(name)

    def delete_project(self, name, missing_ok=False):
        answer = self._enter("delete_project", name)
        if answer is not _NO_ANSWER:
            return answer
        if name not in self.projects:
            if missing_ok:
                return False
            self._project(name)
        if self.delete_limit is not None and len(self.deployments[name]) > self.delete_limit:
            raise api_error(400, TOO_MANY_DEPLOYMENTS, "Your project has too many deployments to be deleted.")
        del self.projects[name]
        return True

    def purge_build_cache(self, name):
        answer = self._enter("purge_build_cache", name)
        if answer is _NO_ANSWER:
            self._project(name)

    # deployments

    def list_deployments(self, project, env=None, limit=None):
        answer = self._enter("list_deployments", project, env)
        if answer is not _NO_ANSWER:
            return iter(answer)
        self._project(project)
        return self._pages(project, env, limit)

    def _pages(self, project, env, limit):
        items = [d for d in self.deployments[project] if env is None or d["environment"] == env]
        if limit is not None:
            items = items[:limit]
        for start in range(0, len(items), DEPLOYMENTS_PER_PAGE):
            self.pages_read += 1
            for item in items[start:start + DEPLOYMENTS_PER_PAGE]:
                yield copy.deepcopy(item)

    def _find(self, project, ident):
        for item in self.deployments.get(project, []):
            if item["id"] == ident:
                return item
        return None

    def get_deployment(self, project, deployment_id):
        answer = self._enter("get_deployment", project, deployment_id)
        if answer is not _NO_ANSWER:
            return answer
        item = self._find(project, deployment_id)
        if item is None:
            return None
        stages = self._deployment_stages.get((project, deployment_id))
        if stages:
            name, status = stages.pop(0) if len(stages) > 1 else stages[0]
            item["latest_stage"] = {"name": name, "status": status}
        return copy.deepcopy(item)

    def _new_deployment(self, prefix, project, environment, branch, commit_hash="", commit_message=""):
        self._created += 1
        stages, fields = self._builds.pop(0) if self._builds else ([("deploy", "success")], {})
        fields = dict(dict(environment=environment, branch=branch, commit_hash=commit_hash,
                           commit_message=commit_message, created_on=stamp(self.clock.time())), **fields)
        ident = fields.pop("id", "%s-%04d" % (prefix, self._created))
        item = deployment(ident, stage=("queued", "active"), **fields)
        answer = copy.deepcopy(item)  # the POST answers before the build starts
        self.deployments[project].insert(0, item)
        self._deployment_stages[(project, ident)] = stages
        if environment == "production" and tuple(stages[-1]) == ("deploy", "success"):
            # It goes live when its build ends; the fake does not model when that is.
            self.projects[project]["canonical_deployment"] = item
        return answer

    def create_deployment(self, project, fields, recheck=None):
        answer = self._enter("create_deployment", project, fields)
        if answer is not _NO_ANSWER:
            return answer
        info = self._project(project)
        form = dict((name, value[1]) for name, value in fields)
        branch = form.get("branch") or info["production_branch"]
        environment = "production" if branch == info["production_branch"] else "preview"
        return self._new_deployment("new-build", project, environment, branch, form.get("commit_hash", ""), form.get("commit_message", ""))

    def delete_deployment(self, project, deployment_id, force=False, missing_ok=False):
        answer = self._enter("delete_deployment", project, deployment_id, force)
        if answer is not _NO_ANSWER:
            return answer
        item = self._find(project, deployment_id)
        if item is None:
            if missing_ok:
                return False
            raise api_error(404, DEPLOYMENT_NOT_FOUND, "Deployment not found.", "DELETE", "/deployments")
        if (self.projects[project].get("canonical_deployment") or {}).get("id") == deployment_id:
            raise api_error(400, CANNOT_DELETE_LIVE, "You cannot delete the active production deployment.")
        if item.get("aliases") and not force:
            raise api_error(400, CANNOT_DELETE_ALIASED, "You cannot delete an aliased deployment without force.")
        self.deployments[project].remove(item)
        return True

    def rollback_deployment(self, project, deployment_id):
        answer = self._enter("rollback_deployment", project, deployment_id)
        if answer is not _NO_ANSWER:
            return answer
        item = self._find(project, deployment_id)
        if item is None:
            raise api_error(404, DEPLOYMENT_NOT_FOUND, "Deployment not found.", "POST", "/rollback")
        self.projects[project]["canonical_deployment"] = copy.deepcopy(item)
        return copy.deepcopy(item)

    def retry_deployment(self, project, deployment_id, recheck=None):
        answer = self._enter("retry_deployment", project, deployment_id)
        if answer is not _NO_ANSWER:
            return answer
        original = self._find(project, deployment_id)
        if original is None:
            raise api_error(404, DEPLOYMENT_NOT_FOUND, "Deployment not found.", "POST", "/retry")
        meta = original["deployment_trigger"]["metadata"]
        return self._new_deployment("retried", project, original["environment"], meta["branch"], meta["commit_hash"],
                                    meta["commit_message"])

    def get_deployment_logs(self, project, deployment_id):
        answer = self._enter("get_deployment_logs", project, deployment_id)
        if answer is not _NO_ANSWER:
            return answer
        return copy.deepcopy(self.logs.get((project, deployment_id), {"total": 0, "data": []}))

    # assets (the direct upload's read-only steps: the upload token and check-missing)

    def get_upload_token(self, name):
        answer = self._enter("get_upload_token", name)
        if answer is not _NO_ANSWER:
            return answer
        self._project(name)
        claims = json.dumps({"max_file_count_allowed": 20000}).encode("ascii")
        return "e30.%s.unsigned" % base64.urlsafe_b64encode(claims).decode("ascii").rstrip("=")

    def assets_request(self, endpoint, body, jwt_provider):
        answer = self._enter("assets_request", endpoint)
        if answer is not _NO_ANSWER:
            return answer
        jwt_provider(False)
        if endpoint == "check-missing":
            return [h for h in body["hashes"] if h not in self.assets]
        if endpoint == "upsert-hashes":
            self.assets.update(body["hashes"])
            return True
        raise AssertionError("the fake has no assets endpoint %r" % endpoint)

    # domains

    def list_domains(self, project):
        answer = self._enter("list_domains", project)
        if answer is not _NO_ANSWER:
            return answer
        self._project(project)
        return [copy.deepcopy(item) for item in self.domains[project].values()]

    def get_domain(self, project, name):
        answer = self._enter("get_domain", project, name)
        if answer is not _NO_ANSWER:
            return answer
        item = self.domains.get(project, {}).get(name)
        if item is None:
            return None
        statuses = self._domain_statuses.get((project, name))
        if statuses:
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
            if status is None:
                del self.domains[project][name]
                return None
            item = self.domains[project][name] = domain(
                name, status, error="CNAME record not set" if status == "error" else None)
        return copy.deepcopy(item)

    def add_domain(self, project, name):
        answer = self._enter("add_domain", project, name)
        if answer is not _NO_ANSWER:
            return answer
        self._project(project)
        self.domains[project][name] = domain(name, "initializing")
        return copy.deepcopy(self.domains[project][name])

    def retry_domain_validation(self, project, name):
        answer = self._enter("retry_domain_validation", project, name)
        if answer is not _NO_ANSWER:
            return answer
        if name not in self.domains.get(project, {}):
            raise api_error(404, DOMAIN_NOT_FOUND, "Domain not found.", "PATCH", "/domains")
        self.domains[project][name] = domain(name, "initializing")
        return copy.deepcopy(self.domains[project][name])

    def delete_domain(self, project, name, missing_ok=False):
        answer = self._enter("delete_domain", project, name)
        if answer is not _NO_ANSWER:
            return answer
        if name not in self.domains.get(project, {}):
            if missing_ok:
                return False
            raise api_error(404, DOMAIN_NOT_FOUND, "Domain not found.", "DELETE", "/domains")
        del self.domains[project][name]
        return True
