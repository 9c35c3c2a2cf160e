"""The Pages data model: projects, deployments, custom domains, assets (no HTTP here)."""
from __future__ import annotations

import copy
import hashlib
import html
import json
import random
import re
import time
import uuid
from dataclasses import asdict, dataclass, field

from . import build_images, errors
from .branch_heads import branch_head
from .store import Store
from .util import branch_alias, iso, parse_json, random_alnum, today, truncate_commit_message, valid_project_name
from .workerbundle import BundleError, validate_upload

STAGES = ("queued", "initialize", "clone_repo", "build", "deploy")
# Deployment.skip_reason values (Cloudflare API reference, Pages Deployment object); since
# 2026-08-11 Pages skips a queued build that a newer build of the same branch supersedes
# ("superseded_queued_build").
SKIP_REASONS = ("commit_message", "preview_deployments_disabled", "production_deployments_disabled",
                "path_config", "branch_config", "pages_to_workers_conversion", "superseded_queued_build")
SUPERSEDED = "superseded_queued_build"

# deployment_configs.<env> keys whose value is a map of NAME -> object; a null entry deletes the
# key, a null map deletes the whole map (pages-api.md section 3.2).
MAP_KEYS = (
    "env_vars", "kv_namespaces", "durable_object_namespaces", "d1_databases", "r2_buckets",
    "services", "queue_producers", "ai_bindings", "analytics_engine_datasets",
    "hyperdrive_bindings", "vectorize_bindings", "mtls_certificates", "browsers",
)
# keys that always exist (server defaults); a null in a PATCH leaves them unchanged
DEFAULTED_KEYS = ("fail_open", "always_use_latest_compatibility_date", "compatibility_date",
                  "compatibility_flags", "build_image_major_version", "usage_model")
BINDING_KEYS = tuple(k for k in MAP_KEYS if k != "env_vars")  # snapshot with each deployment
SPECIAL_FILES = ("_headers", "_redirects", "_routes.json", "_worker.js", "_worker.bundle",
                 "functions-filepath-routing-config.json")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


@dataclass
class Config:
    fault_rate: float = 0.0
    fault_seed: int | None = None
    jwt_ttl: float = 300.0
    build_seconds: float = 5.0
    domain_seconds: float = 2.0
    max_file_count: int = 20000
    project_delete_limit: int = 100
    upload_seconds: float = 0.0
    rate_limit: str | None = None  # "N/SECONDS" per credential (ratelimit.py); None: no limit
    project_create_cooldown: bool = False  # POST .../projects answers the anti-abuse cooldown error
    workers_jwt_ttl: float = 3600.0  # Workers asset upload and completion tokens: "valid for one hour"
    bandwidth: float = 0.0  # bytes a second of the link asset uploads come through (link.py); 0: unlimited
    request_timeout: float = 300.0  # an API request unanswered after this long gets a 524 (link.py); 0: none

    def to_dict(self):
        return asdict(self)


@dataclass
class Credentials:
    tokens: dict = field(default_factory=dict)   # token -> account
    keys: dict = field(default_factory=dict)     # (email, key) -> account


def build_failure_code(build_command) -> int | None:
    """The documented build rule: ``exit N`` (N != 0) fails with N; the word ``false`` fails with 1."""
    if not isinstance(build_command, str):
        return None
    for m in re.finditer(r"\bexit\s+(\d+)", build_command):
        if int(m.group(1)) != 0:
            return int(m.group(1))
    if re.search(r"\bfalse\b", build_command):
        return 1
    return None


def domain_fails(name: str) -> bool:
    """The documented validation rule: ``*.invalid`` or a first label starting with ``fail-``."""
    return name.endswith(".invalid") or name.startswith("fail-")


def has_worker(d: dict) -> bool:
    """A deployment that carries a worker (`_worker.js` or `_worker.bundle`)."""
    special = d.get("special") or {}
    return bool(special.get("_worker.js") or special.get("_worker.bundle"))


def _mask_env_vars(env_vars):
    if env_vars is None:
        return None
    out = {}
    for k, v in env_vars.items():
        v = dict(v)
        if v.get("type") == "secret_text":
            v["value"] = ""
        out[k] = v
    return out


class Model:
    def __init__(self, store: Store, config: Config, clock=time.time):
        self.store = store
        self.config = config
        self.clock = clock

    # ================================================================== projects
    def _default_env_config(self, now):
        return {
            "env_vars": None,
            "fail_open": True,
            "always_use_latest_compatibility_date": False,
            "compatibility_date": today(now),
            "compatibility_flags": [],
            "build_image_major_version": build_images.DEFAULT,
            "usage_model": "standard",
        }

    def _merge_env_config(self, target: dict, patch, where: str):
        if patch is None:
            return
        if not isinstance(patch, dict):
            raise errors.bad_request(f"{where} must be an object.")
        for key, value in patch.items():
            if key in MAP_KEYS:
                if value is None:
                    if key == "env_vars":
                        target["env_vars"] = None
                    else:
                        target.pop(key, None)
                    continue
                if not isinstance(value, dict):
                    raise errors.bad_request(f"{where}.{key} must be an object.")
                current = dict(target.get(key) or {})
                for name, entry in value.items():
                    if entry is None:
                        current.pop(name, None)
                        continue
                    if not isinstance(entry, dict):
                        raise errors.bad_request(f"{where}.{key}.{name} must be an object or null.")
                    entry = dict(entry)
                    if key == "env_vars":
                        entry.setdefault("type", "plain_text")
                        if entry["type"] not in ("plain_text", "secret_text"):
                            raise errors.bad_request(
                                f"{where}.env_vars.{name}.type must be plain_text or secret_text.")
                        if not isinstance(entry.get("value", ""), str):
                            raise errors.bad_request(f"{where}.env_vars.{name}.value must be a string.")
                        entry = {"type": entry["type"], "value": entry.get("value", "")}
                    elif key == "ai_bindings" and not entry.get("project_id"):
                        entry["project_id"] = uuid.uuid4().hex  # the API stores one for `{}` [G value]
                    current[name] = entry
                if key == "env_vars":
                    target["env_vars"] = current
                elif current or key == "browsers":
                    target[key] = current
                else:
                    target.pop(key, None)
            elif value is None:
                if key not in DEFAULTED_KEYS:
                    target.pop(key, None)
            elif key == "build_image_major_version":
                target[key] = build_images.check_build_image(value, where)
            elif key == "compatibility_flags":
                if not isinstance(value, list):
                    raise errors.bad_request(f"{where}.compatibility_flags must be a list.")
                target[key] = list(value)
            else:
                target[key] = copy.deepcopy(value)

    def _apply_build_config(self, target: dict, patch):
        if patch is None:
            return
        if not isinstance(patch, dict):
            raise errors.bad_request("build_config must be an object.")
        for key, value in patch.items():
            target[key] = value

    def _validate_source(self, source):
        if not isinstance(source, dict) or source.get("type") not in ("github", "gitlab"):
            raise errors.bad_request("source.type must be github or gitlab.")
        if not isinstance(source.get("config", {}), dict):
            raise errors.bad_request("source.config must be an object.")

    @staticmethod
    def _source_with_defaults(source: dict, production_branch: str) -> dict:
        """Real responses carry every `source.config` key (a captured real project shows all of
        them; cloudflare-python/-go type them required): fill what the request left out with the
        values a dashboard-connected repo shows. owner_id/repo_id are GitHub's numeric ids in
        reality; the emulator derives stable numeric strings from the names [G]."""
        src = copy.deepcopy(source)
        cfg = src.setdefault("config", {})

        def numeric_id(text: str) -> str:
            return str(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))

        owner, repo = cfg.get("owner") or "", cfg.get("repo_name") or ""
        defaults = {"owner": owner, "owner_id": numeric_id(owner), "repo_name": repo,
                    "repo_id": numeric_id(f"{owner}/{repo}"),
                    "production_branch": production_branch, "pr_comments_enabled": True,
                    "production_deployments_enabled": True,
                    "preview_deployment_setting": "all", "preview_branch_includes": ["*"],
                    "preview_branch_excludes": [], "path_includes": ["*"], "path_excludes": []}
        for key, value in defaults.items():
            cfg.setdefault(key, value)
        # deprecated alias of production_deployments_enabled
        cfg.setdefault("deployments_enabled", cfg["production_deployments_enabled"])
        return src

    def create_project(self, account: str, body) -> dict:
        if not isinstance(body, dict):
            raise errors.bad_request("Request body must be a JSON object.")
        name = body.get("name")
        if not valid_project_name(name):
            raise errors.invalid_project_name(name)
        branch = body.get("production_branch")
        if not isinstance(branch, str) or not branch:
            raise errors.bad_request("production_branch is required.")
        if self.store.get_project(account, name):
            raise APIErrorDuplicate()
        if self.config.project_create_cooldown:
            raise errors.create_cooldown()
        now = self.clock()
        subdomain = f"{name}.pages.dev"
        while self.store.subdomain_taken(subdomain):
            subdomain = f"{name}-{random_alnum(3)}.pages.dev"
        configs = {"preview": self._default_env_config(now), "production": self._default_env_config(now)}
        dc = body.get("deployment_configs")
        if dc is not None and not isinstance(dc, dict):
            raise errors.bad_request("deployment_configs must be an object.")
        for env in ("preview", "production"):
            self._merge_env_config(configs[env], (dc or {}).get(env), f"deployment_configs.{env}")
        build_config = {"web_analytics_tag": None, "web_analytics_token": None}
        self._apply_build_config(build_config, body.get("build_config"))
        p = {
            "id": str(uuid.uuid4()),
            "account": account,
            "name": name,
            "subdomain": subdomain,
            "production_branch": branch,
            "created_at": now,
            "build_config": build_config,
            "deployment_configs": configs,
            "script_id": random.randint(1000000, 9999999),
            "branch_aliases": {},
        }
        if body.get("source") is not None:
            self._validate_source(body["source"])
            p["source"] = self._source_with_defaults(body["source"], branch)
            p["git"] = True  # stays a Git project when its source is disconnected
        self.store.insert_project(p)
        return p

    def get_project(self, account: str, name: str) -> dict:
        p = self.store.get_project(account, name)
        if not p:
            raise errors.project_not_found()
        return p

    def patch_project(self, account: str, name: str, body) -> dict:
        p = self.get_project(account, name)
        if not isinstance(body, dict):
            raise errors.bad_request("Request body must be a JSON object.")
        if "name" in body and body["name"] != p["name"]:
            raise errors.bad_request("A project cannot be renamed; create a new project instead.")
        if "source" in body:
            src = body["source"]
            if src is None:
                if "source" in p:
                    raise errors.source_change(
                        "A Git-connected project cannot be converted to a Direct Upload project.")
            elif "source" not in p:
                raise errors.source_change(
                    "A Direct Upload project cannot be connected to a Git repository. Create a new "
                    "project with a `source` instead.")
            else:
                self._validate_source({"type": src.get("type", p["source"]["type"]),
                                       "config": src.get("config", {})} if isinstance(src, dict) else src)
                merged = copy.deepcopy(p["source"])
                if "type" in src:
                    merged["type"] = src["type"]
                cfg = merged.setdefault("config", {})
                for k, v in (src.get("config") or {}).items():
                    cfg[k] = v
                p["source"] = merged
        if "production_branch" in body:
            if not isinstance(body["production_branch"], str) or not body["production_branch"]:
                raise errors.bad_request("production_branch must be a non-empty string.")
            p["production_branch"] = body["production_branch"]
        if "build_config" in body:
            self._apply_build_config(p["build_config"], body["build_config"])
        dc = body.get("deployment_configs")
        if dc is not None:
            if not isinstance(dc, dict):
                raise errors.bad_request("deployment_configs must be an object.")
            for env in ("preview", "production"):
                self._merge_env_config(p["deployment_configs"][env], dc.get(env),
                                       f"deployment_configs.{env}")
        self.store.update_project(p)
        return p

    @staticmethod
    def _is_git_project(p: dict) -> bool:
        return bool(p.get("git") or "source" in p)

    def connect_source(self, account: str, name: str, body) -> dict:
        """POST .../projects/{name}/source: the body is the source object itself ({type, config});
        it connects (or replaces) the repository of a Git project. A Direct Upload project cannot be
        switched to Git (pages/configuration/direct-upload docs): 8000039 as for a PATCH."""
        p = self.get_project(account, name)
        if not isinstance(body, dict):
            raise errors.bad_request("Request body must be a JSON object.")
        if not self._is_git_project(p):
            raise errors.source_change(
                "A Direct Upload project cannot be connected to a Git repository. Create a new "
                "project with a `source` instead.")
        self._validate_source(body)
        if not isinstance(body.get("config"), dict):
            raise errors.bad_request("source.config is required.")
        p["source"] = self._source_with_defaults(body, p["production_branch"])
        p["git"] = True
        self.store.update_project(p)
        return p

    def disconnect_source(self, account: str, name: str) -> dict:
        """DELETE .../projects/{name}/source: the project keeps its deployments and settings and has
        no `source` until one is connected again. A Direct Upload project has none to disconnect [G]."""
        p = self.get_project(account, name)
        if "source" not in p:
            raise errors.source_change("The project has no Git repository connected.")
        del p["source"]
        p["git"] = True
        self.store.update_project(p)
        return p

    def delete_project(self, account: str, name: str):
        p = self.get_project(account, name)
        limit = self.config.project_delete_limit
        if limit and self.store.count_deployments(p["id"]) > limit:
            raise errors.APIError(400, 8000076, errors.MSG_TOO_MANY_DEPLOYMENTS)
        self.store.delete_project(p["id"])

    def list_projects(self, account: str) -> list[dict]:
        return self.store.list_projects(account)

    def render_project(self, p: dict) -> dict:
        now = self.clock()
        deps = self.store.list_deployments(p["id"])
        ctx = self._context(p, deps, now)
        latest = deps[0] if deps else None
        canonical = ctx["by_id"].get(ctx["canonical"])
        out = {
            "id": p["id"],
            "name": p["name"],
            "subdomain": p["subdomain"],
            "domains": [p["subdomain"]] + [d["name"] for d in self.store.list_domains(p["id"])],
            "build_config": copy.deepcopy(p["build_config"]),
        }
        if "source" in p:
            out["source"] = copy.deepcopy(p["source"])
        configs = {}
        for env in ("preview", "production"):
            c = copy.deepcopy(p["deployment_configs"][env])
            c["env_vars"] = _mask_env_vars(c.get("env_vars"))
            configs[env] = c
        out["deployment_configs"] = configs
        out["latest_deployment"] = self.render_deployment(p, latest, ctx) if latest else None
        out["canonical_deployment"] = self.render_deployment(p, canonical, ctx) if canonical else None
        out["created_on"] = iso(p["created_at"])
        out["production_branch"] = p["production_branch"]
        out["production_script_name"] = f"pages-worker--{p['script_id']}-production"
        out["preview_script_name"] = f"pages-worker--{p['script_id']}-preview"
        out["uses_functions"] = latest["uses_functions"] if latest else None
        out["framework"] = ""
        out["framework_version"] = ""
        return out

    # ================================================================== deployments
    def _context(self, p: dict, deps: list[dict], now: float) -> dict:
        newest_of_branch = {}
        for d in deps:  # newest first
            newest_of_branch.setdefault(d["branch"], d["id"])
        return {
            "now": now,
            "by_id": {d["id"]: d for d in deps},
            "newest_of_branch": newest_of_branch,
            "canonical": self.store.canonical_id(p["id"], now),
        }

    def context(self, p: dict):
        deps = self.store.list_deployments(p["id"])
        return deps, self._context(p, deps, self.clock())

    def alias_of(self, p: dict, d: dict, ctx: dict) -> str | None:
        """The branch alias label a deployment holds right now, or None."""
        if d["environment"] != "preview" or ctx["newest_of_branch"].get(d["branch"]) != d["id"]:
            return None
        return self.branch_alias_label(p, d["branch"])

    def aliases_of(self, p: dict, d: dict, ctx: dict, alias: str | None) -> list | None:
        """A preview's branch alias; the live production deployment lists the project's active
        custom domains (wrangler picks the `.pages.dev` one of `aliases`, pages/deploy.ts)."""
        if alias:
            return [f"https://{alias}.{p['subdomain']}"]
        if d["id"] == ctx["canonical"]:
            now = ctx["now"]
            domains = [f"https://{dom['name']}" for dom in self.store.list_domains(p["id"])
                       if self.domain_status(dom, now) == "active"]
            return domains or None
        return None

    def branch_alias_label(self, p: dict, branch: str) -> str:
        label = branch_alias(branch)
        if label is None:
            label = p.get("branch_aliases", {}).get(branch)
        return label

    def timeline(self, d: dict, now: float) -> dict:
        """Stages, latest stage, status and log lines of a deployment at time ``now``."""
        t0 = d["created_at"]
        if d["kind"] == "direct":
            # A worker's deploy check (workers.py) keeps the deploy stage active until it ends.
            check = d.get("worker_check") or {"status": "success", "ended_at": t0}
            end, status = check.get("ended_at"), check["status"]
            deploy = {"name": "deploy", "started_on": iso(t0) if end is None else None,
                      "ended_on": iso(end) if end is not None else None,
                      "status": "active" if status == "pending" else status}
            stages = [
                {"name": "queued", "started_on": iso(t0), "ended_on": None, "status": "active"},
                {"name": "initialize", "started_on": None, "ended_on": None, "status": "idle"},
                {"name": "clone_repo", "started_on": None, "ended_on": None, "status": "idle"},
                {"name": "build", "started_on": None, "ended_on": None, "status": "idle"},
                deploy,
            ]
            logs = [(t0, line) for line in d.get("log_lines", [])]
            logs += [(end, line) for line in check.get("log", [])]
            return {"stages": stages, "latest": dict(stages[-1]), "modified": end or t0,
                    "status": "active" if status == "pending" else status, "logs": logs}
        span = d["build_seconds"] / len(STAGES)
        skipped_at = d.get("skipped_at")
        if skipped_at is not None and now >= skipped_at:
            # Skipped while queued: it never ran. Stage.status in the API reference has no "skipped"
            # (success|idle|active|failure|canceled): the queued stage ends canceled, the others stay
            # idle, and is_skipped / skip_reason say why.
            queued = {"name": "queued", "started_on": iso(t0), "ended_on": iso(skipped_at), "status": "canceled"}
            stages = [queued] + [{"name": name, "started_on": None, "ended_on": None, "status": "idle"}
                                 for name in STAGES[1:]]
            logs = [(ts, line) for ts, line in d.get("log_plan", []) if ts <= skipped_at]
            logs.append((skipped_at, "Skipped: a newer build of branch %s superseded this queued build"
                         % d["branch"]))
            return {"stages": stages, "latest": dict(queued), "modified": skipped_at, "status": "skipped",
                    "logs": logs}
        bounds = [t0 + i * span for i in range(len(STAGES) + 1)]
        fail = d.get("fail_code")
        stages, latest, modified, status = [], None, t0, "active"
        for i, name in enumerate(STAGES):
            start, end = bounds[i], bounds[i + 1]
            if (fail is not None and name == "deploy") or now < start:
                stages.append({"name": name, "started_on": None, "ended_on": None, "status": "idle"})
                continue
            if now < end:
                st = {"name": name, "started_on": iso(start), "ended_on": None, "status": "active"}
                modified = start
            else:
                failed = fail is not None and name == "build"
                st = {"name": name, "started_on": iso(start), "ended_on": iso(end),
                      "status": "failure" if failed else "success"}
                modified = end
                if failed:
                    status = "failure"
                elif name == "deploy":
                    status = "success"
            stages.append(st)
            latest = st
        logs = [(ts, line) for ts, line in d.get("log_plan", []) if ts <= now]
        return {"stages": stages, "latest": dict(latest), "modified": modified, "status": status,
                "logs": logs}

    def render_deployment(self, p: dict, d: dict, ctx: dict) -> dict:
        tl = self.timeline(d, ctx["now"])
        alias = self.alias_of(p, d, ctx)
        out = {
            "id": d["id"],
            "short_id": d["short_id"],
            "project_id": p["id"],
            "project_name": p["name"],
            "environment": d["environment"],
            "url": f"https://{d['short_id']}.{p['subdomain']}",
            "created_on": iso(d["created_at"]),
            "modified_on": iso(tl["modified"]),
            "latest_stage": tl["latest"],
            "deployment_trigger": {
                "type": d.get("trigger_type", "ad_hoc"),
                "metadata": {
                    "branch": d["branch"],
                    "commit_hash": d["commit_hash"],
                    "commit_message": d["commit_message"],
                    "commit_dirty": d["commit_dirty"],
                },
            },
            "stages": tl["stages"],
            "build_config": copy.deepcopy(d["build_config"]),
        }
        if d.get("source") is not None:
            out["source"] = copy.deepcopy(d["source"])
        out.update({
            "env_vars": _mask_env_vars(d.get("env_vars")) or {},
            "compatibility_date": d["compatibility_date"],
            "compatibility_flags": list(d["compatibility_flags"]),
            "build_image_major_version": d.get("build_image", build_images.DEFAULT),
            "usage_model": "bundled" if has_worker(d) else None,
            "aliases": self.aliases_of(p, d, ctx, alias),
            "is_skipped": tl["status"] == "skipped",
            "skip_reason": d.get("skip_reason") if tl["status"] == "skipped" else None,
            "production_branch": p["production_branch"],
            "uses_functions": d["uses_functions"],
        })
        return out

    def _new_deployment(self, p: dict, *, branch, commit_hash, commit_message, commit_dirty,
                        kind, manifest=None, special=None, config_hash=None) -> dict:
        now = self.clock()
        while True:
            dep_id = str(uuid.uuid4())
            if not self.store.short_id_taken(p["id"], dep_id[:8]):
                break
        environment = "production" if branch == p["production_branch"] else "preview"
        env_cfg = p["deployment_configs"][environment]
        if config_hash:  # wrangler sends it when a wrangler config file owns the project's settings
            env_cfg["wrangler_config_hash"] = config_hash
            self.store.update_project(p)
        special = special or {}
        d = {
            "id": dep_id,
            "short_id": dep_id[:8],
            "project_id": p["id"],
            "account": p["account"],
            "environment": environment,
            "branch": branch,
            "commit_hash": commit_hash,
            "commit_message": truncate_commit_message(commit_message),
            "commit_dirty": commit_dirty,
            "created_at": now,
            "kind": kind,
            "manifest": manifest or {},
            "special": special,
            "env_vars": copy.deepcopy(env_cfg.get("env_vars")),
            "compatibility_date": env_cfg.get("compatibility_date") or today(now),
            "compatibility_flags": list(env_cfg.get("compatibility_flags") or []),
            "build_image": env_cfg.get("build_image_major_version", build_images.DEFAULT),
            "uses_functions": bool(special.get("_worker.js") or special.get("_worker.bundle")
                                   or special.get("functions-filepath-routing-config.json")),
            "bindings": {k: copy.deepcopy(env_cfg[k]) for k in BINDING_KEYS if env_cfg.get(k)},
        }
        runs_worker = kind == "direct" and bool(special.get("_worker.js") or special.get("_worker.bundle"))
        if kind == "direct":
            d["build_config"] = {k: None for k in ("build_command", "destination_dir", "build_caching",
                                                    "root_dir", "web_analytics_tag", "web_analytics_token")}
            d["log_lines"] = [
                "Initializing build environment...",
                f"Direct Upload: {len(d['manifest'])} files referenced by the manifest",
                "Success: Assets published!",
                "Success: Your site was deployed!",
            ]
            if runs_worker:  # workers.py runs the worker before the deploy stage ends
                d["worker_check"] = {"status": "pending"}
                d["log_lines"][-1] = "Deploying your Worker..."
        else:
            self._plan_build(p, d, now)
            self._supersede_queued(p, d, now)
        if environment == "preview" and branch_alias(branch) is None and branch not in p["branch_aliases"]:
            p["branch_aliases"][branch] = f"branch-{random_alnum(10)}"
            self.store.update_project(p)
        self.store.insert_deployment(d)
        if environment == "production":
            if kind == "direct":
                if not runs_worker:  # else when its deploy check succeeds (workers.py)
                    self.store.add_canonical_event(p["id"], d["id"], now)
            elif d.get("fail_code") is None:
                self.store.add_canonical_event(p["id"], d["id"], now + d["build_seconds"])
        return d

    def _supersede_queued(self, p: dict, new: dict, now: float):
        """Builds of ``new``'s branch still in their queued stage are skipped: Pages builds only the
        newest queued commit of a branch (changelog 2026-08-11; skip_reason superseded_queued_build)."""
        for old in self.store.list_deployments(p["id"]):
            if old["kind"] != "build" or old["branch"] != new["branch"] or old.get("skipped_at") is not None:
                continue
            if now < old["created_at"] + old["build_seconds"] / len(STAGES):
                old.update(skipped_at=now, skip_reason=SUPERSEDED, fail_code=None)
                self.store.update_deployment(old)
                self.store.drop_canonical_events(old["id"])

    def _plan_build(self, p: dict, d: dict, now: float):
        bc = p.get("build_config") or {}
        d["build_config"] = {k: bc.get(k) for k in ("build_command", "destination_dir", "build_caching",
                                                     "root_dir", "web_analytics_tag", "web_analytics_token")}
        d["source"] = copy.deepcopy(p.get("source"))
        d["build_seconds"] = float(self.config.build_seconds)
        d["fail_code"] = build_failure_code(bc.get("build_command"))
        image_fails = None if d["fail_code"] is not None else build_images.image_failure(
            bc.get("build_command"), d["build_image"])
        if image_fails:
            d["fail_code"] = image_fails[0]
        span = d["build_seconds"] / len(STAGES)
        cmd = bc.get("build_command") or ""
        first_line = d["commit_message"].splitlines()[0] if d["commit_message"] else ""
        repo = ((p.get("source") or {}).get("config") or {}).get("repo_name") or p["name"]
        plan = [
            (now, "Build queued"),
            (now + span, "Initializing build environment..."),
            (now + span, f"Build image: v{d['build_image']}"),
            (now + span, "Success: Finished initializing build environment"),
            (now + 2 * span, f"Cloning repository {repo} (branch {d['branch']})..."),
            (now + 2 * span, f"HEAD is now at {d['commit_hash'][:7]} {first_line}"),
            (now + 2 * span, "Success: Finished cloning repository files"),
            (now + 3 * span, f"Executing user command: {cmd}" if cmd
             else "No build command specified. Skipping build step."),
        ]
        if d["fail_code"] is not None:
            if image_fails:
                plan.append((now + 4 * span, image_fails[1]))
            plan.append((now + 4 * span, f"Failed: build command exited with code {d['fail_code']}"))
        else:
            plan += [
                (now + 4 * span, "Success: Build command completed"),
                (now + 4 * span, "Deploying your site to Cloudflare's global network..."),
                (now + 5 * span, "Success: Your site was deployed!"),
            ]
            site = (
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(p['name'])}</title></head>\n<body>\n"
                f"<h1>{html.escape(p['name'])}</h1>\n"
                f"<p>Built by the Pages emulator from branch <code>{html.escape(d['branch'])}</code> "
                f"at commit <code>{html.escape(d['commit_hash'])}</code>.</p>\n</body></html>\n"
            ).encode()
            key = hashlib.sha256(site + b"html").hexdigest()[:32]
            self.store.put_asset(p["account"], key, site, "text/html")
            d["manifest"] = {"/index.html": key}
        d["log_plan"] = plan

    def create_deployment(self, account: str, name: str, fields: dict) -> dict:
        """``fields``: text fields (str) and special files (bytes) of the multipart body."""
        p = self.get_project(account, name)
        branch = fields.get("branch") or p["production_branch"]
        if not isinstance(branch, str):
            raise errors.bad_request("branch must be a string.")
        commit_hash = fields.get("commit_hash") or ""
        commit_message = fields.get("commit_message") or ""
        commit_dirty = str(fields.get("commit_dirty", "")).strip().lower() == "true"
        if "manifest" not in fields:
            if "source" not in p:
                raise errors.manifest_missing()
            head = branch_head(p, branch)
            if head is not None:  # a build checks out the branch head, whatever the request says
                commit_hash, commit_message = head["commit_hash"], head["commit_message"]
            if not commit_hash:
                commit_hash = hashlib.sha1(f"{p['id']}:{branch}:{self.clock()}".encode()).hexdigest()
            if not commit_message:
                commit_message = f"HEAD of {branch}"
            return self._new_deployment(p, branch=branch, commit_hash=commit_hash,
                                        commit_message=commit_message, commit_dirty=commit_dirty,
                                        kind="build")
        try:
            manifest = parse_json(fields["manifest"])
        except (TypeError, ValueError):
            raise errors.bad_request("`manifest` is not valid JSON.") from None
        if not isinstance(manifest, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in manifest.items()):
            raise errors.bad_request("`manifest` must be a JSON object mapping paths to hashes.")
        if len(manifest) > self.config.max_file_count:
            raise errors.too_many_files(len(manifest), self.config.max_file_count)
        known = self.store.known_hashes(account, set(manifest.values()))
        for path, h in manifest.items():
            if h not in known:
                raise errors.manifest_hash_missing(path, h)
        manifest = {(k if k.startswith("/") else "/" + k): v for k, v in manifest.items()}
        if fields.get("_worker.js") is not None and fields.get("_worker.bundle") is not None:
            raise errors.worker_conflict()
        try:
            validate_upload(fields)
        except BundleError as e:
            raise errors.malformed_worker(str(e)) from None
        special = {}
        for fname in SPECIAL_FILES:
            value = fields.get(fname)
            if value is not None:
                special[fname] = self.store.put_blob(value if isinstance(value, bytes) else value.encode())
        config_hash = fields.get("wrangler_config_hash")
        return self._new_deployment(p, branch=branch, commit_hash=commit_hash,
                                    commit_message=commit_message, commit_dirty=commit_dirty,
                                    kind="direct", manifest=manifest, special=special,
                                    config_hash=config_hash if isinstance(config_hash, str) else None)

    def find_deployment(self, p: dict, deployment_id: str, deps=None) -> dict:
        for d in deps if deps is not None else self.store.list_deployments(p["id"]):
            if d["id"] == deployment_id:
                return d
        raise errors.deployment_not_found()

    def delete_deployment(self, account: str, name: str, deployment_id: str, force: bool):
        p = self.get_project(account, name)
        deps, ctx = self.context(p)
        d = self.find_deployment(p, deployment_id, deps)
        if ctx["canonical"] == d["id"]:
            raise errors.canonical_delete()
        if self.alias_of(p, d, ctx) and not force:
            raise errors.APIError(400, 8000035, errors.MSG_ALIASED)
        self.store.delete_deployment(d["id"])

    def rollback(self, account: str, name: str, deployment_id: str) -> tuple[dict, dict]:
        p = self.get_project(account, name)
        deps, ctx = self.context(p)
        d = self.find_deployment(p, deployment_id, deps)
        if d["environment"] != "production":
            raise errors.rollback_refused("The target is a preview deployment.")
        if self.timeline(d, ctx["now"])["status"] != "success":
            raise errors.rollback_refused("The target deployment has not finished successfully.")
        self.store.add_canonical_event(p["id"], d["id"], ctx["now"])
        return p, d

    def retry(self, account: str, name: str, deployment_id: str) -> tuple[dict, dict]:
        p = self.get_project(account, name)
        old = self.find_deployment(p, deployment_id)
        manifest = self.store.get_manifest(old["id"]) if old["kind"] == "direct" else None
        new = self._new_deployment(p, branch=old["branch"], commit_hash=old["commit_hash"],
                                   commit_message=old["commit_message"], commit_dirty=old["commit_dirty"],
                                   kind=old["kind"], manifest=manifest, special=old.get("special"))
        return p, new

    def logs(self, account: str, name: str, deployment_id: str, size: int) -> dict:
        """The first ``size`` lines (oldest first) and the ``total`` count (wrangler asks for
        ``size=10000000`` to get them all, pages/deploy.ts)."""
        p = self.get_project(account, name)
        d = self.find_deployment(p, deployment_id)
        tl = self.timeline(d, self.clock())
        data = [{"line": line, "ts": iso(ts)} for ts, line in tl["logs"]]
        return {"total": len(data), "includes_container_logs": False, "data": data[:size]}

    # ================================================================== domains
    def add_domain(self, account: str, name: str, body) -> tuple[dict, dict]:
        p = self.get_project(account, name)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise errors.bad_request("Request body must be a JSON object with a `name`.")
        dname = body["name"].strip().lower().rstrip(".")
        if not DOMAIN_RE.match(dname) or dname.endswith(".pages.dev"):
            raise errors.invalid_domain(body["name"])
        if self.store.get_domain(dname):
            raise errors.APIError(400, 8000018, errors.MSG_DOMAIN_UNAVAILABLE)
        now = self.clock()
        labels = dname.split(".")
        zone = ".".join(labels[-2:])
        domain_id = str(uuid.uuid4())
        dom = {
            "id": domain_id,
            "project_id": p["id"],
            "account": account,
            "name": dname,
            "created_at": now,
            "validation_started_at": now,
            "domain_id": domain_id,
            "zone_tag": hashlib.md5(f"{account}:{zone}".encode()).hexdigest(),
        }
        self.store.insert_domain(dom)
        return p, dom

    def get_domain(self, account: str, name: str, domain_name: str) -> tuple[dict, dict]:
        p = self.get_project(account, name)
        dom = self.store.get_domain(domain_name.strip().lower().rstrip("."))
        if not dom or dom["project_id"] != p["id"]:
            raise errors.domain_not_found()
        return p, dom

    def retry_domain(self, account: str, name: str, domain_name: str) -> tuple[dict, dict]:
        p, dom = self.get_domain(account, name, domain_name)
        dom["validation_started_at"] = self.clock()
        self.store.update_domain(dom)
        return p, dom

    def delete_domain(self, account: str, name: str, domain_name: str):
        _, dom = self.get_domain(account, name, domain_name)
        self.store.delete_domain(dom["id"])

    def domain_status(self, dom: dict, now: float) -> str:
        elapsed = now - dom["validation_started_at"]
        secs = float(self.config.domain_seconds)
        if elapsed >= secs:
            return "error" if domain_fails(dom["name"]) else "active"
        return "initializing" if elapsed < secs / 2 else "pending"

    def render_domain(self, p: dict, dom: dict) -> dict:
        status = self.domain_status(dom, self.clock())
        validation = {"status": status, "method": "http"}
        verification = {"status": "active" if status == "active" else "pending"}
        if status == "initializing":
            verification = {"status": "pending"}
        if status == "error":
            msg = (f"CNAME record not set: {dom['name']} does not point to {p['subdomain']} "
                   "(the emulator fails validation for *.invalid and fail-* domains).")
            validation["error_message"] = msg
            verification = {"status": "error", "error_message": msg}
        return {
            "id": dom["id"],
            "name": dom["name"],
            "status": status,
            "certificate_authority": "google",
            "created_on": iso(dom["created_at"]),
            "domain_id": dom["domain_id"],
            "validation_data": validation,
            "verification_data": verification,
            "zone_tag": dom["zone_tag"],
        }

    # ================================================================== assets
    def check_missing(self, account: str, hashes: list) -> list:
        known = self.store.known_hashes(account, hashes)
        seen, out = set(), []
        for h in hashes:
            if h not in known and h not in seen:
                seen.add(h)
                out.append(h)
        return out


class APIErrorDuplicate(errors.APIError):
    def __init__(self):
        super().__init__(409, 8000002, errors.MSG_PROJECT_EXISTS)
