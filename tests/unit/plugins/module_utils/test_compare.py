# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the normalise / compare / patch / diff / mask helpers."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _compare as c, _secrets as s

SECRET = "s3cr3t-value-0f5e8a2b7c4d9e1f"
TOKEN = "wa-token-7d2c9b4e1f6a3d8c5b0e"


def project(**over):
    p = {
        "id": "p-1",
        "name": "site",
        "production_branch": "main",
        "build_config": {"build_command": None, "web_analytics_tag": "tag-1", "web_analytics_token": TOKEN},
        "deployment_configs": {
            "production": {
                "compatibility_date": "2025-01-15",
                "compatibility_flags": [],
                "env_vars": {
                    "PLAIN": {"type": "plain_text", "value": "visible"},
                    "SECRET": {"type": "secret_text", "value": ""},
                },
            },
            "preview": {"env_vars": None},
        },
        "latest_deployment": {
            "id": "d-1",
            "env_vars": {"SECRET": {"type": "secret_text", "value": SECRET}},
            "build_config": {"web_analytics_token": TOKEN},
        },
    }
    p.update(over)
    return p


# --------------------------------------------------------------------------- mask_secrets


def test_mask_secrets_masks_secret_env_vars_and_token_at_any_depth():
    original = project()
    masked = s.mask_secrets(original)
    prod = masked["deployment_configs"]["production"]["env_vars"]
    assert prod["SECRET"] == {"type": "secret_text", "value": s.SECRET_MASK}  # masked even when ""
    assert prod["PLAIN"] == {"type": "plain_text", "value": "visible"}
    assert masked["build_config"]["web_analytics_token"] == s.SECRET_MASK
    assert masked["build_config"]["web_analytics_tag"] == "tag-1"
    # a deployment nested in the project (and its own env_vars / build_config)
    assert masked["latest_deployment"]["env_vars"]["SECRET"]["value"] == s.SECRET_MASK
    assert masked["latest_deployment"]["build_config"]["web_analytics_token"] == s.SECRET_MASK
    text = json.dumps(masked)
    assert SECRET not in text and TOKEN not in text


def test_mask_secrets_is_a_deep_copy_and_leaves_its_argument_alone():
    original = project()
    before = copy.deepcopy(original)
    masked = s.mask_secrets(original)
    assert original == before
    masked["deployment_configs"]["production"]["env_vars"]["PLAIN"]["value"] = "changed"
    assert original["deployment_configs"]["production"]["env_vars"]["PLAIN"]["value"] == "visible"


def test_mask_secrets_keeps_unset_tokens_visible_and_handles_lists_and_scalars():
    assert s.mask_secrets({"web_analytics_token": None}) == {"web_analytics_token": None}
    assert s.mask_secrets({"web_analytics_token": ""}) == {"web_analytics_token": ""}
    items = [{"env_vars": {"X": {"type": "secret_text", "value": "abc"}}}, "text", 3, None]
    assert s.mask_secrets(items) == [{"env_vars": {"X": {"type": "secret_text", "value": s.SECRET_MASK}}}, "text", 3, None]
    assert s.mask_secrets(None) is None
    # env_vars null, an entry without value, and a deleted (None) entry in a patch body
    assert s.mask_secrets({"env_vars": None}) == {"env_vars": None}
    assert s.mask_secrets({"env_vars": {"A": {"type": "secret_text"}, "B": None}}) == {
        "env_vars": {"A": {"type": "secret_text"}, "B": None}
    }


def test_mask_secrets_custom_mask():
    assert s.mask_secrets({"web_analytics_token": "x"}, mask="***") == {"web_analytics_token": "***"}


# --------------------------------------------------------------------------- normalise / compare


@pytest.mark.parametrize("value", [None, "", [], {}, ()])
def test_normalise_unset_values(value):
    assert c.normalise(value) is None


def test_normalise_star_includes_are_unset_only_for_their_keys():
    assert c.normalise(["*"], "path_includes") is None
    assert c.normalise(["*"], "preview_branch_includes") is None
    assert c.normalise(["*"], "path_excludes") == ["*"]
    assert c.normalise({"path_includes": ["*"], "path_excludes": []}) == {"path_includes": None, "path_excludes": None}


def test_normalise_sorts_string_and_number_lists_but_not_mixed_ones():
    assert c.normalise(["b", "a"]) == ["a", "b"]
    assert c.normalise([3, 1.5]) == [1.5, 3]
    assert c.normalise([{"b": 1}, {"a": 1}]) == [{"b": 1}, {"a": 1}]
    assert c.normalise([True, False]) == [True, False]


def test_normalise_keeps_keys_and_custom_equivalents():
    assert c.normalise({"a": "", "b": {"c": []}}) == {"a": None, "b": {"c": None}}
    assert c.normalise(["x"], "k", unset_equivalents={"k": (["x"],)}) is None


def test_subset_equal_only_desired_keys_count():
    assert c.subset_equal({"a": 1}, {"a": 1, "b": 2})
    assert not c.subset_equal({"a": 1}, {"a": 2})
    assert c.subset_equal({"a": None}, None)  # all unset matches a missing object
    assert not c.subset_equal({"a": 1}, None)
    assert not c.subset_equal({"a": 1}, "text")
    assert c.subset_equal(None, None)
    assert not c.subset_equal(None, ["x"])


def test_values_equal_treats_api_defaults_as_unset():
    assert c.values_equal("", None)
    assert c.values_equal([], None)
    assert c.values_equal({}, None)
    assert c.values_equal([], ["*"], "preview_branch_includes")
    assert c.values_equal(["b", "a"], ["a", "b"])
    assert not c.values_equal(False, None)  # a boolean is a value, not "unset"
    assert not c.values_equal([], ["nodejs_compat"])
    assert c.values_equal({"build_command": ""}, None)
    assert c.values_equal({"name": "b"}, {"name": "b", "jurisdiction": None})


# --------------------------------------------------------------------------- prune_unset


def test_prune_unset_drops_none_keys_but_keeps_empty_values():
    value = {"a": None, "b": "", "c": [], "d": {}, "e": {"f": None, "g": 1}, "h": [{"i": None}]}
    assert c.prune_unset(value) == {"b": "", "c": [], "d": {}, "e": {"g": 1}, "h": [{}]}
    assert value["a"] is None  # argument untouched


# --------------------------------------------------------------------------- patches


def test_path_matches():
    assert c.path_matches(("a", "b"), [("a", "*")])
    assert not c.path_matches(("a", "b", "c"), [("a", "*")])
    assert not c.path_matches(("x", "b"), [("a", "*")])
    assert not c.path_matches(("a",), [])


def test_map_patch_adds_changes_keeps_and_purges():
    current = {"A": {"value": "1"}, "B": {"value": "2"}, "C": {"value": "3"}}
    desired = {"A": {"value": "1"}, "B": {"value": "two"}, "D": {"value": "4"}}
    assert c.map_patch(desired, current) == {"B": {"value": "two"}, "D": {"value": "4"}}
    assert c.map_patch(desired, current, purge=True) == {"B": {"value": "two"}, "D": {"value": "4"}, "C": None}
    assert c.map_patch({}, current, purge=True) == {"A": None, "B": None, "C": None}
    assert c.map_patch({}, current) == {}
    assert c.map_patch(None, None, purge=True) == {}
    # an entry with no keys (browsers) is new when the map lacks it, equal when present
    assert c.map_patch({"BR": {}}, None) == {"BR": {}}
    assert c.map_patch({"BR": {}}, {"BR": {}}) == {}
    # an AI binding written {} is stored with the project_id the API chose: equal, no change
    assert c.map_patch({"AI": {}}, {"AI": {"project_id": "f3a1"}}) == {}
    assert c.map_patch({"AI": {}}, {"AI": {"project_id": "f3a1"}}, purge=True) == {}
    assert c.map_patch({"AI": {"project_id": "mine"}}, {"AI": {"project_id": "f3a1"}}) == {"AI": {"project_id": "mine"}}


def test_map_patch_compares_entries_as_subsets_and_sends_them_whole():
    current = {"R2": {"name": "bucket", "jurisdiction": "eu"}}
    assert c.map_patch({"R2": {"name": "bucket"}}, current) == {}
    assert c.map_patch({"R2": {"name": "other"}}, current) == {"R2": {"name": "other"}}


def test_diff_patch_only_differences():
    current = project()
    desired = {
        "name": "site",
        "production_branch": "main",
        "build_config": {"build_command": "npm run build", "root_dir": ""},
        "deployment_configs": {"production": {"compatibility_date": "2025-01-15", "compatibility_flags": []}},
    }
    assert c.diff_patch(desired, current) == {"build_config": {"build_command": "npm run build"}}


def test_diff_patch_empty_when_equal_and_for_missing_current():
    assert c.diff_patch({"a": {"b": ""}}, {}) == {}
    assert c.diff_patch({"a": {"b": 1}}, None) == {"a": {"b": 1}}


def test_diff_patch_atomic_paths_are_sent_whole():
    current = {"source": {"type": "github", "config": {"owner": "o", "repo_name": "r", "pr_comments_enabled": True}}}
    desired = {"source": {"type": "github", "config": {"owner": "o", "pr_comments_enabled": False}}}
    assert c.diff_patch(desired, current) == {"source": {"config": {"pr_comments_enabled": False}}}
    assert c.diff_patch(desired, current, atomic=[("source",)]) == {"source": desired["source"]}
    same = {"source": {"type": "github", "config": {"owner": "o"}}}
    assert c.diff_patch(same, current, atomic=[("source",)]) == {}


def test_diff_patch_maps_with_and_without_purge():
    current = {"dc": {"production": {"env_vars": {"A": {"value": "1"}, "B": {"value": "2"}}}}}
    desired = {"dc": {"production": {"env_vars": {"A": {"value": "1"}}}}}
    keep = {("dc", "*", "env_vars"): False}
    purge = {("dc", "*", "env_vars"): True}
    assert c.diff_patch(desired, current, maps=keep) == {}
    assert c.diff_patch(desired, current, maps=purge) == {"dc": {"production": {"env_vars": {"B": None}}}}
    empty = {"dc": {"production": {"env_vars": {}}}}
    assert c.diff_patch(empty, current, maps=purge) == {"dc": {"production": {"env_vars": {"A": None, "B": None}}}}
    assert c.diff_patch(empty, current, maps=keep) == {}


def test_apply_patch_merges_like_the_api():
    obj = {"a": {"b": 1, "c": 2}, "l": [1, 2], "m": {"X": {"v": 1}}}
    patched = c.apply_patch(obj, {"a": {"b": 10}, "l": [3], "m": {"X": None, "Y": {"v": 2}}, "n": {"o": None, "p": 1}})
    assert patched == {"a": {"b": 10, "c": 2}, "l": [3], "m": {"Y": {"v": 2}}, "n": {"p": 1}}
    assert obj == {"a": {"b": 1, "c": 2}, "l": [1, 2], "m": {"X": {"v": 1}}}
    assert c.apply_patch(None, {"a": 1}) == {"a": 1}
    assert c.apply_patch({"a": None}, {"a": {"b": 1}}) == {"a": {"b": 1}}


def test_managed_view_keeps_only_managed_keys():
    current = project()
    desired = {
        "name": "site",
        "build_config": {"build_command": "x"},
        "deployment_configs": {"production": {"env_vars": {"PLAIN": {"value": "v"}, "NEW": {"value": "n"}}}},
        "source": {"type": "github"},
    }
    view = c.managed_view(current, desired, whole=[("deployment_configs", "*", "env_vars", "*")])
    assert view == {
        "name": "site",
        "build_config": {"build_command": None},
        "deployment_configs": {"production": {"env_vars": {"PLAIN": {"type": "plain_text", "value": "visible"}}}},
    }
    whole_map = c.managed_view(current, desired, whole=[("deployment_configs", "*", "env_vars")])
    assert set(whole_map["deployment_configs"]["production"]["env_vars"]) == {"PLAIN", "SECRET"}
    assert c.managed_view(None, desired) == {}


# --------------------------------------------------------------------------- diffs


def test_build_diff_create_and_delete_use_empty_side():
    after = {"name": "site", "deployment_configs": {"production": {"env_vars": {"S": {"type": "secret_text", "value": SECRET}}}}}
    diff = c.build_diff(None, after)
    assert diff["before"] == ""
    assert diff["after"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == s.SECRET_CHANGED_MASK
    gone = c.build_diff(after, None)
    assert gone["after"] == ""
    assert gone["before"]["deployment_configs"]["production"]["env_vars"]["S"]["value"] == s.SECRET_MASK
    assert SECRET not in json.dumps(diff) + json.dumps(gone)


def test_build_diff_marks_only_secrets_that_are_sent():
    before = {
        "build_config": {"web_analytics_token": TOKEN},
        "deployment_configs": {
            "production": {
                "env_vars": {
                    "KEPT": {"type": "secret_text", "value": ""},
                    "SENT": {"type": "secret_text", "value": ""},
                    "WAS_PLAIN": {"type": "plain_text", "value": "p"},
                }
            }
        },
    }
    after = c.apply_patch(
        before,
        {
            "build_config": {"web_analytics_token": "new-" + TOKEN},
            "deployment_configs": {
                "production": {
                    "env_vars": {
                        "SENT": {"type": "secret_text", "value": SECRET},
                        "WAS_PLAIN": {"type": "secret_text", "value": "p"},
                    }
                }
            },
        },
    )
    diff = c.build_diff(before, after)
    env = diff["after"]["deployment_configs"]["production"]["env_vars"]
    assert env["KEPT"]["value"] == s.SECRET_MASK
    assert env["SENT"]["value"] == s.SECRET_CHANGED_MASK
    assert env["WAS_PLAIN"]["value"] == s.SECRET_CHANGED_MASK  # same text, but now a secret
    assert diff["after"]["build_config"]["web_analytics_token"] == s.SECRET_CHANGED_MASK
    assert diff["before"]["build_config"]["web_analytics_token"] == s.SECRET_MASK
    assert diff["before"]["deployment_configs"]["production"]["env_vars"]["WAS_PLAIN"]["value"] == "p"
    text = json.dumps(diff)
    assert SECRET not in text and TOKEN not in text


def test_build_diff_unchanged_token_keeps_plain_mask():
    before = {"build_config": {"web_analytics_token": TOKEN}}
    diff = c.build_diff(before, copy.deepcopy(before))
    assert diff["before"] == diff["after"] == {"build_config": {"web_analytics_token": s.SECRET_MASK}}
