#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: worker_deployment
short_description: Deploy a site of static assets, with optional code, to a Cloudflare Worker
version_added: 0.1.0
description:
  - "Declares a Worker that serves a directory of static assets (O(assets)), with optional code (O(main), or a
    C(_worker.js) at the top of O(assets) as Pages advanced mode uses it), and deploys it idempotently: the way
    to carry a Pages site over to Workers (see M(cfpages.cloudflare.pages_migration_info))."
  - "The upload is Workers' direct upload of static assets (U(https://developers.cloudflare.com/workers/static-assets/direct-upload/)):
    the manifest goes to an upload session, only the files Cloudflare asks for are sent, and the completion token
    goes with the script. Files are hashed as C(wrangler deploy) hashes them, so a file either tool uploaded is not
    uploaded again."
  - "A deployment carries, in its version's C(workers/message) annotation, digests of the assets, the code and the
    configuration; a rerun with the same files and settings reads the Worker and changes nothing."
author:
  - cfpages maintainers (@cfpages)
extends_documentation_fragment:
  - cfpages.cloudflare.auth
  - cfpages.cloudflare.attributes
attributes:
  check_mode:
    details:
      - Check mode hashes the files and reads the Worker; it sends no request that changes anything, not even the
        upload session, so it cannot say which files Cloudflare lacks. RV(upload) gives the files and bytes of the
        site, RV(changes) which parts would change.
  diff_mode:
    details:
      - The diff shows the configuration (compatibility date and flags, variables, bindings, secret names with their
        values masked, assets configuration and the digests of assets and code) before and after.
options:
  name:
    description:
      - The name of the Worker (lowercase letters, digits, C(-) and C(_), at most 63 characters).
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the Worker serves O(assets) with the code and configuration given (a new version,
        deployed to all traffic, when anything differs).
      - V(absent) deletes the Worker, with its versions, deployments and secrets.
      - V(rolled_back) deploys an earlier version to all traffic, O(version_id), or the version before the one
        deployed now with O(version_id=previous).
    type: str
    choices: [present, absent, rolled_back]
    default: present
  assets:
    description:
      - The directory of static assets (a built site). Required with O(state=present).
      - "Every file is an asset, as with C(wrangler deploy), except the top-level C(_headers) and C(_redirects)
        (sent in the assets configuration, as wrangler sends them), C(.assetsignore) and what it lists (.gitignore
        syntax without negations), and O(exclude)."
      - Unlike Pages, C(node_modules), C(.git) and C(.DS_Store) are not left out by themselves; list them in
        O(exclude) or C(.assetsignore).
    type: path
  main:
    description:
      - The Worker's entry module (an ES module file). It must be self-contained (no relative imports).
      - When unset, a C(_worker.js) file or directory at the top of O(assets) is the code, as Pages advanced mode uses
        it (see O(worker_bundle)); it and C(_routes.json) are then not uploaded as assets. Without either, the
        Worker serves assets only.
      - A Worker with code gets the assets binding C(ASSETS), as a Pages advanced-mode worker has it.
    type: path
  compatibility_date:
    description:
      - The Workers runtime compatibility date, C(YYYY-MM-DD). Required with O(state=present).
    type: str
  compatibility_flags:
    description: The Workers runtime compatibility flags.
    type: list
    elements: str
    default: []
  vars:
    description:
      - Plain-text environment variables, name to value (numbers and booleans are sent as text).
    type: dict
    default: {}
  secrets:
    description:
      - Secret environment variables, name to value. Write-only; their values never appear in results or diffs.
      - Secrets the Worker has and this map does not list are kept.
    type: dict
    default: {}
  update_secrets:
    description:
      - V(on_create) sends a secret only when the Worker does not have it yet. The API never returns secret values,
        so they cannot be compared; an existing secret is left alone and reports no change.
      - V(always) sends every secret of O(secrets) and so makes a new version each run when O(secrets) is not empty.
    type: str
    choices: [on_create, always]
    default: on_create
  bindings:
    description:
      - "Bindings, in the shapes M(cfpages.cloudflare.pages_project) takes for a deployment configuration: a map per
        kind, of binding name to its fields. Kinds: C(kv_namespaces) C({namespace_id}), C(d1_databases) C({id}),
        C(r2_buckets) C({name, jurisdiction}), C(services) C({service, environment, entrypoint}),
        C(queue_producers) C({name}), C(ai_bindings) C({}), C(analytics_engine_datasets) C({dataset}),
        C(hyperdrive_bindings) C({id}), C(vectorize_bindings) C({index_name}), C(mtls_certificates)
        C({certificate_id}), C(browsers) C({})."
      - Durable Object bindings are not taken here (a Worker binds a class, a Pages project a namespace).
    type: dict
    default: {}
  assets_config:
    description: How the assets are served (U(https://developers.cloudflare.com/workers/static-assets/routing/)).
    type: dict
    suboptions:
      html_handling:
        description: Trailing slashes and C(.html) extensions.
        type: str
        choices: [auto-trailing-slash, force-trailing-slash, drop-trailing-slash, none]
      not_found_handling:
        description: What a request no asset matches gets. Pages falls back to a single-page application by itself; a
          Worker only with V(single-page-application).
        type: str
        choices: [none, 404-page, single-page-application]
      run_worker_first:
        description:
          - V(true) sends every request to the code first; a list of rules (C(/api/*), C(!/api/static/*)) sends the
            matching ones. Needs code.
        type: raw
  workers_dev:
    description:
      - Serve the Worker on the account's C(workers.dev) subdomain (RV(url)). V(false) turns that off.
    type: bool
    default: true
  version_id:
    description:
      - With O(state=rolled_back), the version to deploy, or V(previous) for the version deployed before the
        current one. Running O(version_id=previous) again after it rolled back changes nothing.
    type: str
  exclude:
    description:
      - Glob patterns of files or directories under O(assets) not to upload, as M(cfpages.cloudflare.pages_deployment)
        takes them (matched against the path relative to O(assets) with C(/) separators).
    type: list
    elements: str
    default: []
  hash_cache:
    description:
      - Where the hash cache of O(assets) lives, or V(false) for none, as for M(cfpages.cloudflare.pages_deployment).
    type: raw
  worker_bundle:
    description:
      - How a C(_worker.js) of O(assets) is sent, as for M(cfpages.cloudflare.pages_deployment) (V(auto) sends it as it
        is when self-contained, else bundles it with wrangler found on E(PATH)). Does not apply to O(main).
    type: str
    choices: [auto, always, never]
    default: auto
notes:
  - The token needs C(Workers Scripts Edit) on the account.
  - The file limits are checked before any request, at most 100,000 files (the paid plans'; the Free plan's 20,000 is
    enforced by Cloudflare) and 25 MiB a file (U(https://developers.cloudflare.com/workers/platform/limits/#static-assets)).
seealso:
  - module: cfpages.cloudflare.pages_migration_info
  - module: cfpages.cloudflare.pages_deployment
"""

EXAMPLES = r"""
- name: Deploy a static site to a Worker
  cfpages.cloudflare.worker_deployment:
    name: docs-site
    assets: public
    compatibility_date: "2025-06-01"
    assets_config:
      not_found_handling: 404-page

- name: Deploy a Pages advanced-mode build (dist/_worker.js is the code) with a variable and a secret
  cfpages.cloudflare.worker_deployment:
    name: shop
    assets: dist
    compatibility_date: "2025-06-01"
    compatibility_flags: [nodejs_compat]
    vars:
      API_BASE: https://api.example.com
    secrets:
      API_KEY: "{{ vault_api_key }}"
    bindings:
      kv_namespaces:
        SESSIONS: {namespace_id: 0f2ac74b498b48028cb68387c421e279}

- name: Roll back to the version deployed before
  cfpages.cloudflare.worker_deployment:
    name: shop
    state: rolled_back
    version_id: previous

- name: Delete the Worker
  cfpages.cloudflare.worker_deployment:
    name: shop
    state: absent
"""

RETURN = r"""
version:
  description: The version deployed (after the task), as the API returns it; null for V(absent) and in check mode
    when a new version would be made.
  returned: state is present or rolled_back
  type: dict
  sample: {"id": "8c3e2e5a-0d7e-4e0b-9a55-5b6a2d3f1c4e", "number": 3, "annotations": {"workers/message": "..."}}
deployment:
  description: The Worker's newest deployment after the task (strategy, versions and percentages).
  returned: state is present or rolled_back
  type: dict
  sample: {"id": "3f1c...", "strategy": "percentage", "versions": [{"version_id": "8c3e...", "percentage": 100}]}
url:
  description: The Worker's C(workers.dev) URL; null when O(workers_dev=false) or the account has no subdomain.
  returned: state is present
  type: str
  sample: https://docs-site.example.workers.dev
upload:
  description:
    - What the asset upload sent. C(files) and C(bytes) of the site; C(uploaded), C(uploaded_bytes), C(skipped)
      and C(buckets) of the upload (null in check mode, where no upload session is opened; all 0 when nothing
      changed).
  returned: state is present
  type: dict
  sample: {"files": 120, "bytes": 3456789, "uploaded": 1, "uploaded_bytes": 2048, "skipped": 119, "buckets": 1}
changes:
  description: What differs from the deployed version (C(assets), C(code), C(config), C(secrets), C(workers_dev)); empty
    when nothing does.
  returned: state is present
  type: list
  elements: str
  sample: [assets]
warnings_detail:
  description: Files left out of the assets and why (symbolic links, and the like).
  returned: when there are any
  type: list
  elements: str
"""

import copy
import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.cfpages.cloudflare.plugins.module_utils._base import PagesModule
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.workers import WorkersApi
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError, UploadError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import SECRET_ENV_TYPE, SECRET_MASK
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import scan as _scan
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import workers_assets as _wa
from ansible_collections.cfpages.cloudflare.plugins.module_utils._validate import (
    hash_cache_option,
    text_field_problem,
    variable_name_problem,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code import bundle as _bundle
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code import plan as _plan

NAME_RE = re.compile(r"^[a-z0-9_-]{1,63}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ASSETS_BINDING = "ASSETS"
#: The version annotation that carries what a deployment was made from (Workers version annotations:
#: developers.cloudflare.com/workers/configuration/versions-and-deployments/).
MESSAGE = "workers/message"
MARK = "cfpages.cloudflare"
ROLLBACK_MARK = MARK + " rollback"
PARTS = ("assets", "code", "config")

# pages_project's binding map -> (Workers binding type, {Pages field: Workers field}, required fields).
BINDING_KINDS = {
    "kv_namespaces": ("kv_namespace", {"namespace_id": "namespace_id"}, ("namespace_id",)),
    "d1_databases": ("d1", {"id": "id"}, ("id",)),
    "r2_buckets": ("r2_bucket", {"name": "bucket_name", "jurisdiction": "jurisdiction"}, ("name",)),
    "services": ("service", {"service": "service", "environment": "environment", "entrypoint": "entrypoint"},
                 ("service",)),
    "queue_producers": ("queue", {"name": "queue_name"}, ("name",)),
    "ai_bindings": ("ai", {"project_id": None}, ()),
    "analytics_engine_datasets": ("analytics_engine", {"dataset": "dataset"}, ("dataset",)),
    "hyperdrive_bindings": ("hyperdrive", {"id": "id"}, ("id",)),
    "vectorize_bindings": ("vectorize", {"index_name": "index_name"}, ("index_name",)),
    "mtls_certificates": ("mtls_certificate", {"certificate_id": "certificate_id"}, ("certificate_id",)),
    "browsers": ("browser", {}, ()),
}


def digest_of(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def mark_of(digests):
    """The version annotation: ``cfpages.cloudflare assets:<16 hex> code:<16 hex> config:<16 hex>``."""
    return MARK + " " + " ".join("%s:%s" % (part, digests[part]) for part in PARTS)


def parse_mark(message):
    """The digests a version's annotation carries, or {} for a version this module did not make."""
    if not isinstance(message, str) or not message.startswith(MARK + " "):
        return {}
    out = {}
    for item in message[len(MARK) + 1:].split():
        key, _sep, value = item.partition(":")
        if key in PARTS:
            out[key] = value
    return out


def current_version_id(deployment):
    """The version serving most of the traffic of ``deployment``."""
    versions = sorted((deployment or {}).get("versions") or [], key=lambda v: -(v.get("percentage") or 0))
    return versions[0].get("version_id") if versions else None


class WorkerDeployment(PagesModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent", "rolled_back"]),
        assets=dict(type="path"),
        main=dict(type="path"),
        compatibility_date=dict(type="str"),
        compatibility_flags=dict(type="list", elements="str", default=[]),
        vars=dict(type="dict", default={}),
        secrets=dict(type="dict", default={}, no_log=True),
        update_secrets=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
        bindings=dict(type="dict", default={}),
        assets_config=dict(type="dict", options=dict(
            html_handling=dict(type="str", choices=[
                "auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none"]),
            not_found_handling=dict(type="str", choices=["none", "404-page", "single-page-application"]),
            run_worker_first=dict(type="raw"),
        )),
        workers_dev=dict(type="bool", default=True),
        version_id=dict(type="str"),
        exclude=dict(type="list", elements="str", default=[]),
        hash_cache=dict(type="raw"),
        worker_bundle=dict(type="str", default="auto", choices=["auto", "always", "never"]),
    )
    module_kwargs = dict(
        required_if=[
            ("state", "present", ["assets", "compatibility_date"]),
            ("state", "rolled_back", ["version_id"]),
        ],
    )

    # Which option is valid in which state (the base refuses the others, naming them).
    option_states = dict(
        name=("present", "absent", "rolled_back"),
        state=("present", "absent", "rolled_back"),
        assets=("present",),
        main=("present",),
        compatibility_date=("present",),
        compatibility_flags=("present",),
        vars=("present",),
        secrets=("present",),
        update_secrets=("present",),
        bindings=("present",),
        assets_config=("present",),
        workers_dev=("present",),
        version_id=("rolled_back",),
        exclude=("present",),
        hash_cache=("present",),
        worker_bundle=("present",),
    )

    def __init__(self):
        super().__init__()
        self.api = WorkersApi(self.client)
        self._account_subdomain = None  # the account's workers.dev subdomain, read beside the state

    @property
    def name(self):
        return self.params["name"]

    # ------------------------------------------------------------------ options

    def check_options(self):
        p = self.params
        if not NAME_RE.match(p["name"] or ""):
            self.fail("name must be 1 to 63 lowercase letters, digits, '-' or '_' (a Worker's name), not %r." % p["name"])
        if p["state"] != "present":
            return
        if not DATE_RE.match(p["compatibility_date"]):
            self.fail("compatibility_date must be a date, YYYY-MM-DD, not %r." % p["compatibility_date"])
        for option, where in (("vars", "vars"), ("secrets", "secrets")):
            for key, value in p[option].items():
                problem = variable_name_problem(key, where)
                if problem:
                    self.fail(problem)
                if isinstance(value, (dict, list)) or value is None:
                    self.fail("%s.%s must be a string (or a number), not %s." % (
                        option, key, "null" if value is None else value.__class__.__name__))
        both = sorted(set(p["vars"]) & set(p["secrets"]))
        if both:
            self.fail("%s cannot be both in vars and in secrets." % ", ".join(both))
        p["hash_cache"], problem = hash_cache_option(p["hash_cache"])
        if problem:
            self.fail(problem)
        config = p["assets_config"] or {}
        rwf = config.get("run_worker_first")
        if rwf is not None and not isinstance(rwf, bool):
            rules_ok = isinstance(rwf, list) and rwf and all(isinstance(r, str) and r.lstrip("!").startswith("/") for r in rwf)
            if not rules_ok:
                self.fail("assets_config.run_worker_first must be true, false, or a list of rules starting with / or !/.")
            if not any(not r.startswith("!") for r in rwf):
                self.fail("assets_config.run_worker_first needs at least one rule that is not negated (!/...).")

    def desired_bindings(self):
        """The bindings of ``bindings`` as the Workers API takes them, sorted by name."""
        out = []
        names = set(self.params["vars"]) | set(self.params["secrets"])
        for kind, entries in sorted(self.params["bindings"].items()):
            if kind not in BINDING_KINDS:
                self.fail("bindings.%s is not a binding kind this module takes (%s)." % (kind, ", ".join(sorted(BINDING_KINDS))))
            wtype, fields, required = BINDING_KINDS[kind]
            if not isinstance(entries, dict):
                self.fail("bindings.%s must be a map of binding name to its fields." % kind)
            for bname, value in sorted(entries.items()):
                where = "bindings.%s.%s" % (kind, bname)
                if bname in names or bname == ASSETS_BINDING:
                    self.fail("%s: the name %s is used twice (vars, secrets, the assets binding ASSETS)." % (where, bname))
                problem = variable_name_problem(bname, "bindings.%s" % kind, "binding")
                if problem:
                    self.fail(problem)
                names.add(bname)
                value = {} if value is None else value
                if not isinstance(value, dict):
                    self.fail("%s must be a dict with %s." % (where, ", ".join(fields) or "no fields"))
                unknown = sorted(set(value) - set(fields))
                missing = [f for f in required if value.get(f) in (None, "")]
                if unknown or missing:
                    self.fail("%s: %s (expected %s)." % (where, "; ".join(
                        ["unknown keys %s" % ", ".join(unknown)] * bool(unknown) + ["missing %s" % ", ".join(missing)] * bool(missing)),
                        ", ".join(fields) or "no fields"))
                binding = {"type": wtype, "name": bname}
                for field, field_value in value.items():
                    problem = text_field_problem(field_value, "%s.%s" % (where, field))
                    if problem:
                        self.fail(problem)
                    if fields[field] is not None and field_value is not None:
                        binding[fields[field]] = field_value
                out.append(binding)
        return out

    # ------------------------------------------------------------------ present

    def load_code(self):
        """The WorkerBundle of the Worker's code, or None (assets only); and the names of the assets
        directory that are code (not assets)."""
        p = self.params
        if p["main"]:
            if not os.path.isfile(p["main"]):
                self.fail("main %s is not a file." % p["main"])
            with open(p["main"], "rb") as handle:
                content = handle.read()
            module = _bundle.WorkerModule(os.path.basename(p["main"]), "esm", content, p["main"])
            code = _bundle.WorkerBundle("file", [module], root=os.path.dirname(p["main"]))
            try:
                _bundle.check_imports(code, where="main")
            except UploadError as err:
                self.fail("main: %s" % err)
            return code, ()
        worker = os.path.join(p["assets"], _bundle.WORKER_NAME)
        if not (os.path.isfile(worker) or os.path.isdir(worker)):
            return None, ()
        try:
            site = _plan.inspect_site(p["assets"], functions_dir="", skip=(_plan.ROUTES,), worker_bundle=p["worker_bundle"])
            plan = site.plan(p["compatibility_date"], p["compatibility_flags"], self.debug, self.module.run_command)
        except UploadError as err:
            self.fail("the _worker.js of assets: %s" % err)
        self.result.setdefault("warnings_detail", []).extend(plan.warnings)
        return plan.bundle, (_bundle.WORKER_NAME, _plan.ROUTES)

    def scan(self, code_names):
        p = self.params
        root = p["assets"]
        if not os.path.isdir(root):
            self.fail("assets %s is not a directory." % root)
        try:
            exclude = list(p["exclude"]) + _wa.assetsignore_patterns(root) + ["/" + n for n in code_names]
            scan = _scan.scan_site(root, exclude=exclude, hash_cache=p["hash_cache"], rules=_wa.WORKERS_RULES)
            _wa.preflight(scan)
            special = _wa.read_special(scan)
        except UploadError as err:
            self.fail("assets: %s" % err)
        if scan.warnings:
            self.result.setdefault("warnings_detail", []).extend(scan.warnings)
        return scan, special

    def assets_config(self, special):
        config = dict((k, v) for k, v in (self.params["assets_config"] or {}).items() if v is not None)
        config.update(special)
        return config

    def config_view(self, bindings, secrets_names):
        """The configuration as the diff shows it (secret values masked)."""
        p = self.params
        return {
            "compatibility_date": p["compatibility_date"],
            "compatibility_flags": list(p["compatibility_flags"]),
            "vars": self.var_texts(),
            "secrets": dict((k, SECRET_MASK) for k in sorted(secrets_names)),
            "bindings": dict((b["name"], b) for b in bindings),
            "assets_config": dict((k, v) for k, v in (p["assets_config"] or {}).items() if v is not None),
        }

    @staticmethod
    def config_view_of_version(version):
        resources = (version or {}).get("resources") or {}
        runtime = resources.get("script_runtime") or {}
        bindings = resources.get("bindings") or []
        out = {
            "compatibility_date": runtime.get("compatibility_date"),
            "compatibility_flags": list(runtime.get("compatibility_flags") or []),
            "vars": dict((b.get("name"), b.get("text")) for b in bindings if b.get("type") == "plain_text"),
            "secrets": dict((b.get("name"), SECRET_MASK) for b in bindings if b.get("type") == SECRET_ENV_TYPE),
            "bindings": dict((b.get("name"), b) for b in bindings
                             if b.get("type") not in ("plain_text", SECRET_ENV_TYPE, "assets")),
        }
        return out

    def present(self):
        p = self.params
        code, code_names = self.load_code()
        scan, special = self.scan(code_names)
        if not scan.files and code is None:
            self.fail("assets %s has no files to upload and there is no code: nothing to deploy." % p["assets"])
        bindings = self.desired_bindings()
        config = self.assets_config(special)
        if config.get("run_worker_first") and code is None:
            self.fail("assets_config.run_worker_first needs code (main, or a _worker.js in assets).")
        code_digest = None
        if code is not None:
            code_hash = hashlib.sha256()
            code.digest_update(code_hash)
            code_digest = code_hash.hexdigest()
        digests = {
            "assets": digest_of(scan.digest, {k: v for k, v in config.items() if k in special}),
            "code": digest_of(code_digest),
            "config": digest_of(p["compatibility_date"], list(p["compatibility_flags"]),
                                self.var_texts(), bindings,
                                dict((k, v) for k, v in config.items() if k not in special), sorted(p["secrets"])),
        }

        deployments, version, toggle = self.read_current()
        exists = deployments is not None
        have = parse_mark(((version or {}).get("annotations") or {}).get(MESSAGE))
        have_secrets = set(b.get("name") for b in (((version or {}).get("resources") or {}).get("bindings") or [])
                           if b.get("type") == SECRET_ENV_TYPE)
        if p["update_secrets"] == "always":
            send_secrets = dict(p["secrets"])
        else:
            send_secrets = dict((k, v) for k, v in p["secrets"].items() if k not in have_secrets)
        changes = [part for part in PARTS if have.get(part) != digests[part]]
        if send_secrets:
            changes.append("secrets")
        before = self.config_view_of_version(version) if version else None
        if before is not None:
            before["assets"] = have.get("assets")
            before["code"] = have.get("code")
        after = self.config_view(bindings, set(p["secrets"]) | have_secrets)
        after["assets"], after["code"] = digests["assets"], digests["code"]

        enabled = bool(toggle.get("enabled")) if exists and toggle is not None else None
        if enabled != p["workers_dev"]:
            changes.append("workers_dev")
        if before is not None:
            before["workers_dev"] = enabled
        after["workers_dev"] = p["workers_dev"]
        self.set_diff(before, after)
        self.result["changes"] = changes
        self._mark_as_changed(bool(changes))
        upload = {"files": len(scan.files), "bytes": scan.total_bytes, "uploaded": None, "uploaded_bytes": None,
                  "skipped": None, "buckets": None}
        self.result["upload"] = upload
        deployment = deployments[0] if deployments else None
        redeploy = [c for c in changes if c != "workers_dev"]
        if self.check_mode:
            self.result.update(version=None if redeploy else version, deployment=deployment,
                               url=self.url() if p["workers_dev"] else None)
            return
        if redeploy:
            try:
                jwt, upload = _wa.upload_assets(self.api, self.name, scan, log=self.debug)
            except UploadError as err:
                self.fail_api(err, "uploading the assets")
            self.result["upload"] = upload
            metadata = {
                "compatibility_date": p["compatibility_date"],
                "compatibility_flags": list(p["compatibility_flags"]),
                "bindings": self.metadata_bindings(bindings, send_secrets, code is not None),
                "assets": {"jwt": jwt, "config": config},
                "annotations": {MESSAGE: mark_of(digests)},
            }
            if exists:
                # Secrets this task does not send stay as they are (wrangler sends the same).
                metadata["keep_bindings"] = [SECRET_ENV_TYPE, "secret_key"]
            modules = []
            if code is not None:
                metadata["main_module"] = code.main_module
                modules = [(m.name, m.content, m.content_type) for m in code.modules]
            script = self.api.put_script(self.name, metadata, modules)
            deployments = self.api.list_deployments(self.name) or []
            deployment = deployments[0] if deployments else None
            version_id = current_version_id(deployment) or script.get("deployment_id")
            version = self.api.get_version(self.name, version_id) if version_id else None
        else:
            upload.update(uploaded=0, uploaded_bytes=0, skipped=len(scan.files), buckets=0)
        if "workers_dev" in changes:
            self.api.set_subdomain(self.name, p["workers_dev"])
        self.result.update(version=version, deployment=deployment, url=self.url() if p["workers_dev"] else None)

    def metadata_bindings(self, bindings, secrets, has_code):
        """The script's ``bindings``: variables, the secrets to send, the other bindings, ``ASSETS``."""
        out = [{"type": "plain_text", "name": key, "text": value} for key, value in sorted(self.var_texts().items())]
        out.extend({"type": SECRET_ENV_TYPE, "name": key, "text": str(value)} for key, value in sorted(secrets.items()))
        out.extend(copy.deepcopy(bindings))
        if has_code:
            out.append({"type": "assets", "name": ASSETS_BINDING})
        return out

    def var_texts(self):
        """``vars`` as text (a number or a boolean as its JSON form: 1, true)."""
        return dict((k, v if isinstance(v, str) else json.dumps(v)) for k, v in self.params["vars"].items())

    def read_current(self):
        """``(deployments, version, toggle)``: the Worker's deployments (None when it does not exist),
        the version its newest deployment serves and its workers.dev toggle; with ``workers_dev``, the
        account's subdomain too (for the URL). No read depends on another but the version, which needs
        the deployments: the others go out beside them, so a rerun waits for two reads, not four."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            toggle = pool.submit(self.api.get_subdomain, self.name)
            if self.params["workers_dev"]:
                self._account_subdomain = pool.submit(self.api.account_subdomain)
            deployments = self.api.list_deployments(self.name)
            version = self.api.get_version(self.name, current_version_id(deployments[0])) if deployments else None
            return deployments, version, toggle.result()

    def url(self):
        sub = self._account_subdomain.result() if self._account_subdomain else self.api.account_subdomain()
        return "https://%s.%s.workers.dev" % (self.name, sub) if sub else None

    # ------------------------------------------------------------------ absent, rolled_back

    def absent(self):
        deployments = self.api.list_deployments(self.name)
        if deployments is None:
            return
        self._mark_as_changed()
        self.set_diff({"name": self.name}, None)
        if not self.check_mode:
            self.api.delete_script(self.name)

    def rolled_back(self):
        wanted = self.params["version_id"]
        deployments = self.api.list_deployments(self.name)
        if deployments is None:
            self.fail("Worker %s does not exist in account %s: nothing to roll back." % (self.name, self.params["account_id"]))
        if not deployments:
            self.fail("Worker %s has no deployment to roll back." % self.name)
        current = current_version_id(deployments[0])
        if wanted == "previous":
            note = ((deployments[0].get("annotations") or {}).get(MESSAGE) or "")
            if note.startswith(ROLLBACK_MARK):
                target = current  # this module rolled back already: running it again changes nothing
            else:
                target = next((current_version_id(d) for d in deployments[1:] if current_version_id(d) != current), None)
                if target is None:
                    self.fail("Worker %s has no earlier version deployed before %s to roll back to (version_id: previous)."
                              % (self.name, current))
        else:
            target = wanted
            if self.api.get_version(self.name, target) is None:
                self.fail("version_id %s is not a version of Worker %s." % (target, self.name))
        self.set_diff({"version_id": current}, {"version_id": target})
        deployment = deployments[0]
        if target != current:
            self._mark_as_changed()
            if not self.check_mode:
                deployment = self.api.deploy_version(self.name, target, "%s from %s" % (ROLLBACK_MARK, current))
        self.result.update(version=self.api.get_version(self.name, target), deployment=deployment)

    def execute(self):
        self.check_options()
        state = self.params["state"]
        try:
            if state == "present":
                self.present()
            elif state == "absent":
                self.absent()
            else:
                self.rolled_back()
        except PagesAPIError as err:
            self.fail_api(err, hint="The credential needs 'Workers Scripts: Edit' on the account.")


def main():
    WorkerDeployment().run()


if __name__ == "__main__":
    main()
