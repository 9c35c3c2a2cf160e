# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_build_image: which build image versions exist, when they end, and reading them off a project."""

from __future__ import annotations

from datetime import date

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils._deployments.build_image import (
    build_image_problem,
    build_images,
    end_of_life_warning,
)


@pytest.mark.parametrize("value", [1, 2, 3])
def test_the_versions_cloudflare_offers_pass(value):
    assert build_image_problem(value, "x") is None


@pytest.mark.parametrize("value", [0, 4, -3, True, False, "3", 3.0, None])
def test_anything_else_is_a_problem_naming_the_option(value):
    problem = build_image_problem(value, "deployment_configs.preview.build_image_major_version")
    assert problem.startswith("deployment_configs.preview.build_image_major_version is %r," % (value,))
    assert "use one of 1, 2, 3" in problem


def test_end_of_life_warns_from_that_day_on():
    where = "deployment_configs.production.build_image_major_version"
    assert end_of_life_warning(1, where, date(2026, 9, 14)) is None
    assert "reached its end of life on 2026-09-15" in end_of_life_warning(1, where, date(2026, 9, 15))
    assert end_of_life_warning(2, where, date(2027, 2, 22)) is None
    assert end_of_life_warning(2, where, date(2027, 2, 23)).startswith(where + " sets build image v2")
    assert end_of_life_warning(3, where, date(2099, 1, 1)) is None


def test_build_images_reads_each_environment():
    project = {"deployment_configs": {"production": {"build_image_major_version": 2},
                                      "preview": {"build_image_major_version": 3, "fail_open": True}}}
    assert build_images(project) == {"production": 2, "preview": 3}


@pytest.mark.parametrize("project", [None, {}, {"deployment_configs": None},
                                     {"deployment_configs": {"production": None, "preview": {"build_image_major_version": "3"}}}])
def test_build_images_says_none_when_the_api_does_not_say(project):
    assert build_images(project) == {"production": None, "preview": None}
