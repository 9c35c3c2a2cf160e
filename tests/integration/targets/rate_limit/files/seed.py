"""Create many projects / deployments in the emulator quickly (plain requests, no Ansible).

    seed.py BASE_URL TOKEN ACCOUNT PROJECT:PRODUCTION:PREVIEW[:BRANCHES] ... [--projects PREFIX:N]

Each PROJECT gets PRODUCTION deployments on ``main`` and PREVIEW deployments spread over BRANCHES
(default 5) branches ``feat-0`` ...; they are created interleaved, oldest first, so every branch has
old and new ones. ``--projects PREFIX:N`` creates N empty projects PREFIX-00 ... The fixtures are
made before the test switches the rate limit on, so they do not slow it down. Prints a JSON
summary ({project: {"deployments": N}}).
"""
from __future__ import annotations

import base64
import hashlib
import json
import sys

import requests


def main(argv):
    base, token, account, *specs = argv
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    pages = "%s/accounts/%s/pages/projects" % (base.rstrip("/"), account)

    def ok(response):
        body = response.json()
        if response.status_code != 200 or not body.get("success"):
            raise SystemExit("%s %s -> %s %s" % (response.request.method, response.url, response.status_code,
                                                 response.text[:300]))
        return body["result"]

    summary = {}
    specs = list(specs)
    if "--projects" in specs:
        i = specs.index("--projects")
        prefix, count = specs[i + 1].split(":")
        del specs[i:i + 2]
        for n in range(int(count)):
            name = "%s-%02d" % (prefix, n)
            ok(session.post(pages, json={"name": name, "production_branch": "main"}))
            summary[name] = {"deployments": 0}
    for spec in specs:
        parts = spec.split(":")
        name, production, preview = parts[0], int(parts[1]), int(parts[2])
        branches = int(parts[3]) if len(parts) > 3 else 5
        ok(session.post(pages, json={"name": name, "production_branch": "main"}))
        jwt = ok(session.get("%s/%s/upload-token" % (pages, name)))["jwt"]
        data = ("<h1>%s</h1>\n" % name).encode()
        key = hashlib.sha256(data).hexdigest()[:32]
        assets = base.rstrip("/") + "/pages/assets/upload"
        ok(requests.post(assets, headers={"Authorization": "Bearer " + jwt}, json=[
            {"key": key, "value": base64.b64encode(data).decode(), "metadata": {"contentType": "text/html"},
             "base64": True}]))
        manifest = json.dumps({"/index.html": key})
        # Interleave: production and preview deployments alternate in proportion.
        order = []
        total = production + preview
        made_preview = 0
        for n in range(total):
            want_preview = preview and (n + 1) * preview // total > made_preview
            if want_preview:
                order.append("feat-%d" % (made_preview % branches))
                made_preview += 1
            else:
                order.append("main")
        for branch in order:
            ok(session.post("%s/%s/deployments" % (pages, name),
                            files=[("manifest", (None, manifest)), ("branch", (None, branch))]))
        summary[name] = {"deployments": total}
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
