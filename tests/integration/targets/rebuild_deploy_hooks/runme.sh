#!/usr/bin/env bash
# The rebuild role's deploy hooks: play hooks.yml with -vvv, then grep the whole output for the hook
# ids (the secret part of a hook URL; absent) and for the role's own lines (present, so the check
# cannot pass vacuously).
set -eu
config=../../integration_config.yml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
ANSIBLE_INJECT_INVOCATION=1 ANSIBLE_NOCOLOR=1 ansible-playbook hooks.yml -vvv -e "@$config" \
    -e "hook_ids_file=$work/ids" >"$work/output.log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
    tail -n 80 "$work/output.log"
    echo "FAIL: the playbook failed (exit $rc)"
    exit 1
fi
failed=0
[ "$(grep -c . "$work/ids")" = 2 ] || { echo "FAIL: no hook ids written"; failed=1; }
while read -r id; do
    if grep -qF -- "$id" "$work/output.log"; then
        echo "FAIL: the output shows a hook id (lines: $(grep -nF -- "$id" "$work/output.log" | cut -d: -f1 | tr '\n' ' '))"
        failed=1
    fi
done <"$work/ids"
expect() {
    grep -qF -- "$1" "$work/output.log" || { echo "FAIL: the output lacks: $1"; failed=1; }
}
expect 'check mode: not posted'
expect 'hook 1 (hooked): HTTP 200, deployment'
expect 'deploy:success'
expect 'hook 2: HTTP 200'
expect 'rebuild_deploy_hooks entries 1 (counted from 1) need a url'
expect 'Hooks refused: 1'
expect "ignored=3"  # the two failing include_role runs (apply: ignore_errors)
if [ "$failed" != 0 ]; then
    while read -r id; do sed -i "s/$id/<hook id>/g" "$work/output.log"; done <"$work/ids"
    grep -n -B2 -A6 "\.\.\.ignoring" "$work/output.log" | sed -n 1,60p; tail -n 5 "$work/output.log"
    exit 1
fi
echo "OK: $(wc -l <"$work/output.log") lines of -vvv output, no hook URL in them"
