#!/usr/bin/env bash
# The README demo, one command on a fresh machine:
#
#   bash tests/demo.sh [--keep]
#
# 1. prepares a Python environment (re-uses tests/run.sh's .cache/venvs/core221 when it is there,
#    else builds .cache/venvs/demo: ansible-core, the collection's requirements, the emulator's),
# 2. builds the collection and installs it the way a user does (ansible-galaxy collection install),
# 3. starts the Cloudflare Pages API emulator (tests/emulator) on a free local port,
# 4. creates a Pages project with the pages_project module,
# 5. deploys the example site (playbooks/site) with `ansible-playbook cfpages.cloudflare.deploy`,
# 6. prints the deployment URL and fetches the site from the emulator (index, about, 404),
# 7. runs the playbook again: nothing to upload, nothing changed.
#
# With --keep the emulator keeps running and the script prints how to use and stop it.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=$REPO/.cache/demo
KEEP=false
for arg in "$@"; do
    case $arg in
        --keep) KEEP=true ;;
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: bash tests/demo.sh [--keep]" >&2; exit 2 ;;
    esac
done

step() { printf '\n\033[1;33m==> %s\033[0m\n' "$*"; }

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
VENV=$REPO/.cache/venvs/core221
if [[ -x $VENV/bin/ansible-playbook ]] && "$VENV/bin/python" -c 'import aiohttp, requests, blake3' 2>/dev/null; then
    echo "re-using tests/run.sh's environment $VENV"
else
    VENV=$REPO/.cache/venvs/demo
    stamp=$(cat "$REPO/requirements.txt" "$REPO/tests/emulator/requirements.txt" | sha256sum | cut -d' ' -f1)
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
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check 'ansible-core>=2.16' \
            -r "$REPO/requirements.txt" 'aiohttp>=3.9,<4' 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
        echo "$stamp" >"$VENV/.demo-stamp"
    fi
fi
export PATH=$VENV/bin:$PATH
unset PYTHONPATH PYTHONHOME
ansible --version | head -1

# ------------------------------------------------------------------ 2. the collection
step "Build and install the collection (ansible-galaxy)"
rm -rf "$DEMO"
mkdir -p "$DEMO/build" "$DEMO/collections"
ansible-galaxy collection build "$REPO" --output-path "$DEMO/build" >/dev/null
ansible-galaxy collection install -p "$DEMO/collections" "$DEMO"/build/cfpages-cloudflare-*.tar.gz 2>&1 | tail -1
export ANSIBLE_COLLECTIONS_PATH=$DEMO/collections
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-}

# ------------------------------------------------------------------ 3. the emulator
step "Start the Cloudflare Pages API emulator"
python "$REPO/tests/helpers/emulator.py" start --state "$DEMO/emulator.json" --data-dir "$DEMO/emulator-data" \
    -- --domain-seconds 1 >/dev/null
stop_emulator() { python "$REPO/tests/helpers/emulator.py" stop --state "$DEMO/emulator.json" >/dev/null 2>&1 || true; }
$KEEP || trap stop_emulator EXIT
eval "$(python "$REPO/tests/helpers/emulator.py" env --state "$DEMO/emulator.json")"
echo "API: $CLOUDFLARE_API_BASE_URL   account: $CLOUDFLARE_ACCOUNT_ID"
echo "(the modules read CLOUDFLARE_API_BASE_URL, CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID)"

# ------------------------------------------------------------------ 4. a project
step "Create the project demo-site:  ansible localhost -m cfpages.cloudflare.pages_project"
ansible localhost -m cfpages.cloudflare.pages_project -a "name=demo-site production_branch=main" \
    | grep -E '=> \{|"name"|"subdomain"|"production_branch"'

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
    ok &= status == want
sys.exit(0 if ok else 1)
PY

# ------------------------------------------------------------------ 7. idempotence
step "Run the playbook again: nothing to upload, nothing changed"
ansible-playbook cfpages.cloudflare.deploy -e deploy_site_project=demo-site | grep -E 'Deployment:|changed='

step "Done"
if $KEEP; then
    echo "The emulator keeps running. In this shell:"
    echo "  export ANSIBLE_COLLECTIONS_PATH=$DEMO/collections PATH=$VENV/bin:\$PATH"
    python "$REPO/tests/helpers/emulator.py" env --state "$DEMO/emulator.json" | sed 's/^/  /'
    echo "Stop it with: $VENV/bin/python $REPO/tests/helpers/emulator.py stop --state $DEMO/emulator.json"
else
    echo "The emulator is stopped. bash tests/demo.sh --keep leaves it running to try the other playbooks."
fi
