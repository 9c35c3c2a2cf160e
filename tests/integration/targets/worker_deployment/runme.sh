#!/usr/bin/env bash
# worker_deployment against the emulator: lifecycle.yml (deploy, rerun, one file changed, code
# changed, check mode, rollback, absent, each counting the API requests it made), wrangler.yml (the
# same site deployed by wrangler deploy and by the module: no upload again, the same answers), then secrets.yml
# with -vvv --diff: the output must not show the secret's value or the API token, and must show
# the masked secret and the diff (so the grep cannot pass vacuously). No `set -x`: the secrets are
# in this script's variables.
set -eu

config=../../integration_config.yml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

secret="cfp-worker-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
api_token=$(sed -n 's/^cfpages_api_token: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$config")
[ -n "$api_token" ] || { echo "cfpages_api_token not found in $config"; exit 1; }
printf 'worker_secret: "%s"\n' "$secret" >"$work/vars.yml"

ANSIBLE_ROLES_PATH=.. ansible-playbook lifecycle.yml -e "@$config" -e "@$work/vars.yml"
ansible-playbook wrangler.yml -e "@$config"

rc=0
ANSIBLE_INJECT_INVOCATION=1 ANSIBLE_NOCOLOR=1 ANSIBLE_ROLES_PATH=.. ansible-playbook secrets.yml -vvv --diff \
    -e "@$config" -e "@$work/vars.yml" >"$work/output.log" 2>&1 || rc=$?
failed=0
[ "$rc" = 0 ] || { echo "FAIL: the secrets playbook failed (exit $rc)"; failed=1; }
for name in secret api_token; do
    if grep -qF -- "${!name}" "$work/output.log"; then
        echo "FAIL: the output shows $name (lines: $(grep -nF -- "${!name}" "$work/output.log" | cut -d: -f1 | tr '\n' ' '))"
        failed=1
    fi
done
for expected in '--- before' '+++ after' '"API_KEY": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' '"invocation"' \
        'plain-value-is-visible' 'the secret reached the Worker'; do
    grep -qF -- "$expected" "$work/output.log" || { echo "FAIL: the output lacks: $expected"; failed=1; }
done
if [ "$failed" != 0 ]; then
    sed -e "s/$secret/<secret>/g" -e "s/$api_token/<api_token>/g" "$work/output.log" | tail -n 150
    exit 1
fi
echo "OK: $(wc -l <"$work/output.log") lines of -vvv --diff output, no secret and no API token in them"
