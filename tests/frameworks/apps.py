"""The framework apps of the frameworks stage, and how each is built (standard library only).

Each app lives in tests/frameworks/<app>/ as committed sources plus, for those with npm
dependencies, package.json and package-lock.json. A build happens in a work directory under
.cache/frameworks/<lane>/<app>/: its node_modules stays there between runs and is reinstalled
(``npm ci --prefer-offline``) only when the lockfile or the Node version changed; the sources are
copied in afresh every run, so the build is always of the committed files.

``python apps.py build [APP ...]`` builds outside pytest (the lane from CFPAGES_NODE).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# The real path (.cache/frameworks may link to ~/.cache/cfpages/, tests/helpers/environments.py):
# what the builds write there must not name a checkout that may be gone when the next run uses it.
CACHE = Path(os.path.realpath(REPO / ".cache" / "frameworks"))
# What a build writes next to the sources (never copied in from the checkout, removed before a build).
BUILD_OUTPUTS = {"node_modules", ".svelte-kit", "dist", "_site", ".astro", ".wrangler"}


@dataclass(frozen=True)
class Request:
    """One request made to both deployments: method, path (with query), JSON body for POST, and the
    status the app's own code gives it (None: only compared, as where serving rules decide)."""
    path: str
    status: int | None = None
    method: str = "GET"
    json_body: object = None

    @property
    def label(self):
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class App:
    name: str
    output: str                      # the directory deployed, relative to the app
    build: tuple = ("npm", "run", "build")  # empty: nothing to build (sources deployed as they are)
    functions: str = ""              # the Functions directory, relative to the app ("" = none)
    requests: tuple = ()
    # Paths of built files to request too, found after the build (glob under the output, first match).
    asset_globs: tuple = ()
    worker: str = "none"             # the worker mode pages_deployment reports (its RV worker.mode)
    bundled: bool = False            # whether it reports the worker bundled by wrangler (RV worker.bundled)
    compatibility_flags: tuple = ()
    min_files: int = 0               # the output must have at least this many files
    env: dict = field(default_factory=dict)


def R(path, status=None, method="GET", json_body=None):
    return Request(path, status, method, json_body)


POST_BODY = {"message": "héllo", "items": [1, 2, 3]}
COMPATIBILITY_DATE = "2025-06-01"

APPS = {
    "sveltekit": App(
        name="sveltekit", output=".svelte-kit/cloudflare", worker="file", bundled=True,
        compatibility_flags=("nodejs_compat",),
        requests=(R("/", 200), R("/about", 200), R("/about/"), R("/items/42", 200), R("/items/abc", 404),
                  R("/api/hello?name=ada", 200), R("/api/hello", 201, "POST", POST_BODY), R("/robots.txt", 200),
                  R("/manifest.json", 200), R("/_app/version.json", 200), R("/no/such/page", 404)),
        asset_globs=("_app/immutable/entry/*.js", "_app/immutable/nodes/*.js")),
    "astro": App(
        name="astro", output="dist", worker="directory", compatibility_flags=("nodejs_compat",),
        requests=(R("/", 200), R("/about"), R("/about/", 200), R("/items/42", 200), R("/items/abc", 404),
                  R("/api/hello?name=ada", 200), R("/api/hello", 201, "POST", POST_BODY), R("/robots.txt", 200),
                  R("/site.css", 200), R("/no/such/page", 404)),
        env={"ASTRO_TELEMETRY_DISABLED": "1"}),
    "functions": App(
        name="functions", output="public", build=(), functions="functions", worker="functions",
        requests=(R("/", 200), R("/index.html"), R("/style.css", 200), R("/api/hello?name=ada", 200),
                  R("/api/hello", 201, "POST", POST_BODY), R("/items/7", 200), R("/items/x", 404), R("/old", 301),
                  R("/no/such/page", 404))),
    "eleventy": App(
        name="eleventy", output="_site", min_files=3000,
        requests=(R("/", 200), R("/articles/1/", 200), R("/articles/2999/", 200), R("/articles/17"),
                  R("/articles/3/index.html"), R("/feed.json", 200), R("/assets/site.css", 200), R("/latest", 302),
                  R("/a/5", 301), R("/no/such/page", 404), R("/articles/9999/", 404), R("/_redirects", 404)),
        env={"ARTICLES": "3000"}),
}


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Lane:
    """The toolchain an app is built and deployed with: a node binary and a wrangler executable."""
    name: str
    node: Path
    wrangler: Path

    def env(self, **extra):
        """os.environ with this lane's node (and its npm) first on PATH."""
        return {**os.environ, "PATH": f"{self.node.parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "NO_COLOR": "1", "FORCE_COLOR": "0", "npm_config_update_notifier": "false",
                "npm_config_fund": "false", "npm_config_audit": "false", **extra}

    def node_version(self):
        return subprocess.run([str(self.node), "--version"], capture_output=True, text=True, check=True).stdout.strip()


def lane_from_env():
    """The lane the session chose (CFPAGES_LANE, CFPAGES_NODE, CFPAGES_WRANGLER); default: the node on
    PATH and the wrangler of tests/emulator/node_modules."""
    node = os.environ.get("CFPAGES_NODE") or shutil.which("node")
    if not node:
        raise BuildError("no node: set CFPAGES_NODE or put node on PATH")
    wrangler = os.environ.get("CFPAGES_WRANGLER") or str(REPO / "tests/emulator/node_modules/.bin/wrangler")
    return Lane(os.environ.get("CFPAGES_LANE", "default"), Path(node).resolve(), Path(wrangler).absolute())


def _run(cmd, cwd, env, log):
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(map(str, cmd))}  (in {cwd})\n")
        out.flush()
        # A process group of its own: a build can leave a runtime behind (SvelteKit's build starts workerd
        # through wrangler's platform proxy and exits without stopping it), which is ended with the group.
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait()
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if proc.returncode:
        tail = "\n".join(Path(log).read_text(errors="replace").splitlines()[-40:])
        raise BuildError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}) in {cwd}:\n{tail}")


def build(app: App, lane: Lane, log: Path):
    """Copy the app's sources into its work directory, npm ci when its lockfile or Node changed, build.
    Return (work directory, output directory, seconds taken by npm ci or None when cached)."""
    src = HERE / app.name
    work = CACHE / lane.name / app.name
    work.mkdir(parents=True, exist_ok=True)
    for entry in work.iterdir():
        if entry.name not in ("node_modules",):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    shutil.copytree(src, work, dirs_exist_ok=True, ignore=lambda _d, names: [n for n in names if n in BUILD_OUTPUTS])
    env = lane.env(**app.env)
    installed = None
    lock = src / "package-lock.json"
    if lock.is_file():
        stamp = hashlib.sha256(lock.read_bytes() + lane.node_version().encode()).hexdigest()
        stamp_file = work / "node_modules" / ".cfpages-stamp"
        if not (stamp_file.is_file() and stamp_file.read_text() == stamp):
            start = time.monotonic()
            npm = lane.node.parent / "npm"
            _run([npm if npm.exists() else "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"], work, env, log)
            stamp_file.write_text(stamp)
            installed = time.monotonic() - start
    if app.build:
        cmd = list(app.build)
        if cmd[0] == "npm":
            npm = lane.node.parent / "npm"
            cmd[0] = npm if npm.exists() else "npm"
        _run(cmd, work, env, log)
    out = work / app.output
    if not out.is_dir():
        raise BuildError(f"{app.name}: the build wrote no {app.output}/ (log: {log})")
    files = sum(1 for p in out.rglob("*") if p.is_file())
    if files < app.min_files:
        raise BuildError(f"{app.name}: {files} files in {app.output}/, expected at least {app.min_files}")
    return work, out, installed


def main(argv):
    if not argv or argv[0] != "build":
        sys.exit(__doc__)
    lane = lane_from_env()
    for name in argv[1:] or APPS:
        start = time.monotonic()
        log = CACHE / f"{lane.name}-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        _work, out, installed = build(APPS[name], lane, log)
        print(json.dumps({"app": name, "output": str(out), "npm_ci_s": installed,
                          "total_s": round(time.monotonic() - start, 1)}))


if __name__ == "__main__":
    main(sys.argv[1:])
