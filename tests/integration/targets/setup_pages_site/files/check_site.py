#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetch every file of a site directory from a deployment on the emulator and compare bytes.

    check_site.py EMULATOR_URL HOST ROOT [--absent=PATH ...] [--header=NAME=VALUE ...]

Independent of the collection's code: the files that must be served are those under ROOT minus
what wrangler never uploads (top-level _worker.js, _redirects, _headers, _routes.json, functions/,
.wrangler/; .DS_Store, node_modules/, .git/ at any depth). Each is fetched with ``Host: HOST``
and compared byte for byte (sha256), following the site's own redirects as a browser does (Pages
answers ``/about.html`` and ``/docs/index.html`` with a 308 to ``/about`` and ``/docs/``, which
serve those files). ``--absent`` paths must answer 404. Each ``--header`` must be present on the
response for / (checks that _headers was deployed).

Prints JSON {"checked", "bytes", "mismatched", "absent_ok", "problems"}; exits 1 on any problem.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

TOP_IGNORED = {"_worker.js", "_redirects", "_headers", "_routes.json", "functions", ".wrangler"}
ANY_IGNORED = {".DS_Store", "node_modules", ".git"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def expected_files(root):
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        rel_dir = os.path.relpath(dirpath, root)
        top = rel_dir == "."
        dirnames[:] = sorted(d for d in dirnames if d not in ANY_IGNORED and not (top and d in TOP_IGNORED))
        for name in sorted(filenames):
            if name in ANY_IGNORED or (top and name in TOP_IGNORED):
                continue
            rel = name if top else os.path.join(rel_dir, name)
            yield "/" + rel.replace(os.sep, "/"), os.path.join(dirpath, name)


def fetch(base, host, path, follow=False):
    """(status, body, headers) of ``path``; with ``follow``, after up to 3 same-site redirects."""
    url_path = urllib.parse.quote(path)
    hops = 3 if follow else 0
    while True:
        request = urllib.request.Request(base + url_path, headers={"Host": host})
        try:
            with OPENER.open(request, timeout=30) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as err:
            location = err.headers.get("Location") or ""
            if not (hops and err.code in (301, 302, 303, 307, 308) and location.startswith("/")):
                return err.code, err.read(), dict(err.headers)
            hops -= 1
            url_path = location


def main(argv):
    base, host, root = argv[0].rstrip("/"), argv[1], argv[2]
    absent, headers = [], []
    for arg in argv[3:]:
        flag, _sep, value = arg.partition("=")
        if flag == "--absent":
            absent.append(value)
        elif flag == "--header":
            headers.append(value.split("=", 1))
        else:
            raise SystemExit("unknown argument %s" % arg)
    problems = []
    checked = total = 0
    for path, local in expected_files(root):
        with open(local, "rb") as handle:
            want = handle.read()
        status, body = fetch(base, host, path, follow=True)[:2]
        checked += 1
        total += len(want)
        if status != 200:
            problems.append("%s: HTTP %s" % (path, status))
        elif hashlib.sha256(body).hexdigest() != hashlib.sha256(want).hexdigest():
            problems.append("%s: %d bytes served, %d expected, contents differ" % (path, len(body), len(want)))
    for path in absent:
        status = fetch(base, host, path)[0]
        if status != 404:
            problems.append("%s: HTTP %s, expected 404" % (path, status))
    for name, value in headers:
        got = fetch(base, host, "/")[2]
        lowered = dict((k.lower(), v) for k, v in got.items())
        if lowered.get(name.lower()) != value:
            problems.append("/: header %s is %r, expected %r" % (name, lowered.get(name.lower()), value))
    print(json.dumps({"checked": checked, "bytes": total, "absent_ok": len(absent), "problems": problems},
                     ensure_ascii=False))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
