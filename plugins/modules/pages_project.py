#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pages_project
short_description: Create, update and delete Cloudflare Pages projects
version_added: 0.1.0
description:
  - Declares a Cloudflare Pages project, its build settings, its git source, and the settings of its
    C(production) and C(preview) environments (environment variables, secrets, bindings, compatibility
    settings), or removes it.
  - The project O(name) is its identity. A project is never renamed, and never deleted and recreated to apply
    a change.
  - The module reads the project once and compares only what the task sets, after normalising the API's
    defaults (V(null), V(""), V([]) and V({}) all mean "not set", and so does V(["*"]) for
    O(source.config.preview_branch_includes) and O(source.config.path_includes)). When something differs it
    sends one PATCH with only the differences (or one POST to create), so a second run with the same
    arguments reports no change and makes a single GET request.
  - Options and sub-options that the task does not set are not managed and are left as they are.
  - Values of C(secret_text) environment variables and O(build_config.web_analytics_token) never appear in
    results, diffs or messages.
author:
  - cfpages maintainers (@cfpages)
extends_documentation_fragment:
  - cfpages.cloudflare.auth
  - cfpages.cloudflare.attributes
options:
  name:
    description:
      - The project name, which also names its C(<name>.pages.dev) subdomain (the API may add a suffix when the
        name is taken by another account; see RV(project.subdomain)).
      - 1 to 58 lowercase letters, digits and hyphens, not starting or ending with a hyphen.
    type: str
    required: true
  state:
    description:
      - V(present) creates the project or updates it to match the task.
      - V(absent) deletes it. A project with custom domains, or one the API refuses to delete (for example
        because it has many deployments), is only deleted with O(force=true).
    type: str
    choices: [present, absent]
    default: present
  production_branch:
    description:
      - The branch whose deployments are production deployments; all other branches deploy to preview.
      - Required to create a project.
      - Ignored with O(state=absent).
    type: str
  build_config:
    description:
      - How Cloudflare builds a git-connected project.
      - Ignored with O(state=absent).
    type: dict
    suboptions:
      build_command:
        description: The command that builds the site, for example C(npm run build).
        type: str
      destination_dir:
        description: The directory, relative to O(build_config.root_dir), that holds the built site.
        type: str
      root_dir:
        description: The directory of the repository to run the build in.
        type: str
      build_caching:
        description: Whether to cache build dependencies between builds.
        type: bool
      web_analytics_tag:
        description: The Cloudflare Web Analytics site tag.
        type: str
      web_analytics_token:
        description:
          - The Cloudflare Web Analytics token. It is treated as a secret and never shown.
        type: str
  source:
    description:
      - Connects the project to a GitHub or GitLab repository, so that Cloudflare builds it on every push.
      - On an existing project without a repository (one whose repository was disconnected) the module connects
        it with the API's C(POST .../projects/{name}/source). Cloudflare does not connect a project created for
        Direct Upload to git; when the API refuses, the task fails with the API's answer and never deletes and
        recreates the project. In check mode the connection is reported as a change; only a real run learns
        whether Cloudflare accepts it.
      - On a project that has a repository, a different O(source) is sent as a change of the project.
      - To disconnect the repository, set O(source_state=absent) instead.
      - Creating a git-connected project needs the Cloudflare Pages app to be installed for the repository's
        owner.
      - Ignored with O(state=absent).
    type: dict
    suboptions:
      type:
        description: The git provider.
        type: str
        choices: [github, gitlab]
        required: true
      config:
        description: The repository and how its branches are built.
        type: dict
        required: true
        suboptions:
          owner:
            description: The user or organisation that owns the repository.
            type: str
          repo_name:
            description: The repository name.
            type: str
          production_branch:
            description: The repository branch that is built as production.
            type: str
          pr_comments_enabled:
            description: Whether Cloudflare comments on pull requests with preview links.
            type: bool
          production_deployments_enabled:
            description: Whether pushes to the production branch are built and deployed.
            type: bool
          deployments_enabled:
            description:
              - Deprecated by Cloudflare, which says to use O(source.config.production_deployments_enabled) and
                O(source.config.preview_deployment_setting) instead. Still sent as given; the task warns.
            type: bool
          preview_deployment_setting:
            description:
              - Which branches get preview deployments. V(custom) uses
                O(source.config.preview_branch_includes) and O(source.config.preview_branch_excludes).
            type: str
            choices: [all, none, custom]
          preview_branch_includes:
            description:
              - Branch name patterns that get preview deployments. Needs O(source.config.preview_deployment_setting=custom)
                (set by this task or already set on the project).
            type: list
            elements: str
          preview_branch_excludes:
            description:
              - Branch name patterns that never get preview deployments. Needs
                O(source.config.preview_deployment_setting=custom).
            type: list
            elements: str
          path_includes:
            description: Build watch paths; a push that changes none of these paths is not built.
            type: list
            elements: str
          path_excludes:
            description: Paths whose changes never start a build.
            type: list
            elements: str
  source_state:
    description:
      - V(absent) disconnects the project's git repository (the API's C(DELETE .../projects/{name}/source)) when
        it has one; the project, its settings and its deployments stay, and Cloudflare stops building it on push.
        It cannot be combined with O(source). Reported as a change, with the repository in the diff's C(before);
        in check mode nothing is sent.
      - V(present) (the default) leaves a connected repository alone unless O(source) asks for another one.
      - Ignored with O(state=absent).
    type: str
    choices: [present, absent]
    default: present
  deployment_configs:
    description:
      - Settings of the C(production) and C(preview) environments, in the API's shapes, so that Cloudflare's
        documentation can be copied into a task.
      - Each binding map (O(deployment_configs.production.kv_namespaces) and the others) maps a binding name to
        an object whose shape the option describes; the shapes are checked before any request is sent, and a
        field that must be a string is refused when it is a list, a dict or a boolean.
      - Variable and binding names are JavaScript identifiers, as the Worker reads them from C(env) (ASCII letters,
        digits, C(_) and C($), not starting with a digit). Other names are refused before any request, and so
        is C(ASSETS), reserved in Pages projects for the binding to the project's static assets (as wrangler
        refuses it).
      - Maps are merged with what the project has. Entries the task does not list are kept, unless
        O(purge_env_vars=true) (for O(deployment_configs.production.env_vars)) or O(purge_bindings=true) (for
        the binding maps) removes them; purging applies only to maps the task sets, so to remove every
        entry of a map set it to V({}) with purging on.
      - Ignored with O(state=absent).
    type: dict
    suboptions:
      production:
        description:
          - The production environment.
          - The sub-options are the same as those of O(deployment_configs.preview).
        type: dict
        suboptions: &env_options
          env_vars:
            description:
              - "Environment variables, as a map of variable name to C({type, value})."
              - C(type) is V(plain_text) (the default) or V(secret_text). C(value) is required and is a string
                (numbers are converted).
              - The API never returns the value of a C(secret_text) variable, so an existing secret is only
                updated when O(update_secrets=always).
            type: dict
          compatibility_date:
            description: The Workers runtime compatibility date, C(YYYY-MM-DD).
            type: str
          compatibility_flags:
            description: Workers runtime compatibility flags, for example C(nodejs_compat). Order does not matter.
            type: list
            elements: str
          always_use_latest_compatibility_date:
            description: Whether to use the latest compatibility date instead of O(deployment_configs.production.compatibility_date).
            type: bool
          fail_open:
            description: Whether requests are served without Functions when the Functions request limit is reached.
            type: bool
          usage_model:
            description: The Functions usage model. Deprecated by Cloudflare; new projects use V(standard).
            type: str
            choices: [standard, bundled, unbound]
          build_image_major_version:
            description:
              - The build image Cloudflare builds this environment's deployments in, V(1), V(2) or V(3) (the API's
                default for a new project is V(3)). Any other value fails before any request.
              - Cloudflare ends v1 on 2026-09-15 and v2 on 2027-02-23; setting a version past its end gets a warning.
              - To move a project without breaking production, set the preview environment first, build a preview,
                then production; the C(cfpages.cloudflare.build_image_upgrade) role does that.
            type: int
          placement:
            description: Smart Placement of Functions.
            type: dict
            suboptions:
              mode:
                description: The placement mode, for example V(smart).
                type: str
                required: true
          limits:
            description: Resource limits of Functions.
            type: dict
            suboptions:
              cpu_ms:
                description: CPU time limit per request, in milliseconds.
                type: int
                required: true
          kv_namespaces:
            description: "Workers KV namespace bindings, C({BINDING: {namespace_id}})."
            type: dict
          durable_object_namespaces:
            description: "Durable Object namespace bindings, C({BINDING: {namespace_id}})."
            type: dict
          d1_databases:
            description: "D1 database bindings, C({BINDING: {id}})."
            type: dict
          r2_buckets:
            description: "R2 bucket bindings, C({BINDING: {name, jurisdiction}}); C(jurisdiction) is optional."
            type: dict
          services:
            description:
              - "Service bindings to Workers, C({BINDING: {service, environment, entrypoint}});
                C(environment) and C(entrypoint) are optional."
            type: dict
          queue_producers:
            description: "Queue producer bindings, C({BINDING: {name}})."
            type: dict
          ai_bindings:
            description: "Workers AI bindings, C({BINDING: {project_id}}); C(project_id) is optional."
            type: dict
          analytics_engine_datasets:
            description: "Analytics Engine dataset bindings, C({BINDING: {dataset}})."
            type: dict
          hyperdrive_bindings:
            description: "Hyperdrive configuration bindings, C({BINDING: {id}})."
            type: dict
          vectorize_bindings:
            description: "Vectorize index bindings, C({BINDING: {index_name}})."
            type: dict
          mtls_certificates:
            description: "mTLS certificate bindings, C({BINDING: {certificate_id}})."
            type: dict
          browsers:
            description: "Browser Rendering bindings, C({BINDING: {}})."
            type: dict
      preview:
        description:
          - The preview environment.
          - The sub-options are the same as those of O(deployment_configs.production).
        type: dict
        suboptions: *env_options
  purge_env_vars:
    description:
      - Remove the environment variables that the task does not list, in each O(deployment_configs.production.env_vars)
        or O(deployment_configs.preview.env_vars) map the task sets.
      - Environments and maps the task does not set are left alone.
      - Ignored with O(state=absent).
    type: bool
    default: false
  purge_bindings:
    description:
      - Remove the bindings that the task does not list, in each binding map the task sets (for example
        O(deployment_configs.production.kv_namespaces)).
      - Binding maps the task does not set are left alone; set a map to V({}) to remove all its bindings.
      - Ignored with O(state=absent).
    type: bool
    default: false
  update_secrets:
    description:
      - V(on_create) sends a C(secret_text) variable only when the project does not have it yet (or has it as plain
        text). The API never returns secret values, so they cannot be compared; an existing secret is left alone
        and reports no change.
      - V(always) sends every C(secret_text) variable the task lists, and so always reports a change when the task
        lists one.
      - Ignored with O(state=absent).
    type: str
    choices: [on_create, always]
    default: on_create
  force:
    description:
      - With O(state=absent), first remove the project's custom domains and delete its deployments (with the
        API's C(force) flag, so aliased deployments go too; the live production deployment is deleted with
        the project), then delete the project.
      - The deletions run a few at a time, paced to Cloudflare's rate limit within O(rate_limit_budget). When the
        budget is spent the task fails with RV(deleted_deployments) so far, and running it again resumes.
      - Without it, deleting a project that has custom domains, or that the API refuses to delete, fails with the
        reason and what to do.
      - Ignored with O(state=present).
    type: bool
    default: false
  purge_build_cache:
    description:
      - Purge the project's build cache. This always reports a change; in check mode it is reported, not done.
      - Ignored with O(state=absent).
    type: bool
    default: false
notes:
  - The API keeps environments independent; setting O(deployment_configs.production) leaves the preview
    environment as it is.
  - Changing O(source.type) or the repository of a git-connected project is sent to the API as a change; the API
    decides whether it allows it.
  - In check mode nothing is changed; RV(project) then shows what the project would look like.
seealso:
  - module: cfpages.cloudflare.pages_info
  - module: cfpages.cloudflare.pages_domain
  - module: cfpages.cloudflare.pages_deployment
  - name: Pages project API
    description: The project object and its settings.
    link: https://developers.cloudflare.com/api/resources/pages/subresources/projects/
"""

EXAMPLES = r"""
# Credentials are set once per play for every module of the collection.
- name: Manage a Cloudflare Pages project
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/cfpages.cloudflare.pages:
      api_token: "{{ cloudflare_api_token }}"
      account_id: "{{ cloudflare_account_id }}"
  tasks:
    - name: A direct-upload project (deploy to it with cfpages.cloudflare.pages_deployment)
      cfpages.cloudflare.pages_project:
        name: example-site
        production_branch: main

    - name: Environment variables, a secret from Ansible Vault, and compatibility settings
      cfpages.cloudflare.pages_project:
        name: example-site
        production_branch: main
        deployment_configs:
          production:
            compatibility_date: "2025-01-15"
            compatibility_flags: [nodejs_compat]
            env_vars:
              API_URL:
                value: https://api.example.com
              API_SECRET:
                type: secret_text
                value: "{{ vault_example_api_secret }}"
          preview:
            env_vars:
              API_URL:
                value: https://staging-api.example.com

    - name: Rotate the secret (the API never returns it, so it is only re-sent when asked)
      cfpages.cloudflare.pages_project:
        name: example-site
        update_secrets: always
        deployment_configs:
          production:
            env_vars:
              API_SECRET:
                type: secret_text
                value: "{{ vault_example_api_secret_new }}"

    - name: Exactly these production variables; others are removed
      cfpages.cloudflare.pages_project:
        name: example-site
        purge_env_vars: true
        deployment_configs:
          production:
            env_vars:
              API_URL:
                value: https://api.example.com

    - name: Bindings to KV, D1, R2 and a Worker (other bindings are kept)
      cfpages.cloudflare.pages_project:
        name: example-site
        deployment_configs:
          production:
            kv_namespaces:
              SESSIONS:
                namespace_id: 0f2ac74b498b48028cb68387c421e279
            d1_databases:
              DB:
                id: 445e2955-951a-43f8-a35b-a4d0c8138f63
            r2_buckets:
              MEDIA:
                name: example-assets
            services:
              AUTH:
                service: auth-worker
                environment: production

    - name: Remove every KV binding of production
      cfpages.cloudflare.pages_project:
        name: example-site
        purge_bindings: true
        deployment_configs:
          production:
            kv_namespaces: {}

    - name: Preview what a change would do, secrets masked (run with --check --diff to see it)
      cfpages.cloudflare.pages_project:
        name: example-site
        production_branch: release
      check_mode: true
      diff: true
      register: preview

    - name: A project that Cloudflare builds from GitHub, with build watch paths
      cfpages.cloudflare.pages_project:
        name: example-docs
        production_branch: main
        build_config:
          build_command: npm run build
          destination_dir: dist
          root_dir: docs
        source:
          type: github
          config:
            owner: example-org
            repo_name: example-docs
            production_branch: main
            pr_comments_enabled: true
            preview_deployment_setting: custom
            preview_branch_includes: ["release/*", "feature/*"]
            path_includes: ["docs/*"]

    - name: Build previews on build image v3 first (production stays on v2 until a preview build works)
      cfpages.cloudflare.pages_project:
        name: example-docs
        deployment_configs:
          preview:
            build_image_major_version: 3

    - name: Stop building on push for a while (the project and its deployments stay)
      cfpages.cloudflare.pages_project:
        name: example-docs
        source_state: absent

    - name: Connect the repository again
      cfpages.cloudflare.pages_project:
        name: example-docs
        source:
          type: github
          config:
            owner: example-org
            repo_name: example-docs
            production_deployments_enabled: true
            preview_deployment_setting: none

    - name: Purge the build cache of the git-connected project
      cfpages.cloudflare.pages_project:
        name: example-docs
        purge_build_cache: true

    - name: Delete a project, removing its custom domains and deployments first
      cfpages.cloudflare.pages_project:
        name: example-site
        state: absent
        force: true

    - name: Delete the other project
      cfpages.cloudflare.pages_project:
        name: example-docs
        state: absent
"""

RETURN = r"""
project:
  description:
    - The project as the API returned it after the change (or as it is, when nothing changed), with secret values
      masked.
    - In check mode, what the project would look like; a project that would be created then has only the fields
      the task sets.
    - V({}) with O(state=absent).
  returned: always
  type: dict
  sample:
    id: 7b162ea7-7367-4d67-bcde-1160995d5
    name: example-site
    subdomain: example-site.pages.dev
    domains: [example-site.pages.dev]
    production_branch: main
    created_on: "2025-01-15T09:26:40.123456Z"
    build_config:
      build_caching: null
      build_command: null
      destination_dir: null
      root_dir: null
      web_analytics_tag: null
      web_analytics_token: null
    deployment_configs:
      production:
        compatibility_date: "2025-01-15"
        compatibility_flags: [nodejs_compat]
        env_vars:
          API_URL: {type: plain_text, value: https://api.example.com}
          API_SECRET: {type: secret_text, value: VALUE_SPECIFIED_IN_NO_LOG_PARAMETER}
        fail_open: true
        always_use_latest_compatibility_date: false
        usage_model: standard
        build_image_major_version: 3
      preview:
        compatibility_date: "2025-01-15"
        compatibility_flags: []
        env_vars: null
        fail_open: true
        always_use_latest_compatibility_date: false
        usage_model: standard
        build_image_major_version: 3
    latest_deployment: null
    canonical_deployment: null
  contains:
    id:
      description: The project id.
      type: str
    name:
      description: The project name.
      type: str
    subdomain:
      description: The project's C(*.pages.dev) host name. Use this rather than building C(<name>.pages.dev).
      type: str
    domains:
      description: The C(*.pages.dev) host name and the custom domains.
      type: list
      elements: str
    production_branch:
      description: The production branch.
      type: str
    created_on:
      description: When the project was created.
      type: str
    build_config:
      description: The build settings.
      type: dict
    deployment_configs:
      description: The settings of the C(production) and C(preview) environments; secret values masked.
      type: dict
    source:
      description: The git source; absent for direct-upload projects.
      type: dict
    latest_deployment:
      description: The most recent deployment, or V(null).
      type: dict
    canonical_deployment:
      description: The live production deployment, or V(null).
      type: dict
wrangler_config_hash:
  description:
    - The C(deployment_configs.<env>.wrangler_config_hash) of each environment that has one, by environment.
    - A project deployed with a wrangler configuration file (C(pages_build_output_dir)) carries it, and that file is
      then the source of truth for the project's settings; the module warns when it changes env vars or bindings
      of such an environment, since the next C(wrangler pages deploy) overwrites them.
  returned: when O(state=present), the project existed and an environment has one
  type: dict
  sample: {production: 5a0d3c1b8e2f4a6c9b7d1e3f5a7c9b0d2e4f6a8c1b3d5e7f9a0c2b4d6e8f0a1c}
build_image_major_version:
  description:
    - The build image of each environment after the task (C(deployment_configs.<env>.build_image_major_version) of
      RV(project)), by environment.
    - V(null) for an environment the API says nothing about, and in check mode for a project that would be
      created, for the environments the task does not set.
  returned: when O(state=present)
  type: dict
  sample: {production: 2, preview: 3}
build_cache_purged:
  description: Whether the build cache was purged (V(false) in check mode, where it is only reported).
  returned: when O(purge_build_cache=true) and O(state=present)
  type: bool
  sample: true
removed_domains:
  description: The custom domains removed before the project was deleted (in check mode, those that would be).
  returned: when O(state=absent) and O(force=true) and the project existed
  type: list
  elements: str
  sample: [www.example.com]
deleted_deployments:
  description: The ids of the deployments deleted before the project was deleted (in check mode, those that would be).
  returned: when O(state=absent) and O(force=true) and the project existed
  type: list
  elements: str
  sample: [4f0ef2b4-9b5d-4f59-8f3e-6d9b7a0a1c22]
"""

import copy
import re
from datetime import date

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import (
    BulkStopped,
    DEPLOYMENT_NOT_FOUND,
    PagesAPIError,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._base import PagesModule
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.build_image import (
    build_image_problem,
    build_images,
    end_of_life_warning,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.bulk import run_bulk
from ansible_collections.cfpages.cloudflare.plugins.module_utils._compare import (
    apply_patch,
    diff_patch,
    managed_view,
    normalise,
    prune_unset,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._validate import (
    project_name_problem,
    text_field_problem,
    variable_name_problem,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import SECRET_ENV_TYPE, register_secrets

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ENVIRONMENTS = ("production", "preview")
ENV_TYPES = ("plain_text", SECRET_ENV_TYPE)

# The value shape of each binding map, as an argument spec (validated with Ansible's own validator).
BINDING_SHAPES = {
    "kv_namespaces": {"namespace_id": {"type": "str", "required": True}},
    "durable_object_namespaces": {"namespace_id": {"type": "str", "required": True}},
    "d1_databases": {"id": {"type": "str", "required": True}},
    "r2_buckets": {"name": {"type": "str", "required": True}, "jurisdiction": {"type": "str"}},
    "services": {
        "service": {"type": "str", "required": True},
        "environment": {"type": "str"},
        "entrypoint": {"type": "str"},
    },
    "queue_producers": {"name": {"type": "str", "required": True}},
    "ai_bindings": {"project_id": {"type": "str"}},
    "analytics_engine_datasets": {"dataset": {"type": "str", "required": True}},
    "hyperdrive_bindings": {"id": {"type": "str", "required": True}},
    "vectorize_bindings": {"index_name": {"type": "str", "required": True}},
    "mtls_certificates": {"certificate_id": {"type": "str", "required": True}},
    "browsers": {},
}
BINDING_MAPS = tuple(BINDING_SHAPES)
MAP_OPTIONS = ("env_vars",) + BINDING_MAPS

# Fields of the project the module manages (shown in diffs).
MANAGED_FIELDS = ("name", "production_branch", "build_config", "source", "deployment_configs")

ENV_SPEC = dict(
    env_vars=dict(type="dict"),
    compatibility_date=dict(type="str"),
    compatibility_flags=dict(type="list", elements="str"),
    always_use_latest_compatibility_date=dict(type="bool"),
    fail_open=dict(type="bool"),
    usage_model=dict(type="str", choices=["standard", "bundled", "unbound"]),
    build_image_major_version=dict(type="int"),
    placement=dict(type="dict", options=dict(mode=dict(type="str", required=True))),
    limits=dict(type="dict", options=dict(cpu_ms=dict(type="int", required=True))),
    **{name: dict(type="dict") for name in BINDING_MAPS}
)


def secret_values(params):
    """The values of secret environment variables in the raw parameters (for no_log).

    Any variable with a type other than ``plain_text`` counts, so a mistyped ``secret_txt`` is
    hidden too. Written defensively: it also runs on parameters that failed validation.
    """
    found = []
    configs = params.get("deployment_configs") if isinstance(params, dict) else None
    if not isinstance(configs, dict):
        return found
    for env in configs.values():
        env_vars = env.get("env_vars") if isinstance(env, dict) else None
        if not isinstance(env_vars, dict):
            continue
        for entry in env_vars.values():
            if isinstance(entry, dict) and entry.get("type") not in (None, "plain_text"):
                if isinstance(entry.get("value"), (str, int, float)):
                    found.append(str(entry["value"]))
    return register_secrets(found)


class PagesProject(PagesModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        production_branch=dict(type="str"),
        build_config=dict(
            type="dict",
            options=dict(
                build_command=dict(type="str"),
                destination_dir=dict(type="str"),
                root_dir=dict(type="str"),
                build_caching=dict(type="bool"),
                web_analytics_tag=dict(type="str"),
                web_analytics_token=dict(type="str", no_log=True),
            ),
        ),
        source_state=dict(type="str", choices=["present", "absent"], default="present"),
        source=dict(
            type="dict",
            options=dict(
                type=dict(type="str", choices=["github", "gitlab"], required=True),
                config=dict(
                    type="dict",
                    required=True,
                    options=dict(
                        owner=dict(type="str"),
                        repo_name=dict(type="str"),
                        production_branch=dict(type="str"),
                        pr_comments_enabled=dict(type="bool"),
                        production_deployments_enabled=dict(type="bool"),
                        deployments_enabled=dict(type="bool"),
                        preview_deployment_setting=dict(type="str", choices=["all", "none", "custom"]),
                        preview_branch_includes=dict(type="list", elements="str"),
                        preview_branch_excludes=dict(type="list", elements="str"),
                        path_includes=dict(type="list", elements="str"),
                        path_excludes=dict(type="list", elements="str"),
                    ),
                ),
            ),
        ),
        deployment_configs=dict(
            type="dict",
            options=dict(
                production=dict(type="dict", options=ENV_SPEC),
                preview=dict(type="dict", options=ENV_SPEC),
            ),
        ),
        purge_env_vars=dict(type="bool", default=False),
        purge_bindings=dict(type="bool", default=False),
        update_secrets=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
        force=dict(type="bool", default=False),
        purge_build_cache=dict(type="bool", default=False),
    )
    # The environment variable maps are free-form dicts, so no_log cannot mark their secret values:
    # they are hidden through secret_values, and the module does not write its arguments to syslog.
    module_kwargs = dict(no_log=True, secret_values=secret_values)
    # Which option is valid in which state. Options of the other state are ignored, as their documentation
    # says ("Ignored with state=..."), so that a task can flip state and keep the rest.
    option_states = dict(
        name=("present", "absent"),
        state=("present", "absent"),
        production_branch=("present",),
        build_config=("present",),
        source_state=("present",),
        source=("present",),
        deployment_configs=("present",),
        purge_env_vars=("present",),
        purge_bindings=("present",),
        update_secrets=("present",),
        force=("absent",),
        purge_build_cache=("present",),
    )
    refuse_misplaced_options = False

    # ------------------------------------------------------------------ entry point

    def execute(self):
        p = self.params
        name = p["name"]
        problem = project_name_problem(name, "name")
        if problem:
            self.fail(problem)
        if p["state"] == "absent":
            current = self.client.get_project(name)
            self.absent(name, current)
            return
        if p["source_state"] == "absent" and p["source"] is not None:
            self.fail(
                "source_state: absent disconnects the project's git repository, so source cannot be set with it: "
                "remove source from the task, or set source_state: present to connect or keep that repository."
            )
        desired = self.build_desired()
        current = self.client.get_project(name)
        if current is None:
            self.create(name, desired)
        else:
            self.update(name, desired, current)
        self.result["build_image_major_version"] = build_images(self.result.get("project"))
        if p["purge_build_cache"]:
            self._mark_as_changed()
            self.result["build_cache_purged"] = False
            if not self.check_mode:
                self.client.purge_build_cache(name)
                self.result["build_cache_purged"] = True

    # ------------------------------------------------------------------ desired state

    def build_desired(self):
        """The request body the task asks for (managed keys only), after validating what the
        argument spec cannot check: free-form maps, date formats, and option combinations."""
        p = self.params
        desired = {"name": p["name"]}
        for key in ("production_branch", "build_config", "source"):
            if p[key] is not None:
                desired[key] = prune_unset(p[key])
        for env in ENVIRONMENTS:
            raw = (p["deployment_configs"] or {}).get(env)
            if raw is None:
                continue
            # Unset options go; the free-form maps stay as given, so their entries are all checked.
            config = {
                k: copy.deepcopy(v) if k in MAP_OPTIONS else prune_unset(v) for k, v in raw.items() if v is not None
            }
            desired.setdefault("deployment_configs", {})[env] = config
            where = "deployment_configs.%s" % env
            if "env_vars" in config:
                config["env_vars"] = self.check_env_vars(config["env_vars"], where + ".env_vars")
            for binding in BINDING_MAPS:
                if binding in config:
                    config[binding] = self.check_bindings(config[binding], binding, "%s.%s" % (where, binding))
            if "compatibility_date" in config:
                self.check_date(config["compatibility_date"], where + ".compatibility_date")
            if "build_image_major_version" in config:
                image_where = where + ".build_image_major_version"
                problem = build_image_problem(config["build_image_major_version"], image_where)
                if problem:
                    self.fail(problem)
                warning = end_of_life_warning(config["build_image_major_version"], image_where)
                if warning:
                    self.module.warn(warning)
        config = desired.get("source", {}).get("config", {})
        setting = config.get("preview_deployment_setting")
        if setting is not None and setting != "custom":
            self.check_branch_filters(config, setting)
        if "deployments_enabled" in config:
            # Deprecated in Cloudflare's API reference (Project source config): still sent, as the task asks.
            self.module.warn(
                "source.config.deployments_enabled is deprecated by Cloudflare: use "
                "source.config.production_deployments_enabled (whether pushes to the production branch are built) "
                "and source.config.preview_deployment_setting (all, none or custom: which other branches get preview "
                "builds) instead."
            )
        return desired

    def check_env_vars(self, env_vars, where):
        checked = {}
        for var_name, entry in env_vars.items():
            here = "%s.%s" % (where, var_name)
            problem = variable_name_problem(var_name, where)
            if problem:
                self.fail(problem)
            if not isinstance(entry, dict):
                self.fail("%s must be a dict with 'value' and optional 'type' (plain_text or secret_text)." % here)
            unknown = sorted(set(entry) - {"type", "value"})
            if unknown:
                self.fail("%s has unknown keys %s; a variable has only 'type' and 'value'." % (here, ", ".join(unknown)))
            var_type = entry.get("type") or "plain_text"
            if var_type not in ENV_TYPES:
                self.fail("%s.type must be one of plain_text, secret_text (got %r)." % (here, var_type))
            value = entry.get("value")
            if value is None:
                self.fail("%s.value is required (a string)." % here)
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                # Never echo the value: it may be a secret.
                self.fail("%s.value must be a string, not %s." % (here, type(value).__name__))
            checked[var_name] = {"type": var_type, "value": str(value)}
        return checked

    def check_bindings(self, bindings, binding, where):
        shape = BINDING_SHAPES[binding]
        validator = ArgumentSpecValidator(shape)
        checked = {}
        for binding_name, value in bindings.items():
            here = "%s.%s" % (where, binding_name)
            problem = variable_name_problem(binding_name, where, "binding")
            if problem:
                self.fail(problem)
            if value is None and not any(o.get("required") for o in shape.values()):
                value = {}
            if not isinstance(value, dict):
                self.fail("%s must be a dict with %s." % (here, self.describe_shape(shape)))
            unknown = sorted(set(value) - set(shape))
            if unknown:
                self.fail("%s has unknown keys %s (expected %s)." % (here, ", ".join(unknown), self.describe_shape(shape)))
            for field, field_value in value.items():
                # Ansible's str type would turn [1] into the text "[1]" and send that.
                problem = text_field_problem(field_value, "%s.%s" % (here, field))
                if problem:
                    self.fail(problem)
            result = validator.validate(value)
            if result.error_messages:
                self.fail(
                    "%s: %s (expected %s)." % (here, "; ".join(result.error_messages), self.describe_shape(shape))
                )
            checked[binding_name] = prune_unset(result.validated_parameters)
        return checked

    @staticmethod
    def describe_shape(shape):
        if not shape:
            return "no keys ({})"
        keys = ["%s%s" % (k, "" if v.get("required") else " (optional)") for k, v in shape.items()]
        return "keys " + ", ".join(keys)

    def check_date(self, value, where):
        try:
            if not DATE_RE.match(value):
                raise ValueError()
            date.fromisoformat(value)
        except ValueError:
            self.fail("%s must be a date as YYYY-MM-DD (got %r)." % (where, value))

    def check_branch_filters(self, config, setting):
        for key in ("preview_branch_includes", "preview_branch_excludes"):
            if normalise(config.get(key), key) is not None:
                self.fail(
                    "source.config.%s only applies when preview_deployment_setting is 'custom' (it is %r): "
                    "set source.config.preview_deployment_setting: custom, or remove %s." % (key, setting, key)
                )

    # ------------------------------------------------------------------ present

    def create(self, name, desired):
        if not desired.get("production_branch"):
            self.fail(
                "production_branch is required to create project %r (it does not exist yet); set it, for example "
                "production_branch: main." % name
            )
        config = desired.get("source", {}).get("config", {})
        if "preview_deployment_setting" not in config:
            self.check_branch_filters(config, "all")  # the API's default
        self._mark_as_changed()
        self.set_diff(None, self.diff_fields(desired))
        if self.check_mode:
            self.result["project"] = desired
            return
        project, created = self.client.create_project_or_existing(desired)
        if not created:
            # Another run created it between our read and our POST: go on as if it had been there.
            self._mark_as_changed(False)
            self.result.pop("diff", None)
            self.update(name, desired, project)
            return
        self.result["project"] = project or {}

    def update(self, name, desired, current):
        p = self.params
        # Connecting a repository to a project without one, and disconnecting one, have their own endpoints
        # (POST / DELETE .../projects/{name}/source); a change of a connected source stays a PATCH.
        source_change = None
        if "source" in desired and not current.get("source"):
            source_change = "connect"
        elif p["source_state"] == "absent" and current.get("source"):
            source_change = "disconnect"
        config = desired.get("source", {}).get("config", {})
        if "preview_deployment_setting" not in config:
            setting = ((current.get("source") or {}).get("config") or {}).get("preview_deployment_setting")
            if setting != "custom":
                self.check_branch_filters(config, setting or "all")

        desired = self.leave_existing_secrets(desired, current)
        maps = {}
        for env in ENVIRONMENTS:
            maps[("deployment_configs", env, "env_vars")] = p["purge_env_vars"]
            for binding in BINDING_MAPS:
                maps[("deployment_configs", env, binding)] = p["purge_bindings"]
        # Sent whole when they differ: the source (the API wants its type with any config change),
        # and the small objects placement and limits.
        atomic = (
            ("source",),
            ("deployment_configs", "*", "placement"),
            ("deployment_configs", "*", "limits"),
        )
        if source_change == "connect":
            new_source = self.source_to_connect(desired.pop("source"), current)
        patch = diff_patch(desired, current, atomic=atomic, maps=maps)
        patch.pop("name", None)
        self.warn_wrangler_owned(name, current, patch)

        if patch or source_change:
            self._mark_as_changed()
        if self.diff_mode:
            whole = list(atomic)
            for (section, env, key), purge in maps.items():
                whole.append((section, env, key, "*"))  # each entry is shown whole
                if purge:
                    whole.append((section, env, key))  # and the whole map when it is purged
            before = managed_view(self.diff_fields(current), self.diff_fields(desired), whole=tuple(whole))
            after = apply_patch(before, patch)
            if source_change == "connect":
                after["source"] = new_source
            elif source_change == "disconnect":
                before["source"] = copy.deepcopy(current["source"])
            self.set_diff(before, after)
        expected = copy.deepcopy(current)
        if source_change == "connect":
            expected["source"] = new_source
        elif source_change == "disconnect":
            expected.pop("source", None)
        if not patch and not source_change:
            self.result["project"] = current
            return
        if self.check_mode:
            self.result["project"] = apply_patch(expected, patch)
            return
        project = None
        if source_change:
            project = self.change_source(name, source_change, new_source if source_change == "connect" else None)
            expected = project or expected
        if patch:
            project = self.client.update_project(name, patch)
        self.result["project"] = project or apply_patch(expected, patch)

    @staticmethod
    def source_to_connect(source, current):
        """The body of POST .../source: the source object itself ({type, config}); the repository's
        production branch is the project's unless the task names one."""
        source = copy.deepcopy(source)
        config = source.setdefault("config", {})
        if not config.get("production_branch") and current.get("production_branch"):
            config["production_branch"] = current["production_branch"]
        return source

    def change_source(self, name, change, source):
        """Connect ``source`` to project ``name`` or disconnect its repository; a refusal fails the task with
        what the API answered."""
        try:
            if change == "connect":
                return self.client.connect_source(name, source)
            return self.client.disconnect_source(name)
        except PagesAPIError as err:
            if change == "connect":
                config = source.get("config") or {}
                self.fail_api(
                    err,
                    "connecting project %r to %s repository %s/%s"
                    % (name, source.get("type"), config.get("owner"), config.get("repo_name")),
                    "Cloudflare does not connect a project created for Direct Upload to git "
                    "(https://developers.cloudflare.com/pages/get-started/direct-upload/): if %r is one, create a "
                    "git-connected project under another name (this module never deletes and recreates a project)."
                    % name if 400 <= err.status < 500 else None,
                )
            self.fail_api(err, "disconnecting the git repository of project %r" % name)
        return None

    def warn_wrangler_owned(self, name, current, patch):
        """Put the project's wrangler_config_hash values in the result, and warn when the patch
        changes env vars or bindings of an environment that a wrangler configuration file owns:
        Cloudflare says to treat that file as the source of truth for the project's configuration
        (https://developers.cloudflare.com/pages/functions/wrangler-configuration/), and the next
        wrangler deploy overwrites them."""
        hashes = {}
        for env in ENVIRONMENTS:
            config_hash = ((current.get("deployment_configs") or {}).get(env) or {}).get("wrangler_config_hash")
            if not config_hash:
                continue
            hashes[env] = config_hash
            changed = sorted(k for k in (patch.get("deployment_configs") or {}).get(env) or {} if k in MAP_OPTIONS)
            if changed:
                self.module.warn(
                    "project %r: deployment_configs.%s is owned by a wrangler configuration file "
                    "(wrangler_config_hash %s), which is the source of truth for its settings; the next "
                    "'wrangler pages deploy' overwrites the %s this task changes. Change them in the wrangler "
                    "configuration file instead, or stop deploying this project with one."
                    % (name, env, config_hash, ", ".join(changed))
                )
        if hashes:
            self.result["wrangler_config_hash"] = hashes

    def leave_existing_secrets(self, desired, current):
        """With update_secrets=on_create, a secret the project already has counts as equal to the
        task's (its value cannot be read back), so it is neither sent nor purged."""
        if self.params["update_secrets"] == "always":
            return desired
        desired = copy.deepcopy(desired)
        for env in ENVIRONMENTS:
            env_vars = desired.get("deployment_configs", {}).get(env, {}).get("env_vars")
            if not env_vars:
                continue
            have = ((current.get("deployment_configs") or {}).get(env) or {}).get("env_vars") or {}
            for var_name, entry in env_vars.items():
                existing = have.get(var_name)
                if (
                    entry["type"] == SECRET_ENV_TYPE
                    and isinstance(existing, dict)
                    and existing.get("type") == SECRET_ENV_TYPE
                ):
                    env_vars[var_name] = copy.deepcopy(existing)
        return desired

    @staticmethod
    def diff_fields(project):
        return {k: copy.deepcopy(project[k]) for k in MANAGED_FIELDS if k in project}

    # ------------------------------------------------------------------ absent

    def absent(self, name, current):
        p = self.params
        if current is None:
            self.result["project"] = {}
            return
        subdomain = current.get("subdomain")
        custom_domains = [d for d in current.get("domains") or [] if d != subdomain]
        if not p["force"] and custom_domains:
            self.fail(
                "project %r has custom domains (%s), so it is not deleted. Remove them first "
                "(cfpages.cloudflare.pages_domain with state: absent), or set force: true to remove them and "
                "delete the project's deployments before deleting it." % (name, ", ".join(custom_domains))
            )
        self.set_diff(self.diff_fields(current), None)
        if not p["force"]:
            if not self.check_mode:
                self.delete_project(name)
            self._mark_as_changed()
            self.result["project"] = {}
            return

        # force: collect everything first, then delete (deleting while paging would skip items).
        domains = [d.get("name") for d in self.client.list_domains(name) if isinstance(d, dict) and d.get("name")]
        canonical = (current.get("canonical_deployment") or {}).get("id")
        deployments = [d.get("id") for d in self.client.list_deployments(name) if isinstance(d, dict) and d.get("id")]
        # The live production deployment goes with the project; the API may refuse to delete it alone.
        deployments = [d for d in deployments if d != canonical]
        if self.check_mode:
            self._mark_as_changed()
            self.result.update(project={}, removed_domains=domains, deleted_deployments=deployments)
            return
        # From here on, a failure reports what was already removed (and so changed=true).
        self.result.update(removed_domains=[], deleted_deployments=[])
        for domain in domains:
            try:
                if self.client.delete_domain(name, domain, missing_ok=True):
                    self._mark_as_changed()
                    self.result["removed_domains"].append(domain)
            except PagesAPIError as err:
                self.fail_api(
                    err,
                    "removing custom domain %r of project %r" % (domain, name),
                    "The project was not deleted; fix the cause and run the task again.",
                )
        refused = []
        try:
            done, failures = run_bulk(
                deployments, lambda deployment_id: self.client.delete_deployment(name, deployment_id, force=True),
                pacer=getattr(self.client, "pacer", None),
            )
        except BulkStopped as stopped:
            if stopped.done:
                self._mark_as_changed()
            self.result["deleted_deployments"] = list(stopped.done)
            self.fail_api(
                stopped, "deleting the deployments of project %r" % name,
                "%d of %d deployments were deleted, %d not attempted; the project was not deleted. Run the task "
                "again to resume." % (len(stopped.done), len(deployments), len(stopped.not_attempted)),
            )
        if done:
            self._mark_as_changed()
        self.result["deleted_deployments"] = list(done)
        for deployment_id, err in failures:
            if err.has_code(DEPLOYMENT_NOT_FOUND):
                self.result["deleted_deployments"].append(deployment_id)
            else:
                # Not fatal yet: the project may still be deletable with it.
                refused.append("%s (%s)" % (deployment_id, err.message))
        hint = "The API refused to delete these deployments: %s." % "; ".join(refused) if refused else ""
        self.delete_project(name, hint)
        self._mark_as_changed()
        self.result["project"] = {}

    def delete_project(self, name, hint=""):
        try:
            self.client.delete_project(name, missing_ok=True)  # gone already: what the task asks for
        except PagesAPIError as err:
            if not self.params["force"]:
                hint = (
                    "Set force: true to remove its custom domains and delete its deployments first, "
                    "then the project."
                )
            self.fail_api(err, "deleting project %r" % name, hint)


def main():
    PagesProject().run()


if __name__ == "__main__":
    main()
