#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pages_migration_info
short_description: Report what moving Cloudflare Pages projects to Workers with static assets takes
version_added: 0.1.0
description:
  - For every Pages project of the account, or only O(project_name), says whether it can move to a Worker with
    static assets as it is (V(ready)), after manual steps (V(steps)), or not today (V(blocked)), and writes the
    Wrangler configuration of the Worker it would become.
  - The rules are those of Cloudflare's migration guide and compatibility matrix,
    U(https://developers.cloudflare.com/workers/static-assets/migration-guides/migrate-from-pages/); every finding's
    message names the section or matrix row it comes from.
  - "What it looks at: the project (production and preview configuration, git source, build settings and build
    image), its newest deployments (deploy hooks, branch aliases, code), its custom domains and, for each, the zone
    the domain belongs to (C(GET /zones) filtered by name and account: a Workers custom domain needs a zone of the
    same account on Cloudflare's nameservers)."
  - The API cannot return what only the uploaded files show. With O(source), the local build of the project is read
    too (C(_worker.js), the Functions directory, C(_routes.json), C(_headers), C(_redirects), a top-level
    C(404.html)). Without it, a project whose production deployment runs code is taken to run it first on every
    path, as Pages does by default, and what cannot be judged is listed in RV(projects[].unknowns).
  - Never changes anything and never returns a secret value (secret names only, with the command that sets each).
author:
  - cfpages maintainers (@cfpages)
extends_documentation_fragment:
  - cfpages.cloudflare.auth
  - cfpages.cloudflare.attributes.INFO_MODULE
options:
  project_name:
    description:
      - The project to report on. Without it, every project of the account.
    type: str
  source:
    description:
      - A local build of O(project_name) (the directory C(pages_deployment) would upload), read for C(_worker.js),
        C(_routes.json), C(_headers), C(_redirects) and a top-level C(404.html).
    type: path
  functions_dir:
    description:
      - The Pages Functions directory of that build. Default C(functions) beside O(source), as C(pages_deployment)
        finds it; V("") for none.
    type: path
  assets_directory:
    description:
      - The C(assets.directory) written into RV(projects[].wrangler_config), relative to where the Wrangler
        configuration file will be.
      - Defaults to O(source) when given, otherwise V(./dist).
    type: str
  deployment_history:
    description:
      - How many of the newest deployments of each project to read for deploy hooks and branch aliases (25 a request).
      - V(0) reads none (the production deployment is still known from the project).
    type: int
    default: 25
notes:
  - Needs C(Pages Read) and, to check custom domains against the account's zones, C(Zone Read). Without C(Zone Read)
    each custom domain is reported in RV(projects[].unknowns) as not checked.
  - "Requests: one for the list of projects (or the project), then per project one per 25 deployments read and one for
    its custom domains, and at most one per label of each custom domain for its zone (zones are looked up once a run)."
seealso:
  - module: cfpages.cloudflare.pages_info
  - name: Migrate from Pages to Workers
    description: Cloudflare's migration guide and compatibility matrix.
    link: https://developers.cloudflare.com/workers/static-assets/migration-guides/migrate-from-pages/
"""

EXAMPLES = r"""
- name: What would it take to move every Pages project of the account to Workers?
  cfpages.cloudflare.pages_migration_info:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
  register: migration

- name: The projects that can move as they are, and those that cannot move today
  ansible.builtin.debug:
    msg:
      ready: "{{ migration.projects | selectattr('verdict', 'eq', 'ready') | map(attribute='name') | list }}"
      blocked: "{{ migration.projects | selectattr('verdict', 'eq', 'blocked') | map(attribute='name') | list }}"

- name: One project, with its local build (reads _worker.js, _routes.json, _headers, _redirects)
  cfpages.cloudflare.pages_migration_info:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    source: dist
  register: my_site

- name: Write the Worker's Wrangler configuration beside the build
  ansible.builtin.copy:
    content: "{{ my_site.projects[0].wrangler_config | to_nice_json }}"
    dest: wrangler.jsonc
    mode: "0644"

- name: The manual steps, by code
  ansible.builtin.debug:
    msg: "{{ my_site.projects[0].steps | map(attribute='code') | list }}"
"""

RETURN = r"""
projects:
  description: One item per project, in the order the API lists them.
  returned: always
  type: list
  elements: dict
  sample:
    - name: my-site
      verdict: steps
      blockers: []
      steps:
        - code: secrets
          message: "secret values cannot be read back: set each on the Worker (...) (migration guide, \"Variables, secrets and bindings\")"
          detail: {names: [API_KEY]}
      unknowns: []
      mapping:
        - {pages: pages.dev subdomain, workers: "workers.dev (workers_dev: true)", guide: pages.dev}
      custom_domains: [www.example.com]
      secrets: [{name: API_KEY, command: "npx wrangler secret put API_KEY --name my-site"}]
      wrangler_config:
        name: my-site
        compatibility_date: "2026-01-15"
        assets: {directory: ./dist, html_handling: auto-trailing-slash, not_found_handling: 404-page}
        vars: {API_URL: "https://api.example.com"}
        routes: [{pattern: www.example.com, custom_domain: true}]
        workers_dev: true
      source_read: true
      guide: https://developers.cloudflare.com/workers/static-assets/migration-guides/migrate-from-pages/
  contains:
    name:
      description: The project's name (also the Worker's name in RV(projects[].wrangler_config)).
      type: str
    verdict:
      description:
        - V(ready) when nothing in RV(projects[].blockers) or RV(projects[].steps); V(steps) when only steps;
          V(blocked) when Workers cannot do something the project needs today.
        - Moving to the new C(workers.dev) address and deleting the Pages project after the cut-over are part of every
          move, not steps. What could not be judged is in RV(projects[].unknowns) and does not change the verdict.
      type: str
      choices: [ready, steps, blocked]
    blockers:
      description:
        - What Workers cannot do for the project today, as C({code, message, detail}).
        - "Codes: V(custom_domain_outside_account) (the domain's zone is not a zone of this account),
          V(custom_domain_partial_zone) (a partial, CNAME setup zone)."
      type: list
      elements: dict
    steps:
      description:
        - The manual steps of the move, as C({code, message, detail}).
        - "Codes: V(custom_domain_zone_not_active), V(worker_code), V(advanced_mode_worker), V(pages_functions),
          V(run_worker_first), V(early_hints), V(preview_config_differs), V(latest_compatibility_date), V(secrets),
          V(durable_object_bindings), V(assets_binding_name), V(git_builds), V(branch_controls), V(build_watch_paths),
          V(build_image), V(build_variables), V(build_settings), V(deploy_hooks), V(branch_aliases),
          V(framework_adapter)."
      type: list
      elements: dict
    unknowns:
      description:
        - What could not be judged, as C({code, message, detail}).
        - "Codes: V(custom_domain_unchecked) (no Zone Read, or the lookup failed), V(routes_unknown) and
          V(not_found_handling_unknown) (no O(source)), V(custom_branch_alias_unchecked), V(no_production_deployment)."
      type: list
      elements: dict
    mapping:
      description: What each Pages feature of the project becomes on Workers, as C({pages, workers, guide}).
      type: list
      elements: dict
    custom_domains:
      description: The project's custom domains.
      type: list
      elements: str
    secrets:
      description: The production environment's secret names (never values), each with the command that sets it on the Worker.
      type: list
      elements: dict
    wrangler_config:
      description:
        - A Wrangler configuration (JSON, as C(wrangler.jsonc) takes it) of the production environment - C(name),
          C(compatibility_date) and C(compatibility_flags), C(main) when the project has code, C(assets)
          (C(directory), C(binding), C(html_handling), C(not_found_handling), C(run_worker_first) from C(_routes.json)),
          plain C(vars), the bindings (Durable Objects excepted, see the V(durable_object_bindings) step), C(placement),
          C(limits), the custom domains whose zone is in the account as C(routes), and C(workers_dev).
      type: dict
    source_read:
      description: Whether a local build (O(source)) was read for this project.
      type: bool
    guide:
      description: The migration guide the findings cite.
      type: str
"""

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import LocalBuildError, PagesAPIError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._base import PagesModule
from ansible_collections.cfpages.cloudflare.plugins.module_utils._migration.assess import assess
from ansible_collections.cfpages.cloudflare.plugins.module_utils._migration.local_build import read_local_build
from ansible_collections.cfpages.cloudflare.plugins.module_utils._validate import project_name_problem


def zone_candidates(domain):
    """The names a zone of ``domain`` can have, longest first (``www.example.com``, ``example.com``)."""
    labels = domain.rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


class ZoneLookup:
    """Finds the zone of each custom domain once a run; the first refusal (no Zone Read) stops the
    look-ups, and every later domain is reported as not checked with its reason."""

    def __init__(self, client):
        self.client = client
        self.by_name = {}
        self.refused = None

    def _zone_named(self, name):
        if name not in self.by_name:
            self.by_name[name] = next(iter(self.client.find_zones(name)), None)
        return self.by_name[name]

    def state_of(self, domain):
        if self.refused:
            return "unchecked", self.refused
        try:
            for name in zone_candidates(domain):
                zone = self._zone_named(name)
                if zone is not None:
                    return "found", zone
        except PagesAPIError as err:
            if err.status in (401, 403):
                self.refused = "the zones API refused the credential (it needs Zone Read): %s" % err
            return "unchecked", self.refused or str(err)
        return "missing", None


class PagesMigrationInfo(PagesModule):
    argument_spec = dict(
        project_name=dict(type="str"),
        source=dict(type="path"),
        functions_dir=dict(type="path"),
        assets_directory=dict(type="str"),
        deployment_history=dict(type="int", default=25),
    )
    module_kwargs = dict(required_by=dict(source="project_name", functions_dir="source"))

    def execute(self):
        p = self.params
        self.result["projects"] = []
        if p["project_name"] is not None:
            problem = project_name_problem(p["project_name"])
            if problem:
                self.fail(problem)
        if p["deployment_history"] < 0:
            self.fail("deployment_history must be 0 or more, not %d." % p["deployment_history"])
        build = None
        if p["source"] is not None:
            try:
                build = read_local_build(p["source"], p["functions_dir"])
            except LocalBuildError as err:
                self.fail(str(err))
        assets_directory = p["assets_directory"] or p["source"] or "./dist"

        if p["project_name"] is None:
            projects = list(self.client.list_projects())
        else:
            project = self.client.get_project(p["project_name"])
            if project is None:
                self.fail("Project %r does not exist in account %s." % (p["project_name"], p["account_id"]))
            projects = [project]
        zones = ZoneLookup(self.client)
        for project in projects:
            name = project.get("name")
            deployments = []
            if p["deployment_history"]:
                deployments = list(self.client.list_deployments(name, limit=p["deployment_history"]))
            domains = [d.get("name") for d in self.client.list_domains(name) if d.get("name")]
            states = dict((domain, zones.state_of(domain)) for domain in domains)
            self.result["projects"].append(assess(project, deployments, domains, states, build, assets_directory))


def main():
    PagesMigrationInfo().run()


if __name__ == "__main__":
    main()
