# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""pages_deployment's ``reason``, ``configuration_changes`` and the configuration in its diff
(the engine's decision itself is tested in module_utils/test_deploy_config.py)."""

from __future__ import annotations

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import pages_deploy as _upload
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import SECRET_MASK
from ansible_collections.cfpages.cloudflare.plugins.modules import pages_deployment
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fake_pages_api import deployment

ARGS = {"api_token": "unit-test-token-0123456789abcdef0123456789", "account_id": "023e105f4ecef8ad9ca31a8372d0c353",
        "project_name": "site"}
BEFORE = {"env_vars": {"GREETING": {"type": "plain_text", "value": "hello"},
                       "TOKEN": {"type": "secret_text", "value": ""}},
          "compatibility_date": "2025-01-15", "compatibility_flags": []}
AFTER = dict(BEFORE, env_vars=dict(BEFORE["env_vars"], GREETING={"type": "plain_text", "value": "bonjour"}))


@pytest.fixture
def outcome(monkeypatch, pages_api, tmp_path):
    """Project ``site`` with a live deployment; DirectUpload.run answers ``outcome`` (a dict to fill)."""
    pages_api.seed_project("site")
    live = pages_api.seed_deployment("site", "live-0001", live=True)
    answer = {"deployment": live, "serving": live, "worker": {"mode": "file"},
              "upload": {"files": 1, "bytes": 1, "uploaded": 0, "uploaded_bytes": 0, "skipped": 1, "buckets": 0}}

    def run(self, project_info=None, check_mode=False, create_project=None):
        return answer

    monkeypatch.setattr(_upload.DirectUpload, "run", run)
    answer["source"] = str(tmp_path)
    return answer


def test_a_configuration_change_is_the_reason_and_shows_in_the_diff_without_secrets(run_module, outcome):
    outcome.update(changed=True, deployment=None, reason="configuration changed",
                   configuration_changes=["env_vars.GREETING"], configuration={"before": BEFORE, "after": AFTER})
    options = dict(ARGS, source=outcome["source"], _ansible_check_mode=True, _ansible_diff=True)
    status, result = run_module(pages_deployment.main, options)
    assert status == "exit" and result["changed"]
    assert result["reason"] == "configuration changed"
    assert result["configuration_changes"] == ["env_vars.GREETING"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["deployment_id"] == "live-0001" and after["deployment_id"] == "(new)"
    assert before["configuration"]["env_vars"]["GREETING"]["value"] == "hello"
    assert after["configuration"]["env_vars"]["GREETING"]["value"] == "bonjour"
    # a secret shows as a secret that is there, never as a value (nor as a new value: it was not read)
    assert before["configuration"]["env_vars"]["TOKEN"]["value"] == after["configuration"]["env_vars"]["TOKEN"]["value"] == SECRET_MASK


def test_unchanged_says_so_with_the_same_configuration_on_both_sides(run_module, outcome):
    outcome.update(changed=False, reason="unchanged", configuration_changes=[],
                   configuration={"before": BEFORE, "after": BEFORE})
    status, result = run_module(pages_deployment.main, dict(ARGS, source=outcome["source"], _ansible_diff=True))
    assert status == "exit" and not result["changed"]
    assert result["reason"] == "unchanged" and result["configuration_changes"] == []
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["diff"]["before"]["configuration"]["compatibility_date"] == "2025-01-15"


def test_a_static_site_has_no_configuration_in_its_diff(run_module, outcome):
    outcome.update(changed=True, deployment=deployment("new-0002"), reason="files changed",
                   configuration_changes=[], configuration=None)
    options = dict(ARGS, source=outcome["source"], wait=False, _ansible_diff=True)
    status, result = run_module(pages_deployment.main, options)
    assert status == "exit" and result["reason"] == "files changed"
    assert "configuration" not in result["diff"]["before"] and "configuration" not in result["diff"]["after"]
