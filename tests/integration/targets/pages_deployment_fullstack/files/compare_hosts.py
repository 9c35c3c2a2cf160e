# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request the same paths from two deployments on the emulator and compare the answers.

    compare_hosts.py EMULATOR_URL HOST_A HOST_B PATH [PATH ...]

Each PATH is fetched with ``Host: HOST_A`` and ``Host: HOST_B`` (no redirects followed); status,
body bytes and the headers that a site or its worker sets (content-type, x-*) must be equal.
Prints JSON {"compared", "answers": {path: {status, body, headers}}, "problems"} (the answers of
HOST_A); exits 1 on any difference.
"""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(base, host, path):
    request = urllib.request.Request(base + path, headers={"Host": host})
    try:
        with OPENER.open(request, timeout=60) as response:
            status, body, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        status, body, headers = err.code, err.read(), err.headers
    kept = dict((k.lower(), v) for k, v in headers.items() if k.lower() == "content-type" or k.lower().startswith("x-"))
    return {"status": status, "body": body.decode("utf-8", "backslashreplace"), "headers": kept}


def main(argv):
    base, host_a, host_b, paths = argv[1].rstrip("/"), argv[2], argv[3], argv[4:]
    answers = {}
    problems = []
    for path in paths:
        a, b = fetch(base, host_a, path), fetch(base, host_b, path)
        answers[path] = a
        if a != b:
            problems.append({"path": path, "a": a, "b": b})
    print(json.dumps({"compared": len(paths), "answers": answers, "problems": problems}, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
