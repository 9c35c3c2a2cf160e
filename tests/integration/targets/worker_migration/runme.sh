#!/usr/bin/env bash
# The migration playbook of docs/migration.md (playbooks/migrate_to_worker.yml) for a static site and
# a _worker.js site: each is first deployed to Pages, then moved to a Worker by the playbook, which
# fails when the Worker answers a path otherwise than the Pages site.
set -eu
ANSIBLE_ROLES_PATH=.. ansible-playbook setup.yml -e "@../../integration_config.yml"
common=(-e "@../../integration_config.yml" -e "cloudflare_api_base_url={{ cfpages_api_base_url }}"
        -e "cloudflare_api_token={{ cfpages_api_token }}" -e "cloudflare_account_id={{ cfpages_account_id }}"
        -e "migrate_fetch_via={{ cfpages_emulator_url }}")
ansible-playbook cfpages.cloudflare.migrate_to_worker "${common[@]}" -e migrate_project=mig-static \
    -e "migrate_build=$PWD/files/static" \
    -e '{"migrate_paths": ["/", "/about", "/about.html", "/css/site.css", "/old", "/no-such-page"]}'
ansible-playbook cfpages.cloudflare.migrate_to_worker "${common[@]}" -e migrate_project=mig-fullstack \
    -e "migrate_build=$PWD/files/fullstack" -e '{"migrate_paths": ["/", "/api/hello", "/no-such-page"]}'
