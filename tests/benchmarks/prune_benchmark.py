#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Prune benchmark: 2,000 deployments under Cloudflare's rate limit scaled down ten times (120/30).

    python tests/benchmarks/prune_benchmark.py [--deployments 2000] [--rate-limit 120/30] [--keep 5]

Starts two emulators with ``--rate-limit`` (fresh data dirs), seeds each with one project of
``--deployments`` deployments (before the limit is switched on, so seeding is not limited), and
prunes it to ``--keep`` per environment in two ways, at the same time:

* **ours**: what ``pages_deployment state=pruned`` does (``PagesClient`` with its pacer and budget,
  ``plan_prune``, ``execute_prune``: ids first, then deletions oldest first, four at a time);
* **naive**: the loop scripts use: walk the list page by page, newest first, and delete every
  deployment of the same plan as it is met, one at a time; on a 429 sleep what ``Retry-After``
  says and try again; walk again from page 1 until a walk deletes nothing (deleting while paging
  skips items).

For each it prints the wall time, the API requests made, the floor the limit imposes (requests
divided by the allowed rate) and the ratio, and the number of 429 responses (from the emulator's
request log). Needs an interpreter with ``requests`` (the repository's ``.cache/venvs/core221``
has it, and ``aiohttp`` for the emulator); the collection is imported from this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMULATOR = os.path.join(REPO, "tests", "emulator", "serve.py")
SEED = os.path.join(REPO, "tests", "integration", "targets", "rate_limit", "files", "seed.py")
TOKEN = "cfpages-benchmark-token-0123456789"
ACCOUNT = "0b5e1c2d3a4f56789abcdef012345678"
PROJECT = "bench-prune"


def import_collection(workdir):
    """Make ``ansible_collections.cfpages.cloudflare`` this checkout (a symlink in ``workdir``)."""
    root = os.path.join(workdir, "collections")
    namespace = os.path.join(root, "ansible_collections", "cfpages")
    os.makedirs(namespace, exist_ok=True)
    link = os.path.join(namespace, "cloudflare")
    if not os.path.islink(link):
        os.symlink(REPO, link)
    sys.path.insert(0, root)


class Emulator:
    def __init__(self, workdir, label):
        self.data = os.path.join(workdir, "emulator-" + label)
        shutil.rmtree(self.data, ignore_errors=True)
        self.proc = subprocess.Popen(
            [sys.executable, EMULATOR, "--port", "0", "--data-dir", self.data, "--token", "%s=%s" % (TOKEN, ACCOUNT)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        line = self.proc.stdout.readline()
        if "http://" not in line:
            raise SystemExit("emulator did not start: " + line)
        self.base_url = line[line.index("http://"):].split()[0]
        self.root = self.base_url[: -len("/client/v4")]
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def config(self, **values):
        requests.post(self.root + "/__emulator/config", json=values, timeout=30).raise_for_status()

    def log(self):
        return requests.get(self.root + "/__emulator/requests", timeout=60).json()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def seed(emulator, deployments):
    preview = deployments // 5
    subprocess.run([sys.executable, SEED, emulator.base_url, TOKEN, ACCOUNT,
                    "%s:%d:%d:10" % (PROJECT, deployments - preview, preview)], check=True, capture_output=True)


def plan(client, keep):
    from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments import lifecycle as D

    project = client.get_project(PROJECT)
    deployments = list(client.list_deployments(PROJECT))
    return D.plan_prune(deployments, canonical=D.canonical_id(project), keep=keep,
                        production_branch=D.project_production_branch(project))


def run_ours(emulator, keep, budget):
    from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments import lifecycle as D
    from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient

    client = PagesClient(account_id=ACCOUNT, api_token=TOKEN, base_url=emulator.base_url, rate_limit_budget=budget)
    start = time.monotonic()
    planned = plan(client, keep)
    deleted, skipped, failed = D.execute_prune(client, PROJECT, planned["delete"])
    return {"seconds": time.monotonic() - start, "deleted": len(deleted), "failed": len(failed) + len(skipped),
            "waited": client.pacer.waited, "walks": 1}


def run_naive(emulator, keep):
    from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient

    # The same plan (computed without a limit first, so only the deletion loop is compared).
    emulator.config(rate_limit=None)
    targets = set(d["id"] for d in plan(PagesClient(account_id=ACCOUNT, api_token=TOKEN,
                                                     base_url=emulator.base_url), keep)["delete"])
    emulator.config(rate_limit=emulator.limit)
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + TOKEN
    pages = "%s/accounts/%s/pages/projects/%s/deployments" % (emulator.base_url, ACCOUNT, PROJECT)

    def call(method, url, **kwargs):
        while True:
            response = session.request(method, url, timeout=60, **kwargs)
            if response.status_code != 429:
                return response
            time.sleep(float(response.headers.get("Retry-After") or 1))

    start = time.monotonic()
    deleted, walks = 0, 0
    while True:
        walks += 1
        deleted_this_walk, page = 0, 1
        while True:
            body = call("GET", pages, params={"page": page, "per_page": 25}).json()
            items = body.get("result") or []
            for item in items:
                if item["id"] in targets:
                    if call("DELETE", pages + "/" + item["id"]).status_code == 200:
                        targets.discard(item["id"])
                        deleted += 1
                        deleted_this_walk += 1
            if page >= (body.get("result_info") or {}).get("total_pages", 0):
                break
            page += 1
        if not deleted_this_walk or not targets:
            break
    return {"seconds": time.monotonic() - start, "deleted": deleted, "failed": len(targets), "waited": None,
            "walks": walks}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--deployments", type=int, default=2000)
    ap.add_argument("--rate-limit", default="120/30", help="the emulator's limit (default: Cloudflare's 1200/300 / 10)")
    ap.add_argument("--keep", type=int, default=5, help="keep the newest N per environment (default 5)")
    ap.add_argument("--budget", type=float, default=3600.0, help="rate_limit_budget for ours (default 3600)")
    ap.add_argument("--only", choices=["ours", "naive"], help="run only one of the two")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    quota, window = (float(x) for x in args.rate_limit.split("/"))

    workdir = tempfile.mkdtemp(prefix="cfpages-prune-bench-")
    import_collection(workdir)
    runs = [name for name in ("ours", "naive") if args.only in (None, name)]
    emulators = {}
    results = {}
    try:
        for name in runs:
            emulators[name] = Emulator(workdir, name)
            emulators[name].limit = args.rate_limit
            seed(emulators[name], args.deployments)
            emulators[name].config(rate_limit=args.rate_limit)
        print("seeded %d deployments per emulator; limit %s; pruning ..." % (args.deployments, args.rate_limit),
              flush=True)

        def go(name):
            mark = len(emulators[name].log())
            if name == "ours":
                out = run_ours(emulators[name], args.keep, args.budget)
            else:
                out = run_naive(emulators[name], args.keep)
            log = [e for e in emulators[name].log()[mark:] if "/__emulator/" not in e["path"]]
            out["requests"] = len(log)
            out["answered"] = sum(1 for e in log if e["status"] != 429)
            out["429s"] = sum(1 for e in log if e["status"] == 429)
            out["floor"] = out["answered"] / (quota / window)
            results[name] = out

        threads = [threading.Thread(target=go, args=(name,)) for name in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for emulator in emulators.values():
            emulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("| run | time | requests answered | floor (answered / %g per s) | time / floor | 429s | deleted | walks |"
          % (quota / window))
    print("|---|---|---|---|---|---|---|---|")
    for name in runs:
        r = results[name]
        print("| %s | %.1f s | %d | %.1f s | %.2f | %d | %d | %d |" % (
            name, r["seconds"], r["answered"], r["floor"], r["seconds"] / r["floor"], r["429s"], r["deleted"],
            r["walks"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"rate_limit": args.rate_limit, "deployments": args.deployments, "results": results}, handle,
                      indent=2)


if __name__ == "__main__":
    main()
