#!/usr/bin/env bash
# Runs the EXAMPLES of every module of the collection against the emulator; see run_examples.py for
# how credentials are substituted and how a module adds fixtures (vars/, setup/, files/<module>).
# Run directly (outside ansible-test, which does not pass the environment through), a subset can be
# chosen: CFPAGES_EXAMPLE_MODULES="pages_project pages_info" ./runme.sh, or ./runme.sh pages_project.
set -eu
cd "$(dirname "$0")"
exec "${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" run_examples.py --config ../../integration_config.yml "$@"
