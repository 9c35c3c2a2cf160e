#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Workers static assets: cfpages.cloudflare.worker_deployment against ``wrangler deploy``.

    python tests/benchmarks/worker_benchmark.py [--files 20000 --megabytes 150] [--json FILE]

Builds the synthetic site of upload_benchmark.py (``--files`` assets in all, ``_headers`` and
``_redirects`` besides), starts the emulator (fresh data dir, one account per tool so neither finds
the other's assets) and times, for ours (``ansible-playbook`` with a generated one-task playbook
running ``cfpages.cloudflare.worker_deployment``) and for ``wrangler deploy`` (the 4.86 lane, a
``wrangler.json`` with ``assets.directory`` pointing at the same site):

1. a full deploy; 2. a redeploy after one file changed; 3. a no-op rerun.

For each run: wall and CPU seconds (the run's process tree), peak memory (VmHWM: ours the
``AnsiballZ_worker_deployment`` process, wrangler its largest process), files uploaded (parts of
``/workers/assets/upload``), versions created (``PUT .../scripts/{name}``, ``POST .../versions``)
and the reads (GET requests) from the emulator's request log. Also printed: the machine's load
average at the start and the end, and the fixed cost of ``ansible-playbook`` (a one-task ``ping``).

Only the standard library here; ours runs with ``--python`` (requests, blake3; default
``.cache/venvs/core221``), the emulator with ``--emulator-python`` (aiohttp).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "helpers"))

# The shared pieces of the Pages benchmark (site generator, emulator, measurement).
from upload_benchmark import (Emulator, PlaybookRunner, account_for, build_site,  # noqa: E402
                              find_python, fmt_mib, fmt_s, run_measured)
import environments  # noqa: E402  (tests/helpers/environments.py: the wrangler lanes)

DATE = "2026-11-01"
SCRIPT = "bench-site"
STEPS = ("full deploy", "one file changed", "no-op rerun")
PLAYBOOK = """\
- name: Benchmark deploy
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Deploy the site to a Worker
      cfpages.cloudflare.worker_deployment:
        name: "{{ script }}"
        assets: "{{ assets }}"
        compatibility_date: "%s"
        api_base_url: "{{ base_url }}"
        api_token: "{{ token }}"
        account_id: "{{ account }}"
""" % DATE


def activity(emulator, since):
    """Files uploaded, versions created and GET requests since request-log entry ``since``."""
    entries = emulator.call("GET", "/__emulator/requests", root=True)[since:]
    uploaded = sum(len(e.get("keys") or []) for e in entries if e["path"].endswith("/workers/assets/upload"))
    versions = sum(
        1 for e in entries if e.get("status") == 200 and (
            (e["method"] == "PUT" and re.search(r"/workers/scripts/[^/]+$", e["path"]))
            or (e["method"] == "POST" and e["path"].endswith("/versions")))
    )
    reads = sum(1 for e in entries if e["method"] == "GET")
    return {"uploaded": uploaded, "versions": versions, "reads": reads, "requests": len(entries)}


def load():
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


class Ours:
    def __init__(self, python, workdir):
        self.playbook = PlaybookRunner(python, workdir, PLAYBOOK, os.path.join(workdir, "xdg-cache"))

    def ping(self):
        return self.playbook.ping()

    def deploy(self, emulator, token, account, site):
        extra = {"script": SCRIPT, "assets": site, "base_url": emulator.base_url, "token": token, "account": account}
        run = self.playbook.run(extra, marker="AnsiballZ_worker_deployment")
        run["memory_kib"] = run["marked_kib"]
        return run


class Wrangler:
    def __init__(self, lane, workdir, site):
        self.node, self.wrangler_js = environments.wrangler_lane(lane)
        self.project = os.path.join(workdir, "wrangler-project")
        self.home = os.path.join(workdir, "wrangler-home")
        os.makedirs(os.path.join(self.home, ".config"), exist_ok=True)
        os.makedirs(self.project, exist_ok=True)
        with open(os.path.join(self.project, "wrangler.json"), "w", encoding="utf-8") as handle:
            json.dump({"name": SCRIPT, "compatibility_date": DATE, "assets": {"directory": site}}, handle)

    def deploy(self, emulator, token, account, _site):
        env = dict(os.environ)
        env.update(PATH=os.pathsep.join((str(self.node.parent), env.get("PATH", ""))), HOME=self.home,
                   XDG_CONFIG_HOME=os.path.join(self.home, ".config"), TMPDIR=self.home,
                   CLOUDFLARE_API_BASE_URL=emulator.base_url, CLOUDFLARE_API_TOKEN=token,
                   CLOUDFLARE_ACCOUNT_ID=account, WRANGLER_SEND_METRICS="false",
                   WRANGLER_SEND_ERROR_REPORTS="false", WRANGLER_HIDE_BANNER="true", CI="true", NO_COLOR="1",
                   FORCE_COLOR="0")
        run = run_measured([str(self.node), str(self.wrangler_js), "deploy"], env=env, cwd=self.project)
        run["memory_kib"] = run["tree_kib"]
        run["result"] = None
        return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--files", type=int, default=20000, help="assets in all (index.html included)")
    ap.add_argument("--megabytes", type=float, default=150)
    ap.add_argument("--python", help="interpreter with ansible-core, requests, blake3")
    ap.add_argument("--emulator-python", help="interpreter with aiohttp")
    ap.add_argument("--wrangler-lane", default="4.86", choices=environments.WRANGLER_LANES)
    ap.add_argument("--tools", default="ours,wrangler", help="which tools run: ours, wrangler or both (default)")
    ap.add_argument("--workdir", help="keep the site and the emulator data here")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)

    venv = os.path.join(REPO, ".cache", "venvs", "core221", "bin", "python")
    python = args.python or find_python([venv, sys.executable], "blake3")
    emulator_python = args.emulator_python or find_python([venv, sys.executable], "aiohttp")
    if not python or not emulator_python:
        raise SystemExit("need an interpreter with blake3 (--python) and one with aiohttp (--emulator-python)")
    workdir = args.workdir or tempfile.mkdtemp(prefix="worker-bench-")
    os.makedirs(workdir, exist_ok=True)
    figures = {"load_start": load(), "files": args.files, "megabytes": args.megabytes}
    print("load average at start: %s" % figures["load_start"], flush=True)

    site = os.path.join(workdir, "site")
    shutil.rmtree(site, ignore_errors=True)
    started = time.monotonic()
    changed_file, count, size = build_site(site, args.files - 1, args.megabytes)
    print("site: %d assets, %.0f MB (+ _headers, _redirects), built in %.1f s"
          % (count, size / 1e6, time.monotonic() - started), flush=True)
    time.sleep(2.5)  # the hash cache does not trust files changed within 2 s of a scan

    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
    if not wanted or set(wanted) - {"ours", "wrangler"}:
        raise SystemExit("--tools takes ours, wrangler or ours,wrangler")
    tools = {}
    if "ours" in wanted:
        tools["ours"] = Ours(python, workdir)
    if "wrangler" in wanted:
        tools["wrangler"] = Wrangler(args.wrangler_lane, workdir, site)
    tokens = dict(("bench-token-%s" % name, account_for(name)) for name in tools)
    emulator = Emulator(emulator_python, os.path.join(workdir, "emulator-data"), tokens,
                        max_file_count=max(20000, args.files))
    runs = {}
    try:
        if "ours" in tools:
            ping = tools["ours"].ping()
            figures["ping_seconds"] = ping["seconds"]
            print("ansible-playbook with one ping task: %s" % fmt_s(ping["seconds"]), flush=True)
        for step in STEPS:
            if step == "one file changed":
                with open(changed_file, "ab") as handle:
                    handle.write(b"<!-- changed -->\n")
                time.sleep(2.5)
            for name, tool in tools.items():
                token = "bench-token-%s" % name
                since = emulator.call("GET", "/__emulator/requests", root=True)
                run = tool.deploy(emulator, token, tokens[token], site)
                if run["rc"] != 0:
                    print(run["stdout"][-3000:], run["stderr"][-3000:], sep="\n")
                    raise SystemExit("%s: %s failed (rc %d)" % (step, name, run["rc"]))
                run.update(activity(emulator, len(since)))
                runs[(step, name)] = run
                print("%-16s %-8s %8s  cpu %7s  peak %8s  uploaded %6d  versions %d  reads %d  requests %d"
                      % (step, name, fmt_s(run["seconds"]), fmt_s(run["cpu"]), fmt_mib(run["memory_kib"]),
                         run["uploaded"], run["versions"], run["reads"], run["requests"]), flush=True)
    finally:
        emulator.stop()
    figures["load_end"] = load()
    print("load average at end: %s" % figures["load_end"])
    figures["runs"] = [dict(step=step, **dict(
        (name, dict((k, r[k]) for k in ("seconds", "cpu", "memory_kib", "uploaded", "versions", "reads", "requests")))
        for (run_step, name), r in runs.items() if run_step == step)) for step in STEPS]
    if len(tools) == 2:
        print("\n| run | ours | wrangler | ratio | files uploaded ours / wrangler | versions ours / wrangler "
              "| reads ours / wrangler | peak memory ours / wrangler |")
        print("|---|---|---|---|---|---|---|---|")
        for step in STEPS:
            o, w = runs[(step, "ours")], runs[(step, "wrangler")]
            print("| %s | %s | %s | **%.2f** | %d / %d | %d / %d | %d / %d | %s / %s |" % (
                step, fmt_s(o["seconds"]), fmt_s(w["seconds"]), o["seconds"] / w["seconds"], o["uploaded"],
                w["uploaded"], o["versions"], w["versions"], o["reads"], w["reads"], fmt_mib(o["memory_kib"]),
                fmt_mib(w["memory_kib"])))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
