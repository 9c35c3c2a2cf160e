#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pages_deployment
short_description: Deploy a built site to Cloudflare Pages, build a branch, and manage deployments
version_added: 0.1.0
description:
  - "V(present) with O(source): uploads a directory to a Pages project (Direct Upload) in pure Python,
    the way C(wrangler pages deploy) does: same ignore rules, same file hashes (files either tool uploaded
    are never uploaded again by the other), only the files Cloudflare does not have yet are sent, the upload
    token is refreshed when it expires, and a re-run resumes."
  - "Full-stack projects too: a C(_worker.js) file or C(_worker.js/) directory (advanced mode, what Astro, SvelteKit, Nuxt
    and next-on-pages emit) is sent as the C(_worker.bundle) that C(wrangler pages deploy --no-bundle) sends, made in
    Python, when it is self-contained, and bundled by wrangler as C(wrangler pages deploy) bundles it when it imports
    files outside it (SvelteKit's; see O(worker_bundle)); a C(functions/) directory (Pages Functions) is compiled by
    wrangler (O(functions_dir), O(wrangler_executable)); C(_routes.json) is validated and sent with the worker."
  - "V(present) without O(source): triggers a build of O(branch) on a project connected to GitHub or GitLab."
  - "V(absent): deletes one deployment, or every deployment of a preview branch (O(branch)). V(rolled_back): makes a production deployment live again.
    V(retried): retries a deployment. V(pruned): deletes old deployments by rules (keep the newest N,
    per environment and per branch, an age cutoff), never the live production deployment."
author:
  - cfpages maintainers (@cfpages)
extends_documentation_fragment:
  - cfpages.cloudflare.auth
  - cfpages.cloudflare.attributes
attributes:
  check_mode:
    details:
      - With O(source), check mode hashes the files and asks Cloudflare which are missing (a read-only call),
        and reports in RV(upload) how many files and bytes would be uploaded. It uploads nothing and creates
        nothing. For V(pruned) it is the dry run, returning what would be deleted.
      - For V(absent) with O(branch), RV(deleted_ids) and RV(branch_cleanup.deleted) list what would be deleted;
        nothing is deleted.
      - The worker is built and checked in check mode too (the C(_worker.js) modules and their imports, its bundling
        by wrangler, C(_routes.json), and the Functions build by wrangler), so a broken worker fails the check.
  diff_mode:
    details:
      - The diff shows which deployment serves the branch (or which deployments exist) before and after.
      - With O(source) and a site with code, it also shows the configuration the live deployment was made with
        (C(env_vars), C(compatibility_date), C(compatibility_flags), and the digest of the other settings) and the
        environment's configuration now; secret values are masked.
options:
  project_name:
    description:
      - The name of the Pages project.
    type: str
    required: true
    aliases: [project]
  state:
    description:
      - V(present) makes sure O(source) is what the branch serves (a new deployment when the files differ),
        or, without O(source), triggers a build of O(branch) on a git-connected project.
      - V(absent) deletes the deployment O(deployment_id), or, with O(branch) instead, every deployment of that
        preview branch (see O(branch)).
      - V(rolled_back) makes the production deployment O(deployment_id) the live one again.
      - V(retried) retries the deployment O(deployment_id); this creates a new deployment.
      - V(pruned) deletes old deployments chosen by O(keep), O(keep_per_branch) and O(older_than); see the notes.
    type: str
    choices: [present, absent, rolled_back, retried, pruned]
    default: present
  source:
    description:
      - The directory of the built site to upload (Direct Upload). Only used with O(state=present).
      - Like wrangler, skips C(_worker.js), C(_redirects), C(_headers), C(_routes.json), C(functions) and
        C(.wrangler) at the top level, and C(.DS_Store), C(node_modules) and C(.git) at any depth. The top-level
        C(_headers) and C(_redirects) are sent with the deployment as the special files they are.
      - "A top-level C(_worker.js) is an advanced-mode worker (Pages Functions are then not deployed, as with wrangler).
        A file is sent as a single ES module. A directory is sent with C(index.js) as its main module and every
        C(.js)/C(.mjs) file as an ES module, C(.wasm) as WebAssembly, C(.txt)/C(.html)/C(.sql) as text and
        C(.bin) as data modules, named by their path in the directory. Before any request, the module fails when
        C(index.js) is missing, when a relative C(import)/C(export ... from) of a module names no module of the
        bundle (the message names the file, the line and the specifier) and O(worker_bundle) does not bundle it,
        or when the worker is above the Workers size limit (10 MiB gzip-compressed; a warning above the Free plan's
        3 MiB)."
      - "C(_routes.json) is validated before any request (JSON, C(version: 1), C(include) and C(exclude) arrays of
        rules starting with C(/), at least one include, at most 100 rules of at most 100 characters, no overlapping
        rules) and sent only together with a worker; without one it gets a warning and is not sent."
      - Symbolic links are followed; see O(follow_symlinks).
      - A site without files (and without a worker) is refused; see O(allow_empty). File names with a control
        character (such as a newline) are refused, since no URL can reach them; names with a backslash are deployed
        with a warning.
      - Without O(source), O(state=present) triggers a build of O(branch), which needs a project connected to git.
    type: path
  functions_dir:
    description:
      - The Pages Functions directory to compile with wrangler and deploy with O(source) (only when O(source) has
        no C(_worker.js), which takes precedence, as with wrangler).
      - Defaults to the C(functions) directory beside O(source) (where wrangler finds it when run from the
        project's root, with O(source) its build output directory), when it exists.
      - An empty string deploys without Functions, explicitly.
      - "The build runs C(wrangler pages functions build) with the compatibility date and flags of the environment
        the branch deploys to (the project's C(deployment_configs)), in a temporary directory; the generated
        C(_routes.json) is sent unless O(source) has its own. Without wrangler the task fails before any request."
      - A C(functions) directory inside O(source) is never uploaded as assets.
    type: path
  wrangler_executable:
    description:
      - The wrangler command that compiles O(functions_dir), as a path or a name looked up on E(PATH). wrangler
        needs Node.js.
      - Defaults to C(wrangler) on E(PATH). Only used when there are Functions to build or a C(_worker.js) to bundle
        (see O(worker_bundle)).
      - Tested with wrangler 4.86.0.
    type: path
  worker_bundle:
    description:
      - How a C(_worker.js) file or directory of O(source) (advanced mode) is sent.
      - V(auto) sends it as it is, as C(wrangler pages deploy --no-bundle) does (made in Python, no Node.js needed),
        when it is self-contained; when a relative C(import) names a file that is not a module of it (a C(_worker.js)
        file importing anything, as SvelteKit's C(.svelte-kit/cloudflare/_worker.js) imports
        C(../output/server/index.js) and C(../cloudflare-tmp/manifest.js)), it is bundled as
        C(wrangler pages deploy) bundles it by default.
      - V(always) bundles it every time. V(never) never does, and an import that leaves the worker fails the task
        before any request (what this module did before this option existed).
      - "Bundling runs C(wrangler pages functions build --build-output-directory SOURCE --outfile ...) (O(wrangler_executable))
        in a temporary directory, with the compatibility date and flags of the environment the branch deploys to:
        the same esbuild bundling of C(_worker.js) as C(wrangler pages deploy) (ES module output, the files it
        imports inlined from wherever they are, C(cloudflare:*) and C(node:*) imports left to the runtime). The
        task fails before any request when wrangler is needed and not found, naming O(wrangler_executable)."
      - The site digest covers the bundle wrangler made (without the random names wrangler gives it), so a rerun on
        the same files changes nothing and a change to any file the worker imports, even outside O(source),
        deploys again.
      - Pages Functions (O(functions_dir)) are always compiled by wrangler; this option does not apply to them.
    type: str
    choices: [auto, always, never]
    default: auto
  exclude:
    description:
      - Glob patterns of files or directories under O(source) not to upload, matched against the path relative to
        O(source) with C(/) separators (for example V(**/*.map) or V(.next/cache)).
      - Added to the built-in ignore list described in O(source).
    type: list
    elements: str
    default: []
  hash_cache:
    description:
      - Where the hash cache of O(source) lives, or V(false) for none. The hash cache lets a rerun keep the
        hash of every file whose path, size, modification time, change time, inode and device are unchanged
        since the last run, so it reads only the files that changed. It never changes what is deployed.
      - Unset or V(true), C($XDG_CACHE_HOME/cfpages.cloudflare/hash-cache) (C(~/.cache/...) when
        C(XDG_CACHE_HOME) is not set) on the host the module runs on. A string, that directory (created when
        missing). V(false) (or C("false"), C("no"), C("off")) hashes every file every time.
      - The cache holds one file per O(source) with paths, sizes, timestamps, inodes and hashes, no secret
        and no file content; a cache that cannot be read, or was written by another version of the collection
        or for another directory, is ignored and replaced. Check mode reads and updates it too.
      - A file changed less than 2 seconds before the run started is hashed again on the next run, as git
        does for its index (the timestamps of the file system may be too coarse to see a second change).
      - In the default directory, when a run writes its cache file it also removes, at most once a day, the
        cache files not used for 30 days (by modification time; a run that uses a cache touches it). It removes
        only its own cache files, never fails the deploy on a clean-up error, and leaves a directory given as
        O(hash_cache) alone.
    type: raw
  upload_concurrency:
    description:
      - Upload requests sent at once, at most (wrangler sends 3). Fewer run at once while a request would
        not end well within the time limit of an upload request (300 seconds) with others sharing the
        uplink, and one at a time after a gateway timeout (HTTP 524).
      - A whole number from 1 to 10. Used with O(source).
    type: int
    default: 3
  max_bucket_bytes:
    description:
      - File bytes sent in one upload request, at most (before base64, which adds a third). The default and
        the largest value are 41943040 (40 MiB, as wrangler sends); the smallest is 65536.
      - Each request is also sized from the upload throughput measured so far, so that it takes about a tenth
        of the 300-second time limit of an upload request with the requests sharing the uplink; the first
        request is small and goes alone. So a slow uplink needs no setting; set this to bound every request
        anyway (a proxy with a shorter time limit, for example). A single file larger than this is sent alone.
      - Used with O(source).
    type: int
    default: 41943040
  force_upload:
    description:
      - Upload every file, even those Cloudflare already has (skips the C(check-missing) call, like wrangler's
        C(--skip-caching)). Useful when an asset in Cloudflare's cache is broken.
    type: bool
    default: false
  branch:
    description:
      - The branch the deployment is for. A deployment of the project's production branch goes to production,
        any other branch to preview (see RV(environment)).
      - Defaults to the project's production branch.
      - For O(state=pruned), only deployments of this branch are pruned.
      - For O(state=absent) without O(deployment_id), every deployment of this preview branch is deleted, the newest
        one, which serves the branch alias C(<branch>.<project>.pages.dev), included (O(force) is implied), so the
        alias and each deployment's own URL stop serving. The production branch is refused before anything is deleted.
        Running it again changes nothing. Deployments still building are left (a warning says so, and
        RV(branch_cleanup.skipped) lists them); run the task again once they ended.
    type: str
  commit_hash:
    description:
      - With O(source), the commit the site was built from, recorded with the Direct Upload deployment.
      - Without O(source) (a git build), the commit O(branch) is expected to be at. The build is skipped
        (C(changed=false)) when the deployment that serves O(branch) was built from this commit and did not fail.
        Otherwise the branch is built; a build request can only name the branch, so Cloudflare builds the branch's
        head, RV(built_commit_hash) returns the commit it built, and a warning says when that is not O(commit_hash)
        (the commit was not pushed yet).
    type: str
  commit_message:
    description:
      - The commit message recorded with a Direct Upload deployment. Truncated to what the API accepts.
      - The module appends a line with a digest of the uploaded files, which makes re-runs idempotent; see the notes.
    type: str
  commit_dirty:
    description:
      - Whether the working tree had uncommitted changes, recorded with a Direct Upload deployment.
    type: bool
  environment:
    description:
      - With O(state=present), a guard that fails before changing anything when O(branch) does not deploy to this
        environment (for example V(production) when the project's production branch is not O(branch)).
      - With O(state=pruned), only deployments of this environment are pruned.
    type: str
    choices: [production, preview]
  deployment_id:
    description:
      - The full id of the deployment to delete (V(absent)), roll back to (V(rolled_back)) or retry (V(retried)).
      - With O(state=absent), either this or O(branch) is required.
      - For V(rolled_back), V(previous) means the successful production deployment made before the newest
        successful production deployment (undo the last deploy; running it again changes nothing).
    type: str
    aliases: [id]
  force:
    description:
      - With O(state=present), deploy even when the files and the configuration are the same as those the branch
        serves (RV(reason=forced)), or build even when the branch was already built from O(commit_hash).
      - Use it to ship a secret whose value alone changed (the API never returns secret values, so such a change
        cannot be seen); see the notes.
      - With O(state=absent), delete the deployment even when it is aliased (the newest deployment of a preview
        branch, which serves the branch alias); sends the API's C(?force=true).
      - O(state=absent) with O(branch) always forces (it deletes the branch alias on purpose).
    type: bool
    default: false
  wait:
    description:
      - With O(state=present) or O(state=retried), wait until the deployment's latest stage is C(deploy) with
        C(success), or a stage failed, for at most O(wait_timeout) seconds.
      - A failed deployment fails the task, naming the stage, with the last lines of the build log in the message
        and in RV(log_tail).
      - A timeout fails the task too, with the deployment (its id and its current stage) in RV(deployment) and
        RV(timed_out=true); the deployment goes on in Cloudflare.
      - A build that Cloudflare skips (C(is_skipped), for example a queued build that a newer build of the same
        branch supersedes) is neither a failure nor a timeout; the task ends with a warning that says why, and
        RV(build_skipped) holds the reason and the deployment that superseded it.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds O(wait) waits at most.
    type: int
    default: 600
  create_project:
    description:
      - With O(state=present) and O(source), create the project as a Direct Upload project when it does not exist.
      - O(project_name) is checked against Pages' rule for project names (lowercase letters C(a-z), digits and dashes,
        not at the start or the end, at most 58 characters) before any request.
      - "The first deploy of a new project: the site is scanned and checked first (file sizes and names, an empty site,
        at most 100,000 files, the most any plan allows), then the project is created, and only then can its upload
        token, which carries the account's file limit, be read. When the site has more files than that limit, the
        project just created is deleted again and the task fails saying so; any other failure after the create says
        that the project was created and has no deployment yet (RV(project_created=true)); a re-run goes on from there."
      - Use M(cfpages.cloudflare.pages_project) to manage the project's settings.
    type: bool
    default: false
  allow_empty:
    description:
      - With O(source), deploy a site without files (no asset and no C(_worker.js); C(_headers), C(_redirects) and
        C(_routes.json) alone serve nothing but 404 answers).
      - By default such a site is refused before anything changes, because it usually means that the build step wrote
        nothing, and deploying it would take the branch (or production) down.
    type: bool
    default: false
  follow_symlinks:
    description:
      - How symbolic links in O(source) are treated.
      - V(all) follows every link, as wrangler does; a link that leads outside O(source) is followed too (its target's
        files are deployed), and each such target is named once in a warning.
      - V(inside) follows only links whose target is inside O(source), and fails the task before anything is uploaded
        when a link leads outside it, naming every such link. Use it when O(source) may hold links to private files.
    type: str
    choices: [all, inside]
    default: all
  production_branch:
    description:
      - The production branch of a project that O(create_project) creates. Ignored for an existing project.
      - Defaults to O(branch) when set, else V(main).
    type: str
  keep:
    description:
      - With O(state=pruned), keep the newest O(keep) deployments of each environment (production and preview
        counted separately), whatever their status.
    type: int
  keep_per_branch:
    description:
      - With O(state=pruned), keep the newest O(keep_per_branch) deployments of each branch.
    type: int
  older_than:
    description:
      - With O(state=pruned), only delete deployments created before this moment.
      - Either an age, a number and a unit (V(s), V(m), V(h), V(d), V(w)), which can be combined, such as
        V(30d), V(12h) or V(1d12h), counted back from now; or a date or time in ISO 8601 form, such as
        V(2026-01-31) or V(2026-01-31T12:00:00Z) (UTC when no offset is given).
    type: str
  delete_aliased:
    description:
      - With O(state=pruned), also delete aliased deployments (the newest deployment of each branch, which serves
        the branch alias), sending C(?force=true). By default they are reported in RV(prune.skipped).
      - The live production deployment, and the newest successful production deployment, are never deleted.
    type: bool
    default: false
notes:
  - "Idempotence of uploads: the module records a digest of the deployed files (paths, contents and the special
    files) and the branch as the last line of the deployment's commit message. When the deployment that serves
    the branch (for production: the live one, which a rollback may have changed; for preview: the newest of the
    branch) carries the same digest and did not fail (and, for a site with code, was made with the same configuration;
    see below), nothing is uploaded, no deployment is created and C(changed=false). A different O(commit_message)
    or O(commit_hash) alone does not make a new deployment; O(force=true) does."
  - "Full-stack idempotence: the digest also covers the worker (each module's name, type and content, the
    C(_routes.json) sent, and the Functions build without the random names wrangler gives its output), so the same
    code and assets again report C(changed=false), and any change to a module deploys again."
  - "Configuration: a deployment runs with the configuration its environment (C(deployment_configs.production) or
    C(.preview), set with M(cfpages.cloudflare.pages_project)) had when it was created. For a site with code
    (C(_worker.js) or Functions), the same files are deployed again (RV(reason=configuration changed)) when the live
    deployment was made with another configuration: environment variable names, types and plain-text values,
    secret names, C(compatibility_date) and C(compatibility_flags) (read from the live deployment, whoever made it),
    and bindings, C(usage_model), C(placement), C(limits), C(fail_open) and C(always_use_latest_compatibility_date)
    (recorded by this module as a C(cfpages-settings) digest line in the commit message; not compared for a
    deployment made by another tool). RV(configuration_changes) says what differs. A static site does not use its
    configuration, so only its files compare. The comparison makes no extra API request."
  - "Secrets: the API never returns the value of a C(secret_text) variable, so only their names and types compare.
    After changing a secret's value (M(cfpages.cloudflare.pages_project) with C(update_secrets=always)), ship it
    with O(force=true) (for example only when that task changed, as in the examples), or change a plain-text
    variable such as C(SECRETS_VERSION) together with it, which the comparison sees."
  - "wrangler is only needed for Pages Functions (O(functions_dir)) and for a C(_worker.js) that imports files outside
    it (O(worker_bundle)); self-contained C(_worker.js) files and directories are bundled in Python. For AWX, see
    the execution environment variant with Node.js and wrangler in the collection's C(extensions/awx) directory."
  - "O(state=present) without O(source) triggers a new build every time (C(changed=true)), unless O(commit_hash) is
    set and the branch already serves a build of that commit."
  - "Symbolic links in O(source) are followed, as wrangler does: a link to a file uploads the file's content under
    the link's path, a link to a directory is walked. A link back to one of its parent directories and a dangling link
    are skipped with a warning. O(follow_symlinks=inside) refuses links that leave O(source)."
  - "Interrupting the task (SIGINT, for example Ctrl-C) while it uploads stops the upload: no further bucket is started,
    requests being sent are cut off, no deployment is created, and the task fails saying so. Running it again uploads
    only the files Cloudflare does not have yet."
  - "Pruning: ids are collected first and deleted afterwards (oldest first). A deployment is kept when any of O(keep),
    O(keep_per_branch) or O(older_than) keeps it. The others are deleted, except the live production deployment
    and the newest successful production deployment (never: after a rollback either may be the one Cloudflare
    reports as live; nor one whose C(aliases) list custom domains), deployments still building, and aliased ones
    (the newest of each branch, which Cloudflare refuses to delete without C(force)) unless O(delete_aliased=true).
    RV(prune.kept), RV(prune.deleted) and RV(prune.skipped) list each deployment with the reason. Deployments
    that Cloudflare reports as already gone or refuses as aliased are skipped; other errors fail the task after
    every deletion was tried."
  - "Pruning deletes a few deployments at a time, paced to Cloudflare's rate limit (see O(rate_limit_budget)). When the
    budget is spent it stops, fails with RV(prune.deleted) and RV(prune.remaining), and the next run resumes."
  - "O(state=absent) refuses to delete the live production deployment: roll back to another production deployment,
    or deploy a new one, first."
  - "O(state=absent) with O(branch) lists the preview deployments (every page: the API cannot filter by branch) and
    deletes those of the branch, a few at a time within O(rate_limit_budget), as O(state=pruned) does; RV(deleted_ids)
    and RV(branch_cleanup) say what was deleted. Deployments of the branch made while it was the production branch
    (production deployments) are not touched. The role
    C(cfpages.cloudflare.cleanup_previews) does this for every branch that is no longer open."
  - "O(state=rolled_back) only accepts a successful production deployment, and changes nothing when it is already
    the live one."
seealso:
  - module: cfpages.cloudflare.pages_project
  - module: cfpages.cloudflare.pages_info
  - name: Direct Upload
    description: Cloudflare's documentation of Direct Upload projects.
    link: https://developers.cloudflare.com/pages/get-started/direct-upload/
  - name: Advanced mode
    description: A C(_worker.js) instead of a C(functions) directory.
    link: https://developers.cloudflare.com/pages/functions/advanced-mode/
  - name: Functions routing
    description: Routes, C(_routes.json) and its limits.
    link: https://developers.cloudflare.com/pages/functions/routing/
  - name: Rollbacks
    description: Which deployments can be rolled back to.
    link: https://developers.cloudflare.com/pages/configuration/rollbacks/
"""

EXAMPLES = r"""
- name: Upload a built site to production (creating the project the first time)
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    source: "{{ site_dir }}"
    create_project: true
    production_branch: main
  register: deploy

- name: Show where it is served
  ansible.builtin.debug:
    msg: "{{ deploy.deployment.url }} ({{ deploy.environment }}): {{ deploy.upload.uploaded }} of {{ deploy.upload.files }} files uploaded"

- name: Deploy a preview of a feature branch, excluding source maps
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    source: "{{ site_dir }}"
    branch: feature/login
    commit_hash: 4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a
    commit_message: Add the login page
    exclude:
      - "**/*.map"
  register: preview

- name: Deploy a framework's full-stack build (an Astro, SvelteKit or Nuxt dist/ with a _worker.js/ directory)
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-app
    source: "{{ app_dir }}/dist"
    branch: main
  register: app

- name: Show what the worker is made of
  ansible.builtin.debug:
    msg: "{{ app.worker.mode }}: {{ app.worker.modules }} modules, {{ app.worker.bytes }} bytes"

- name: Deploy a SvelteKit app (adapter-cloudflare; its _worker.js imports the server build, so wrangler bundles it)
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-svelte-app
    source: "{{ app_dir }}/.svelte-kit/cloudflare"
    wrangler_executable: "{{ app_dir }}/node_modules/.bin/wrangler"
    branch: main

- name: Deploy a site with Pages Functions (public/ and functions/ side by side; wrangler compiles functions/)
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    source: "{{ project_dir }}/public"
    functions_dir: "{{ project_dir }}/functions"
    wrangler_executable: "{{ project_dir }}/node_modules/.bin/wrangler"

- name: Deploy only the static part of that site, without its Functions
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    source: "{{ project_dir }}/public"
    functions_dir: ""
    branch: static-preview

- name: Rotate a secret, then ship it (its value cannot be read back, so force the redeploy)
  cfpages.cloudflare.pages_project:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    name: my-app
    update_secrets: always
    deployment_configs:
      production:
        env_vars:
          API_SECRET:
            type: secret_text
            value: "{{ vault_api_secret }}"
  register: app_settings

- name: Deploy (a changed plain variable or binding redeploys by itself; reason says why)
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-app
    source: "{{ app_dir }}/dist"
    force: "{{ app_settings is changed }}"
  register: app_deploy

- name: Fail unless this deploy goes to production
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    source: "{{ site_dir }}"
    branch: main
    environment: production

- name: Roll production back to the deployment before the newest one
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    state: rolled_back
    deployment_id: previous

- name: Delete the preview deployment of the feature branch (it serves the branch alias, hence force)
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    state: absent
    deployment_id: "{{ preview.deployment.id }}"
    force: true

- name: Delete every deployment of a closed pull request's preview branch (its alias stops serving)
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    state: absent
    branch: feature/login
  register: cleanup

- name: Show what was deleted
  ansible.builtin.debug:
    msg: "{{ cleanup.deleted_ids | length }} deployment(s) of feature/login deleted: {{ cleanup.deleted_ids }}"

- name: Dry run of a prune - keep 5 per environment and 2 per branch, delete only what is older than 30 days
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-site
    state: pruned
    keep: 5
    keep_per_branch: 2
    older_than: 30d
  check_mode: true
  register: dry_run

- name: Show what would be deleted
  ansible.builtin.debug:
    msg: "{{ dry_run.prune.deleted | map(attribute='id') | list }}"

- name: Rebuild the main branch of a git-connected project and wait up to 20 minutes
  cfpages.cloudflare.pages_deployment:
    api_token: "{{ cloudflare_api_token }}"
    account_id: "{{ cloudflare_account_id }}"
    project_name: my-git-site
    branch: main
    wait_timeout: 1200
  when: git_project_available | default(false)
"""

RETURN = r"""
deployment:
  description:
    - The deployment, as the API returns it (after waiting, when O(wait=true)).
    - For V(present), the new deployment, or the one that already serves the branch when nothing changed.
      For V(absent), the deleted deployment. For V(rolled_back), the live production deployment.
      For V(retried), the new deployment.
    - C(null) when nothing exists or, in check mode, when a deployment would be created.
  returned: state is not pruned, and not absent with branch
  type: dict
  sample:
    id: 6ae23287-83c7-4b8b-9d7b-1a3f5c2e9d10
    short_id: 6ae23287
    project_name: my-site
    environment: production
    url: https://6ae23287.my-site.pages.dev
    aliases: null
    created_on: "2026-09-11T20:12:37.66251Z"
    latest_stage:
      name: deploy
      status: success
      started_on: null
      ended_on: "2026-09-11T20:12:38.10000Z"
    deployment_trigger:
      type: ad_hoc
      metadata:
        branch: main
        commit_hash: 4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a
        commit_message: "Add the login page"
        commit_dirty: false
environment:
  description: The environment O(branch) deploys to, C(production) or C(preview).
  returned: state is present
  type: str
  sample: production
project_created:
  description:
    - Whether O(create_project) created the project (or would have, in check mode).
    - C(false) when the project was created and deleted again because the site has more files than its upload token
      allows (see O(create_project)).
  returned: state is present
  type: bool
  sample: false
built_commit_hash:
  description:
    - The commit the git build this task started was made from (the head of O(branch) when Cloudflare read it), as the
      API reports it; C(null) until it does (for example with O(wait=false)).
  returned: state is present without source, when a build was started
  type: str
  sample: 4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a
upload:
  description:
    - Counts of the Direct Upload. In check mode, what would be uploaded.
    - When nothing changed, C(uploaded) is 0 and C(skipped) equals C(files).
  returned: state is present and source is set
  type: dict
  contains:
    files:
      description: Files in the deployment's manifest (the special files not included).
      type: int
      sample: 5120
    bytes:
      description: Bytes of those files.
      type: int
      sample: 62914560
    uploaded:
      description: Files uploaded (or that would be). Files with identical contents are sent once.
      type: int
      sample: 1
    uploaded_bytes:
      description: Bytes of the uploaded files (before base64).
      type: int
      sample: 2048
    skipped:
      description: Files not uploaded because Cloudflare already had their contents.
      type: int
      sample: 5119
    buckets:
      description: Upload requests made (or that would be).
      type: int
      sample: 1
    hash_cache_hits:
      description: Files whose hash came from the hash cache (not read); 0 with O(hash_cache=false).
      type: int
      sample: 5119
    timings:
      description:
        - Seconds each phase of the deploy took, to see where a slow deploy spends its time.
        - V(scan) reading the site's code, walking the site and the hash cache; V(hash) hashing the files
          the cache did not have once the walk was over, the site digest and the checks of names and sizes;
          V(worker) building Pages Functions or bundling C(_worker.js) with wrangler; V(check_missing) the
          upload token and asking which files Cloudflare lacks; V(upload) the upload requests and
          C(upsert-hashes); V(deployment) finding what the branch serves and creating the deployment;
          V(wait) waiting for the deployment to finish (O(wait)).
        - A phase that did not run is V(0) (a rerun that changes nothing uploads nothing and creates nothing).
      type: dict
      sample: {"scan": 0.412, "hash": 0.051, "worker": 0.0, "check_missing": 0.094, "upload": 1.873,
               "deployment": 0.162, "wait": 0.0}
  sample:
    files: 5120
    bytes: 62914560
    uploaded: 1
    uploaded_bytes: 2048
    skipped: 5119
    buckets: 1
    hash_cache_hits: 5119
reason:
  description:
    - Why the task deployed (or would deploy, in check mode), or V(unchanged).
    - V(nothing live) (no deployment serves the branch, or the project is new), V(files changed) (the branch serves
      other files or other code), V(live deployment failed) (the same files, but that deployment failed),
      V(configuration changed) (the same files, made with another configuration of the environment; see
      RV(configuration_changes)), V(forced) (nothing changed, but O(force=true)), V(unchanged) (C(changed=false)).
  returned: state is present and source is set
  type: str
  sample: configuration changed
configuration_changes:
  description:
    - What differs between the configuration the live deployment was made with and its environment's now, by
      name, without values - C(env_vars.<NAME>), C(compatibility_date), C(compatibility_flags), and
      C(bindings_and_settings) (bindings, C(usage_model), C(placement), C(limits), C(fail_open),
      C(always_use_latest_compatibility_date)).
    - Empty when they are the same, when nothing is live, and for a site without code (its configuration is not
      compared).
  returned: state is present and source is set
  type: list
  elements: str
  sample: [env_vars.GREETING]
worker:
  description:
    - The code deployed with the site (or that would be, in check mode).
  returned: state is present and source is set
  type: dict
  contains:
    mode:
      description:
        - V(none) (static files only), V(file) (a C(_worker.js) file), V(directory) (a C(_worker.js/) directory)
          or V(functions) (Pages Functions compiled by wrangler).
      type: str
      sample: directory
    modules:
      description: Modules in the worker bundle, the main module included.
      type: int
      sample: 31
    bytes:
      description: Bytes of those modules, uncompressed.
      type: int
      sample: 482113
    bundled:
      description: Whether wrangler bundled the C(_worker.js) (see O(worker_bundle)).
      type: bool
      sample: false
  sample:
    mode: directory
    modules: 31
    bytes: 482113
    bundled: false
progress:
  description: One line per step of the upload (hashing, each bucket, the deployment), with C(-v) or more.
  returned: state is present, source is set, and verbosity is at least 1
  type: list
  elements: str
  sample:
    - "scanned /srv/site: 5120 files, 60.0 MiB, 2 special file(s); hashed in 0.41s"
    - "check-missing: 1 of 5098 distinct contents are missing"
    - "uploaded bucket 1/1: 1 files, 0.0 MiB in 0.05s"
    - "created deployment 6ae23287-83c7-4b8b-9d7b-1a3f5c2e9d10"
log_tail:
  description: The last lines of the build log of a deployment that failed.
  returned: failure of a deployment that was waited for
  type: list
  elements: str
  sample: ["Executing user command: npm run build", "Failed: build command exited with code 1"]
build_skipped:
  description:
    - Why Cloudflare skipped the build the task waited for (its C(is_skipped) is true); the task does not fail for it.
  returned: when a deployment that was waited for was skipped
  type: dict
  contains:
    reason:
      description:
        - The API's C(skip_reason), for example C(superseded_queued_build) (a newer build of the same branch
          superseded it while it was queued), C(path_config), C(branch_config), C(commit_message),
          C(preview_deployments_disabled), C(production_deployments_disabled) or C(pages_to_workers_conversion).
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
timed_out:
  description: Whether O(wait_timeout) passed before the deployment finished.
  returned: when waiting timed out (the task fails)
  type: bool
  sample: true
deleted_ids:
  description:
    - The ids of the deployments O(state=absent) with O(branch) deleted (in check mode, would delete), oldest first.
      Empty when the branch has none left.
  returned: state is absent with branch
  type: list
  elements: str
  sample: [0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0, 9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0]
branch_cleanup:
  description:
    - The report of O(state=absent) with O(branch). Each list holds deployments as in RV(prune), with C(reason).
  returned: state is absent with branch
  type: dict
  contains:
    branch:
      description: The branch.
      type: str
      sample: feature/login
    deleted:
      description: Deployments deleted (in check mode, that would be deleted), oldest first.
      type: list
      elements: dict
      sample:
        - id: 9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0
          short_id: 9f8e7d6c
          environment: preview
          branch: feature/login
          created_on: "2026-05-01T08:00:00.0Z"
          url: https://9f8e7d6c.my-site.pages.dev
          aliases: ["https://feature-login.my-site.pages.dev"]
          stage: "deploy:success"
          reason: "a deployment of preview branch 'feature/login' (state=absent with branch); it served the branch alias"
    skipped:
      description: Deployments not deleted, with the reason (still building, already gone, refused by Cloudflare).
      type: list
      elements: dict
      sample: []
    failed:
      description: Deployments whose deletion failed, with the error as C(reason); the task then fails.
      type: list
      elements: dict
      sample: []
    remaining:
      description:
        - Deletions never attempted because the task stopped part-way (O(rate_limit_budget) spent, or interrupted);
          the task then fails, and running it again deletes the rest.
      type: list
      elements: dict
      returned: when the task stopped part-way
      sample: []
  sample:
    branch: feature/login
    deleted: []
    skipped: []
    failed: []
prune:
  description:
    - The report of O(state=pruned). Each list holds the deployments with C(id), C(short_id), C(environment),
      C(branch), C(created_on), C(url), C(aliases), C(stage) (C(name:status) of the latest stage) and C(reason).
    - The lists are in this dict rather than at the top level because Ansible gives C(skipped) in a task
      result its own meaning.
  returned: state is pruned
  type: dict
  contains:
    kept:
      description: Deployments that the rules keep, newest first.
      type: list
      elements: dict
      sample:
        - id: 6ae23287-83c7-4b8b-9d7b-1a3f5c2e9d10
          short_id: 6ae23287
          environment: production
          branch: main
          created_on: "2026-09-11T20:12:37.66251Z"
          url: https://6ae23287.my-site.pages.dev
          aliases: []
          stage: "deploy:success"
          reason: one of the newest 5 production deployments (keep)
    deleted:
      description: Deployments deleted (in check mode, that would be deleted), oldest first.
      type: list
      elements: dict
      sample:
        - id: 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0
          short_id: 0b1c2d3e
          environment: preview
          branch: feature/old
          created_on: "2026-06-01T08:00:00.0Z"
          url: https://0b1c2d3e.my-site.pages.dev
          aliases: []
          stage: "deploy:success"
          reason: not kept by any rule
    skipped:
      description:
        - Deployments that no rule keeps but that are not deleted, with the reason (the live production deployment,
          still in progress, aliased without O(delete_aliased), already gone, refused by Cloudflare).
      type: list
      elements: dict
      sample:
        - id: 9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0
          short_id: 9f8e7d6c
          environment: preview
          branch: feature/login
          created_on: "2026-05-01T08:00:00.0Z"
          url: https://9f8e7d6c.my-site.pages.dev
          aliases: ["https://feature-login.my-site.pages.dev"]
          stage: "deploy:success"
          reason: "the newest deployment of branch 'feature/login' holds the branch alias; Cloudflare deletes it only
            with force (set delete_aliased)"
    failed:
      description: Deployments whose deletion failed, with the error as C(reason); the task then fails.
      type: list
      elements: dict
      sample: []
    remaining:
      description:
        - Planned deletions that were never attempted because the prune stopped part-way (O(rate_limit_budget) spent,
          or the task interrupted); the task then fails, and running it again resumes.
      type: list
      elements: dict
      returned: when the prune stopped part-way
      sample: []
  sample:
    kept: []
    deleted: []
    skipped: []
    failed: []
"""

import time

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import BranchCleanupRefused, PagesAPIError
from ansible_collections.cfpages.cloudflare.plugins.module_utils._base import PagesModule
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.branch_cleanup import BranchCleanup
from ansible_collections.cfpages.cloudflare.plugins.module_utils._compare import NEW_OBJECT
from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.lifecycle import (
    ALIASED_DELETE_CODE,
    PRODUCTION,
    BranchDeployments,
    apply_prune,
    canonical_id,
    deployment_branch,
    deployment_commit_hash,
    find_live_deployment,
    is_git_project,
    is_newest_of_branch,
    log_tail,
    outcome_of,
    plan_prune,
    project_production_branch,
    resolve_environment,
    serves_custom_domains,
    skip_details,
    stage_of,
    stage_text,
    summarize,
    wait_for_deployment,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._time import older_than_cutoff
from ansible_collections.cfpages.cloudflare.plugins.module_utils._validate import hash_cache_option, project_name_problem
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import pages_deploy as _upload


ALL_STATES = ("present", "absent", "rolled_back", "retried", "pruned")


class PagesDeployment(PagesModule):
    argument_spec = dict(
        project_name=dict(type="str", required=True, aliases=["project"]),
        state=dict(type="str", default="present", choices=list(ALL_STATES)),
        source=dict(type="path"),
        exclude=dict(type="list", elements="str", default=[]),
        functions_dir=dict(type="path"),
        wrangler_executable=dict(type="path"),
        worker_bundle=dict(type="str", default="auto", choices=["auto", "always", "never"]),
        force_upload=dict(type="bool", default=False),
        hash_cache=dict(type="raw"),
        upload_concurrency=dict(type="int", default=3),
        max_bucket_bytes=dict(type="int", default=41943040),
        branch=dict(type="str"),
        commit_hash=dict(type="str"),
        commit_message=dict(type="str"),
        commit_dirty=dict(type="bool"),
        environment=dict(type="str", choices=["production", "preview"]),
        deployment_id=dict(type="str", aliases=["id"]),
        force=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        create_project=dict(type="bool", default=False),
        production_branch=dict(type="str"),
        keep=dict(type="int"),
        keep_per_branch=dict(type="int"),
        older_than=dict(type="str"),
        delete_aliased=dict(type="bool", default=False),
        allow_empty=dict(type="bool", default=False),
        follow_symlinks=dict(type="str", default="all", choices=["all", "inside"]),
    )
    module_kwargs = dict(
        required_if=[
            ("state", "absent", ["deployment_id", "branch"], True),
            ("state", "rolled_back", ["deployment_id"]),
            ("state", "retried", ["deployment_id"]),
            ("state", "pruned", ["keep", "keep_per_branch", "older_than"], True),
        ],
    )

    # Which option is valid in which state ("present with source": a direct upload). The base refuses an
    # option set in any other state, naming it, before any request; every option of argument_spec is here.
    option_states = dict(
        project_name=ALL_STATES,
        state=ALL_STATES,
        source=("present",),
        exclude=("present with source",),
        functions_dir=ALL_STATES,
        wrangler_executable=ALL_STATES,
        worker_bundle=ALL_STATES,
        force_upload=("present",),
        hash_cache=("present with source",),
        branch=("present", "absent", "pruned"),
        commit_hash=("present",),
        commit_message=("present",),
        commit_dirty=("present",),
        environment=("present", "pruned"),
        deployment_id=("absent", "rolled_back", "retried"),
        force=ALL_STATES,
        wait=ALL_STATES,
        wait_timeout=ALL_STATES,
        create_project=("present",),
        production_branch=("present",),
        keep=("pruned",),
        keep_per_branch=("pruned",),
        older_than=("pruned",),
        delete_aliased=("pruned",),
        allow_empty=("present with source",),
        follow_symlinks=("present with source",),
        upload_concurrency=("present with source",),
        max_bucket_bytes=("present with source",),
    )

    # ------------------------------------------------------------------ helpers

    @property
    def name(self):
        return self.params["project_name"]

    def check_options(self):
        """What the table of options by state (checked by the base before this) cannot say."""
        p = self.params
        problem = project_name_problem(p["project_name"])
        if problem:
            self.fail(problem)
        if p["state"] == "absent" and p["branch"] is not None:
            if p["deployment_id"] is not None:
                self.fail("state=absent takes either deployment_id (one deployment) or branch (all of a preview branch's "
                          "deployments), not both.")
            if not p["branch"].strip():
                self.fail("branch must name the preview branch whose deployments state=absent deletes; it is empty.")
        for option in ("keep", "keep_per_branch"):
            if p[option] is not None and p[option] < 0:
                self.fail("%s must be 0 or more, not %d." % (option, p[option]))
        if p["wait_timeout"] < 0:
            self.fail("wait_timeout must be 0 or more.")
        p["hash_cache"], problem = hash_cache_option(p["hash_cache"])
        if problem:
            self.fail(problem)
        if p["older_than"] is not None:
            try:
                older_than_cutoff(p["older_than"])
            except ValueError as err:
                self.fail(str(err))

    def get_project(self, required=True):
        project = self.client.get_project(self.name)
        if project is None and required:
            self.fail(self.missing_project_message(
                self.name, "Project %s does not exist in account %s." % (self.name, self.params["account_id"])
            ))
        return project

    def finish(self, deployment):
        """Put ``deployment`` in the result and, with ``wait``, wait for it to end."""
        self.result["deployment"] = deployment
        if not self.params["wait"] or deployment is None:
            return
        started = time.monotonic()
        deployment, outcome = wait_for_deployment(
            self.client, self.name, deployment, self.params["wait_timeout"], log=self.debug
        )
        timings = (self.result.get("upload") or {}).get("timings")
        if timings is not None:
            timings["wait"] = round(time.monotonic() - started, 3)
        self.result["deployment"] = deployment
        if outcome == "failure":
            tail = log_tail(self.client, self.name, deployment["id"])
            self.result["log_tail"] = tail
            name, status = stage_of(deployment)
            msg = "Deployment %s of project %s failed at stage %s (%s)." % (deployment["id"], self.name, name, status)
            if tail:
                msg += " Last lines of the build log:\n" + "\n".join(tail)
            self.fail(msg)
        if outcome == "timeout":
            self.result["timed_out"] = True
            self.fail(
                "Timed out after %ds waiting for deployment %s of project %s; it is at stage %s and goes on in "
                "Cloudflare. Raise wait_timeout, or set wait: false and look at it later with "
                "cfpages.cloudflare.pages_info."
                % (self.params["wait_timeout"], deployment["id"], self.name, stage_text(deployment))
            )
        if outcome == "missing":
            self.fail("Deployment %s of project %s was deleted while waiting for it." % (deployment["id"], self.name))
        if outcome == "skipped":
            # Not a failure: Cloudflare chose not to build it (a newer build of the branch, watch paths...).
            skip = skip_details(self.client, self.name, deployment)
            self.result["build_skipped"] = skip
            self.module.warn(skip["message"])

    # ------------------------------------------------------------------ state dispatch

    def execute(self):
        self.check_options()
        state = self.params["state"]
        getattr(self, "state_" + state)()

    # ------------------------------------------------------------------ present

    def state_present(self):
        p = self.params
        # The site's code (worker, routes, wrangler for Functions) is checked before any request.
        self.engine = self.direct_upload() if p["source"] else None
        project = self.get_project(required=False)
        self.result["project_created"] = False
        if project is None:
            if not p["create_project"]:
                self.fail(self.missing_project_message(
                    self.name,
                    "Project %s does not exist in account %s. Create it with cfpages.cloudflare.pages_project, "
                    "or set create_project: true (with source) to create a Direct Upload project."
                    % (self.name, p["account_id"]),
                ))
            if not p["source"]:
                self.fail(
                    "Project %s does not exist, and create_project only creates Direct Upload projects: set source "
                    "to upload a directory, or create the git-connected project with cfpages.cloudflare.pages_project."
                    % self.name
                )
        production_branch = project_production_branch(project, p["production_branch"] or p["branch"] or "main")
        environment = resolve_environment(production_branch, p["branch"])
        self.result["environment"] = environment
        if p["environment"] and p["environment"] != environment:
            self.fail(
                "Branch %s deploys to %s, not %s: the production branch of project %s is %s. Deploy the production "
                "branch, or change it with cfpages.cloudflare.pages_project."
                % (p["branch"] or production_branch, environment, p["environment"], self.name, production_branch)
            )
        if p["source"]:
            self.present_upload(project, production_branch)
        else:
            self.present_build(project, production_branch)

    def direct_upload(self):
        """The upload engine for this task's one deploy request, with the site's code checked (no request)."""
        self.progress = []
        verbose = self.module._verbosity >= 1

        def log(line):
            self.debug(line)
            if verbose:
                self.progress.append(line)

        engine = _upload.DirectUpload(
            self.client, _upload.DeployRequest.from_options(self.params), log=log, run_command=self.run_wrangler
        )
        try:
            engine.inspect()
        except _upload.UploadError as err:
            self.fail_api(err)
        return engine

    def run_wrangler(self, argv, cwd, environ_update):
        return self.module.run_command(argv, cwd=cwd, environ_update=environ_update)

    def create_project(self):
        body = {"name": self.name, "production_branch": self.engine.request.production_branch}
        if self.check_mode:
            self.result["project_created"] = True
            self._mark_as_changed()
            return None
        project, created = self.client.create_project_or_existing(body)
        # created is False when another run created it in between: go on as if it had been there
        self.result["project_created"] = created
        self._mark_as_changed(created)
        return project

    def live_state(self, project, branch):
        live = find_live_deployment(self.client, project, branch) if project else None
        return live, {"branch": branch, "deployment_id": live.get("id") if live else None}

    def present_upload(self, project, production_branch):
        branch = self.params["branch"] or production_branch
        if self.module._verbosity >= 1:
            self.result["progress"] = self.progress  # filled as the engine goes, so a failure shows it too
        # One call: the engine checks the site (before creating a missing project), plans, and applies
        # unless in check mode; SIGINT (Ctrl-C) stops it between buckets (see interrupt).
        try:
            outcome = self.engine.run(
                project_info=project, check_mode=self.check_mode,
                create_project=self.create_project if project is None else None,
            )
        except _upload.UploadError as err:
            created = self.result["project_created"] and not self.check_mode
            self.fail_api(self.first_deploy_failed(err) if created else err)
        serving = outcome.get("serving")
        before = {"branch": branch, "deployment_id": serving.get("id") if serving else None}
        for warning in outcome.get("warnings") or []:
            self.module.warn(warning)
        upload = dict(outcome.get("upload") or {})
        self.result["upload"] = upload
        self.result["worker"] = outcome.get("worker")
        self.result["reason"] = outcome.get("reason")
        self.result["configuration_changes"] = list(outcome.get("configuration_changes") or [])
        deployment = outcome.get("deployment")
        # The configuration the live deployment was made with, and the environment's now (secret
        # values are blank in both: set_diff masks them).
        configuration = outcome.get("configuration") or {}
        if outcome.get("changed"):
            self._mark_as_changed()
            after = {"branch": branch, "deployment_id": deployment.get("id") if deployment else NEW_OBJECT}
            if configuration:
                before = dict(before, configuration=configuration["before"])
                after["configuration"] = configuration["after"]
            self.set_diff(before, after)
        else:
            same = {"branch": branch, "deployment_id": deployment.get("id") if deployment else None}
            if configuration:
                same["configuration"] = configuration["before"]
            self.set_diff(same, same)
        if self.check_mode and outcome.get("changed"):
            self.result["deployment"] = None
            return
        self.finish(deployment)

    def first_deploy_failed(self, err):
        """``err`` of the first deploy to the project this task created, saying what is left. The
        project's own file limit is known only from its upload token, which needs the project: when
        the site is over it, the (empty) project is deleted again."""
        if isinstance(err, ERR.FileCountError):
            try:
                self.client.delete_project(self.name)
            except PagesAPIError as delete_err:
                return _upload.UploadError(
                    "%s Project %s was created by this task to read that limit from its upload token and is left "
                    "empty: deleting it failed (%s)." % (err.message, self.name, delete_err)
                )
            self.result["project_created"] = False
            self._mark_as_changed(False)
            return _upload.UploadError(
                "%s Project %s, created by this task to read that limit from its upload token, was deleted again: "
                "nothing was left behind." % (err.message, self.name)
            )
        return _upload.UploadError(
            "%s Project %s was created by this task (project_created: true) and has no deployment yet; running the "
            "task again deploys to it." % (err.message, self.name), err.status, err.errors
        )

    def present_build(self, project, production_branch):
        p = self.params
        if not is_git_project(project):
            self.fail(
                "Project %s is a Direct Upload project (not connected to git), so Cloudflare cannot build it: set "
                "source to upload a directory." % self.name
            )
        branch = p["branch"] or production_branch
        live, before = self.live_state(project, branch)
        if (
            not p["force"]
            and p["commit_hash"]
            and live is not None
            and deployment_commit_hash(live) == p["commit_hash"]
            and outcome_of(live) != "failure"
        ):
            self.set_diff(before, before)
            self.finish(live)
            return
        self._mark_as_changed()
        self.set_diff(before, {"branch": branch, "deployment_id": NEW_OBJECT})
        if self.check_mode:
            self.result["deployment"] = None
            return
        view = BranchDeployments(self.client, project, branch)
        recheck = view.created_since(view.known_ids())
        deployment = self.client.create_deployment(self.name, [("branch", (None, branch))], recheck=recheck)
        self.result["built_commit_hash"] = None
        self.note_built_commit(deployment)
        self.finish(deployment)
        built = self.note_built_commit(self.result.get("deployment"))
        if p["commit_hash"] and built and built != p["commit_hash"]:
            self.module.warn(
                "commit_hash %s was asked for, but a build request can only name the branch: Cloudflare built the head "
                "of %s, commit %s. Push %s to %s first, or leave commit_hash unset."
                % (p["commit_hash"], branch, built, p["commit_hash"], branch)
            )

    def note_built_commit(self, deployment):
        """Record in ``built_commit_hash`` the commit a build was made from, once the API says it."""
        commit = deployment_commit_hash(deployment) if isinstance(deployment, dict) else None
        if commit:
            self.result["built_commit_hash"] = commit
        return self.result.get("built_commit_hash")

    # ------------------------------------------------------------------ absent

    def state_absent(self):
        p = self.params
        if p["deployment_id"] is None:
            self.absent_branch()
            return
        project = self.get_project(required=False)
        deployment = self.client.get_deployment(self.name, p["deployment_id"]) if project else None
        self.result["deployment"] = deployment
        if deployment is None:
            self.set_diff(None, None)
            return
        # A production deployment listing custom domains in its aliases is live too, whatever
        # canonical_deployment says after a rollback.
        if canonical_id(project) == deployment["id"] or serves_custom_domains(deployment):
            self.fail(
                "Deployment %s is the live production deployment of project %s and cannot be deleted. Roll back to "
                "another production deployment (state: rolled_back) or deploy a new one first."
                % (deployment["id"], self.name)
            )
        aliased = bool(deployment.get("aliases"))
        if not aliased and deployment.get("environment") != PRODUCTION:
            aliased = is_newest_of_branch(self.client, project, deployment)
        if aliased and not p["force"]:
            self.fail(self.aliased_message(deployment, project))
        self._mark_as_changed()
        self.set_diff(summarize(deployment, project_production_branch(project)), None)
        if self.check_mode:
            return
        try:
            deleted = self.client.delete_deployment(self.name, deployment["id"], force=p["force"], missing_ok=True)
            self._mark_as_changed(deleted)
        except PagesAPIError as err:
            if err.has_code(ALIASED_DELETE_CODE):
                self.fail(self.aliased_message(deployment, project), status=err.status, errors=err.errors)
            raise

    def absent_branch(self):
        """Every deployment of the preview branch ``branch`` (see _branch_cleanup)."""
        cleanup = BranchCleanup(self.client, self.get_project(required=False), self.params["branch"])
        try:
            cleanup.run(self.check_mode, log=self.debug)
        except BranchCleanupRefused as err:
            self.fail(str(err))
        self.result.update(cleanup.result())
        self.set_diff(*cleanup.diff())
        for warning in cleanup.warnings:
            self.module.warn(warning)
        if cleanup.error:
            self.fail(cleanup.error, status=cleanup.status)

    def aliased_message(self, deployment, project):
        branch = deployment_branch(deployment, project_production_branch(project))
        aliases = ", ".join(deployment.get("aliases") or []) or "the branch alias"
        return (
            "Deployment %s is aliased: it is the newest deployment of branch %s and serves %s. Cloudflare deletes it "
            "only with force: true (the alias then serves nothing until the branch is deployed again)."
            % (deployment["id"], branch, aliases)
        )

    # ------------------------------------------------------------------ rolled_back

    def previous_production(self):
        """The second newest successful production deployment (reads only the pages it needs)."""
        successful = []
        for deployment in self.client.list_deployments(self.name, env=PRODUCTION):
            if outcome_of(deployment) == "success":
                successful.append(deployment)
                if len(successful) == 2:
                    return deployment
        self.fail(
            "Project %s has no successful production deployment before its newest one, so there is nothing to "
            "roll back to (deployment_id: previous)." % self.name
        )

    def state_rolled_back(self):
        p = self.params
        project = self.get_project()
        if p["deployment_id"] == "previous":
            target = self.previous_production()
        else:
            target = self.client.get_deployment(self.name, p["deployment_id"])
            if target is None:
                self.fail("Deployment %s does not exist in project %s." % (p["deployment_id"], self.name))
        if target.get("environment") != PRODUCTION:
            self.fail(
                "Deployment %s is a %s deployment; Cloudflare only rolls back to successful production deployments."
                % (target["id"], target.get("environment"))
            )
        if outcome_of(target) != "success":
            self.fail(
                "Deployment %s did not finish successfully (latest stage %s); Cloudflare only rolls back to "
                "successful production deployments." % (target["id"], stage_text(target))
            )
        current = canonical_id(project)
        self.set_diff({"live_deployment_id": current}, {"live_deployment_id": target["id"]})
        if current == target["id"]:
            self.result["deployment"] = target
            return
        self._mark_as_changed()
        if self.check_mode:
            self.result["deployment"] = target
            return
        result = self.client.rollback_deployment(self.name, target["id"])
        self.result["deployment"] = self.client.get_deployment(self.name, target["id"]) or result or target

    # ------------------------------------------------------------------ retried

    def state_retried(self):
        p = self.params
        project = self.get_project()
        original = self.client.get_deployment(self.name, p["deployment_id"])
        if original is None:
            self.fail("Deployment %s does not exist in project %s." % (p["deployment_id"], self.name))
        self._mark_as_changed()
        production_branch = project_production_branch(project)
        branch = deployment_branch(original, production_branch)
        self.set_diff({"branch": branch, "deployment_id": original["id"]}, {"branch": branch, "deployment_id": NEW_OBJECT})
        if self.check_mode:
            self.result["deployment"] = None
            return
        view = BranchDeployments(self.client, project, branch)
        recheck = view.created_since(view.known_ids() | {original["id"]}, environment=original.get("environment"))
        deployment = self.client.retry_deployment(self.name, original["id"], recheck=recheck)
        self.finish(deployment)

    # ------------------------------------------------------------------ pruned

    def state_pruned(self):
        p = self.params
        project = self.get_project()
        cutoff = older_than_cutoff(p["older_than"]) if p["older_than"] is not None else None
        production_branch = project_production_branch(project)
        deployments = list(self.client.list_deployments(self.name, env=p["environment"]))
        plan = plan_prune(
            deployments,
            canonical=canonical_id(project),
            keep=p["keep"],
            keep_per_branch=p["keep_per_branch"],
            cutoff=cutoff,
            environment=p["environment"],
            branch=p["branch"],
            delete_aliased=p["delete_aliased"],
            production_branch=production_branch,
        )
        report = {"kept": plan["kept"]}
        self.result["prune"] = report
        before = sorted(d.get("id") for d in deployments)
        applied, stopped = apply_prune(self.client, self.name, plan, self.check_mode, log=self.debug)
        report.update(applied)
        self._mark_as_changed(report["deleted"])
        gone = set(d["id"] for d in report["deleted"])
        self.set_diff({"deployments": before}, {"deployments": [i for i in before if i not in gone]})
        if stopped is not None:
            # A rerun resumes: the plan deletes oldest first, so the rules choose the rest again.
            self.fail(
                "the prune stopped after deleting %d of %d deployments (%d not attempted): %s. "
                "Run the task again to resume." % (
                    len(report["deleted"]), len(report["deleted"]) + len(report["remaining"]) + len(stopped.skipped)
                    + len(report["failed"]), len(report["remaining"]), stopped),
                status=stopped.status,
            )
        if report["failed"]:
            self.fail(
                "%d of %d deletions failed: %s" % (
                    len(report["failed"]), len(plan["delete"]),
                    "; ".join("%s: %s" % (f["id"], f["reason"]) for f in report["failed"]))
            )


def main():
    PagesDeployment().run()


if __name__ == "__main__":
    main()
