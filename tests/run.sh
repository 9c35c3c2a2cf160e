#!/usr/bin/env bash
# The one test command of cfpages.cloudflare (README, "Running the tests"; .ci/run calls it).
# The stages are the sessions of noxfile.py (listed in tests/config.toml); this script installs nox
# (in .cache/venvs/nox), runs the "prepare" session (what the stages asked for need) and then the
# stages asked for (all when none is given), prints the summary table and a closing "N passed, M failed, K skipped" line, and exits non-zero when a stage failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The stages, their order and their descriptions: tests/config.toml (python3: 3.11 or later, for tomllib).
mapfile -t STAGES < <(python3 "$REPO/tests/helpers/config.py" stages)
((${#STAGES[@]})) || { echo "tests/run.sh: no stages read from tests/config.toml" >&2; exit 2; }

usage() {
    cat <<'TEXT'
usage: bash tests/run.sh [STAGE ...]     (all stages in order when none is given)

Stages (noxfile.py sessions, tests/config.toml; what a stage needs is prepared first, cached under
.cache/, where venvs, toolchain, frameworks and ansible-test-home link to ~/.cache/cfpages/):
TEXT
    python3 "$REPO/tests/helpers/config.py" help
    cat <<'TEXT'

Environment:
  CFPAGES_CORES="2.21 2.16"  ansible-core lines for sanity, units and integration (default: the matrix)
  CFPAGES_TARGETS="t1 t2"    integration targets to run (default: all; the 2.22 line: the subset)
  CFPAGES_SERIAL=1           matrix lines one after the other, output live (default: two side by side)
  CFPAGES_SANITY_TESTS="pep8 validate-modules"   only these sanity tests
  CFPAGES_PYTEST_ARGS="-k name"                  extra pytest arguments for the emulator, eda and frameworks stages
  CFPAGES_FRAMEWORKS_APPS="astro functions"      only these apps in the frameworks stage (CFPAGES_WRANGLER_LANES: its lanes)
  CFPAGES_OPENAPI=PATH       Cloudflare's published OpenAPI schema for the emulator's conformance test
  CFPAGES_CACHE_HOME=DIR     the caches shared between checkouts (default: ~/.cache/cfpages)

The unit tests alone, without building anything but the tools line's venv: bash tests/units.sh
TEXT
}

declare -a WANT=()
for arg in "$@"; do
    case $arg in
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; echo "tests/run.sh: unknown option: $arg" >&2; exit 2 ;;
        *) [[ " ${STAGES[*]} " == *" $arg "* ]] || { echo "tests/run.sh: unknown stage '$arg' (stages: ${STAGES[*]})" >&2; exit 2; }
           WANT+=("$arg") ;;
    esac
done
((${#WANT[@]})) || WANT=("${STAGES[@]}")
[[ -t 1 ]] || export NO_COLOR=${NO_COLOR:-1}

# Several people share a work tree: one run at a time (installed trees and ansible-test's caches are shared).
mkdir -p "$REPO/.cache"
exec 9>"$REPO/.cache/run.lock"
flock -n 9 || { echo "another tests/run.sh is running in this tree; waiting for it to finish"; flock 9; }
START=$SECONDS
python3 "$REPO/tests/helpers/environments.py" link-caches

# Built where it really is (.cache/venvs links to the shared cache): its scripts name that path.
NOXVENV=$(realpath "$REPO/.cache/venvs")/nox
NOX=$NOXVENV/bin/nox
if ! "$NOX" --version >/dev/null 2>&1; then
    echo "installing nox into .cache/venvs/nox"
    exec 8>"$NOXVENV.lock"; flock 8   # one install at a time in the shared cache
    if ! "$NOX" --version >/dev/null 2>&1; then
        rm -rf "$NOXVENV"
        python3 -m venv "$NOXVENV"
        PIP_CERT=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt} "$NOXVENV/bin/python" -m pip install \
            -q --disable-pip-version-check nox 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
    fi
    exec 8>&-
fi

CFPAGES_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cfpages-run.XXXXXX")
trap 'rm -rf "$CFPAGES_RUN_DIR"' EXIT
export CFPAGES_RUN_DIR CFPAGES_STAGES="${WANT[*]}"
cd "$REPO"
rc=0
if "$NOX" -f noxfile.py -s prepare; then
    "$NOX" -f noxfile.py -s "${WANT[@]}" || rc=$?
else
    rc=1; echo "environment preparation failed; no stage was run"
fi
"$NOXVENV/bin/python" tests/helpers/summary.py "$CFPAGES_RUN_DIR" $((SECONDS - START)) || rc=1
exit "$rc"
