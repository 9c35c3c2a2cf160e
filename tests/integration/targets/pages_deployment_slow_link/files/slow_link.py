# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy a site with the upload engine given a request time limit, as pages_deployment does.

    slow_link.py BASE_URL TOKEN ACCOUNT PROJECT SOURCE TIME_LIMIT

The module always plans for the real limit (300 s); a test that must end in under two minutes
scales it down, together with the emulator's ``--request-timeout``, which only the engine allows.
Prints JSON: {"changed", "upload" (the counts and timings), "log" (the engine's lines), "seconds"}.
"""
from __future__ import annotations

import json
import os
import sys
import time


def _collection_root(path):
    """The directory holding the ansible_collections tree this file is in (ansible-test copies a
    target below the collection's tests/output)."""
    while os.path.dirname(path) != path:
        path = os.path.dirname(path)
        if os.path.basename(path) == "ansible_collections":
            return os.path.dirname(path)
    raise SystemExit("slow_link.py must run from inside an ansible_collections tree")


sys.path.insert(0, _collection_root(os.path.abspath(__file__)))

from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient  # noqa: E402
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload.pages_deploy import (  # noqa: E402
    DeployRequest,
    DirectUpload,
)


def main(argv):
    base_url, token, account, project, source, time_limit = argv
    lines = []
    client = PagesClient(account_id=account, api_token=token, base_url=base_url)
    started = time.monotonic()
    request = DeployRequest(project, source, branch="main", hash_cache=False, request_time_limit=float(time_limit))
    out = DirectUpload(client, request, log=lines.append).run()
    print(json.dumps({"changed": out["changed"], "upload": out["upload"], "log": lines,
                      "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    main(sys.argv[1:])
