# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Writing the files of a test site (shared by the engine's unit tests)."""

from __future__ import annotations

import os


def write(root, rel, content=b""):
    """Write ``content`` (bytes or text) to ``root``/``rel`` (``/``-separated), making its directories."""
    path = os.path.join(str(root), *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path
