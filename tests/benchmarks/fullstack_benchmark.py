#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Full-stack benchmark: pages_deployment against ``wrangler pages deploy`` for a site with a worker.

    python tests/benchmarks/fullstack_benchmark.py [--files 2000 --megabytes 20 --modules 30] [--repeat 1]

The site is upload_benchmark.py's synthetic site (``--files`` assets) plus a framework-style
``_worker.js/`` directory of ``--modules`` ES modules (an ``index.js`` importing the others, nested
chunks, one WebAssembly module) and a ``_routes.json``. Each tool deploys to its own account on one
emulator; timed: a full deploy, a redeploy after one worker module changed, a no-op rerun. "ours" is
``ansible-playbook`` with a one-task playbook; wrangler runs as users run it (``wrangler pages
deploy DIR``, which bundles the ``_worker.js/`` directory with esbuild). Prints each run, the
medians and the ratio ours / wrangler (the goal is at most 0.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import upload_benchmark as UB  # noqa: E402  pylint: disable=wrong-import-position

ADD_WASM = bytes.fromhex("0061736d0100000001070160027f7f017f030201000707010361646400000a09010700200020016a0b")


def add_worker(site, modules, seed=1):
    """A ``_worker.js/`` of ``modules`` modules (index.js + chunks + add.wasm); returns the path of
    the chunk that the redeploy edits."""
    root = os.path.join(site, "_worker.js")
    chunks = ["chunks/c%02d/part-%02d.js" % (i % 5, i) for i in range(modules - 2)]
    imports = "\n".join('import { f%d } from "./%s";' % (i, c) for i, c in enumerate(chunks))
    calls = " + ".join("f%d()" % i for i in range(len(chunks))) or "0"
    index = (
        imports + '\nimport add from "./add.wasm";\n'
        "export default { async fetch(request, env) {\n"
        "  const url = new URL(request.url);\n"
        "  if (url.pathname.startsWith('/api/')) {\n"
        "    const i = await WebAssembly.instantiate(add);\n"
        "    return new Response(String(i.exports.add(%s, 1)));\n"
        "  }\n"
        "  return env.ASSETS.fetch(request);\n"
        "} };\n" % calls
    )
    files = {"index.js": index, "add.wasm": ADD_WASM}
    filler = "// " + "framework runtime code " * 40 + "\n"
    for i, chunk in enumerate(chunks):
        files[chunk] = "export function f%d() { return %d; }\n%s" % (i, i + seed, filler * 20)
    for rel, data in files.items():
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    with open(os.path.join(site, "_routes.json"), "w", encoding="utf-8") as handle:
        handle.write('{"version": 1, "include": ["/api/*"], "exclude": []}\n')
    return os.path.join(root, *chunks[0].split("/"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--files", type=int, default=2000, help="assets in the site (default 2000)")
    ap.add_argument("--megabytes", type=float, default=20.0, help="assets' size in MB (default 20)")
    ap.add_argument("--modules", type=int, default=30, help="modules of the _worker.js/ directory (default 30)")
    ap.add_argument("--repeat", type=int, default=1, help="repeat every measurement N times, report medians")
    ap.add_argument("--python", help="interpreter with ansible-core, requests and blake3 for our side")
    ap.add_argument("--emulator-python", help="interpreter with aiohttp for the emulator")
    ap.add_argument("--wrangler", help="wrangler executable (default: the %s lane, npm ci --prefix tests/emulator)"
                    % UB.WRANGLER_LANE)
    ap.add_argument("--workdir", help="keep the site and the emulator data here (default: a temporary directory)")
    args = ap.parse_args(argv)

    venvs = os.path.join(UB.REPO, ".cache", "venvs")
    python = args.python or UB.find_python(
        [os.path.join(venvs, v, "bin", "python") for v in ("owner", "core221")] + [sys.executable], "blake3")
    emulator_python = args.emulator_python or UB.find_python(
        [os.path.join(venvs, v, "bin", "python") for v in ("emulator-dev", "core221", "owner")] + [sys.executable],
        "aiohttp")
    if not python or not emulator_python:
        raise SystemExit("no interpreter with blake3 / aiohttp found: pass --python / --emulator-python")
    wrangler, missing = UB.wrangler_for(args.wrangler)
    if wrangler is None:
        raise SystemExit("wrangler not found: %s" % missing)
    UB.dev_collections()
    workdir = args.workdir or tempfile.mkdtemp(prefix="cfpages-fullstack-bench-")
    site = os.path.join(workdir, "site")
    for path in (site, os.path.join(workdir, "emulator")):
        shutil.rmtree(path, ignore_errors=True)
    print("building the site in %s ..." % workdir, flush=True)
    _changed, n_files, n_bytes = UB.build_site(site, args.files, args.megabytes, seed=1)
    chunk = add_worker(site, args.modules)

    tools = [("ours", UB.Ours("ansible", python, workdir)), ("wrangler", UB.Wrangler(wrangler, workdir))]
    tokens = {}
    for rep in range(args.repeat):
        for name, _tool in tools:
            tokens["fs-%s-%d" % (name, rep)] = UB.account_for("fs-%s-%d" % (name, rep))
    emulator = UB.Emulator(emulator_python, os.path.join(workdir, "emulator"), tokens)
    plan = ["full deploy", "one module changed", "no-op rerun"]
    results = {name: {} for name, _tool in tools}
    try:
        for token, account in tokens.items():
            emulator.call("POST", "/accounts/%s/pages/projects" % account, token, {"name": token, "production_branch": "main"})
        with open(chunk, "rb") as handle:
            original = handle.read()
        try:
            for rep in range(args.repeat):
                for label in plan:
                    if label == "one module changed":
                        with open(chunk, "ab") as handle:
                            handle.write(("// change %d\n" % rep).encode())
                    for name, tool in tools:
                        token = "fs-%s-%d" % (name, rep)
                        since = emulator.log_size()
                        run = tool.deploy(emulator, token, tokens[token], token, site)
                        if run["rc"] != 0:
                            print(run["stdout"][-3000:], run["stderr"][-3000:], sep="\n")
                            raise SystemExit("%s failed (%s, rc %s)" % (name, token, run["rc"]))
                        run["uploaded"], run["deployments"], _requests = emulator.activity(since)
                        results[name].setdefault(label, []).append(run)
                        print("  %-9s %-19s %7.2f s  uploaded %5d files, %d deployment(s)"
                              % (name, label, run["seconds"], run["uploaded"], run["deployments"]), flush=True)
        finally:
            with open(chunk, "wb") as handle:
                handle.write(original)
    finally:
        emulator.stop()

    print()
    print("site: %d assets, %.1f MB, and a _worker.js/ of %d modules (one .wasm) with a _routes.json"
          % (n_files, n_bytes / UB.MB, args.modules))
    print("medians of %d run(s); load average now: %s" % (args.repeat, " ".join("%.1f" % x for x in os.getloadavg())))
    print("%-20s %10s %10s %8s" % ("run", "ours", "wrangler", "ratio"))
    worst = 0.0
    for label in plan:
        ours = statistics.median(r["seconds"] for r in results["ours"][label])
        theirs = statistics.median(r["seconds"] for r in results["wrangler"][label])
        worst = max(worst, ours / theirs)
        print("%-20s %9.2fs %9.2fs %8.2f" % (label, ours, theirs, ours / theirs))
    print("goal: ratio <= 0.5 on every run: %s" % ("PASS" if worst <= 0.5 else "FAIL (worst %.2f)" % worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
