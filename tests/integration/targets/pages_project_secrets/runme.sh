#!/usr/bin/env bash
# The diff and the -vvv output of pages_project and pages_deployment (and the rebuild role) never
# show a secret: play secrets.yml with
# -vvv --diff, then grep the whole output for the secret values, the analytics token and the API
# token (all absent), and for the masks and the diff (present, so the check cannot pass vacuously).
# No `set -x`: the secrets are in this script's variables.
set -eu

config=../../integration_config.yml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rand() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
secret_one="cfp-secret-one-$(rand)"
secret_two="cfp-secret-two-$(rand)"
analytics_token="cfp-analytics-$(rand)"
api_token=$(sed -n 's/^cfpages_api_token: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$config")
[ -n "$api_token" ] || { echo "cfpages_api_token not found in $config"; exit 1; }

cat >"$work/secrets.yml" <<VARS
secret_one: "$secret_one"
secret_two: "$secret_two"
analytics_token: "$analytics_token"
VARS

# Ask for the module arguments in every result (ansible-core 2.21 leaves them out by default; older
# versions always add them), so the check covers them too.
rc=0
ANSIBLE_INJECT_INVOCATION=1 ANSIBLE_NOCOLOR=1 ansible-playbook secrets.yml -vvv --diff -e "@$config" -e "@$work/secrets.yml" \
    >"$work/output.log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
    tail -n 80 "$work/output.log"
    echo "FAIL: the playbook failed (exit $rc)"
    exit 1
fi

failed=0
for name in secret_one secret_two analytics_token api_token; do
    if grep -qF -- "${!name}" "$work/output.log"; then
        echo "FAIL: the output shows $name (lines: $(grep -nF -- "${!name}" "$work/output.log" | cut -d: -f1 | tr '\n' ' '))"
        failed=1
    fi
done
expect() {
    if ! grep -qF -- "$1" "$work/output.log"; then
        echo "FAIL: the output lacks: $1"
        failed=1
    fi
}
expect '--- before'                                            # diffs were printed
expect '+++ after'
expect 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER (new value)'       # a secret being sent, masked
expect '"value": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"'        # an existing secret, masked
expect 'plain-value-is-visible'                                # plain values are not masked
expect '"invocation"'                                          # -vvv printed module arguments
expect 'value of usage_model must be one of'                   # the validation failure ran
expect 'API_SECRET.type must be one of plain_text, secret_text'  # the module's own check ran
expect 'api_token has whitespace'                              # the malformed token was refused
expect '"web_analytics_token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"'  # deployments were shown, masked
expect 'TASK [cfpages.cloudflare.rebuild : Show the builds]'       # the rebuild role ran
expect 'ignored=3'                                             # only the three failing tasks failed
# ansible-core 2.22 deprecates APIs older modules used (its porting guide); none may be ours.
if grep -n 'DEPRECATION WARNING' "$work/output.log"; then
    echo "FAIL: the run printed deprecation warnings (above)"
    failed=1
fi
if [ "$failed" != 0 ]; then
    echo "--- output (secrets replaced) ---"
    sed -e "s/$secret_one/<secret_one>/g" -e "s/$secret_two/<secret_two>/g" \
        -e "s/$analytics_token/<analytics_token>/g" -e "s/$api_token/<api_token>/g" "$work/output.log" | tail -n 200
    exit 1
fi
echo "OK: $(wc -l <"$work/output.log") lines of -vvv --diff output, no secret and no API token in them"
