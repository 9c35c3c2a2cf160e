#!/usr/bin/env bash
# The migration report against an estate of one project of each kind (estate.yml builds it and
# asserts the verdicts, codes and Wrangler configuration), then report.yml with -vvv --diff: its output
# must not show the secret env var's value, the deploy hook's URL or the API token, and must show the
# report itself (so the grep cannot pass vacuously). No `set -x`: the secrets are in this script's variables.
set -eu

config=../../integration_config.yml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

secret="cfp-migration-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
api_token=$(sed -n 's/^cfpages_api_token: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$config")
[ -n "$api_token" ] || { echo "cfpages_api_token not found in $config"; exit 1; }
printf 'migration_secret: "%s"\n' "$secret" >"$work/vars.yml"

# The estate and the assertions (its own set-up calls the API with the token, so not with -vvv).
ANSIBLE_ROLES_PATH=.. ansible-playbook estate.yml -e "@$config" -e "@$work/vars.yml"

rc=0
ANSIBLE_INJECT_INVOCATION=1 ANSIBLE_NOCOLOR=1 ansible-playbook report.yml -vvv --diff -e "@$config" \
    >"$work/output.log" 2>&1 || rc=$?
failed=0
[ "$rc" = 0 ] || { echo "FAIL: the report playbook failed (exit $rc)"; failed=1; }
for name in secret api_token; do
    if grep -qF -- "${!name}" "$work/output.log"; then
        echo "FAIL: the output shows $name"
        failed=1
    fi
done
if grep -q '/pages/webhooks/deploy_hooks/[0-9a-f-]\{8\}' "$work/output.log"; then
    echo "FAIL: the output shows a deploy hook URL"
    failed=1
fi
for expected in '"verdict": "blocked"' '"code": "custom_domain_outside_account"' 'wrangler secret put API_KEY'; do
    grep -qF -- "$expected" "$work/output.log" || { echo "FAIL: the output lacks: $expected"; failed=1; }
done
if [ "$failed" != 0 ]; then
    sed -e "s/$secret/<secret>/g" -e "s/$api_token/<api_token>/g" "$work/output.log" | tail -n 150
    exit 1
fi
echo "OK: $(wc -l <"$work/output.log") lines of -vvv --diff output, no secret, hook URL or API token in them"
