#!/usr/bin/env bash
# Mutation testing of plugins/module_utils/ with cosmic-ray: which changes to the code (an operator
# flipped, a constant changed, a branch removed) no unit test notices. Slow, so not part of CI or of
# tests/run.sh. Runs in a copy of the collection under .cache/mutation/ (the work tree is never
# mutated), with its own venv .cache/venvs/mutation.
#
#   bash tests/mutation.sh [MODULE...]      e.g. bash tests/mutation.sh _poll _deployments
#
# Each module runs against the unit tests that cover it (TESTS below), for at most
# CFPAGES_MUTATION_BUDGET seconds (default 600); mutants not run by then are reported as pending.
# The last line per module is "MODULE: killed K of N run (score S%), P pending".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=$ROOT/.cache
VENV=$CACHE/venvs/mutation
WORK=$CACHE/mutation
TREE=$WORK/ansible_collections/cfpages/cloudflare
BUDGET=${CFPAGES_MUTATION_BUDGET:-600}
# ansible-core 2.21 needs Python 3.12 or later.
PYTHON=${CFPAGES_MUTATION_PYTHON:-$(command -v python3.13 || command -v python3.12 || echo python3)}

# The unit tests that exercise each module (paths under tests/unit/plugins/).
declare -A TESTS=(
    [_api]="module_utils/test_api.py"
    [_assets]="module_utils/test_assets.py module_utils/test_upload.py module_utils/test_deploy_safety.py"
    [_base]="module_utils/test_base.py modules/test_pages_domain.py modules/test_pages_project.py"
    [_compare]="module_utils/test_compare.py"
    [_content_types]="module_utils/test_upload.py"
    [_deployments]="module_utils/test_deployments.py"
    [_errors]="module_utils/test_api.py module_utils/test_upload.py"
    [_poll]="module_utils/test_deployments.py modules/test_pages_domain.py"
    [_results]="module_utils/test_results.py modules/test_pages_info.py"
    [_site]="module_utils/test_site.py module_utils/test_upload.py module_utils/test_deploy_safety.py module_utils/test_hash_cache.py"
    [_time]="module_utils/test_deployments.py modules/test_pages_info.py"
    [_upload]="module_utils/test_upload.py module_utils/test_deploy_safety.py"
)

if [[ ! -x $VENV/bin/cosmic-ray ]]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "cosmic-ray==8.*" "ansible-core==2.21.*" pytest pytest-mock "requests>=2.25.0" "blake3>=0.3.0"
fi

rm -rf "$WORK"
mkdir -p "$TREE"
cp -a "$ROOT/plugins" "$ROOT/meta" "$ROOT/galaxy.yml" "$TREE/"
mkdir -p "$TREE/tests"
cp -a "$ROOT/tests/unit" "$TREE/tests/"

modules=("$@")
if [[ ${#modules[@]} -eq 0 ]]; then
    mapfile -t modules < <(printf '%s\n' "${!TESTS[@]}" | sort)
fi

for module in "${modules[@]}"; do
    tests=${TESTS[$module]:-}
    if [[ -z $tests ]]; then
        echo "unknown module $module (known: ${!TESTS[*]})" >&2
        exit 2
    fi
    paths=""
    for t in $tests; do paths+=" tests/unit/plugins/$t"; done
    config=$WORK/$module.toml
    session=$WORK/$module.sqlite
    cat >"$config" <<TOML
[cosmic-ray]
module-path = "plugins/module_utils/$module.py"
timeout = 60.0
excluded-modules = []
test-command = "$VENV/bin/python -m pytest -x -q -p no:cacheprovider$paths"

[cosmic-ray.distributor]
name = "local"
TOML
    echo "== $module: tests$paths"
    (
        cd "$TREE"
        export PYTHONPATH=$WORK
        "$VENV/bin/cosmic-ray" init "$config" "$session"
        # Stop at the budget; what ran is in the session.
        timeout "$BUDGET" "$VENV/bin/cosmic-ray" exec "$config" "$session" || true
    )
    "$VENV/bin/python" - "$session" "$module" <<'PY' | tee -a "$WORK/summary.txt"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute(
    "SELECT r.test_outcome FROM work_items w LEFT JOIN work_results r ON r.job_id = w.job_id"
).fetchall()
total = len(rows)
done = [o for (o,) in rows if o is not None]
killed = sum(1 for o in done if str(o).upper() != "SURVIVED")
score = 100.0 * killed / len(done) if done else 0.0
print("%s: killed %d of %d run (score %.1f%%), %d pending" % (sys.argv[2], killed, len(done), score, total - len(done)))
PY
done

echo "== summary (also in $WORK/summary.txt)"
cat "$WORK/summary.txt"
