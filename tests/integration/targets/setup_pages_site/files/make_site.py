#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a deterministic test site for the pages_deployment integration targets.

    make_site.py DEST tricky              nested, unicode, extensionless, empty, binary files,
                                          the special files and what wrangler ignores
    make_site.py DEST many COUNT          COUNT small text files
    make_site.py DEST big COUNT KIB       COUNT binary files of about KIB KiB each
    make_site.py DEST huge                one file of 25 MiB + 1 byte, plus index.html

DEST is emptied first. Prints a JSON summary ({"files": n, "bytes": n}) of what was written.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import sys


def write(root, rel, data):
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return len(data if isinstance(data, bytes) else data.encode("utf-8"))


def tricky(root):
    rng = random.Random(20260930)
    files = {
        "index.html": "<!DOCTYPE html><html><body><h1>cfpages test site</h1></body></html>\n",
        "404.html": "<h1>not here</h1>\n",
        "about/index.html": "<h1>about</h1>\n",
        "css/site.css": "body { color: #333; }\n",
        "js/app.js": "console.log('hello');\n",
        "data/config.json": json.dumps({"a": 1, "b": [1, 2, 3]}) + "\n",
        "a/b/c/d/e/f/g/deep.txt": "deep\n",
        "LICENSE": "Extensionless file\n",
        "docs/README": "another extensionless file\n",
        "empty.txt": "",
        "empty": b"",
        "ünïcödé/日本語.txt": "unicode path ✓\n",
        "emoji-🚀.html": "<p>rocket</p>\n",
        "with space/file name.txt": "spaces\n",
        "archive.tar.gz": rng.randbytes(4096),
        "img/photo.png": b"\x89PNG\r\n\x1a\n" + rng.randbytes(200000),
        "fonts/font.woff2": rng.randbytes(30000),
        "UPPER.TXT": "upper-case extension\n",
        "trailing.": "a name ending in a dot\n",
        ".well-known/security.txt": "Contact: mailto:security@example.com\n",
        # Not special below the top level: uploaded as assets, like wrangler does.
        "some_dir/_headers": "headersfile",
        "some_dir/functions/foo.js": "func",
        "nested/_redirects": "not special here\n",
        # The special files: sent with the deployment, not as assets.
        "_headers": "/*\n  X-Cfpages-Test: yes\n",
        "_redirects": "/old-page /about/ 301\n",
        "_routes.json": json.dumps({"version": 1, "include": ["/api/*"], "exclude": []}) + "\n",
        "_worker.js": "export default { fetch() { return new Response('worker'); } };\n",
        # Ignored like wrangler does: never uploaded.
        "functions/api/hello.js": "export function onRequest() {}\n",
        ".wrangler/state.json": "{}\n",
        "node_modules/pkg/index.js": "module.exports = 1;\n",
        "js/node_modules/dep/index.js": "module.exports = 2;\n",
        ".git/config": "[core]\n",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "img/.DS_Store": b"\x00\x00\x00\x01Bud1",
    }
    total = 0
    for rel, data in files.items():
        total += write(root, rel, data)
    return len(files), total


def many(root, count):
    total = 0
    total += write(root, "index.html", "<h1>many</h1>\n")
    for i in range(1, count):
        total += write(root, "f/%04d.txt" % i, "file %d\n" % i)
    return count, total


def big(root, count, kib):
    rng = random.Random(count * 1000 + kib)
    total = write(root, "index.html", "<h1>big</h1>\n")
    for i in range(1, count):
        size = rng.randint(kib * 512, kib * 1536)
        total += write(root, "blob/%03d/%04d.bin" % (i % 17, i), rng.randbytes(size))
    return count, total


def huge(root):
    total = write(root, "index.html", "<h1>huge</h1>\n")
    path = os.path.join(root, "video", "too-big.mp4")
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as handle:
        handle.truncate(25 * 1024 * 1024 + 1)
    return 2, total + 25 * 1024 * 1024 + 1


def main(argv):
    dest, kind = argv[0], argv[1]
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    if kind == "tricky":
        files, total = tricky(dest)
    elif kind == "many":
        files, total = many(dest, int(argv[2]))
    elif kind == "big":
        files, total = big(dest, int(argv[2]), int(argv[3]))
    elif kind == "huge":
        files, total = huge(dest)
    else:
        raise SystemExit("unknown kind %r" % kind)
    print(json.dumps({"files": files, "bytes": total}))


if __name__ == "__main__":
    main(sys.argv[1:])
