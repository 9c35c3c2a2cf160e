"""Conformance: with faults injected, a correctly retrying client ends in the same state.

The same script of operations runs against a fault-free emulator and one started with
``--fault-rate 0.3 --fault-seed 7`` (429 with Retry-After, 500/502/503/524, dropped connections).
The script's client retries the way a careful real client must: it honours ``Retry-After`` on 429,
backs off on 5xx and dropped connections, and before re-sending a request that creates something
(project, deployment, retry, domain) it first looks whether the earlier attempt took effect.
Afterwards the normalized state of both emulators (projects, configs, deployments with the files
each serves, canonical/latest deployment, aliases, domains) must be identical.

A control run with a client that does not retry must end in a different state, which shows the
faults really hit the script.
"""
from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
import requests
from conformance_helpers import asset_hash, host_of

RETRY_STATUSES = {429, 500, 502, 503, 504, 520, 522, 524}


class GaveUp(Exception):
    pass


class RetryingClient:
    """A small v4 API client that survives 429/5xx/dropped connections without duplicating work."""

    def __init__(self, emu, *, retry=True, max_attempts=12):
        self.emu = emu
        self.retry = retry
        self.max_attempts = max_attempts
        self.session = requests.Session()
        self.stats: dict[str, int] = {}
        self.slept_for_retry_after = 0.0

    def _note(self, what):
        self.stats[what] = self.stats.get(what, 0) + 1

    def send(self, method, path, *, token=None, look=None, ok_codes=(), **kw):
        """One logical request. ``look()`` (for creates) returns the already-created result or
        None; it runs before every re-send. ``ok_codes`` are error codes that mean "already
        done" on a re-send (e.g. 8000009 when re-deleting a deployment)."""
        url = self.emu.base_url + path.replace("{a}", self.emu.account)
        headers = {"Authorization": f"Bearer {token or self.emu.token}"}
        for attempt in range(self.max_attempts):
            if attempt and look is not None:
                found = look()
                if found is not None:
                    self._note("found-after-failure")
                    return found
            try:
                r = self.session.request(method, url, headers=headers, timeout=15, **kw)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                self._note("dropped")
                self.session.close()
                self.session = requests.Session()
                if not self.retry:
                    raise GaveUp(f"{method} {path}: connection dropped") from None
                time.sleep(min(0.05 * 2 ** attempt, 0.5))
                continue
            if r.status_code in RETRY_STATUSES:
                self._note(str(r.status_code))
                if not self.retry:
                    raise GaveUp(f"{method} {path}: {r.status_code}")
                if r.status_code == 429:
                    wait = float(r.headers.get("Retry-After", "1"))
                    self.slept_for_retry_after += wait
                    time.sleep(wait)
                else:
                    time.sleep(min(0.05 * 2 ** attempt, 0.5))
                continue
            body = r.json()
            if r.status_code >= 400:
                code = body["errors"][0]["code"] if body.get("errors") else None
                if attempt and code in ok_codes:
                    self._note("already-done")
                    return None
                raise AssertionError(f"{method} {path} -> {r.status_code}: {r.text[:300]}")
            return body["result"]
        raise GaveUp(f"{method} {path}: still failing after {self.max_attempts} attempts")

    def get(self, path, **kw):
        return self.send("GET", path, **kw)

    def list_all(self, path, per_page):
        items, page = [], 1
        while True:
            url = f"{path}?page={page}&per_page={per_page}"
            chunk = self.send("GET", url)
            items += chunk
            if len(chunk) < per_page:
                return items
            page += 1

    # -- operations of the script -----------------------------------------------------------
    def create_project(self, name, **body):
        def look():
            try:
                return self.get(f"/accounts/{{a}}/pages/projects/{name}")
            except AssertionError:  # 404: not created yet
                return None
        return self.send("POST", "/accounts/{a}/pages/projects", look=look,
                         json={"name": name, **body})

    def find_deployment(self, project, commit_hash, exclude=()):
        deps = self.send("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments")
        for d in deps:  # newest first; the first page holds anything this script just made
            if (d["deployment_trigger"]["metadata"]["commit_hash"] == commit_hash
                    and d["id"] not in exclude):
                return d
        return None

    def deploy(self, project, files, branch, label):
        jwt = self.get(f"/accounts/{{a}}/pages/projects/{project}/upload-token")["jwt"]
        manifest = {p: asset_hash(d, p) for p, d in files.items()}
        hashes = sorted(set(manifest.values()))
        missing = set(self.send("POST", "/pages/assets/check-missing", token=jwt,
                                json={"hashes": hashes}))
        payload = [{"key": manifest[p], "value": base64.b64encode(d).decode(),
                    "metadata": {"contentType": "text/plain"}, "base64": True}
                   for p, d in sorted(files.items()) if manifest[p] in missing]
        # keep one entry per hash
        payload = list({e["key"]: e for e in payload}.values())
        if payload:
            self.send("POST", "/pages/assets/upload", token=jwt, json=payload)
        self.send("POST", "/pages/assets/upsert-hashes", token=jwt, json={"hashes": hashes})
        commit = hashlib.sha1(label.encode()).hexdigest()
        form = {"manifest": (None, json.dumps(manifest)), "branch": (None, branch),
                "commit_hash": (None, commit), "commit_message": (None, label)}
        return self.send("POST", f"/accounts/{{a}}/pages/projects/{project}/deployments",
                         files=form, look=lambda: self.find_deployment(project, commit))

    def retry_deployment(self, project, dep):
        before = {d["id"] for d in self.send(
            "GET", f"/accounts/{{a}}/pages/projects/{project}/deployments")}
        commit = dep["deployment_trigger"]["metadata"]["commit_hash"]
        return self.send(
            "POST", f"/accounts/{{a}}/pages/projects/{project}/deployments/{dep['id']}/retry",
            json={}, look=lambda: self.find_deployment(project, commit, exclude=before))

    def add_domain(self, project, name):
        def look():
            try:
                return self.get(f"/accounts/{{a}}/pages/projects/{project}/domains/{name}")
            except AssertionError:
                return None
        return self.send("POST", f"/accounts/{{a}}/pages/projects/{project}/domains",
                         json={"name": name}, look=look)


SITE_V1 = {"/index.html": b"<h1>v1</h1>", "/css/site.css": b"body{}", "/empty": b""}
SITE_V2 = {**SITE_V1, "/index.html": b"<h1>v2</h1>", "/new/page.html": b"new"}
SITE_PREVIEW = {"/index.html": b"<h1>preview</h1>", "/img/x.bin": bytes(range(64))}
ALL_PATHS = sorted(set(SITE_V1) | set(SITE_V2) | set(SITE_PREVIEW))


def run_script(c: RetryingClient, *, tolerate=False):
    """The operations. With ``tolerate`` a failing step is skipped (for the no-retry control)."""
    def step(fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except (GaveUp, AssertionError):  # AssertionError: an API error, e.g. a lost create
            if not tolerate:
                raise
            return None

    step(c.create_project, "alpha", production_branch="main", deployment_configs={
        "production": {"env_vars": {"A": {"type": "plain_text", "value": "1"},
                                    "DROP": {"type": "plain_text", "value": "x"},
                                    "S": {"type": "secret_text", "value": "s"}}},
        "preview": {"compatibility_flags": ["nodejs_compat"]}})
    step(c.create_project, "beta", production_branch="prod",
         build_config={"build_command": "make", "destination_dir": "out"})
    step(c.create_project, "gamma", production_branch="main")
    step(c.send, "PATCH", "/accounts/{a}/pages/projects/alpha", json={"deployment_configs": {
        "production": {"env_vars": {"DROP": None, "B": {"type": "plain_text", "value": "2"}}}}})
    step(c.send, "PATCH", "/accounts/{a}/pages/projects/beta",
         json={"build_config": {"root_dir": "site"}})

    p1 = step(c.deploy, "alpha", SITE_V1, "main", "alpha-prod-1")
    step(c.deploy, "alpha", SITE_V2, "main", "alpha-prod-2")
    old_preview = step(c.deploy, "alpha", SITE_PREVIEW, "feature/x", "alpha-preview-1")
    step(c.deploy, "alpha", SITE_PREVIEW, "feature/x", "alpha-preview-2")
    step(c.deploy, "beta", SITE_V2, "prod", "beta-prod-1")
    step(c.deploy, "beta", SITE_V1, "dev", "beta-preview-1")
    if p1:
        step(c.send, "POST", f"/accounts/{{a}}/pages/projects/alpha/deployments/{p1['id']}/rollback",
             json={})
        step(c.retry_deployment, "alpha", p1)
    if old_preview:
        step(c.send, "DELETE",
             f"/accounts/{{a}}/pages/projects/alpha/deployments/{old_preview['id']}",
             ok_codes=(8000009,))
    step(c.add_domain, "alpha", "www.alpha.example")
    step(c.add_domain, "alpha", "old.alpha.example")
    step(c.add_domain, "beta", "beta.example")
    step(c.send, "DELETE", "/accounts/{a}/pages/projects/alpha/domains/old.alpha.example",
         ok_codes=(8000021,))
    step(c.send, "DELETE", "/accounts/{a}/pages/projects/gamma", ok_codes=(8000007,))


def _domains_settled(c: RetryingClient, names, timeout=10.0):
    """Wait until no custom domain is still validating: the live deployment's aliases list the
    active ones, so the state depends on time until then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [d["status"] for name in names
                    for d in c.get(f"/accounts/{{a}}/pages/projects/{name}/domains")]
        if all(status in ("active", "error") for status in statuses):
            return
        time.sleep(0.1)
    raise AssertionError("custom domains still validating")


def snapshot(c: RetryingClient) -> dict:
    """Normalized state: everything but ids, short ids and timestamps."""
    state = {}
    projects = sorted(c.list_all("/accounts/{a}/pages/projects", 10), key=lambda p: p["name"])
    _domains_settled(c, [p["name"] for p in projects])
    for p in sorted(c.list_all("/accounts/{a}/pages/projects", 10), key=lambda p: p["name"]):
        name = p["name"]
        deps = c.list_all(f"/accounts/{{a}}/pages/projects/{name}/deployments", 25)
        deps.sort(key=lambda d: d["created_on"])
        labels, seen = {}, {}
        for d in deps:
            msg = d["deployment_trigger"]["metadata"]["commit_message"]
            seen[msg] = seen.get(msg, 0) + 1
            labels[d["id"]] = f"{msg}#{seen[msg]}"
        configs = json.loads(json.dumps(p["deployment_configs"]))
        for env in configs.values():
            env.pop("compatibility_date", None)  # today's date: equal unless run over midnight
        domains = c.get(f"/accounts/{{a}}/pages/projects/{name}/domains")
        state[name] = {
            "production_branch": p["production_branch"],
            "subdomain": p["subdomain"],
            "domains": sorted(p["domains"]),
            "custom_domains": sorted(d["name"] for d in domains),
            "build_config": p["build_config"],
            "deployment_configs": configs,
            "canonical": labels.get((p["canonical_deployment"] or {}).get("id")),
            "latest": labels.get((p["latest_deployment"] or {}).get("id")),
            "deployments": [{
                "label": labels[d["id"]],
                "environment": d["environment"],
                "branch": d["deployment_trigger"]["metadata"]["branch"],
                "aliases": d["aliases"],
                "files": _served(c.emu, host_of(d["url"])),
            } for d in deps],
        }
    return state


def _served(emu, host):
    out = {}
    for path in ALL_PATHS:
        r = emu.site(host, path)
        out[path] = (r.status_code, hashlib.sha256(r.content).hexdigest()[:16])
    return out


def test_faulty_run_with_retrying_client_ends_in_the_same_state(start_emulator):
    clean_emu = start_emulator()
    faulty_emu = start_emulator("--fault-rate", "0.3", "--fault-seed", "7")

    clean = RetryingClient(clean_emu)
    run_script(clean)
    expected = snapshot(clean)
    assert clean.stats == {}, clean.stats  # the fault-free emulator really is fault-free

    faulty = RetryingClient(faulty_emu)
    run_script(faulty)
    got = snapshot(faulty)

    # the faults really happened, of every kind
    assert faulty.stats.get("429", 0) >= 1 and faulty.stats.get("dropped", 0) >= 1, faulty.stats
    assert sum(faulty.stats.get(s, 0) for s in ("500", "502", "503", "524")) >= 3, faulty.stats
    assert faulty.slept_for_retry_after >= faulty.stats["429"]  # Retry-After: 1 honoured
    # sanity of the expected state itself
    assert set(expected) == {"alpha", "beta"}
    assert [d["label"] for d in expected["alpha"]["deployments"]] == [
        "alpha-prod-1#1", "alpha-prod-2#1", "alpha-preview-2#1", "alpha-prod-1#2"]
    assert expected["alpha"]["custom_domains"] == ["www.alpha.example"]
    assert got == expected


def test_control_without_retries_diverges(start_emulator):
    """The same faults with a client that gives up on the first failure lose operations."""
    emu = start_emulator("--fault-rate", "0.3", "--fault-seed", "7")
    naive = RetryingClient(emu, retry=False)
    run_script(naive, tolerate=True)
    assert sum(naive.stats.values()) >= 5, naive.stats
    reader = RetryingClient(emu)  # read the result back through a retrying client
    got = snapshot(reader)
    clean_emu = start_emulator()
    clean = RetryingClient(clean_emu)
    run_script(clean)
    assert got != snapshot(clean)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
