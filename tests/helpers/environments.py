"""The environments the test stages run in (used by noxfile.py; standard library only).

- one virtual environment per ansible-core line under .cache/venvs/coreXYZ, rebuilt only when
  its stamp (interpreter, specs, requirement files' contents) changes;
- a stand-in for the get-pip script ansible-test --venv downloads (from a host this network does
  not reach);
- tests/emulator/node_modules (npm ci), Chromium and Java (apt), the collection installed per core.
"""
from __future__ import annotations

import concurrent.futures
import fcntl
import glob
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
VENVS = CACHE / "venvs"
EMULATOR_DIR = REPO / "tests" / "emulator"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

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


def _build_venv(name, venv, python, files, specs, pre_specs, stamp, out):
    stamp_file = venv / ".cfpages-stamp"
    if venv_python(name).exists() and stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        print(f"venv {name}: up to date (ansible-core {ansible_version(venv_python(name))})", file=out)
        return
    print(f"venv {name}: building with {python}", file=out)
    shutil.rmtree(venv, ignore_errors=True)
    VENVS.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    env = pip_env()
    pip = [venv_python(name), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    quiet_pip([*pip, "--upgrade", "pip"], env, out)
    if pre_specs:
        quiet_pip([*pip, "--pre", *pre_specs], env, out)
    reqs = [arg for f in files if Path(f).is_file() for arg in ("-r", f)]
    quiet_pip([*pip, *pre_specs, *specs, *reqs], env, out)
    quiet_pip([venv_python(name), "-m", "pip", "check"], env, out)
    stamp_file.write_text(stamp + "\n")
    print(f"venv {name}: ready (ansible-core {ansible_version(venv_python(name))})", file=out)


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
    lock = EMULATOR_DIR / "package-lock.json"
    if not lock.is_file():
        print("node: no tests/emulator/package-lock.json, nothing to install")
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
