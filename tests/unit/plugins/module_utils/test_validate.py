# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the input checks in ``_validate``."""

from __future__ import annotations

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _validate as v


# --------------------------------------------------------------------------- options by state

STATE_SPEC = {
    "state": {"type": "str", "default": "present"},
    "source": {"type": "path"},
    "exclude": {"type": "list", "default": []},
    "flag": {"type": "bool"},
    "keep": {"type": "int"},
    "mode": {"type": "str", "default": "all"},
}
STATE_TABLE = {
    "state": ("present", "pruned"),
    "source": ("present",),
    "exclude": ("present with source",),
    "flag": ("present",),
    "keep": ("pruned",),
    "mode": ("present with source",),
}


def _params(**set_):
    params = {option: spec.get("default") for option, spec in STATE_SPEC.items()}
    params.update(set_)
    return params


@pytest.mark.parametrize("params, problem", [
    (_params(), None),
    (_params(source="/s", exclude=["*.map"], flag=True, mode="x"), None),
    (_params(state="pruned", keep=0), None),
    (_params(keep=0), "keep cannot be used with state=present."),
    (_params(state="pruned", keep=1, source="/s", flag=True), "flag, source cannot be used with state=pruned."),
    (_params(exclude=["a"]), "exclude cannot be used with state=present without source."),
    (_params(exclude=["a"], keep=2), "exclude, keep cannot be used with state=present without source."),
    (_params(state="pruned", keep=1, exclude=["a"]), "exclude cannot be used with state=pruned."),
    # unset: None, the default, and false for a flag
    (_params(state="pruned", keep=1, flag=False, mode="all", exclude=[]), None),
])
def test_misplaced_options_problem(params, problem):
    assert v.misplaced_options_problem(params, STATE_SPEC, STATE_TABLE, params["state"]) == problem


@pytest.mark.parametrize("value, setting", [
    (None, None), (True, True), (False, False), ("off", False), (" No ", False), ("0", False),
    ("yes", None), ("on", None), ("/var/cache/site", "/var/cache/site"), ("cache dir", "cache dir"),
])
def test_hash_cache_option_reads_yaml_words_and_directories(value, setting):
    assert v.hash_cache_option(value) == (setting, None)


@pytest.mark.parametrize("value", ["", "   ", 3, 2.5, ["/tmp"], {"dir": "/tmp"}])
def test_hash_cache_option_names_the_option_for_anything_else(value):
    setting, problem = v.hash_cache_option(value)
    assert setting is None and problem.startswith("hash_cache must be a directory path")
