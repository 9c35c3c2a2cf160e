# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the full-stack fixtures under ROOT.

    make_fullstack.py ROOT

- ``app/``: a framework-style build: static files and a ``_worker.js/`` directory of 8 modules
  (ES modules in subdirectories, a ``.mjs``, a WebAssembly module, a text and an HTML module, a
  data module) plus a ``_routes.json`` that leaves ``/static/*`` to the assets.
- ``fn/``: a project root with ``public/`` (the build output) and ``functions/`` (middleware, a
  dynamic route ``api/[id].js`` that reads an environment variable, a plain route).
- ``bad-entry/``, ``bad-import/``, ``bad-routes/``: what must be refused before any request.
"""
from __future__ import annotations

import json
import os
import sys

# (module "add": (i32, i32) -> i32), hand-assembled.
ADD_WASM = bytes.fromhex(
    "0061736d0100000001070160027f7f017f030201000707010361646400000a09010700200020016a0b"
)

WORKER_INDEX = """\
import { greet } from "./lib/greet.js";
import { double } from "./lib/math.mjs";
import { VERSION } from "./lib/version.js";
import addModule from "./add.wasm";
import page from "./templates/page.html";
import table from "./data/table.txt";
import blob from "./blob.bin";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/api/hello":
        return new Response(greet(url.searchParams.get("name") || "world"), {
          headers: { "content-type": "text/plain; charset=utf-8", "x-worker": "app" },
        });
      case "/api/add": {
        const instance = await WebAssembly.instantiate(addModule);
        const a = Number(url.searchParams.get("a")), b = Number(url.searchParams.get("b"));
        return Response.json({ sum: instance.exports.add(a, b), double: double(a) });
      }
      case "/page":
        return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
      case "/table":
        return new Response(table.toUpperCase());
      case "/blob":
        return new Response(blob, { headers: { "content-type": "application/octet-stream" } });
      case "/version":
        return new Response(VERSION);
    }
    const response = await env.ASSETS.fetch(request);
    const headers = new Headers(response.headers);
    headers.set("x-worker", "assets");
    return new Response(response.body, { status: response.status, headers });
  },
};
"""

APP = {
    "index.html": "<!doctype html><h1>full-stack app</h1>\n",
    "about/index.html": "<h1>about</h1>\n",
    "static/style.css": "body { color: #123; }\n",
    "404.html": "<h1>not here</h1>\n",
    "_worker.js/index.js": WORKER_INDEX,
    "_worker.js/lib/greet.js": 'import { double } from "./math.mjs";\nexport function greet(n) { return `hello ${n} (${double(21)})`; }\n',
    "_worker.js/lib/math.mjs": "export const double = (x) => 2 * x;\n",
    "_worker.js/lib/version.js": 'export const VERSION = "v1";\n',
    "_worker.js/add.wasm": ADD_WASM,
    "_worker.js/templates/page.html": "<!doctype html><p>rendered by the worker</p>\n",
    "_worker.js/data/table.txt": "a,b\n1,2\n",
    "_worker.js/blob.bin": bytes(range(256)),
    "_worker.js/README.md": "not a module: not sent\n",
    "_routes.json": json.dumps({"version": 1, "include": ["/*"], "exclude": ["/static/*"]}) + "\n",
}

FN = {
    "public/index.html": "<!doctype html><h1>functions site</h1>\n",
    "public/about.html": "<h1>about</h1>\n",
    "functions/_middleware.js": (
        "export async function onRequest(context) {\n"
        "  const response = await context.next();\n"
        "  response.headers.set('x-middleware', 'yes');\n"
        "  return response;\n"
        "}\n"
    ),
    "functions/api/[id].js": (
        "export function onRequestGet({ params, env }) {\n"
        "  return Response.json({ id: params.id, greeting: env.GREETING ?? null });\n"
        "}\n"
    ),
    "functions/hello.js": "export function onRequest() { return new Response('hello from a function'); }\n",
}

BAD = {
    "bad-entry/index.html": "x\n",
    "bad-entry/_worker.js/main.js": "export default {};\n",
    "bad-import/index.html": "x\n",
    "bad-import/_worker.js/index.js": 'import { helper } from "./lib/helper.js";\nexport default { fetch: helper };\n',
    "bad-import/_worker.js/lib/util.js": "export const util = 1;\n",
    "bad-routes/index.html": "x\n",
    "bad-routes/_worker.js/index.js": "export default { fetch: (r, env) => env.ASSETS.fetch(r) };\n",
    "bad-routes/_routes.json": json.dumps({"version": 1, "include": [], "exclude": ["/static/*"]}) + "\n",
}


def write(root, rel, data):
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def main(root):
    for prefix, files in (("app/", APP), ("fn/", FN), ("", BAD)):
        for rel, data in files.items():
            write(root, prefix + rel, data)
    print(json.dumps({"app_modules": 8}))


if __name__ == "__main__":
    main(sys.argv[1])
