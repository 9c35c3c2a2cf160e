# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Build images: ``deployment_configs.<env>.build_image_major_version`` of a project.

Cloudflare builds git-connected projects in build image v1, v2 or v3, chosen per environment; v3
is the default of new projects (https://developers.cloudflare.com/pages/configuration/build-image/).
Cloudflare ends v1 on 2026-09-15 and v2 on 2027-02-23, and moves projects still on them to v3
(its build image policy, on the same page).
"""

from __future__ import annotations

from datetime import date

ENVIRONMENTS = ("production", "preview")
# Each version Cloudflare offers, and the day it ends (None: no end announced).
END_OF_LIFE = {1: date(2026, 9, 15), 2: date(2027, 2, 23), 3: None}
SUPPORTED = tuple(sorted(END_OF_LIFE))


def build_image_problem(value, where):
    """A message when ``value`` is not a build image version Cloudflare offers, else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in END_OF_LIFE:
        return (
            "%s is %r, which is not a build image of Cloudflare Pages: use one of %s (v3 is the current one; see "
            "https://developers.cloudflare.com/pages/configuration/build-image/)."
            % (where, value, ", ".join(str(v) for v in SUPPORTED))
        )
    return None


def end_of_life_warning(value, where, today=None):
    """A warning when build image ``value`` has reached its end of life on ``today``, else None."""
    ends = END_OF_LIFE.get(value)
    if ends is None or (today or date.today()) < ends:
        return None
    return (
        "%s sets build image v%d, which reached its end of life on %s: Cloudflare may refuse it or move the project "
        "to v%d. Use build image v%d." % (where, value, ends.isoformat(), SUPPORTED[-1], SUPPORTED[-1])
    )


def build_images(project):
    """``{production: N, preview: N}``: each environment's build image (None when the API does not say)."""
    configs = (project or {}).get("deployment_configs") or {}
    out = {}
    for env in ENVIRONMENTS:
        value = (configs.get(env) or {}).get("build_image_major_version")
        out[env] = value if isinstance(value, int) and not isinstance(value, bool) else None
    return out
