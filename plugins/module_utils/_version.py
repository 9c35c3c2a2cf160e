# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

from __future__ import annotations

COLLECTION_NAME = "cfpages.cloudflare"
# Kept equal to galaxy.yml's version (a unit test checks it).
COLLECTION_VERSION = "0.1.0"
