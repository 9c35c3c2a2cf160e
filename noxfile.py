"""The test stages of cfpages.cloudflare, one nox session each (tests/run.sh runs them all).

    bash tests/run.sh [STAGE ...]          the one command (README): installs nox, runs the sessions
    .cache/venvs/nox/bin/nox -s units      one session directly, after tests/run.sh prepared once
    .cache/venvs/nox/bin/nox -s units -- 2.18 2.19      a matrix session on some ansible-core lines

Plain nox, not antsibull-nox: antsibull-nox copies the collection into a tree of its own and
drives ansible-test its way, while these stages test the collection as ansible-galaxy installs it
from the built artifact, in one cached venv per ansible-core line (with a pip bootstrap stand-in
for this network), against emulators they start. Plain nox runs exactly that, no venv of its
own per session (venv_backend "none"); the environments are tests/helpers/environments.py's.

What can be declared is in tests/config.toml (as antsibull-nox keeps community.general's in
antsibull-nox.toml): the matrix, the venvs' tools, the integration lines, subset and parts, the
stages in order with their help text and what the prepare session builds for each. The matrix is
the sessions' parameter: sanity and units on every line the collection claims, integration on the
oldest and the newest final (every target) and the newest pre-release (a subset).
The lines of a matrix stage run side by side in two lanes (integration mostly waits on playbooks
and the emulator; units and sanity largely on pip and on start-up, so two overlap well);
CFPAGES_SERIAL=1 runs them one after the other with output live.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import nox

REPO = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tests" / "helpers"))
import config  # noqa: E402  (tests/helpers: tests/config.toml)
import emulator  # noqa: E402  (tests/helpers: the one emulator launcher)
import environments as envs  # noqa: E402
import sanity_venv  # noqa: E402
import summary  # noqa: E402

nox.options.default_venv_backend = "none"
nox.options.error_on_missing_interpreters = True

# What is declared, not coded (the matrix, the venvs' tools, the integration lines and parts, the
# stages and what each needs prepared): tests/config.toml, read by tests/helpers/config.py.
MATRIX = config.MATRIX
TOOLS_LINE = config.TOOLS_LINE
INTEGRATION = config.INTEGRATION
STAGES = config.STAGES

CACHE = envs.CACHE
EMULATOR_DIR = envs.EMULATOR_DIR
BASE_PATH = os.environ.get("PATH", "")
for _var in ("PYTHONHOME", "PYTHONPATH"):
    os.environ.pop(_var, None)


def _terminate(_signum, _frame):
    """SIGTERM ends the run like Ctrl-C: the commands it waits for (process groups of their own:
    environments.run) and their emulators are stopped on the way out."""
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _terminate)
PIP_CACHE_DIR = os.environ.get("PIP_CACHE_DIR") or str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip")


class Skip(Exception):
    """End a stage (or one line of it) as skipped, with the reason."""


def _cores_from(value, default):
    cores = (value or "").split() or list(default)
    unknown = [c for c in cores if c not in MATRIX]
    if unknown:
        raise envs.SetupError(f"CFPAGES_CORES: unknown ansible-core line(s) {' '.join(unknown)} "
                         f"(known: {' '.join(MATRIX)})")
    return cores


def matrix_lines(session, default):
    """The lines a matrix session runs: its arguments, else CFPAGES_CORES, else its default."""
    return _cores_from(" ".join(session.posargs) or os.environ.get("CFPAGES_CORES"), default)


venv_name = envs.venv_name


def venv_env(core, **extra):
    """os.environ with this line's venv first on PATH (ansible-test --local uses its python)."""
    venv = envs.VENVS / venv_name(core)
    return {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv}/bin:{BASE_PATH}", **extra}


def collections_of(core, part=""):
    """Each line tests the collection as its own ansible-galaxy installed it, in a tree of its own
    (and each part of a line's integration targets in a copy of it, so that the parts can overlap)."""
    name = "collections" if core == TOOLS_LINE else f"collections-{core}"
    return CACHE / (f"{name}-part-{part}" if part else name)


def tree_of(core, part=""):
    return collections_of(core, part) / "ansible_collections" / "cfpages" / "cloudflare"


def tree_env(core, part="", **extra):
    """venv_env plus ANSIBLE_TEST_CONTENT_ROOT: the tree lies inside this git checkout, where .cache/
    is ignored; left to itself ansible-test walks up to the checkout's .git, asks git for the files
    and finds none. The variable (what ansible-test sets itself when it delegates) pins the root."""
    return venv_env(core, ANSIBLE_TEST_CONTENT_ROOT=str(tree_of(core, part)), **extra)


# ------------------------------------------------------------------------------------------------
# Rows, lanes and the stage wrapper
# ------------------------------------------------------------------------------------------------

def _row(name, func, out, note_box):
    """Run func(out, note_box); record and return its row result."""
    start = time.monotonic()
    try:
        func(out, note_box)
        result = "pass"
    except Skip as why:
        print(f"SKIP: {why}", file=out, flush=True)
        note_box[0] = str(why)
        result = "skip"
    except (subprocess.CalledProcessError, envs.SetupError, emulator.EmulatorError, OSError) as err:
        print(f"ERROR: {err}", file=out, flush=True)
        result = "FAIL"
    except Exception:  # pylint: disable=broad-exception-caught  # a bug here still makes a FAIL row
        traceback.print_exc(file=out)
        result = "FAIL"
    summary.record(name, result, time.monotonic() - start, note_box[0])
    return result


def run_lanes(session, label, jobs, lanes):
    """Run jobs ([(row name, func(out, note_box))], or (row name, func, key)) in `lanes` parallel
    lanes; a free lane takes the first waiting job whose key no running job holds (jobs sharing a
    key, e.g. two parts of one ansible-core line in its one tree, never overlap). With one lane
    output is live; with more each job writes a log, printed as the jobs end, in order. Fails the
    session when a row failed; skips it when every row was skipped."""
    results = []
    keys = [job[2] if len(job) > 2 else i for i, job in enumerate(jobs)]
    jobs = [job[:2] for job in jobs]
    if lanes <= 1 or len(jobs) <= 1:
        for name, func in jobs:
            session.log(name)
            results.append(_row(name, func, sys.stdout, [""]))
    else:
        session.log(f"{label} {' '.join(n[len(label):].strip() for n, _f in jobs)}: {lanes} side by side, "
                    "each log is printed when it ends")
        logdir = Path(tempfile.mkdtemp(prefix=f"cfpages-{label}-"))
        done = [threading.Event() for _job in jobs]
        outcome = [None] * len(jobs)
        waiting, held = list(range(len(jobs))), set()
        turn = threading.Condition()
        cancelled = threading.Event()

        def take():
            with turn:
                while waiting and not cancelled.is_set():
                    free = [i for i in waiting if keys[i] not in held]
                    if free:
                        waiting.remove(free[0])
                        held.add(keys[free[0]])
                        return free[0]
                    turn.wait(0.5)
                return None

        def lane():
            while (i := take()) is not None:
                try:
                    with open(logdir / f"{i}.log", "w", encoding="utf-8") as out:
                        outcome[i] = _row(jobs[i][0], jobs[i][1], out, [""])
                finally:
                    with turn:
                        held.discard(keys[i])
                        turn.notify_all()
                    done[i].set()

        threads = [threading.Thread(target=lane, daemon=True) for _lane in range(min(lanes, len(jobs)))]
        for thread in threads:
            thread.start()
        try:
            for i, (name, _func) in enumerate(jobs):
                while not done[i].wait(0.5):
                    pass
                session.log(name)
                sys.stdout.write((logdir / f"{i}.log").read_text(errors="replace"))
                sys.stdout.flush()
                results.append(outcome[i])
        except KeyboardInterrupt:
            # Stop what runs now, start nothing more, and let the lanes end (their emulators stop).
            cancelled.set()
            envs.stop_children()
            for thread in threads:
                thread.join(60)
            raise
        shutil.rmtree(logdir, ignore_errors=True)
    if "FAIL" in results:
        session.error(f"{label}: {results.count('FAIL')} of {len(results)} failed")
    if results and all(r == "skip" for r in results):
        session.skip(f"{label}: skipped")


def stage(session, name, func):
    """A stage with one row: func(out, note_box)."""
    run_lanes(session, name, [(name, func)], 1)


def sh(cmd, out, env=None, cwd=None):
    envs.run(cmd, out=out, env=env, cwd=cwd)


def pytest(python, path, out, env, cache, *args):
    """python -m pytest PATH ARGS (and CFPAGES_PYTEST_ARGS) in the checkout; no test collected is a skip."""
    rc = envs.run([python, "-m", "pytest", path, "-o", f"cache_dir={CACHE}/{cache}", *args,
                   *shlex.split(os.environ.get("CFPAGES_PYTEST_ARGS", ""))], out=out, env=env, cwd=REPO, check=False)
    if rc == 5:
        raise Skip("pytest collected no tests")
    if rc:
        raise subprocess.CalledProcessError(rc, f"pytest {path}")


# ------------------------------------------------------------------------------------------------
# prepare
# ------------------------------------------------------------------------------------------------

def _sorted_lines(cores):
    return sorted(cores, key=lambda c: [int(x) for x in c.split(".")])


def _prepare(cores, wants, out, note_box):
    """Build what the stages asked for need (tests/config.toml, [[stage]] needs): the venvs of the
    lines `cores`, the tools line's when "tools", the importer's, node_modules, the wrangler lanes;
    then the collection trees of those lines, fresh."""
    needed = _sorted_lines(set(cores) | ({TOOLS_LINE} if "tools" in wants else set()))
    pythons = {MATRIX[c].python: None for c in needed}
    if "importer" in wants:
        pythons[MATRIX[TOOLS_LINE].python] = None
    for version in pythons:
        pythons[version] = envs.find_python(version)

    def build(core, buf):
        python = envs.ensure_line_venv(core, pythons[MATRIX[core].python], out=buf)
        lower, (major, minor) = f"{core}.0a0", core.split(".")
        sh([python, REPO / "tests/helpers/collection.py", REPO, "check", lower, f"{major}.{int(minor) + 1}"], buf,
           env=venv_env(core))
        envs.ensure_get_pip_stand_in(python, out=buf)

    jobs = [(core, build) for core in needed]
    if "importer" in wants:
        jobs.append(("importer", lambda _c, buf: envs.ensure_venv(
            "importer", pythons[MATRIX[TOOLS_LINE].python], [], specs=config.IMPORTER, out=buf)))
    envs.in_two_lanes(jobs, out)
    if "node" in wants:
        envs.ensure_node_modules()
    if "wrangler" in wants:
        # The wrangler lanes (Node 22 and the current wrangler into .cache/toolchain/ once per lockfile).
        for lane in envs.WRANGLER_LANES:
            print(f"wrangler lane {lane}: {envs.wrangler_executable(lane, out)}", file=out)
    # The collection under test, as shipped: fresh trees every run.
    for core in needed:
        dest = collections_of(core)
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        sh([envs.venv_python(venv_name(core)), REPO / "tests/helpers/collection.py", REPO, "install", dest], out,
           env=venv_env(core))
        for part in ("tests/emulator", "tests/benchmarks", "tests/frameworks", "tests/toolchain"):
            if (tree_of(core) / part).exists():
                raise envs.SetupError(f"{part} was installed into the collection tree: "
                                      "galaxy.yml build_ignore must exclude it")
    note_box[0] = ("ansible-core " + " ".join(needed) if needed else "") + \
        "".join(f"; {w}" for w in ("importer", "node", "wrangler") if w in wants)


@nox.session
def prepare(session):
    """Environments for the stages of this run (CFPAGES_STAGES): what each needs (tests/config.toml)."""
    def run(out, note_box):
        cores, wants = set(), set()
        for stage_name in os.environ.get("CFPAGES_STAGES", " ".join(STAGES)).split():
            for need in config.needs(stage_name):
                if need == "lines:matrix":
                    cores |= set(_cores_from(os.environ.get("CFPAGES_CORES"), MATRIX))
                elif need == "lines:integration":
                    cores |= set(_cores_from(os.environ.get("CFPAGES_CORES"), INTEGRATION["lines"]))
                else:
                    wants.add(need)
        _prepare(cores, wants, out, note_box)
    stage(session, "prepare", run)


# ------------------------------------------------------------------------------------------------
# Stages
# ------------------------------------------------------------------------------------------------

@nox.session(name="emulator")
def emulator_tests(session):
    """pytest tests/emulator/tests (the Pages API emulator)."""
    def run(out, note_box):
        if not (EMULATOR_DIR / "tests").is_dir():
            raise Skip("no tests/emulator/tests yet")
        env = venv_env(TOOLS_LINE)
        if (EMULATOR_DIR / "node_modules" / ".bin").is_dir():
            env["PATH"] = f"{EMULATOR_DIR}/node_modules/.bin:{env['PATH']}"
        pytest(envs.venv_python(venv_name(TOOLS_LINE)), "tests/emulator/tests", out, env, "pytest", "-p", "no:randomly")
    stage(session, "emulator", run)


def _no_ignore_entries(out):
    bad = []
    for path in sorted((REPO / "tests" / "sanity").glob("ignore-*.txt")):
        entries = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
        if entries:
            bad.append(f"{path.relative_to(REPO)} has entries; fix the findings instead of ignoring them:")
            bad += entries
    if bad:
        print("\n".join(bad), file=out)
        raise envs.SetupError("sanity ignore files must stay empty")


@nox.session
def sanity(session):
    """ansible-test sanity on every line (no ignore-file entries allowed); CFPAGES_SANITY_TESTS picks tests."""
    tests = [a for t in os.environ.get("CFPAGES_SANITY_TESTS", "").split() for a in ("--test", t)]

    def job(core):
        def run(out, note_box):
            _no_ignore_entries(out)
            py = MATRIX[core].python
            # ansible-test keeps each sanity test's venv in ~/.ansible/test/venv, keyed by Python
            # and requirements only, and two lines building the same one at once break it: each
            # line gets a HOME of its own (pip's cache stays the shared one). The homes outlive the
            # checkout (.cache/ansible-test-home links to ~/.cache/cfpages/, environments.py), so
            # another checkout's run of the same line waits for this one (flock on the home).
            home = CACHE / "ansible-test-home" / core
            home.mkdir(parents=True, exist_ok=True)
            with open(home / ".cfpages.lock", "w", encoding="utf-8") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                _sanity(core, py, home, out, note_box)
        return run

    def _sanity(core, py, home, out, note_box):
        envs.ensure_get_pip_stand_in(envs.venv_python(venv_name(core)), out=out, home=envs.real(home))
        # The real path: the venvs ansible-test makes there name it in their scripts (environments.real).
        env = tree_env(core, HOME=str(envs.real(home)), PIP_CACHE_DIR=PIP_CACHE_DIR)
        pylint_note = None
        if not tests or "pylint" in tests:
            # 2.22.0rc1's pylint requirements pin dill to a GitHub archive, which this network
            # cannot fetch: its pylint environment is built from PyPI where ansible-test
            # looks for it, so pylint runs for real (the why and how: sanity_venv.py).
            pylint_note = sanity_venv.prepare_pylint_venv(envs.venv_python(venv_name(core)), envs.find_python(py),
                                                          py, env, tree_of(core), out)
        sh(["ansible-test", "sanity", "--venv", "--requirements", "--python", py, *tests], out, env=env,
           cwd=tree_of(core))
        note_box[0] = f"Python {py}" + (f"; {pylint_note}" if pylint_note else "")

    # Two lines side by side: a line's first run spends most of its time building ansible-test's
    # venvs (pip, network), and later ones overlap one line's pylint with the other's smaller tests.
    # (Each line has its own HOME, see job(); units need none: their venv is in the line's tree.)
    run_lanes(session, "sanity", [(f"sanity {c}", job(c)) for c in matrix_lines(session, MATRIX)], _lanes())


def _has_unit_tests(core):
    return any((tree_of(core) / "tests" / "unit").rglob("test_*.py"))


@nox.session
def units(session):
    """ansible-test units --local on every line, in the line's venv (it has tests/unit/requirements.txt;
    --venv --requirements would build and fill a fresh venv in each fresh tree, every run)."""
    def job(core):
        def run(out, note_box):
            if not _has_unit_tests(core):
                raise Skip("no tests/unit/**/test_*.py yet")
            py = MATRIX[core].python
            sh(["ansible-test", "units", "--local", "--python", py], out, env=tree_env(core), cwd=tree_of(core))
            note_box[0] = f"Python {py}"
        return run

    run_lanes(session, "units", [(f"units {c}", job(c)) for c in matrix_lines(session, MATRIX)], _lanes())


def _lanes(default=2):
    return 1 if os.environ.get("CFPAGES_SERIAL") else default


def _random(kind):
    """Per-run credential values (long, so no_log masking has nothing short to hit)."""
    alnum = string.ascii_letters + string.digits
    return {
        "token": lambda: "".join(secrets.choice(alnum) for _i in range(40)),
        "account": lambda: secrets.token_hex(16),
        "key": lambda: secrets.token_hex(19)[:37],
        "email": lambda: "ci-" + secrets.token_hex(6) + "@example.com",
    }[kind]()


def _integration(core, targets, out, note_box, exclude=(), part=""):
    if not any(p.is_dir() for p in (tree_of(core) / "tests" / "integration" / "targets").glob("*")):
        raise Skip("no integration targets yet")
    if part:
        shutil.rmtree(collections_of(core, part), ignore_errors=True)
        shutil.copytree(collections_of(core), collections_of(core, part), symlinks=True)
    tree = tree_of(core, part)
    note_box[0] = "targets: " + (" ".join(targets) or "all") + (" but " + " ".join(exclude) if exclude else "")
    token, account, email, key = (_random(k) for k in ("token", "account", "email", "key"))
    lane = envs.wrangler_lanes_chosen([config.integration_wrangler_lane(core)])[0]
    wrangler = envs.wrangler_executable(lane, out)
    note_box[0] += f"; wrangler lane {lane}"
    emu_py = envs.venv_python(venv_name(TOOLS_LINE))
    run_dir = Path(tempfile.mkdtemp(prefix=f"cfpages-integration-{core}-"))
    state = run_dir / "emulator.json"
    info = emulator.start(state, run_dir / "data", ["--token", f"{token}={account}", "--key", f"{email}:{key}={account}"],
                          python=emu_py)
    try:
        print(f"emulator at {info['root_url']} (pid {info['pid']}, log {info['log']})", file=out, flush=True)
        (tree / "tests" / "integration" / "integration_config.yml").write_text(
            "---\n# Written by noxfile.py for this run; ansible-test passes it to every target as extra vars.\n"
            + "".join(f'{k}: "{v}"\n' for k, v in (
                ("cfpages_api_base_url", info["base_url"]), ("cfpages_emulator_url", info["root_url"]),
                ("cfpages_api_token", token), ("cfpages_account_id", account), ("cfpages_api_email", email),
                ("cfpages_api_key", key), ("cfpages_emulator_python", emu_py),
                ("cfpages_emulator_serve", EMULATOR_DIR / "serve.py"),
                ("cfpages_wrangler", wrangler), ("cfpages_wrangler_lane", lane))))
        # --continue-on-error: run every target and report all failures, not just the first.
        rc = envs.run(["ansible-test", "integration", "--local", "--python", MATRIX[core].python, "-v",
                       "--continue-on-error", *targets, *(a for t in exclude for a in ("--exclude", t))],
                      out=out, env=tree_env(core, part), cwd=tree, check=False)
        if rc:
            lines = Path(info["log"]).read_text(errors="replace").splitlines()[-40:]
            print("--- emulator log (last 40 lines) ---\n" + "\n".join(lines), file=out)
            raise subprocess.CalledProcessError(rc, "ansible-test integration")
    finally:
        emulator.stop(state)
        shutil.rmtree(run_dir, ignore_errors=True)


def _ansible_test_ssh_key():
    """ansible-test integration makes its SSH key pair (~/.ansible/test/id_rsa) on first use; runs
    started at once on a fresh machine race to make it (the second ssh-keygen asks "Overwrite?"
    and fails), so make it once beforehand, as ansible-test does (PEM, RSA header for paramiko)."""
    key = Path.home() / ".ansible" / "test" / "id_rsa"
    if key.is_file() and key.with_suffix(".pub").is_file():
        return
    key.parent.mkdir(parents=True, exist_ok=True)
    for path in (key, key.with_suffix(".pub")):
        path.unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-m", "PEM", "-q", "-t", "rsa", "-N", "", "-f", str(key)], check=True)
    key.write_text(key.read_text().replace("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY")
                   .replace("END PRIVATE KEY", "END RSA PRIVATE KEY"))


@nox.session
def integration(session):
    """ansible-test integration --local against a fresh emulator per line; CFPAGES_TARGETS picks targets."""
    targets = os.environ.get("CFPAGES_TARGETS", "").split()
    cores = matrix_lines(session, INTEGRATION["lines"])
    lanes = _lanes(INTEGRATION["lanes"])
    if lanes > 1:
        _ansible_test_ssh_key()
    # A line outside integration.full_lines (the pre-release) runs integration.subset; a full line
    # runs in two parts (integration.part_a, then the others), each in a copy of the line's tree
    # with an emulator of its own, so that the lanes stay busy. Longest first.
    full, subset = INTEGRATION["full_lines"], INTEGRATION["subset"]
    part_a = [t for t in INTEGRATION["part_a"] if not targets or t in targets]
    part_b = [t for t in targets if t not in INTEGRATION["part_a"]]  # none given: all but part A
    parts = [("B", part_b, () if targets else part_a)] if part_b or not targets else []
    parts += [("A", part_a, ())] if part_a else []
    if lanes < 2 or len(parts) < 2:
        parts = [("", targets, ())]
    jobs = [(f"integration {c} {name}".rstrip(), lambda out, nb, c=c, t=t, x=x, p=name: _integration(c, t, out, nb, x, p))
            for name, t, x in parts for c in cores if c in full]
    for c in cores:
        if c not in full:
            chosen = targets or subset
            jobs.append((f"integration {c}", lambda out, nb, c=c, t=chosen: _integration(c, t, out, nb)))
    run_lanes(session, "integration", jobs, lanes)


@nox.session
def changelog(session):
    """antsibull-changelog lint (fragments and changelogs/changelog.yaml)."""
    def run(out, note_box):
        env = venv_env(TOOLS_LINE)
        sh(["antsibull-changelog", "lint"], out, env=env, cwd=REPO)
        sh(["antsibull-changelog", "lint-changelog-yaml", "changelogs/changelog.yaml"], out, env=env, cwd=REPO)
        print("changelog fragments and changelogs/changelog.yaml are valid", file=out)
    stage(session, "changelog", run)


def _has_yaml(*dirs):
    return any(p for d in dirs for pattern in ("*.yml", "*.yaml") for p in Path(d).rglob(pattern))


@nox.session
def lint(session):
    """ansible-lint, production profile (.ansible-lint: no rule skipped), on roles/, playbooks/ and extensions/."""
    def run(out, note_box):
        if not _has_yaml(REPO / "roles", REPO / "playbooks"):
            raise Skip("nothing to check yet (no YAML in roles/, playbooks/)")
        tree = tree_of(TOOLS_LINE)
        paths = [d for d in ("roles", "playbooks", "extensions") if _has_yaml(tree / d)]
        # In the installed tree, so the collection resolves as cfpages.cloudflare from it.
        sh(["ansible-lint", "--offline", "--profile", "production", *paths], out,
           env=venv_env(TOOLS_LINE, ANSIBLE_COLLECTIONS_PATH=str(collections_of(TOOLS_LINE))), cwd=tree)
    stage(session, "lint", run)


@nox.session
def docs(session):
    """antsibull-docs lint-collection-docs --plugin-docs, and the docs site (antsibull-docs + Sphinx, offline)."""
    def run(out, note_box):
        tree = tree_of(TOOLS_LINE)
        if not any((tree / "plugins" / "modules").glob("*.py")) and not any((tree / "roles").glob("*")):
            raise Skip("nothing to check yet (no modules or roles)")
        env = venv_env(TOOLS_LINE, ANSIBLE_COLLECTIONS_PATH=str(collections_of(TOOLS_LINE)))
        sh(["antsibull-docs", "lint-collection-docs", "--plugin-docs", "--skip-rstcheck", "."], out, env=env, cwd=tree)
        print("collection docs are valid", file=out)
        site = REPO / "tests" / "output" / "docsite"
        shutil.rmtree(site, ignore_errors=True)
        site.mkdir(parents=True)
        subprocess.run(["antsibull-docs", "sphinx-init", "--use-current", "--fail-on-error", "--dest-dir", str(site),
                        "cfpages.cloudflare"], env=env, check=True, stdout=subprocess.DEVNULL)
        with open(site / "conf.py", "a", encoding="utf-8") as conf:
            conf.write("\n# noxfile.py: offline build, no intersphinx inventories to fetch\nintersphinx_mapping = {}\n")
        (site / "rst").mkdir(exist_ok=True)  # sphinx-init may have made it
        (site / "rst").chmod(0o755)
        sh(["antsibull-docs", "--config-file", "antsibull-docs.cfg", "collection", "--cleanup", "everything",
            "--fail-on-error", "--use-current", "--dest-dir", "rst", "cfpages.cloudflare"], out, env=env, cwd=site)
        with open(site / "sphinx.log", "w", encoding="utf-8") as log:
            subprocess.run(["sphinx-build", "-M", "html", "rst", "build", "-c", ".", "-q", "--keep-going", "-w",
                            str(site / "warnings.log")], env=env, cwd=site, stdout=log, stderr=subprocess.STDOUT,
                           check=False)
        if not (site / "build/html/collections/cfpages/cloudflare/index.html").is_file():
            print((site / "sphinx.log").read_text(errors="replace"), file=out)
            raise envs.SetupError("the docs site was not built")
        sh([envs.venv_python(venv_name(TOOLS_LINE)), REPO / "tests/helpers/docs_warnings.py", site / "warnings.log"],
           out, env=env)
        print("docs site: tests/output/docsite/build/html/index.html", file=out)
    stage(session, "docs", run)


@nox.session(name="doc-commands")
def doc_commands(session):
    """The shell blocks of README.md and docs/*.md: each marked <!-- test: run --> or <!-- test: skip REASON -->,
    and the ones to run run as written, in a scratch copy of the checkout with a HOME of its own."""
    def run(out, note_box):
        sh([sys.executable, REPO / "tests/helpers/doc_commands.py"], out, cwd=REPO)
    stage(session, "doc-commands", run)


@nox.session
def importer(session):
    """galaxy-importer (Galaxy's and Automation Hub's import checks, ansible-lint on) on the built artifact."""
    def run(out, note_box):
        work = Path(tempfile.mkdtemp(prefix="cfpages-importer-"))
        try:
            sh(["ansible-galaxy", "collection", "build", REPO, "--output-path", work], out,
               env=venv_env(TOOLS_LINE), cwd=REPO)
            artifact = next(work.glob("cfpages-cloudflare-*.tar.gz"))
            importer_cfg = work / "galaxy-importer.cfg"
            # The importer's ansible-test wants a container runtime, which a CI machine need not
            # have; the sanity stage runs ansible-test sanity on every line instead.
            importer_cfg.write_text("[galaxy-importer]\nRUN_ANSIBLE_LINT = True\nRUN_ANSIBLE_DOC = True\n"
                              "CHECK_REQUIRED_TAGS = True\nRUN_ANSIBLE_TEST = False\nLOG_LEVEL_MAIN = INFO\n")
            importer_venv = envs.VENVS / "importer"
            sh([importer_venv / "bin" / "python", REPO / "tests/helpers/check_import.py", artifact], out,
               env={**os.environ, "GALAXY_IMPORTER_CONFIG": str(importer_cfg), "VIRTUAL_ENV": str(importer_venv),
                    "PATH": f"{importer_venv}/bin:{BASE_PATH}"}, cwd=work)
            note_box[0] = artifact.name
        finally:
            shutil.rmtree(work, ignore_errors=True)
    stage(session, "importer", run)


@nox.session
def molecule(session):
    """The status page in headless Chromium, then molecule test --all in extensions/."""
    def run(out, note_box):
        if not any((REPO / "extensions" / "molecule").rglob("molecule.yml")):
            raise Skip("extension point: no molecule scenarios yet")
        envs.ensure_chromium(out)
        env = venv_env(TOOLS_LINE, ANSIBLE_COLLECTIONS_PATH=str(collections_of(TOOLS_LINE)),
                       ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        shots = REPO / "tests" / "output" / "status_page"
        shots.mkdir(parents=True, exist_ok=True)
        helpers = REPO / "tests" / "helpers"
        sh(["ansible-playbook", "status_page_fixture.yml", "-e", f"status_page_output={shots}/fixture.html"], out,
           env=env, cwd=helpers)
        sh(["python", "check_status_page.py", shots / "fixture.html", "--data", "fixtures/status_page_data.yml",
            "--screenshot", shots / "fixture.png"], out, env=env, cwd=helpers)
        # -c: molecule finds extensions/molecule/config.yml by itself only from the collection root.
        sh(["molecule", "-c", "molecule/config.yml", "test", "--all"], out, env=env, cwd=REPO / "extensions")
        note_box[0] = "screenshots: tests/output/status_page/"
    stage(session, "molecule", run)



def check_functions_ee(env, default_context, out):
    """The Functions variant of the EE adds Node.js 22 and the newest wrangler the tests pin (the
    "current" lane, tests/toolchain/wrangler-current/package.json); the default one stays without Node.js."""
    pinned = json.loads((envs.TOOLCHAIN_DIR / "wrangler-current" / "package.json").read_text()
                        )["devDependencies"]["wrangler"]
    context = Path(tempfile.mkdtemp(prefix="cfpages-ee-functions-"))
    try:
        subprocess.run(["ansible-builder", "create", "-f", "extensions/awx/execution-environment-functions.yml",
                        "-c", str(context)], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)

        def containerfile(directory):
            for name in ("Containerfile", "Dockerfile"):
                if (directory / name).is_file():
                    return (directory / name).read_text()
            raise envs.SetupError("ansible-builder created no build context in %s" % directory)

        with_node, without_node = containerfile(context), containerfile(default_context)
        if not re.search(r"npm install --global .*wrangler@%s" % re.escape(pinned), with_node):
            raise envs.SetupError("the Functions execution environment does not install wrangler@%s" % pinned)
        if "dnf install -y nodejs" not in with_node or "nodejs:22" not in with_node:
            raise envs.SetupError("the Functions execution environment does not install Node.js 22")
        if re.search(r"nodejs|npm |wrangler", without_node, re.I):
            raise envs.SetupError("the default execution environment must not install Node.js or wrangler")
    finally:
        shutil.rmtree(context, ignore_errors=True)
    print("execution environment with Functions: build context created (Node.js 22, wrangler@%s)" % pinned, file=out)

@nox.session
def runner(session):
    """Each AWX job template run with ansible-runner against an emulator; ansible-builder checks of the EE."""
    def run(out, note_box):
        if not (REPO / "extensions" / "awx" / "job_templates.yml").is_file():
            raise Skip("extension point: no extensions/awx/job_templates.yml")
        env = venv_env(TOOLS_LINE, ANSIBLE_COLLECTIONS_PATH=str(collections_of(TOOLS_LINE)))
        deps = subprocess.run(["ansible-builder", "introspect", "--sanitize", str(collections_of(TOOLS_LINE))],
                              env=env, cwd=REPO, capture_output=True, text=True, check=True).stdout
        print(deps, file=out)
        for lib in ("requests", "blake3"):
            if not any(lib in line and "from collection cfpages.cloudflare" in line for line in deps.splitlines()):
                raise envs.SetupError("ansible-builder does not find the collection's Python requirements "
                                      "(meta/execution-environment.yml)")
        context = Path(tempfile.mkdtemp(prefix="cfpages-ee-"))
        try:
            subprocess.run(["ansible-builder", "create", "-f", "extensions/awx/execution-environment.yml", "-c",
                            str(context)], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
            if not ((context / "Containerfile").is_file() or (context / "Dockerfile").is_file()):
                raise envs.SetupError("ansible-builder created no build context")
            print("execution environment definition: build context created", file=out)
            check_functions_ee(env, context, out)
        finally:
            shutil.rmtree(context, ignore_errors=True)
        sh(["python", "tests/helpers/run_awx_jobs.py", "--project-dir", tree_of(TOOLS_LINE)], out, env=env, cwd=REPO)
    stage(session, "runner", run)


@nox.session
def eda(session):
    """The Event-Driven Ansible source against an emulator, and the rulebook run by ansible-rulebook (needs Java)."""
    def run(out, note_box):
        envs.ensure_java(out)
        line = MATRIX[TOOLS_LINE]
        envs.ensure_venv("eda", envs.find_python(line.python),
                         [REPO / "requirements.txt", REPO / "extensions/eda/requirements.txt"],
                         specs=[line.spec, *config.EDA], out=out)
        venv = envs.VENVS / "eda"
        env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv}/bin:{BASE_PATH}",
               "CFPAGES_COLLECTIONS": str(collections_of(TOOLS_LINE)),
               "CFPAGES_EMULATOR_PYTHON": str(envs.venv_python(venv_name(TOOLS_LINE)))}
        pytest(envs.venv_python("eda"), "tests/eda", out, env, "pytest-eda")
        note_box[0] = "ansible-rulebook " + config.EDA[0].split("==")[1]
    stage(session, "eda", run)


def framework_lane(lane, out):
    """(name, node binary, wrangler executable) of a wrangler lane of tests/helpers/environments.py
    ("4.86": the machine's Node 20; "current": Node 22 and the newest wrangler, installed on first use)."""
    node, _wrangler_js = envs.wrangler_lane(lane, out)
    major = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return f"node{major.lstrip('v').split('.')[0]}-wrangler{lane}", node, envs.wrangler_executable(lane, out)


@nox.session
def frameworks(session):
    """Real framework apps (tests/frameworks/) built from their lockfiles, deployed with pages_deployment and
    with wrangler pages deploy to one emulator running workerd, compared path by path; one row per wrangler
    lane (CFPAGES_WRANGLER_LANES picks), each app built with the lane's Node and deployed with its wrangler."""
    def lane_job(lane):
        def run(out, note_box):
            name, node, wrangler = framework_lane(lane, out)
            env = venv_env(TOOLS_LINE, CFPAGES_COLLECTIONS=str(collections_of(TOOLS_LINE)), CFPAGES_LANE=name,
                           CFPAGES_NODE=str(node), CFPAGES_WRANGLER=str(wrangler),
                           CFPAGES_EMULATOR_PYTHON=str(envs.venv_python(venv_name(TOOLS_LINE))))
            pytest(envs.venv_python(venv_name(TOOLS_LINE)), "tests/frameworks", out, env, "pytest-frameworks", "-v",
                   "-p", "no:randomly")
            note_box[0] = f"{name}; responses: tests/output/frameworks/"
        return (f"frameworks {lane}", run)

    # One lane after the other: a framework build takes both cores. The apps' work directories
    # (.cache/frameworks, shared by the checkouts: environments.SHARED_CACHES) serve one run at a time.
    (CACHE / "frameworks").mkdir(parents=True, exist_ok=True)
    with open(CACHE / "frameworks" / ".cfpages.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run_lanes(session, "frameworks", [lane_job(lane) for lane in envs.wrangler_lanes_chosen()], 1)


# tests/config.toml lists the stages tests/run.sh runs; each must be a session above.
_NOT_SESSIONS = [name for name in STAGES if name not in nox.registry.get()]
if _NOT_SESSIONS:
    raise SystemExit(f"tests/config.toml: stage(s) {', '.join(_NOT_SESSIONS)} are no session of noxfile.py")
