# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the project name rule checked before a project is created."""

from __future__ import annotations

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._project_name import project_name_problem


@pytest.mark.parametrize("name", ["a", "0", "my-site", "site-2026", "a--b", "x" * 58, "9lives"])
def test_valid_names(name):
    assert project_name_problem(name) is None


@pytest.mark.parametrize(
    "name, reason",
    [
        ("My-Site", "contains 'M', 'S'"),
        ("x" * 59, "59 characters"),
        ("sïte", "contains 'ï'"),
        ("-site", "starts or ends with a dash"),
        ("site-", "starts or ends with a dash"),
        ("my_site", "contains '_'"),
        ("my.site", "contains '.'"),
        ("my site", "contains ' '"),
        ("site\n", "contains '\\n'"),
        ("-", "starts or ends with a dash"),
    ],
)
def test_invalid_names_say_why(name, reason):
    problem = project_name_problem(name)
    assert problem is not None and reason in problem
    assert problem.startswith("project_name %r is not a valid Pages project name" % name)
    assert "at most 58 characters" in problem


@pytest.mark.parametrize("name", ["", None, 42])
def test_empty_or_not_a_string(name):
    assert project_name_problem(name, option="name") == "name must not be empty."
