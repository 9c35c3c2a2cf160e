#!/usr/bin/env bash
# The README demo, one command on a fresh machine:
#
#   bash tests/demo.sh [--keep]
#
# 1. prepares the demo's own Python environment, .cache/demo-venv (ansible-core, the collection's
#    requirements, the emulator's aiohttp),
# 2. builds the collection from this checkout and installs it the way a user does (ansible-galaxy),
#    into .cache/demo/collections, the only collection path the demo's commands use,
# 3. starts the Cloudflare Pages API emulator (tests/emulator) on a free local port,
# 4. creates a Pages project with the pages_project module,
# 5. deploys the example site (playbooks/site) with `ansible-playbook cfpages.cloudflare.deploy`,
# 6. prints the deployment URL and fetches the site from the emulator (index, about, 404),
# 7. runs the playbook again: nothing to upload, nothing changed.
#
# The emulator is stopped when the demo ends, also when a step fails. With --keep (and success) it
# keeps running and the script prints how to use and stop it; the next run stops it first.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=$REPO/.cache/demo                   # wiped by each run
STATE=$REPO/.cache/demo-emulator.json    # outside $DEMO: the stop command --keep prints keeps working
KEEP=false
for arg in "$@"; do
    case $arg in
        --keep) KEEP=true ;;
        -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: bash tests/demo.sh [--keep]" >&2; exit 2 ;;
    esac
done

CURRENT="start"
step() { CURRENT=$*; printf '\n\033[1;33m==> %s\033[0m\n' "$*"; }

# One demo at a time per checkout (they share .cache/demo and the state file).
mkdir -p "$REPO/.cache"
if command -v flock >/dev/null; then
    exec 8>"$REPO/.cache/demo.lock"
    flock -n 8 || { echo "another tests/demo.sh is running in this checkout; waiting for it"; flock 8; }
fi

stop_emulator() {
    [[ -f $STATE ]] || return 0
    "${PY:-python3}" "$REPO/tests/helpers/emulator.py" stop --state "$STATE" || true
}
on_exit() {
    local rc=$?
    trap '' PIPE INT TERM   # finish the clean-up even when the output went to a pipe that closed (| head)
    # Never leave an emulator behind, except the one --keep asked for after a successful run.
    if ((rc != 0)) || ! $KEEP; then stop_emulator >/dev/null 2>&1; fi
    if ((rc != 0)); then
        printf '\n\033[1;31mThe demo failed (exit %d) at: %s\033[0m\n' "$rc" "$CURRENT" >&2 || true
    fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run PATTERN COMMAND...: on success print the lines of its output that match PATTERN, on failure
# all of its output (the real error, not just the lines the filter would have kept).
run() {
    local pattern=$1 out=$DEMO/output.log rc=0
    shift
    "$@" >"$out" 2>&1 || rc=$?
    if ((rc != 0)); then
        cat "$out"
        return "$rc"
    fi
    grep -E -- "$pattern" "$out" || true
}

# ------------------------------------------------------------------ 1. Python environment
find_python() {
    local c
    for c in /root/.pyenv/versions/3.13.*/bin/python3.13 "$(command -v python3.13 || true)" \
             "$(command -v python3.12 || true)" "$(command -v python3.11 || true)" "$(command -v python3 || true)"; do
        [[ -n $c && -x $c ]] || continue
        "$c" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo "$c"; return 0; }
    done
    return 1
}

step "Python environment"
# Its own small environment rather than tests/run.sh's venvs (those carry every test tool).
# cryptography, a dependency of ansible-core, stays below 51: cryptography 51 deprecates DSA, and
# ansible-core 2.19 and later import DSA classes for their ssh-agent support on every start, so each
# command would print a two-line CryptographyDeprecationWarning.
VENV=$REPO/.cache/demo-venv
SPECS=('ansible-core>=2.16' 'cryptography<51' 'aiohttp>=3.9,<4')
stamp=$({ printf '%s\n' "${SPECS[@]}"; cat "$REPO/requirements.txt"; } | sha256sum | cut -d' ' -f1)
if [[ -x $VENV/bin/ansible-playbook && $(cat "$VENV/.demo-stamp" 2>/dev/null) == "$stamp" ]]; then
    echo "re-using $VENV"
else
    py=$(find_python) || { echo "Python >= 3.11 with venv is needed (apt-get install python3-venv)" >&2; exit 1; }
    echo "creating $VENV with $py"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
    if [[ -z ${PIP_CERT:-} && -f /etc/ssl/certs/ca-certificates.crt ]]; then
        export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${SPECS[@]}" -r "$REPO/requirements.txt" \
        2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
    echo "$stamp" >"$VENV/.demo-stamp"
fi
export PATH=$VENV/bin:$PATH
PY=$VENV/bin/python
unset PYTHONPATH PYTHONHOME
version=$(ansible --version)
echo "${version%%$'\n'*}"

# A previous --keep run's emulator: stop it before its data directory is wiped.
if [[ -f $STATE ]]; then
    echo "stopping the emulator a previous run left running:"
    stop_emulator
fi

# ------------------------------------------------------------------ 2. the collection
step "Build and install the collection from this checkout (ansible-galaxy)"
rm -rf "$DEMO"
mkdir -p "$DEMO/build" "$DEMO/collections"
# Only the demo's settings: no ansible.cfg of the user or of the current directory, no ANSIBLE_*
# variable of the shell (colour aside), and its own collection path and nothing else, so what is
# installed in ~/.ansible/collections or in the venv's site-packages cannot be used instead.
for var in $(compgen -e); do
    [[ $var == ANSIBLE_* && $var != ANSIBLE_NOCOLOR && $var != ANSIBLE_FORCE_COLOR ]] && unset "$var"
done
cat >"$DEMO/ansible.cfg" <<CFG
[defaults]
collections_path = $DEMO/collections
collections_scan_sys_path = false
localhost_warning = false

[inventory]
inventory_unparsed_warning = false
CFG
export ANSIBLE_CONFIG=$DEMO/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$DEMO/collections
cd "$DEMO"
run '^Created collection' ansible-galaxy collection build "$REPO" --output-path "$DEMO/build"
run 'was installed successfully' \
    ansible-galaxy collection install --force -p "$DEMO/collections" "$DEMO"/build/cfpages-cloudflare-*.tar.gz
# Which collection do the commands resolve? It must be the one just installed.
ansible-doc --json cfpages.cloudflare.pages_project >"$DEMO/resolved.json" 2>"$DEMO/resolved.err" || true
python - "$DEMO/resolved.json" "$DEMO/resolved.err" "$DEMO/collections/" <<'PY'
import json
import sys

path, err, want = sys.argv[1:]
try:
    with open(path) as f:
        found = json.load(f)["cfpages.cloudflare.pages_project"]["doc"]["filename"]
except (ValueError, KeyError, TypeError):
    with open(err) as f:
        sys.exit("cfpages.cloudflare.pages_project cannot be resolved:\n" + f.read())
if not found.startswith(want):
    sys.exit(f"cfpages.cloudflare.pages_project resolves to {found}, not to the collection in {want}")
print(f"cfpages.cloudflare resolves to {found[:found.index('/plugins/')]}")
PY

# ------------------------------------------------------------------ 3. the emulator
step "Start the Cloudflare Pages API emulator"
python "$REPO/tests/helpers/emulator.py" start --state "$STATE" --data-dir "$DEMO/emulator-data" \
    -- --domain-seconds 1 >/dev/null
eval "$(python "$REPO/tests/helpers/emulator.py" env --state "$STATE")"
echo "API: $CLOUDFLARE_API_BASE_URL   account: $CLOUDFLARE_ACCOUNT_ID"
echo "(the modules read CLOUDFLARE_API_BASE_URL, CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID)"

# ------------------------------------------------------------------ 4. a project
step "Create the project demo-site:  ansible localhost -m cfpages.cloudflare.pages_project"
run '=> \{|"name"|"subdomain"|"production_branch"' \
    ansible localhost -m cfpages.cloudflare.pages_project -a "name=demo-site production_branch=main"

# ------------------------------------------------------------------ 5. deploy with the playbook
step "Deploy the example site:  ansible-playbook cfpages.cloudflare.deploy -e deploy_site_project=demo-site"
ansible-playbook cfpages.cloudflare.deploy -e deploy_site_project=demo-site

# ------------------------------------------------------------------ 6. URL and the served site
step "The deployment and the site it serves"
python - "$CLOUDFLARE_API_BASE_URL" "$CLOUDFLARE_API_TOKEN" "$CLOUDFLARE_ACCOUNT_ID" "$CFPAGES_EMULATOR_URL" <<'PY'
import json
import re
import sys
import urllib.error
import urllib.request

base, token, account, root = sys.argv[1:]
req = urllib.request.Request(f"{base}/accounts/{account}/pages/projects/demo-site",
                             headers={"Authorization": f"Bearer {token}"})
project = json.load(urllib.request.urlopen(req))["result"]
dep = project["canonical_deployment"]
print(f"Deployment URL:  {dep['url']}   (live on https://{project['subdomain']})")
print(f"(the emulator serves it at {root}/ with the Host header of that URL)\n")

def get(host, path):
    r = urllib.request.Request(root + path, headers={"Host": host})
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()

host = dep["url"].split("//", 1)[1]
ok = True
for h, path, want in ((host, "/", 200), (project["subdomain"], "/about", 200),
                      (project["subdomain"], "/css/style.css", 200), (project["subdomain"], "/nope", 404)):
    status, ctype, body = get(h, path)
    title = re.search(r"<title>(.*?)</title>", body)
    what = f'title "{title.group(1)}"' if title else f"{len(body)} bytes"
    url = f"https://{h}{path}"
    print(f"GET {url:<52} -> {status} {(ctype or '').split(';')[0]:<10} {what}")
    if status != want:
        print(f"    expected {want}")
        ok = False
sys.exit(0 if ok else 1)
PY

# ------------------------------------------------------------------ 7. idempotence
step "Run the playbook again: nothing to upload, nothing changed"
run 'Deployment:|changed=' ansible-playbook cfpages.cloudflare.deploy -e deploy_site_project=demo-site
grep -Eq '^localhost +: .*changed=0 ' "$DEMO/output.log" || { echo "the second run changed something" >&2; exit 1; }

step "Done"
if $KEEP; then
    echo "The emulator keeps running. In this shell:"
    echo "  export ANSIBLE_CONFIG=$DEMO/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$DEMO/collections PATH=$VENV/bin:\$PATH"
    python "$REPO/tests/helpers/emulator.py" env --state "$STATE" | sed 's/^/  /'
    echo "Stop it with: python3 $REPO/tests/helpers/emulator.py stop --state $STATE"
    echo "(the next bash tests/demo.sh stops it too)"
else
    echo "The emulator is stopped. bash tests/demo.sh --keep leaves it running to try the other playbooks."
fi
