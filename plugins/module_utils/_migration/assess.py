# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""What moving one Pages project to a Worker with static assets takes (no network).

The rules are Cloudflare's migration guide and its compatibility matrix,
https://developers.cloudflare.com/workers/static-assets/migration-guides/migrate-from-pages/
(sections cited by their headings in each finding's message). :func:`assess` turns the project,
its recent deployments, its custom domains (with what the zones API said of each) and, when given,
the local build (``local_build.LocalBuild``) into one report item: the verdict, the blockers,
the steps, what could not be judged, the feature mapping and a Wrangler configuration.
"""

from __future__ import annotations

import datetime

from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import SECRET_ENV_TYPE

GUIDE = "https://developers.cloudflare.com/workers/static-assets/migration-guides/migrate-from-pages/"

# Pages binding maps -> (Wrangler configuration key, the binding's fields there). A field maps a
# Pages field to Wrangler's name for it (https://developers.cloudflare.com/workers/wrangler/configuration/#bindings).
BINDINGS = {
    "kv_namespaces": ("kv_namespaces", {"namespace_id": "id"}),
    "d1_databases": ("d1_databases", {"id": "database_id"}),
    "r2_buckets": ("r2_buckets", {"name": "bucket_name", "jurisdiction": "jurisdiction"}),
    "services": ("services", {"service": "service", "environment": "environment", "entrypoint": "entrypoint"}),
    "analytics_engine_datasets": ("analytics_engine_datasets", {"dataset": "dataset"}),
    "hyperdrive_bindings": ("hyperdrive", {"id": "id"}),
    "vectorize_bindings": ("vectorize", {"index_name": "index_name"}),
    "mtls_certificates": ("mtls_certificates", {"certificate_id": "certificate_id"}),
}
# Bindings with a shape of their own in a Wrangler configuration (handled below).
OTHER_BINDINGS = ("queue_producers", "ai_bindings", "browsers", "durable_object_namespaces")
ALL_BINDINGS = tuple(BINDINGS) + OTHER_BINDINGS
# What makes the runtime of an environment; compared between production and preview.
RUNTIME_KEYS = ("compatibility_date", "compatibility_flags", "usage_model", "limits", "placement", "fail_open",
                "always_use_latest_compatibility_date")
VERDICTS = ("ready", "steps", "blocked")


def finding(code, message, detail=None):
    return {"code": code, "message": message, "detail": detail if detail is not None else {}}


def _config(project, env):
    return ((project.get("deployment_configs") or {}).get(env)) or {}


def env_var_view(config):
    """``(plain, secret_names)``: plain variables with their values, and the names of secrets."""
    plain, secrets = {}, []
    for name, entry in sorted((config.get("env_vars") or {}).items()):
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == SECRET_ENV_TYPE:
            secrets.append(name)
        else:
            plain[name] = entry.get("value")
    return plain, secrets


def _binding_view(config):
    return dict((key, config.get(key) or {}) for key in ALL_BINDINGS if config.get(key))


def environment_differences(project):
    """The keys whose production and preview settings differ (variables by name and plain value,
    secret names, bindings, runtime settings)."""
    prod, prev = _config(project, "production"), _config(project, "preview")
    differ = []
    if env_var_view(prod) != env_var_view(prev):
        differ.append("env_vars")
    for key in ALL_BINDINGS:
        if (prod.get(key) or {}) != (prev.get(key) or {}):
            differ.append(key)
    for key in RUNTIME_KEYS:
        a, b = prod.get(key), prev.get(key)
        if key == "compatibility_flags":
            a, b = sorted(a or []), sorted(b or [])
        if a != b:
            differ.append(key)
    return differ


def _trigger_type(deployment):
    return ((deployment.get("deployment_trigger") or {}).get("type")) or ""


def _branch(deployment):
    return (((deployment.get("deployment_trigger") or {}).get("metadata")) or {}).get("branch")


def run_worker_first(routes):
    """``assets.run_worker_first`` for ``_routes.json``'s rules: Pages runs the worker on the
    included paths less the excluded ones, Workers on the positive rules less the ``!`` ones (the
    guide's "_routes.json and Pages Functions middleware"); ``True`` for every path."""
    if routes is None or (routes["include"] == ["/*"] and not routes["exclude"]):
        return True
    return list(routes["include"]) + ["!" + rule for rule in routes["exclude"]]


def _wrangler_bindings(config):
    """The Wrangler configuration's binding keys for one environment's binding maps (Durable
    Objects are left out: a Pages binding names a namespace id, Wrangler a class and a script)."""
    out = {}
    for pages_key, (key, fields) in BINDINGS.items():
        items = []
        for name, entry in sorted((config.get(pages_key) or {}).items()):
            item = {"binding": name}
            for src, dst in fields.items():
                if isinstance(entry, dict) and entry.get(src) not in (None, ""):
                    item[dst] = entry[src]
            items.append(item)
        if items:
            out[key] = items
    producers = [{"binding": name, "queue": (entry or {}).get("name")}
                 for name, entry in sorted((config.get("queue_producers") or {}).items())]
    if producers:
        out["queues"] = {"producers": producers}
    # A Worker has one AI and one Browser Rendering binding (Wrangler's `ai` and `browser` objects).
    for pages_key, key in (("ai_bindings", "ai"), ("browsers", "browser")):
        names = sorted(config.get(pages_key) or {})
        if names:
            out[key] = {"binding": names[0]}
    return out


def wrangler_config(project, build, custom_domains, assets_directory, today):
    """The Wrangler configuration (as ``wrangler.jsonc`` takes it) of the project's production
    environment. ``build`` is the local build or None; without it, code seen by the API is
    assumed to run first on every path, as Pages runs it."""
    prod = _config(project, "production")
    has_code = _has_code(project, build)
    config = {
        "name": project.get("name"),
        "compatibility_date": prod.get("compatibility_date") or today,
    }
    if prod.get("compatibility_flags"):
        config["compatibility_flags"] = list(prod["compatibility_flags"])
    main = _main_path(build, assets_directory) if has_code else None
    if main:
        config["main"] = main
    assets = {"directory": assets_directory, "html_handling": "auto-trailing-slash"}
    if has_code:
        assets["binding"] = "ASSETS"
        assets["run_worker_first"] = run_worker_first(build.routes if build is not None else None)
    if build is not None:
        assets["not_found_handling"] = "404-page" if build.has_404 else "single-page-application"
    config["assets"] = assets
    plain, _secrets = env_var_view(prod)
    if plain:
        config["vars"] = plain
    config.update(_wrangler_bindings(prod))
    if prod.get("placement"):
        config["placement"] = prod["placement"]
    if prod.get("limits"):
        config["limits"] = prod["limits"]
    if custom_domains:
        config["routes"] = [{"pattern": name, "custom_domain": True} for name in custom_domains]
    config["workers_dev"] = True
    return config


def _main_path(build, assets_directory):
    base = assets_directory.rstrip("/")
    if build is None or build.functions_dir is not None and build.worker is None:
        return "./worker-build/index.js"  # wrangler pages functions build --outdir=./worker-build
    if build.worker == "directory":
        return base + "/_worker.js/index.js"
    return base + "/_worker.js"


def _has_code(project, build):
    if build is not None:
        return build.has_code
    canonical = project.get("canonical_deployment") or {}
    return bool(canonical.get("uses_functions") or project.get("uses_functions"))


class Assessment:
    """Findings of one project, collected by :func:`assess`."""

    def __init__(self):
        self.blockers, self.steps, self.unknowns, self.mapping = [], [], [], []

    def blocker(self, code, message, detail=None):
        self.blockers.append(finding(code, message, detail))

    def step(self, code, message, detail=None):
        self.steps.append(finding(code, message, detail))

    def unknown(self, code, message, detail=None):
        self.unknowns.append(finding(code, message, detail))

    def maps(self, pages, workers, section):
        self.mapping.append({"pages": pages, "workers": workers, "guide": section})

    @property
    def verdict(self):
        if self.blockers:
            return "blocked"
        return "steps" if self.steps else "ready"


def _cite(text, section):
    return "%s (migration guide, \"%s\")" % (text, section)


def _check_domains(a, domains, zones):
    """Custom domains need a zone of the same account on Cloudflare's nameservers ("Custom
    domains"; matrix row "Custom domains outside Cloudflare zones")."""
    for name in domains:
        state, zone = zones.get(name, ("unchecked", "not looked up"))
        if state == "missing":
            a.blocker("custom_domain_outside_account", _cite(
                "%s has no zone in this account: Workers serve custom domains only from zones on Cloudflare's "
                "nameservers" % name, "Custom domains"), {"domain": name})
        elif state == "unchecked":
            a.unknown("custom_domain_unchecked", "the zone of %s could not be looked up (%s): check that it is a "
                      "zone of this account on Cloudflare's nameservers" % (name, zone), {"domain": name})
        elif zone.get("type") == "partial":
            a.blocker("custom_domain_partial_zone", _cite(
                "%s is in zone %s, a partial (CNAME) setup whose nameservers Cloudflare does not manage"
                % (name, zone.get("name")), "Custom domains"), {"domain": name, "zone": zone.get("name")})
        elif zone.get("status") != "active":
            a.step("custom_domain_zone_not_active", _cite(
                "zone %s of %s is %s: activate it on Cloudflare's nameservers before the Worker takes the domain"
                % (zone.get("name"), name, zone.get("status")), "Custom domains"),
                {"domain": name, "zone": zone.get("name"), "status": zone.get("status")})
        if state != "missing":
            a.maps(name, "route {pattern: %s, custom_domain: true}" % name, "Custom domains")


def _check_code(a, project, build):
    if build is None:
        if _has_code(project, build):
            a.step("worker_code", _cite(
                "the production deployment runs code (Pages Functions or a _worker.js; give source to tell which): "
                "compile Functions with `wrangler pages functions build --outdir=./worker-build`, or point main at "
                "_worker.js and keep it out of the assets", "Pages Functions"))
            a.step("run_worker_first", _cite(
                "Workers serve assets before the Worker; run_worker_first: true keeps Pages' order (without source "
                "the _routes.json rules are unknown, so the Worker runs first on every path)",
                "_routes.json and Pages Functions middleware"))
            a.unknown("routes_unknown", "without source, _routes.json cannot be read: run_worker_first is true")
        a.unknown("not_found_handling_unknown", "without source, whether the site has a top-level 404.html is "
                  "unknown: set assets.not_found_handling to 404-page or single-page-application")
        return
    a.maps("404.html" if build.has_404 else "no top-level 404.html (single-page application)",
           "assets.not_found_handling: %s" % ("404-page" if build.has_404 else "single-page-application"),
           "Serving behavior")
    if build.worker:
        a.step("advanced_mode_worker", _cite(
            "_worker.js (%s) becomes the Worker's main module: keep it out of the assets (an .assetsignore "
            "listing _worker.js, or move it)" % build.worker, "Pages Functions with an \"advanced mode\" _worker.js file"),
            {"worker": build.worker})
        a.maps("_worker.js", "main", "Pages Functions with an \"advanced mode\" _worker.js file")
    elif build.functions_dir:
        a.step("pages_functions", _cite(
            "the functions directory %s must be compiled into one Worker: `wrangler pages functions build "
            "--outdir=./worker-build` (file-based routing and Pages Plugins are compiled, matrix rows "
            "\"File-based Routing\", \"Pages Plugins\")" % build.functions_dir, "Pages Functions with a functions/ folder"),
            {"functions_dir": build.functions_dir})
        a.maps("functions/", "main (compiled by wrangler pages functions build)", "Pages Functions with a functions/ folder")
    if build.has_code:
        rules = run_worker_first(build.routes)
        a.step("run_worker_first", _cite(
            "Workers serve assets before the Worker; run_worker_first %s keeps Pages' order%s"
            % ("true" if rules is True else "lists the _routes.json rules",
               "" if build.routes else " (no _routes.json: the Worker ran first on every path)"),
            "_routes.json and Pages Functions middleware"), {"run_worker_first": rules})
        a.maps("_routes.json" if build.routes else "Functions first on every path", "assets.run_worker_first",
               "_routes.json and Pages Functions middleware")
    elif build.routes is not None:
        a.maps("_routes.json (unused: no code)", "nothing", "_routes.json and Pages Functions middleware")
    for name, text in (("_headers", build.headers), ("_redirects", build.redirects)):
        if text is not None:
            a.maps(name, name + " in the assets directory", "Headers and redirects")
    if build.link_headers:
        a.step("early_hints", "_headers sets Link headers, from which Pages sends Early Hints (103); Workers do not "
               "send Early Hints (compatibility matrix, row \"Early Hints\"); the Link headers themselves stay")


def _check_environments(a, project):
    differ = environment_differences(project)
    if differ:
        a.step("preview_config_differs", _cite(
            "production and preview differ in %s: Workers have one configuration per Worker; use Wrangler "
            "environments (a second Worker for previews) or Worker Previews" % ", ".join(differ),
            "Preview environment"), {"keys": differ})
    for env in ("production", "preview"):
        config = _config(project, env)
        if config.get("always_use_latest_compatibility_date"):
            a.step("latest_compatibility_date", "the %s environment always uses the latest compatibility date; a "
                   "Worker needs a fixed compatibility_date (migration guide, \"Project configuration\")" % env,
                   {"environment": env})
    prod = _config(project, "production")
    plain, secrets = env_var_view(prod)
    if plain:
        a.maps("environment variables (plain)", "vars", "Variables, secrets and bindings")
    if secrets:
        a.step("secrets", _cite(
            "secret values cannot be read back: set each on the Worker (`wrangler secret put NAME --name %s`)"
            % project.get("name"), "Variables, secrets and bindings"), {"names": secrets})
        a.maps("secrets", "Worker secrets", "Variables, secrets and bindings")
    for key in ALL_BINDINGS:
        if prod.get(key):
            a.maps(key, (BINDINGS.get(key) or (key,))[0], "Variables, secrets and bindings")
    if prod.get("durable_object_namespaces"):
        a.step("durable_object_bindings", _cite(
            "Durable Object bindings name a namespace on Pages and a class (and its script) on Workers: add "
            "durable_objects.bindings with class_name and script_name", "Variables, secrets and bindings"),
            {"bindings": sorted(prod["durable_object_namespaces"])})
    taken = sorted(env for env in ("production", "preview")
                   if "ASSETS" in (_config(project, env).get("env_vars") or {})
                   or any("ASSETS" in (_config(project, env).get(key) or {}) for key in ALL_BINDINGS))
    if taken:
        a.step("assets_binding_name", _cite(
            "a binding or variable named ASSETS (reserved on Pages for the static assets) is set in %s: on "
            "Workers the assets binding is named by assets.binding, so give one of the two another name"
            % ", ".join(taken), "Assets binding"), {"environments": taken})
    for key in ("placement", "limits"):
        if prod.get(key):
            a.maps(key, key, "Runtime")


def _rules(value):
    """A branch or path rule list, empty when it is the default (none, or ``["*"]``: everything)."""
    rules = list(value or [])
    return [] if rules == ["*"] else rules


def _check_builds(a, project, deployments):
    source = project.get("source") or {}
    build_config = project.get("build_config") or {}
    settings = dict((k, build_config.get(k)) for k in ("build_command", "destination_dir", "root_dir")
                    if build_config.get(k))
    if source:
        config = source.get("config") or {}
        a.step("git_builds", _cite(
            "the project builds from %s %s/%s: connect the repository to Workers Builds, then disable automatic "
            "deployments on the Pages project" % (source.get("type"), config.get("owner"), config.get("repo_name")),
            "Builds"), {"type": source.get("type"), "production_branch": config.get("production_branch")})
        a.maps("git builds", "Workers Builds", "Builds")
        setting = config.get("preview_deployment_setting")
        # ["*"] is what the API answers for "every branch" and "every path", as it does for no rule at all.
        includes = _rules(config.get("preview_branch_includes"))
        excludes = _rules(config.get("preview_branch_excludes"))
        if setting in ("none", "custom") or includes or excludes or config.get(
                "production_deployments_enabled", config.get("deployments_enabled", True)) is False:
            a.step("branch_controls", "branch deploy controls (preview_deployment_setting %s) are only partly "
                   "available in Workers Builds: non-production branch builds are on or off (compatibility matrix, "
                   "row \"Branch Deploy Controls\")" % setting,
                   {"preview_deployment_setting": setting, "includes": includes, "excludes": excludes})
        paths = {"path_includes": _rules(config.get("path_includes")), "path_excludes": _rules(config.get("path_excludes"))}
        if paths["path_includes"] or paths["path_excludes"]:
            a.step("build_watch_paths", "set the same build watch paths in Workers Builds (compatibility matrix, row "
                   "\"Build Watch Paths\")", paths)
        versions = sorted(set(_config(project, env).get("build_image_major_version") for env in ("production", "preview"))
                          - {None})
        a.step("build_image", "Workers Builds has its own build image; this project builds on Pages' build image v%s: "
               "check the tool versions the build needs (migration guide, \"Builds\")" % "/".join(map(str, versions)),
               {"build_image_major_version": versions})
        names = sorted(set(env_var_view(_config(project, "production"))[0]) | set(env_var_view(_config(project, "production"))[1]))
        if names:
            a.step("build_variables", _cite(
                "Pages builds see the environment variables; Workers Builds has build variables of its own: set "
                "those the build needs there", "Variables, secrets and bindings"), {"names": names})
    if settings:
        a.step("build_settings", _cite("carry the build settings over (build command, output directory as "
                                       "assets.directory, root directory)", "Build output directory"), settings)
    hooks = sorted(set(d.get("id") for d in deployments if _trigger_type(d) == "deploy_hook"))
    if hooks:
        a.step("deploy_hooks", "deploy hooks built %d of the deployments read: Workers Builds has deploy hooks of its "
               "own with new URLs; update whatever calls them (compatibility matrix, row \"Deploy Hooks\")" % len(hooks),
               {"deployments": hooks})
    aliased = sorted(set(_branch(d) for d in deployments if d.get("environment") == "preview" and d.get("aliases")) - {None})
    if aliased:
        a.step("branch_aliases", _cite(
            "preview branches with aliases (%s): on Workers, preview URLs and Worker Previews take their place; "
            "custom branch aliases are not available yet (compatibility matrix, row \"Custom Branch Aliases\")"
            % ", ".join(aliased), "Preview environment"), {"branches": aliased})
    return aliased


def _routable(state):
    """Whether a Worker can take the domain, or its zone could not be looked up (then the route is
    written, and the domain listed as not judged): not when the zone is missing or partial."""
    if not state or state[0] == "missing":
        return False
    return state[0] == "unchecked" or state[1].get("type") != "partial"


def assess(project, deployments, domains, zones, build=None, assets_directory="./dist", today=None):
    """The report item of one project.

    ``deployments``: the newest deployments read (any environment); ``domains``: the custom domain
    names; ``zones``: domain -> ``("found", zone)``, ``("missing", None)`` or ``("unchecked",
    reason)``; ``build``: the local build or None."""
    today = today or datetime.date.today().isoformat()
    a = Assessment()
    a.maps("pages.dev subdomain", "workers.dev (workers_dev: true)", "pages.dev")
    a.maps("build output directory", "assets.directory", "Build output directory")
    _check_domains(a, domains, zones)
    _check_code(a, project, build)
    _check_environments(a, project)
    aliased = _check_builds(a, project, deployments)
    if aliased and domains:
        a.unknown("custom_branch_alias_unchecked", "whether a custom domain points at a branch alias (a custom branch "
                  "alias, not available on Workers yet) cannot be seen through the API: check the DNS of %s"
                  % ", ".join(domains))
    if project.get("framework"):
        a.step("framework_adapter", _cite("the project was built with %s: switch its Pages adapter for the Workers one"
                                          % project["framework"], "Frameworks"), {"framework": project["framework"]})
    if not (project.get("canonical_deployment") or any(d.get("environment") == "production" for d in deployments)):
        a.unknown("no_production_deployment", "the project has no production deployment: nothing shows what it serves")
    secrets = env_var_view(_config(project, "production"))[1]
    return {
        "name": project.get("name"),
        "verdict": a.verdict,
        "blockers": a.blockers,
        "steps": a.steps,
        "unknowns": a.unknowns,
        "mapping": a.mapping,
        "custom_domains": list(domains),
        "secrets": [{"name": name, "command": "npx wrangler secret put %s --name %s" % (name, project.get("name"))}
                    for name in secrets],
        "wrangler_config": wrangler_config(project, build, [d for d in domains if _routable(zones.get(d))],
                                           assets_directory, today),
        "source_read": build is not None,
        "guide": GUIDE,
    }
