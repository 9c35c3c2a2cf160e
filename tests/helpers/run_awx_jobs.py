"""Run every example job template of extensions/awx/ the way AWX does, with ansible-runner.

    run_awx_jobs.py --project-dir TREE [--artifacts DIR]

For each job template in extensions/awx/job_templates.yml: ansible-runner runs its playbook from
the "project" (TREE, the installed collection, which has playbooks/) against a localhost inventory,
with the template's extra variables (plus launch-time ones), ``--check`` for a check job, and the
environment AWX would inject: the injectors of extensions/awx/credential_type.yml rendered (as AWX
does, with sandboxed Jinja) from a credential's inputs. The API is a Pages API emulator started
here with a per-run token and account (nothing else is accepted), so the credential must really
reach the modules. Each job must end "successful" with rc 0, must not print the token, and must
have done its job (checked through the API and the sites the emulator serves).

Needs ansible-runner and ansible-core (the tests/run.sh core221 venv).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import string
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import ansible_runner
import emulator  # tests/helpers/emulator.py, next to this script
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
AWX = REPO / "extensions" / "awx"


class Emulator:
    def __init__(self, workdir: Path):
        self.token = "".join(secrets.choice(string.ascii_letters + string.digits) for dummy in range(40))
        self.account = secrets.token_hex(16)
        self.state = workdir / "emulator.json"
        info = emulator.start(self.state, workdir / "emulator-data", [
            "--token", f"{self.token}={self.account}", "--build-seconds", "1", "--domain-seconds", "0.5"])
        self.base_url, self.root_url = info["base_url"], info["root_url"]

    def stop(self):
        emulator.stop(self.state)

    def api(self, method, path, body=None):
        req = urllib.request.Request(
            f"{self.base_url}/accounts/{self.account}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["result"]

    def deployments(self, project):
        return self.api("GET", f"/pages/projects/{project}/deployments")

    def build(self, project, branch):
        """Start a build of ``branch`` of a git-connected project (what a push does) and wait for its end."""
        req = urllib.request.Request(
            f"{self.base_url}/accounts/{self.account}/pages/projects/{project}/deployments", method="POST",
            data=urllib.parse.urlencode({"branch": branch}).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req, timeout=30) as r:
            deployment = json.loads(r.read())["result"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            deployment = self.api("GET", f"/pages/projects/{project}/deployments/{deployment['id']}")
            stage = deployment["latest_stage"]
            if stage["status"] == "failure" or (stage["name"] == "deploy" and stage["status"] == "success"):
                return deployment
            time.sleep(0.2)
        raise SystemExit(f"the seeded build of {project} ({branch}) did not finish")

    def build_images(self, project):
        configs = self.api("GET", f"/pages/projects/{project}")["deployment_configs"]
        return {env: configs[env]["build_image_major_version"] for env in ("production", "preview")}

    def site(self, host, path="/"):
        req = urllib.request.Request(self.root_url + path, headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")


def injected_env(credential_type: dict, inputs: dict) -> dict:
    """Render the credential type's env injectors as AWX does (sandboxed Jinja, inputs as context)."""
    jinja = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    fields = {f["id"] for f in credential_type["inputs"]["fields"]}
    missing = [r for r in credential_type["inputs"].get("required", []) if not inputs.get(r)]
    if missing:
        raise SystemExit(f"credential inputs missing required fields {missing}")
    context = {f: inputs.get(f, "") for f in fields}
    return {k: jinja.from_string(v).render(**context) for k, v in credential_type["injectors"]["env"].items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project-dir", required=True, help="the AWX project: a tree with playbooks/ (the installed collection)")
    ap.add_argument("--artifacts", help="keep ansible-runner's private data dirs (job output) here")
    args = ap.parse_args(argv)
    project_dir = Path(args.project_dir).resolve()

    credential_type = yaml.safe_load((AWX / "credential_type.yml").read_text())
    assert json.loads((AWX / "credential_type.json").read_text()) == credential_type, \
        "extensions/awx/credential_type.json differs from credential_type.yml"
    templates = yaml.safe_load((AWX / "job_templates.yml").read_text())["cfpages_job_templates"]
    # Every playbook has a job template; prune and the build-image upgrade a dry run (check) too. The dry
    # runs come first in the file: the build-image one must see the seeded project still on v1.
    kinds = {(t["playbook"], t["job_type"]) for t in templates}
    for pb, job_type in (("playbooks/deploy.yml", "run"), ("playbooks/prune.yml", "check"), ("playbooks/prune.yml", "run"),
                         ("playbooks/rebuild.yml", "run"), ("playbooks/status_page.yml", "run"),
                         ("playbooks/build_image_upgrade.yml", "check"), ("playbooks/build_image_upgrade.yml", "run"),
                         ("playbooks/cleanup_previews.yml", "check"), ("playbooks/cleanup_previews.yml", "run"),
                         ("playbooks/rollback_production.yml", "run"), ("playbooks/migration_report.yml", "run")):
        assert (pb, job_type) in kinds, f"no job template of type {job_type} runs {pb}"
    for t in templates:
        assert t["name"].endswith("(dry run)") == (t["job_type"] == "check"), \
            f"job template {t['name']!r} is of type {t['job_type']}: a dry run must be a check job, and only a dry run"

    work = Path(tempfile.mkdtemp(prefix="cfpages-runner-"))
    artifacts = Path(args.artifacts).resolve() if args.artifacts else work / "jobs"
    if artifacts.exists():
        shutil.rmtree(artifacts)
    emu = Emulator(work)
    results = []
    try:
        # The credential of the AWX docs, with this run's emulator as its endpoint.
        env = injected_env(credential_type, {"api_token": emu.token, "account_id": emu.account,
                                             "api_base_url": emu.base_url})
        assert set(env) == {"CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_BASE_URL"}, env
        default_url = injected_env(credential_type, {"api_token": "t", "account_id": "a"})["CLOUDFLARE_API_BASE_URL"]
        assert default_url == "https://api.cloudflare.com/client/v4", default_url
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""),
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_FORCE_COLOR": "false",
        })
        # A git-connected project for the rebuild job.
        emu.api("POST", "/pages/projects", {
            "name": "awx-docs", "production_branch": "main",
            "source": {"type": "github", "config": {"owner": "example-corp", "repo_name": "docs"}},
            "build_config": {"build_command": "npm run build", "destination_dir": "public"},
        })
        # A git-connected project still on build image v1, with a preview branch built before (the one the
        # build-image upgrade builds on the new image), for the build-image upgrade jobs.
        emu.api("POST", "/pages/projects", {
            "name": "awx-legacy", "production_branch": "main",
            "source": {"type": "github", "config": {"owner": "example-corp", "repo_name": "legacy"}},
            "build_config": {"build_command": "npm run build", "destination_dir": "public"},
            "deployment_configs": {"production": {"build_image_major_version": 1},
                                   "preview": {"build_image_major_version": 1}},
        })
        emu.build("awx-legacy", "staging")
        status_dir = work / "status"
        launch_vars = {  # what a user would type at launch (ask_variables_on_launch)
            "playbooks/status_page.yml": {"status_page_output": str(status_dir / "index.html"),
                                          "status_page_reference_time": "2026-01-01T00:00:00Z"},
            "playbooks/rebuild.yml": {"rebuild_poll_interval": 1},
            "playbooks/migration_report.yml": {"migration_report_output": str(work / "migration" / "index.html")},
        }
        rollback = {}

        def prepare_rollback():
            """Two production builds of awx-docs; the job is launched as EDA would, naming the live one as the
            failed one (the emulator, like Pages, never makes a failed deployment live): production must go
            back to the one before."""
            rollback["good"] = emu.build("awx-docs", "main")
            rollback["failed"] = emu.build("awx-docs", "main")
            return {"rollback_production_project": "awx-docs",
                    "rollback_production_failed_deployment_id": rollback["failed"]["id"]}

        previews = {}

        def prepare_cleanup():
            """Previews of an open and of a closed branch of awx-docs (once, for the dry run and the real one);
            the launch names the open one, as a forge's webhook would."""
            if not previews:
                previews.update({b: emu.build("awx-docs", b)["id"] for b in ("feature/open", "feature/closed")})
            return {"cleanup_previews_project": "awx-docs", "cleanup_previews_open_branches": ["feature/open"],
                    "cleanup_previews_check_base_url": emu.root_url, "cleanup_previews_check_delay": 1}

        def branches(project):
            return [(d["deployment_trigger"]["metadata"]["branch"], d["environment"]) for d in emu.deployments(project)]

        prepare = {"playbooks/rollback_production.yml": prepare_rollback,  # seeds made just before the job
                   "playbooks/cleanup_previews.yml": prepare_cleanup}
        checks = {}

        def deployed_count():
            return {p["name"]: len(emu.deployments(p["name"])) for p in emu.api("GET", "/pages/projects")}

        for n, jt in enumerate(templates, 1):
            extravars = dict(jt.get("extra_vars") or {})
            extravars.update(launch_vars.get(jt["playbook"], {}))
            if jt["playbook"] in prepare:
                extravars.update(prepare[jt["playbook"]]())
            before = deployed_count()
            images_before = emu.build_images("awx-legacy")
            branches_before = branches("awx-docs")
            start = time.monotonic()
            (artifacts / f"{n:02d}").mkdir(parents=True)
            r = ansible_runner.run(
                private_data_dir=str(artifacts / f"{n:02d}"),
                project_dir=str(project_dir),
                playbook=jt["playbook"],
                inventory={"all": {"hosts": {"localhost": {
                    "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}},
                extravars=extravars,
                envvars=env,
                cmdline="--check" if jt["job_type"] == "check" else None,
                quiet=True,
            )
            secs = time.monotonic() - start
            stdout = r.stdout.read()
            problems = []
            if r.status != "successful" or r.rc != 0:
                problems.append(f"status {r.status}, rc {r.rc}")
            if emu.token in stdout:
                problems.append("the API token appears in the job output")
            after = deployed_count()
            play = jt["playbook"]
            if play == "playbooks/deploy.yml" and not problems:
                project = extravars["deploy_site_project"]
                code, body = emu.site(f"{project}.pages.dev", "/")
                if code != 200 or "Hello from Cloudflare Pages" not in body:
                    problems.append(f"{project}.pages.dev does not serve the example site ({code})")
                code, body = emu.site(f"{project}.pages.dev", "/missing-page")
                if code != 404 or "page not found" not in body:
                    problems.append(f"{project}.pages.dev has no 404 page ({code})")
            if jt["job_type"] == "check" and after != before:
                problems.append(f"a check job changed deployments: {before} -> {after}")
            if play == "playbooks/rebuild.yml" and not problems:
                deps = emu.deployments("awx-docs")
                if after.get("awx-docs") != before.get("awx-docs", 0) + 1 or deps[0]["latest_stage"]["status"] != "success":
                    problems.append("awx-docs was not rebuilt successfully")
            if play == "playbooks/build_image_upgrade.yml" and not problems:
                images = emu.build_images("awx-legacy")
                output = " ".join(stdout.split())
                if "awx-legacy (git): production v1, preview v1 - to move to v3" not in output:
                    problems.append("the job does not report awx-legacy's build images")
                if jt["job_type"] == "check":
                    if images != images_before:
                        problems.append(f"a check job changed the build images: {images_before} -> {images}")
                elif images != {"production": 3, "preview": 3}:
                    problems.append(f"awx-legacy is not on build image v3: {images}")
                else:
                    newest = emu.deployments("awx-legacy")[0]
                    if (newest["environment"] != "preview" or newest.get("build_image_major_version") != 3
                            or newest["latest_stage"]["status"] != "success"):
                        problems.append("production was moved without a successful preview build on v3")
            if play == "playbooks/cleanup_previews.yml" and not problems:
                output = " ".join(stdout.split())
                left = branches("awx-docs")
                verb = "would delete" if jt["job_type"] == "check" else "deleted"
                if f"feature/closed (closed): {verb} 1" not in output:
                    problems.append("the job does not report the closed branch's deployment")
                if jt["job_type"] == "run":
                    if ("feature/closed", "preview") in left or ("feature/open", "preview") not in left:
                        problems.append(f"not exactly the closed branch's previews were deleted: {left}")
                    elif [b for b in left if b[1] == "production"] != [b for b in branches_before if b[1] == "production"]:
                        problems.append("production deployments changed")
                    code, _body = emu.site("feature-closed.awx-docs.pages.dev", "/")
                    if code != 404:
                        problems.append(f"the closed branch's alias still answers {code}")
            if play == "playbooks/rollback_production.yml" and not problems:
                live = emu.api("GET", "/pages/projects/awx-docs")["canonical_deployment"]["id"]
                if live != rollback["good"]["id"] or "(rolled back)" not in " ".join(stdout.split()):
                    problems.append(f"production of awx-docs was not rolled back to {rollback['good']['id']} (serves {live})")
            if play == "playbooks/status_page.yml" and not problems:
                page = status_dir / "index.html"
                code, body = emu.site(f"{extravars['status_page_project']}.pages.dev", "/")
                if not page.is_file():
                    problems.append(f"no page at {page}")
                elif code != 200 or body != page.read_text(encoding="utf-8"):
                    problems.append("the deployed status page is not the written one")
                elif "awx-docs" not in body or "cfpages-demo" not in body:
                    problems.append("the status page does not list the projects")
            if play == "playbooks/migration_report.yml" and not problems:
                report_file = work / "migration" / "index.json"
                report = json.loads(report_file.read_text()) if report_file.is_file() else []
                verdicts = {item["name"]: item["verdict"] for item in report}
                # awx-docs builds from git (a step); the page lists every project of the account
                if verdicts.get("awx-docs") != "steps" or set(verdicts) != set(after):
                    problems.append(f"the migration report does not cover the account as expected: {verdicts}")
                elif "awx-docs" not in (work / "migration" / "index.html").read_text(encoding="utf-8"):
                    problems.append("the migration report's page does not list awx-docs")
            checks[jt["name"]] = problems
            results.append((jt["name"], jt["job_type"], r.status, secs, problems))
            print(f"{'PASS' if not problems else 'FAIL'} {jt['name']} ({jt['job_type']}, {play}): "
                  f"{r.status} in {secs:.1f}s{'; ' + '; '.join(problems) if problems else ''}", flush=True)
            if problems:
                print(stdout[-4000:])
    finally:
        emu.stop()
        if not args.artifacts:
            shutil.rmtree(work, ignore_errors=True)
    failed = sum(1 for r in results if r[4])
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
