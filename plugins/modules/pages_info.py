#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pages_info
short_description: Read Cloudflare Pages projects, deployments, custom domains and build logs
version_added: 0.1.0
description:
  - Without O(project_name), returns every Pages project of the account (all pages of the list).
  - With O(project_name), returns that project, its deployments (newest first, optionally filtered and
    limited), its custom domains with their validation status, and optionally the build log of one deployment.
  - Results are the API's own objects, so Jinja can use them as Cloudflare documents them, for example
    C(projects[].name), C(deployments[].url), C(deployments[].environment) or
    C(deployments[].deployment_trigger.metadata.branch).
  - Never changes anything. Secret values (C(secret_text) environment variables, the web analytics
    token) are masked; binding and environment variable names are shown, so dangling bindings can be found.
author:
  - cfpages maintainers (@cfpages)
extends_documentation_fragment:
  - cfpages.cloudflare.auth
  - cfpages.cloudflare.attributes.INFO_MODULE
options:
  project_name:
    description:
      - The project to read. Without it, RV(projects) lists every project of the account and the other
        results are empty lists.
      - A project that does not exist fails the task unless O(fail_on_missing=false).
    type: str
  environment:
    description:
      - Only deployments of this environment (filtered by the API).
    type: str
    choices: [production, preview]
  branch:
    description:
      - Only deployments of this branch (C(deployment_trigger.metadata.branch)).
    type: str
  status:
    description:
      - Only deployments whose latest stage has one of these statuses (C(latest_stage.status)).
      - V(success) and V(failure) are finished deployments, V(active) and V(idle) ones still in progress.
    type: list
    elements: str
    choices: [success, failure, active, idle, canceled]
  older_than:
    description:
      - Only deployments created before this moment.
      - Either an age, a number and a unit (V(s), V(m), V(h), V(d), V(w)), which can be combined, such as
        V(30d), V(12h) or V(1d12h), counted back from now; or a date or time in ISO 8601 form, such as
        V(2026-01-31) or V(2026-01-31T12:00:00Z) (UTC when no offset is given).
    type: str
  limit:
    description:
      - Return at most this many deployments (after the filters), the newest first.
      - Deployments are read page by page (25 to a page) and reading stops as soon as O(limit) matching
        deployments are found, so a small O(limit) on a project with many deployments costs one request.
      - V(0) skips reading deployments altogether. Without O(limit), every matching deployment is returned.
    type: int
  deployment_id:
    description:
      - Read only this deployment (its full id). RV(deployments) then holds just that one.
      - A deployment that does not exist fails the task unless O(fail_on_missing=false).
      - Cannot be combined with the deployment filters O(environment), O(branch), O(status), O(older_than)
        and O(limit).
    type: str
  logs:
    description:
      - Also return the build log of O(deployment_id) in RV(logs), and whether it includes the build container's
        logs in RV(includes_container_logs).
    type: bool
    default: false
  fail_on_missing:
    description:
      - Whether a missing O(project_name) or O(deployment_id) fails the task.
      - With V(false), a missing project gives empty lists, and a missing deployment empty
        RV(deployments) and RV(logs).
    type: bool
    default: true
notes:
  - Requires the C(Pages Read) permission at least.
seealso:
  - module: cfpages.cloudflare.pages_project
  - module: cfpages.cloudflare.pages_deployment
  - module: cfpages.cloudflare.pages_domain
"""

EXAMPLES = r"""
- name: List every Pages project of the account
  cfpages.cloudflare.pages_info:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
  register: pages

- name: Show their names and pages.dev subdomains
  ansible.builtin.debug:
    msg: "{{ pages.projects | items2dict(key_name='name', value_name='subdomain') }}"

- name: The five newest successful production deployments of one project, with its domains
  cfpages.cloudflare.pages_info:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    environment: production
    status: success
    limit: 5
  register: site

- name: Print their URLs and the status of each custom domain
  ansible.builtin.debug:
    msg:
      urls: "{{ site.deployments | map(attribute='url') | list }}"
      domains: "{{ site.domains | items2dict(key_name='name', value_name='status') }}"

- name: Preview deployments of a feature branch that are older than 30 days
  cfpages.cloudflare.pages_info:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    environment: preview
    branch: feature/login
    older_than: 30d
  register: stale

- name: The build log of the newest deployment
  cfpages.cloudflare.pages_info:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    deployment_id: "{{ site.deployments[0].id }}"
    logs: true
  register: build
  when: site.deployments | length > 0

- name: Show the last lines of the log
  ansible.builtin.debug:
    msg: "{{ (build.logs | map(attribute='line') | list)[-10:] }}"
  when: build.logs is defined

- name: Find bindings to KV namespaces (to spot dangling ones)
  ansible.builtin.debug:
    msg: "{{ site.projects[0].deployment_configs.production.kv_namespaces | default({}) }}"

- name: The projects whose production environment still builds on an image older than v3
  ansible.builtin.debug:
    msg: "{{ pages.build_image_major_version | dict2items | rejectattr('value.production', 'ge', 3) | map(attribute='key') | list }}"

- name: Does a project exist? (no failure when it does not)
  cfpages.cloudflare.pages_info:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: maybe-there
    fail_on_missing: false
    limit: 0
  register: maybe

- name: Report it
  ansible.builtin.debug:
    msg: "maybe-there {{ 'exists' if maybe.projects else 'does not exist' }}"
"""

RETURN = r"""
projects:
  description:
    - Every project of the account, or only O(project_name) (empty when it does not exist and O(fail_on_missing=false)).
    - The API's Project objects; secret values are masked.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 48ddb51b-4568-4f38-94de-10614c2fa270
      name: my-site
      subdomain: my-site.pages.dev
      domains: [my-site.pages.dev, www.example.com]
      production_branch: main
      created_on: "2026-01-05T10:12:37.662510Z"
      build_config: {web_analytics_tag: null, web_analytics_token: null}
      deployment_configs:
        production:
          env_vars: {API_URL: {type: plain_text, value: "https://api.example.com"}, API_KEY: {type: secret_text, value: ""}}
          kv_namespaces: {CACHE: {namespace_id: 5eb63bbbe01eeed093cb22bb8f5acdc3}}
          compatibility_date: "2026-01-01"
          compatibility_flags: []
          build_image_major_version: 2
        preview: {env_vars: null, compatibility_date: "2026-01-01", compatibility_flags: [], build_image_major_version: 3}
      latest_deployment: {id: 6ae23287-83c7-4d4c-9f22-d06d6d6c1b1a, url: "https://6ae23287.my-site.pages.dev"}
      canonical_deployment: {id: 6ae23287-83c7-4d4c-9f22-d06d6d6c1b1a, url: "https://6ae23287.my-site.pages.dev"}
  contains:
    name:
      description: The project name.
      type: str
    subdomain:
      description: The project's C(pages.dev) hostname; may carry a random suffix when the name was taken elsewhere.
      type: str
    domains:
      description: The C(pages.dev) subdomain and every custom domain of the project.
      type: list
      elements: str
    production_branch:
      description: The branch whose deployments are production deployments.
      type: str
    deployment_configs:
      description:
        - C(production) and C(preview) settings, including C(env_vars), the binding maps (C(kv_namespaces),
          C(d1_databases), C(r2_buckets), C(services), ...) and C(build_image_major_version).
        - Values of C(secret_text) environment variables are masked.
      type: dict
    latest_deployment:
      description: The newest deployment of any environment, or null.
      type: dict
    canonical_deployment:
      description: The deployment that production serves, or null.
      type: dict
build_image_major_version:
  description:
    - The build image of each environment of each project in RV(projects)
      (C(deployment_configs.<env>.build_image_major_version)), by project name and environment.
    - V(null) for an environment the API says nothing about.
  returned: always
  type: dict
  sample: {my-site: {production: 2, preview: 3}}
deployments:
  description:
    - Deployments of O(project_name), newest first, after the filters and O(limit); or only O(deployment_id).
    - Empty without O(project_name).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 6ae23287-83c7-4d4c-9f22-d06d6d6c1b1a
      short_id: 6ae23287
      project_name: my-site
      environment: production
      url: "https://6ae23287.my-site.pages.dev"
      aliases: null
      created_on: "2026-01-05T10:12:37.662510Z"
      latest_stage: {name: deploy, status: success, started_on: null, ended_on: "2026-01-05T10:12:40.000000Z"}
      deployment_trigger: {type: ad_hoc, metadata: {branch: main, commit_hash: 0c3ee5d, commit_message: Release, commit_dirty: false}}
  contains:
    id:
      description: The deployment id.
      type: str
    short_id:
      description: The first 8 characters of the id.
      type: str
    environment:
      description: V(production) or V(preview).
      type: str
    url:
      description: The deployment's own URL.
      type: str
    aliases:
      description: Branch alias URLs (only on the newest deployment of a preview branch), or null.
      type: list
      elements: str
    latest_stage:
      description: The current stage, C(name) (queued, initialize, clone_repo, build, deploy) and C(status).
      type: dict
    deployment_trigger:
      description: How it was made, with C(metadata.branch), C(metadata.commit_hash) and C(metadata.commit_message).
      type: dict
domains:
  description:
    - The custom domains of O(project_name), as the API returns them. Empty without O(project_name).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 8232210c-6f69-4b4d-a2c9-1f0e3d1f7a6b
      name: www.example.com
      status: active
      certificate_authority: google
      zone_tag: 023e105f4ecef8ad9ca31a8372d0c353
      validation_data: {method: http, status: active}
      verification_data: {status: active}
      created_on: "2026-01-05T10:12:37.662510Z"
  contains:
    name:
      description: The domain.
      type: str
    status:
      description: One of V(initializing), V(pending), V(active), V(deactivated), V(blocked), V(error).
      type: str
    validation_data:
      description: Certificate validation, C(method) (V(http) or V(txt)), C(status), C(txt_name), C(txt_value), C(error_message).
      type: dict
    verification_data:
      description: Hostname verification, C(status) and C(error_message).
      type: dict
includes_container_logs:
  description:
    - The API's C(includes_container_logs) of the build log in RV(logs) (whether it holds the build container's own
      log lines too); C(null) when no log was read.
  returned: always
  type: bool
  sample: false
build_skipped:
  description:
    - When O(deployment_id) is a build Cloudflare skipped (C(is_skipped)), why; C(null) otherwise.
  returned: always
  type: dict
  contains:
    reason:
      description: The API's C(skip_reason), for example C(superseded_queued_build).
      type: str
      sample: superseded_queued_build
    message:
      description: The reason in words, with the deployment that builds the branch instead when known.
      type: str
    superseded_by:
      description:
        - The deployment that superseded it (C(id), C(short_id), C(environment), C(branch), C(created_on), C(url),
          C(aliases), C(stage)), for C(superseded_queued_build) when it can be found; C(null) otherwise.
      type: dict
logs:
  description:
    - The build log of O(deployment_id) when O(logs=true), one item per line, oldest first. Empty otherwise.
  returned: always
  type: list
  elements: dict
  sample:
    - {line: "Initializing build environment...", ts: "2026-01-05T10:12:37.662510Z"}
    - {line: "Success: Your site was deployed!", ts: "2026-01-05T10:12:40.000000Z"}
  contains:
    line:
      description: The log line.
      type: str
    ts:
      description: When it was written.
      type: str
"""

from ansible_collections.cfpages.cloudflare.plugins.module_utils._base import PagesModule
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.build_image import build_images
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.lifecycle import (
    deployment_branch,
    skip_details,
    stage_of,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._time import older_than_cutoff, parse_timestamp
from ansible_collections.cfpages.cloudflare.plugins.module_utils._validate import project_name_problem

DEPLOYMENT_FILTERS = ("environment", "branch", "status", "older_than", "limit")


def matches(deployment, branch=None, statuses=None, cutoff=None):
    """Whether one deployment passes the client-side filters (environment is filtered by the API)."""
    if branch is not None and deployment_branch(deployment) != branch:
        return False
    if statuses and stage_of(deployment)[1] not in statuses:
        return False
    if cutoff is not None:
        created = parse_timestamp(deployment.get("created_on"))
        if created is None or created >= cutoff:
            return False
    return True


def select_deployments(items, branch=None, statuses=None, cutoff=None, limit=None):
    """The matching deployments of ``items``, consumed lazily: stops reading at ``limit`` matches."""
    selected = []
    if limit is not None and limit <= 0:
        return selected
    for deployment in items:
        if not matches(deployment, branch, statuses, cutoff):
            continue
        selected.append(deployment)
        if limit is not None and len(selected) >= limit:
            break
    return selected


class PagesInfo(PagesModule):
    argument_spec = dict(
        project_name=dict(type="str"),
        environment=dict(type="str", choices=["production", "preview"]),
        branch=dict(type="str"),
        status=dict(type="list", elements="str", choices=["success", "failure", "active", "idle", "canceled"]),
        older_than=dict(type="str"),
        limit=dict(type="int"),
        deployment_id=dict(type="str"),
        logs=dict(type="bool", default=False),
        fail_on_missing=dict(type="bool", default=True),
    )
    module_kwargs = dict(
        required_by=dict((name, "project_name") for name in DEPLOYMENT_FILTERS + ("deployment_id",)),
        required_if=[("logs", True, ("deployment_id",))],
        mutually_exclusive=[("deployment_id", name) for name in DEPLOYMENT_FILTERS],
    )

    def execute(self):
        p = self.params
        self.result.update(
            projects=[], deployments=[], domains=[], logs=[], build_image_major_version={},
            includes_container_logs=None, build_skipped=None,
        )
        if p["project_name"] is not None:
            problem = project_name_problem(p["project_name"])
            if problem:
                self.fail(problem)
        if p["limit"] is not None and p["limit"] < 0:
            self.fail("limit must be 0 or more, not %d." % p["limit"])
        cutoff = None
        if p["older_than"] is not None:
            try:
                cutoff = older_than_cutoff(p["older_than"])
            except ValueError as exc:
                self.fail(str(exc))

        if p["project_name"] is None:
            self.result["projects"] = list(self.client.list_projects())
            self.note_build_images()
            return

        name = p["project_name"]
        project = self.client.get_project(name)
        if project is None:
            if p["fail_on_missing"]:
                self.fail(self.missing_project_message(
                    name,
                    "Project %r does not exist in account %s (set fail_on_missing: false to get empty lists instead)."
                    % (name, p["account_id"]),
                ))
            return
        self.result["projects"] = [project]
        self.note_build_images()
        self.result["domains"] = list(self.client.list_domains(name))

        if p["deployment_id"]:
            deployment = self.client.get_deployment(name, p["deployment_id"])
            if deployment is None:
                if p["fail_on_missing"]:
                    self.fail(
                        "Deployment %r does not exist in project %r (set fail_on_missing: false to get empty lists instead)."
                        % (p["deployment_id"], name)
                    )
                return
            self.result["deployments"] = [deployment]
            self.result["build_skipped"] = skip_details(self.client, name, deployment)
            if p["logs"]:
                history = self.client.get_deployment_logs(name, deployment.get("id") or p["deployment_id"]) or {}
                self.result["logs"] = list(history.get("data") or [])
                container = history.get("includes_container_logs")
                self.result["includes_container_logs"] = container if isinstance(container, bool) else None
            return

        statuses = set(p["status"]) if p["status"] else None
        if p["limit"] == 0:
            return
        items = self.client.list_deployments(name, env=p["environment"])
        selected = select_deployments(items, p["branch"], statuses, cutoff, p["limit"])
        self.result["deployments"] = selected

    def note_build_images(self):
        self.result["build_image_major_version"] = dict(
            (project.get("name"), build_images(project)) for project in self.result["projects"] if isinstance(project, dict)
        )


def main():
    PagesInfo().run()


if __name__ == "__main__":
    main()
