#!/usr/bin/env bash
# The fast unit-test loop (docs/developing.md, "The fast loop"): pytest tests/unit on this checkout
# as it is, no build and no install. The unit tests import the collection as
# ansible_collections.cfpages.cloudflare, so a scratch directory gets that path as a link to the
# checkout. The interpreter is the tools line's venv (.cache/venvs/core221, built when missing or
# stale); CFPAGES_UNIT_PYTHON picks another one with pytest and the unit requirements.
#
#   bash tests/units.sh                       every unit test
#   bash tests/units.sh -k pagination -x      arguments go to pytest
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${CFPAGES_UNIT_PYTHON:-$(python3 "$REPO/tests/helpers/environments.py" tools-python)}
TREE=$(mktemp -d "${TMPDIR:-/tmp}/cfpages-units.XXXXXX")
trap 'rm -rf "$TREE"' EXIT
mkdir -p "$TREE/ansible_collections/cfpages"
ln -s "$REPO" "$TREE/ansible_collections/cfpages/cloudflare"
cd "$TREE/ansible_collections/cfpages/cloudflare"
PYTHONPATH=$TREE "$PYTHON" -m pytest tests/unit -q -p no:cacheprovider "$@"
