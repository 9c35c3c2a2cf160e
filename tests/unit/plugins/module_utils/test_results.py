# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of _results: one shape per API object type, secrets masked, for every result key."""

from __future__ import annotations

import copy

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _results
from ansible_collections.cfpages.cloudflare.plugins.module_utils._compare import SECRET_MASK
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fake_pages_api import deployment, domain

SECRET = "s3cr3t-value-0b1c2d3e4f5a6b7c8d9e"
WA_TOKEN = "wa-token-9f8e7d6c5b4a3928"


def project():
    return {
        "name": "site",
        "build_config": {"web_analytics_tag": "tag", "web_analytics_token": WA_TOKEN},
        "deployment_configs": {
            "production": {"env_vars": {"S": {"type": "secret_text", "value": SECRET},
                                        "P": {"type": "plain_text", "value": "plain"}}},
            "preview": {"env_vars": None},
        },
    }


def test_project_result_masks_secret_variables_and_the_analytics_token_and_keeps_the_rest():
    original = project()
    shaped = _results.project_result(original)
    env = shaped["deployment_configs"]["production"]["env_vars"]
    assert env["S"] == {"type": "secret_text", "value": SECRET_MASK}
    assert env["P"] == {"type": "plain_text", "value": "plain"}
    assert shaped["build_config"] == {"web_analytics_tag": "tag", "web_analytics_token": SECRET_MASK}
    assert shaped["name"] == "site" and shaped["deployment_configs"]["preview"] == {"env_vars": None}
    assert original == project()  # a copy: the module's own object is left alone


def test_deployment_result_masks_the_variables_it_carries():
    item = deployment("d1", env_vars={"S": {"type": "secret_text", "value": SECRET}})
    shaped = _results.deployment_result(item)
    assert shaped["env_vars"]["S"]["value"] == SECRET_MASK
    assert dict(shaped, env_vars=None) == dict(item, env_vars=None)
    assert item["env_vars"]["S"]["value"] == SECRET


def test_no_object_is_an_empty_dict_for_projects_and_domains_and_none_for_deployments():
    assert _results.project_result(None) == {} and _results.project_result({}) == {}
    assert _results.domain_result(None) == {} and _results.domain_result({}) == {}
    assert _results.deployment_result(None) is None


def test_domain_result_is_the_api_object():
    item = domain("www.example.com", status="error", error="CNAME record not set")
    shaped = _results.domain_result(item)
    assert shaped == item and shaped is not item


def test_prepare_result_shapes_every_object_key_and_nothing_else():
    deployments = [deployment("d%d" % n, env_vars={"S": {"type": "secret_text", "value": SECRET}}) for n in range(2)]
    result = {
        "changed": True,
        "project": project(),
        "projects": [project(), project()],
        "deployment": deployments[0],
        "deployments": deployments,
        "domain": domain("www.example.com"),
        "domains": [domain("a.example.com")],
        "prune": {"deleted": [{"id": "d1"}]},
        "msg_extra": SECRET,  # not an API object key: left as it is (no_log hides option values)
    }
    before = copy.deepcopy(result)
    prepared = _results.prepare_result(result)
    assert result == before
    assert set(prepared) == set(result)
    assert prepared["project"] == _results.project_result(result["project"])
    assert prepared["projects"] == [_results.project_result(p) for p in result["projects"]]
    assert prepared["deployment"] == _results.deployment_result(deployments[0])
    assert [d["env_vars"]["S"]["value"] for d in prepared["deployments"]] == [SECRET_MASK] * 2
    assert prepared["domain"] == result["domain"] and prepared["domains"] == result["domains"]
    assert prepared["prune"] == result["prune"] and prepared["changed"] is True
    assert SECRET not in repr({k: v for k, v in prepared.items() if k != "msg_extra"})
    assert WA_TOKEN not in repr(prepared)


def test_prepare_result_adds_no_key_and_keeps_missing_lists_missing():
    assert _results.prepare_result({"changed": False}) == {"changed": False}
    assert _results.prepare_result({"deployment": None, "deployments": None}) == {"deployment": None, "deployments": None}
    assert _results.prepare_result({"projects": []}) == {"projects": []}


def test_every_object_key_a_module_documents_is_shaped():
    from ansible_collections.cfpages.cloudflare.plugins.modules import (
        pages_deployment,
        pages_domain,
        pages_info,
        pages_project,
    )

    import yaml

    documented = set()
    for module in (pages_deployment, pages_domain, pages_info, pages_project):
        documented |= set(yaml.safe_load(module.RETURN))
    objects = {"project", "projects", "deployment", "deployments", "domain", "domains"}
    assert documented & objects == objects
    assert set(_results.RESULT_OBJECTS) == objects
