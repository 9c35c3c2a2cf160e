#!/usr/bin/env python3
"""Latency and memory of the emulator's worker runtime (workerd), and the two process models.

    python tests/benchmarks/workers_benchmark.py [--workers 50] [--warm 100] [--json FILE]

Starts the emulator (``tests/emulator/serve.py``, fresh data dir, interpreter with aiohttp from
``.cache/venvs/core221`` or ``--emulator-python``), deploys ``--workers`` direct-upload
deployments each with a small `_worker.js` through the API, and measures:

- the first request to a worker (the deploy check has ended; this request starts the shared
  workerd process) and the warm latency (median of ``--warm`` requests), beside a static request;
- the resident memory (VmRSS, VmHWM) of the shared workerd process with 1 and with N workers
  loaded, and the latency of the first request to the N-th worker (a reload with N workers);
- the alternative model, one workerd process per deployment: N processes started with the same
  generated configuration (one worker each), their start time and summed memory.

Only the standard library (plus the emulator's own config writer for the alternative model).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "emulator"))

from upload_benchmark import Emulator, find_python  # noqa: E402

TOKEN = "workers-benchmark-token"
ACCOUNT = "0" * 31 + "1"
WORKERD = os.path.join(REPO, "tests", "emulator", "node_modules", ".bin", "workerd")
WORKER = (b"export default { async fetch(request) { "
          b"return new Response('worker %d ' + new URL(request.url).pathname); } };\n")


def kib_of(pid, field):
    with open("/proc/%d/status" % pid) as handle:
        return int(re.search(r"^%s:\s+(\d+) kB" % field, handle.read(), re.M).group(1))


def site_get(emu, host, path="/"):
    request = urllib.request.Request(emu.root + path, headers={"Host": host})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    return time.perf_counter() - started, body


def multipart(fields):
    boundary = uuid.uuid4().hex
    out = []
    for name, value, filename in fields:
        disposition = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
        out.append(b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n" % (boundary.encode(), disposition.encode(), value))
    out.append(b"--%s--\r\n" % boundary.encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def deploy(emu, project, manifest, worker):
    fields = [("manifest", json.dumps(manifest).encode(), None)]
    if worker is not None:
        fields.append(("_worker.js", worker, "_worker.js"))
    body, ctype = multipart(fields)
    request = urllib.request.Request(
        "%s/accounts/%s/pages/projects/%s/deployments" % (emu.base_url, ACCOUNT, project), data=body,
        method="POST", headers={"Content-Type": ctype, "Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(request, timeout=60) as response:
        dep = json.loads(response.read())["result"]
    deadline = time.monotonic() + 30
    while dep["latest_stage"]["status"] == "active" and time.monotonic() < deadline:
        time.sleep(0.02)
        dep = emu.call("GET", "/accounts/%s/pages/projects/%s/deployments/%s" % (ACCOUNT, project, dep["id"]),
                       token=TOKEN)["result"]
    if dep["latest_stage"]["status"] != "success":
        raise SystemExit("deployment %s did not succeed: %s" % (dep["id"], dep["latest_stage"]))
    return dep["url"].split("://", 1)[1]


def upload_index(emu, project):
    path = "/accounts/%s/pages/projects/%s/upload-token" % (ACCOUNT, project)
    jwt = emu.call("GET", path, token=TOKEN)["result"]["jwt"]
    key = "b" * 32
    emu.call("POST", "/pages/assets/upload", token=jwt, body=[
        {"key": key, "value": "PGgxPnN0YXRpYzwvaDE+", "metadata": {"contentType": "text/html"}, "base64": True}])
    return {"/index.html": key}


def one_process_per_deployment(count, workdir):
    """Start ``count`` workerd processes with one worker each; (median start s, summed RSS KiB)."""
    from pages_emulator.workerbundle import Module, WorkerCode
    from pages_emulator.workerdconfig import WorkerSpec, write_config

    procs, starts = [], []
    try:
        for i in range(count):
            spec = WorkerSpec("d%d" % i, WorkerCode("_worker.js", [Module("_worker.js", "esModule", WORKER % i)]),
                              "2025-01-01", [], service_address="127.0.0.1:9", service_secret="x")
            config, _ = write_config(Path(workdir) / ("solo-%d" % i), [spec])
            read_fd, write_fd = os.pipe()
            started = time.perf_counter()
            proc = subprocess.Popen([WORKERD, "serve", str(config), "config", "--control-fd=%d" % write_fd],
                                    pass_fds=(write_fd,), cwd=str(config.parent),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.close(write_fd)
            with os.fdopen(read_fd, "rb") as control:
                if b'"listen"' not in control.readline():
                    raise SystemExit("a solo workerd did not start")
            starts.append(time.perf_counter() - started)
            procs.append(proc)
        time.sleep(0.5)
        return statistics.median(starts), sum(kib_of(p.pid, "VmRSS") for p in procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--workers", type=int, default=50, help="deployments with a worker (default 50)")
    ap.add_argument("--warm", type=int, default=100, help="warm requests to time (default 100)")
    ap.add_argument("--emulator-python", help="interpreter with aiohttp for the emulator")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if not os.path.exists(WORKERD):
        raise SystemExit("workerd not found at %s (run: npm ci --prefix tests/emulator)" % WORKERD)
    venvs = os.path.join(REPO, ".cache", "venvs")
    python = args.emulator_python or find_python(
        [os.path.join(venvs, v, "bin", "python") for v in ("core221", "owner")] + [sys.executable], "aiohttp")
    if not python:
        raise SystemExit("no interpreter with aiohttp (pass --emulator-python)")
    figures = {}
    with tempfile.TemporaryDirectory(prefix="workers-bench-") as workdir:
        emu = Emulator(python, os.path.join(workdir, "data"), {TOKEN: ACCOUNT})
        try:
            for name in ("bench", "static"):
                emu.call("POST", "/accounts/%s/pages/projects" % ACCOUNT, token=TOKEN,
                         body={"name": name, "production_branch": "main"})
            manifest = upload_index(emu, "bench")
            static_host = deploy(emu, "static", manifest, None)
            hosts = [deploy(emu, "bench", manifest, WORKER % 0)]
            figures["first_request_s"], body = site_get(emu, hosts[0])
            assert body == b"worker 0 /", body
            figures["warm_request_s"] = statistics.median(site_get(emu, hosts[0], "/x")[0] for _ in range(args.warm))
            figures["static_request_s"] = statistics.median(site_get(emu, static_host)[0] for _ in range(args.warm))
            pid = emu.call("GET", "/__emulator/workers", root=True)["pid"]
            figures["rss_1_kib"] = kib_of(pid, "VmRSS")
            for i in range(1, args.workers):
                hosts.append(deploy(emu, "bench", manifest, WORKER % i))
            for i, host in enumerate(hosts):   # each first request reloads with one more worker
                seconds, body = site_get(emu, host)
                assert body == b"worker %d /" % i, body
            figures["first_request_nth_s"] = seconds
            figures["warm_request_n_s"] = statistics.median(site_get(emu, hosts[-1], "/x")[0] for _ in range(args.warm))
            listed = emu.call("GET", "/__emulator/workers", root=True)
            assert len(listed["workers"]) == args.workers, len(listed["workers"])
            time.sleep(6)   # the replaced processes end a few seconds after a reload
            figures["rss_n_kib"] = kib_of(listed["pid"], "VmRSS")
            figures["hwm_n_kib"] = kib_of(listed["pid"], "VmHWM")
        finally:
            emu.stop()
        figures["solo_start_s"], figures["solo_rss_n_kib"] = one_process_per_deployment(args.workers, workdir)
    n = args.workers
    print("worker runtime (workerd %s), %d deployments with a worker" % (
        subprocess.run([WORKERD, "--version"], capture_output=True, text=True, check=False).stdout.split()[-1], n))
    print("| measure | value |")
    print("|---|---|")
    print("| first request to a worker (starts workerd) | %.0f ms |" % (figures["first_request_s"] * 1000))
    print("| warm request to a worker (median of %d) | %.1f ms |" % (args.warm, figures["warm_request_s"] * 1000))
    print("| static request, no worker (median) | %.1f ms |" % (figures["static_request_s"] * 1000))
    print("| first request to the %d-th worker (reload with %d) | %.0f ms |" % (
        n, n, figures["first_request_nth_s"] * 1000))
    print("| warm request with %d loaded (median) | %.1f ms |" % (n, figures["warm_request_n_s"] * 1000))
    print("| shared workerd, 1 worker: RSS | %.0f MiB |" % (figures["rss_1_kib"] / 1024))
    print("| shared workerd, %d workers: RSS (peak) | %.0f MiB (%.0f MiB) |" % (
        n, figures["rss_n_kib"] / 1024, figures["hwm_n_kib"] / 1024))
    print("| one workerd per deployment: start (median) | %.0f ms |" % (figures["solo_start_s"] * 1000))
    print("| one workerd per deployment, %d processes: RSS summed | %.0f MiB |" % (n, figures["solo_rss_n_kib"] / 1024))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
