"""Build images: `deployment_configs.<env>.build_image_major_version`, and what it does to a build.

Cloudflare Pages builds git projects in one of three build images (v1, v2, v3; v3 is the default of
new projects), chosen per environment (https://developers.cloudflare.com/pages/configuration/build-image/).
A build runs in the image its environment names when the build is requested; the deployment
records it in `build_image_major_version`.

Emulator choices [G]: the API's answer to another value is unknown; the emulator refuses anything
but the integers 1, 2 and 3 with 400 8000041, and a `null` leaves the setting as it is (as for the
other defaulted keys). The image rule: v3 has no `pipenv` (the page above lists "pipenv and
Pipfile support" among v3's limitations), so a build command that runs `pipenv` fails on v3 with
exit code 127 ("command not found") and builds on v1 and v2 - the way a test makes a build fail on
the new image only.
"""
from __future__ import annotations

import re

from . import errors

SUPPORTED = (1, 2, 3)
DEFAULT = 3
PIPENV_RE = re.compile(r"\bpipenv\b")


def check_build_image(value, where: str) -> int:
    """``value`` if it is a build image version the API offers, else the 400 error."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in SUPPORTED:
        raise errors.bad_request(
            f"{where}.build_image_major_version must be one of "
            f"{', '.join(str(v) for v in SUPPORTED)} (got {value!r}).")
    return value


def image_failure(build_command, image: int) -> tuple[int, str] | None:
    """``(exit code, log line)`` when ``build_command`` cannot run on build image ``image``."""
    if image >= 3 and isinstance(build_command, str) and PIPENV_RE.search(build_command):
        return 127, "pipenv: command not found (build image v3 does not support pipenv and Pipfile)"
    return None
