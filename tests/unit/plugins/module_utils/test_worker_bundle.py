# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the ``_worker.bundle`` builder, the static import scanner and the ``_routes.json``
validator (no network, no Node)."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._worker_code import (
    bundle as WB,
    js_imports as J,
    routes as R,
)
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write

BOUNDARY = "----formdata-undici-012345678901"


# --------------------------------------------------------------------------- collecting modules


def test_directory_modules_names_types_and_order_as_wrangler(tmp_path):
    root = tmp_path / "_worker.js"
    write(root, "index.js", "import './lib.js'; export default {}")
    write(root, "lib.js", "export const a = 1")
    write(root, "lib/z.mjs", "export const z = 1")
    write(root, "B.js", "export const b = 1")
    write(root, "add.wasm", b"\0asm\1\0\0\0")
    write(root, "page.html", "<p>hi</p>")
    write(root, "notes.txt", "text")
    write(root, "q.sql", "select 1")
    write(root, "blob.bin", b"\xff\x00")
    write(root, "README.md", "not a module")
    write(root, "upper.JS", "not a module: rules are case-sensitive")
    write(root, "node_modules/dep/index.js", "export const dep = 1")
    write(root, ".wrangler/tmp/x.js", "skipped like wrangler's hidden dir")
    write(root, "sub/.wrangler/kept.js", "only the top-level .wrangler is skipped")
    bundle = WB.collect_directory(str(root))
    assert bundle.mode == "directory"
    names = [(m.name, m.type) for m in bundle.modules]
    # index.js first, then a depth-first walk with each directory's entries in byte order: the
    # directory "lib" comes before the file "lib.js" (Node's readdir order, not a sort of paths).
    assert names == [
        ("index.js", "esm"),
        ("B.js", "esm"),
        ("add.wasm", "compiled-wasm"),
        ("blob.bin", "buffer"),
        ("lib/z.mjs", "esm"),
        ("lib.js", "esm"),
        ("node_modules/dep/index.js", "esm"),
        ("notes.txt", "text"),
        ("page.html", "text"),
        ("q.sql", "text"),
        ("sub/.wrangler/kept.js", "esm"),
    ]
    assert [m.content_type for m in bundle.modules[:4]] == [
        "application/javascript+module", "application/javascript+module", "application/wasm", "application/octet-stream"]
    assert bundle.modules[2].content == b"\0asm\1\0\0\0"
    assert bundle.size == sum(len(m.content) for m in bundle.modules)


def test_directory_without_index_js_is_refused(tmp_path):
    write(tmp_path / "_worker.js", "main.js", "export default {}")
    with pytest.raises(ERR.WorkerError, match=r"has no index\.js"):
        WB.collect_directory(str(tmp_path / "_worker.js"))


def test_main_module_is_read_as_utf8_text_like_wrangler(tmp_path):
    write(tmp_path / "_worker.js", "index.js", b"// \xff\nexport default {}")
    write(tmp_path / "_worker.js", "raw.bin", b"\xff")
    bundle = WB.collect_directory(str(tmp_path / "_worker.js"))
    assert bundle.modules[0].content == "// \ufffd\nexport default {}".encode("utf-8")
    assert bundle.modules[1].content == b"\xff"  # other modules are sent as their bytes


def test_single_file_worker_is_one_module_named_worker_js(tmp_path):
    path = write(tmp_path, "_worker.js", "export default {fetch(){return new Response('w')}}")
    bundle = WB.collect_file(path)
    assert bundle.mode == "file" and bundle.main_module == "_worker.js"
    assert [m.type for m in bundle.modules] == ["esm"]


def test_symlinked_module_is_read_and_symlinked_directory_not_walked(tmp_path):
    outside = tmp_path / "outside"
    write(outside, "shared.js", "export const s = 1")
    root = tmp_path / "_worker.js"
    write(root, "index.js", "export default {}")
    os.symlink(str(outside / "shared.js"), str(root / "shared.js"))
    os.symlink(str(outside), str(root / "vendor"))
    names = [m.name for m in WB.collect_directory(str(root)).modules]
    assert names == ["index.js", "shared.js"]


# --------------------------------------------------------------------------- multipart


def test_encode_bundle_is_wranglers_multipart_format():
    modules = [
        WB.WorkerModule("index.js", "esm", b"import w from './a.wasm';\nexport default {}"),
        WB.WorkerModule("a.wasm", "compiled-wasm", b"\0asm"),
        WB.WorkerModule('we"ird\nname.txt', "text", b"t"),
    ]
    body = WB.encode_bundle(modules, BOUNDARY)
    expected = (
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="metadata"\r\n\r\n'
        b'{"main_module":"index.js"}\r\n'
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="index.js"; filename="index.js"\r\n'
        b"Content-Type: application/javascript+module\r\n\r\n"
        b"import w from './a.wasm';\nexport default {}\r\n"
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="a.wasm"; filename="a.wasm"\r\n'
        b"Content-Type: application/wasm\r\n\r\n"
        b"\0asm\r\n"
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="we%22ird%0D%0Aname.txt"; filename="we%22ird%0Aname.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"t\r\n"
        b"--" + BOUNDARY.encode() + b"--\r\n"
    )
    assert body == expected


def test_random_boundary_has_undicis_form_and_never_occurs_in_a_module(monkeypatch):
    boundaries = iter(["----formdata-undici-000000000001", "----formdata-undici-000000000002"])
    monkeypatch.setattr(WB, "new_boundary", lambda: next(boundaries))
    modules = [WB.WorkerModule("index.js", "esm", b"// ----formdata-undici-000000000001")]
    body = WB.encode_bundle(modules)
    assert body.startswith(b"------formdata-undici-000000000002\r\n")


def test_parse_bundle_round_trip_and_errors():
    modules = [WB.WorkerModule("index.js", "esm", b"export default {}\r\n--x"), WB.WorkerModule("d.bin", "buffer", b"\r\n")]
    blob = WB.encode_bundle(modules, BOUNDARY)
    bundle = WB.bundle_from_blob(blob)
    assert bundle.body == blob and bundle.encode() == blob
    assert [(m.name, m.type, m.content) for m in bundle.modules] == [(m.name, m.type, m.content) for m in modules]
    for bad, message in (
        (b"not multipart", "no boundary"),
        (b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nx\r\n", "not a complete"),
        (WB.encode_bundle(modules, BOUNDARY).replace(b'"metadata"', b'"meta"'), "no metadata"),
    ):
        with pytest.raises(ERR.WorkerError, match=message):
            WB.bundle_from_blob(bad)


def test_gzip_size_matches_gzip_of_all_modules():
    modules = [WB.WorkerModule("index.js", "esm", b"a" * 10000), WB.WorkerModule("b.txt", "text", os.urandom(3000))]
    bundle = WB.WorkerBundle("directory", modules)
    expected = len(gzip.compress(b"".join(m.content for m in modules), compresslevel=6, mtime=0))
    assert abs(bundle.gzip_size() - expected) <= 8  # header fields aside, the same deflate stream


def test_digest_changes_with_any_module_and_ignores_the_boundary():
    base = [WB.WorkerModule("index.js", "esm", b"export default {}"), WB.WorkerModule("a.js", "esm", b"1")]
    same = WB.bundle_from_blob(WB.encode_bundle(base))
    assert WB.digest_of(WB.WorkerBundle("directory", base)) == WB.digest_of(same)
    edited = [base[0], WB.WorkerModule("a.js", "esm", b"2")]
    renamed = [base[0], WB.WorkerModule("b.js", "esm", b"1")]
    digests = set(WB.digest_of(WB.WorkerBundle("directory", m)) for m in (base, edited, renamed))
    assert len(digests) == 3


# --------------------------------------------------------------------------- checks


def test_unresolved_imports_are_named_with_file_line_and_specifier(tmp_path):
    root = tmp_path / "_worker.js"
    write(root, "index.js", "import { a } from './lib/a.js';\nimport missing from './nope.js';\nexport default {}")
    write(root, "lib/a.js", "export * from '../shared.mjs';\nexport { b } from './b.js'\nimport x from 'node:buffer'")
    write(root, "shared.mjs", "import up from '../../outside.js'; export const s = 1")
    bundle = WB.collect_directory(str(root))
    with pytest.raises(ERR.WorkerError) as caught:
        WB.check_imports(bundle)
    message = caught.value.message
    assert "3 unresolved imports" in message
    assert '%s:2: import "./nope.js" (no module nope.js in the bundle)' % os.path.join(str(root), "index.js") in message
    assert '%s:2: export "./b.js" (no module lib/b.js in the bundle)' % os.path.join(str(root), "lib/a.js") in message
    assert 'shared.mjs:1: import "../../outside.js" (points above' in message
    assert "node:buffer" not in message  # bare specifiers are the runtime's, not the bundle's


def test_resolved_imports_pass_including_wasm_and_text(tmp_path):
    root = tmp_path / "_worker.js"
    write(root, "index.js", "import w from './add.wasm?module'; import h from './t/p.html'; import { a } from '/a.js'")
    write(root, "add.wasm", b"\0asm")
    write(root, "t/p.html", "<p>")
    write(root, "a.js", "import h from './t/p.html'; export const a = 1")
    WB.check_imports(WB.collect_directory(str(root)))


def test_single_file_worker_with_a_relative_import_is_refused(tmp_path):
    path = write(tmp_path, "_worker.js", "import x from './chunk.js'\nexport default {}")
    with pytest.raises(ERR.WorkerError, match=r"_worker\.js:1: import \"\./chunk\.js\".*single-file _worker\.js cannot import"):
        WB.check_imports(WB.collect_file(path))


def test_size_limits(monkeypatch):
    bundle = WB.WorkerBundle("directory", [WB.WorkerModule("index.js", "esm", os.urandom(4000))])
    assert WB.check_size(bundle) == []
    monkeypatch.setattr(WB, "WORKER_GZIP_LIMIT_FREE", 1000)
    warnings = WB.check_size(bundle)
    assert len(warnings) == 1 and "Workers Free plan" in warnings[0]
    monkeypatch.setattr(WB, "WORKER_GZIP_LIMIT_PAID", 2000)
    with pytest.raises(ERR.WorkerError, match=r"at most 10 MiB compressed.*workers/platform/limits"):
        WB.check_size(bundle)
    monkeypatch.setattr(WB, "MAX_BUNDLE_BYTES", 100)
    with pytest.raises(ERR.WorkerError, match=r"up to 25 MiB"):
        WB.check_size(bundle)


# --------------------------------------------------------------------------- the import scanner

SCANNED = r'''#!/usr/bin/env node
import a from "./a.js";
import {b,
  c as d} from './lib/b.mjs'
import * as ns from "../x.js";
import "./side.js";
import def, { e } from "./e.js";
export * from "./re.js";
export * as r2 from "./re2.js";
export { f } from "./f.js";
export const g = 1;
export default function() { import("./dyn.js"); }
const s = "import x from './in-string.js'";
// import y from "./comment.js"
/* import z from "./block.js" */
const t = `tpl ${ "import q from './x'" } ${ {a:1}.a } import w from "./tpl.js"`;
const re = /import v from "\.\/re.js"/g;
x = a / 2; y = b / 3 // import n from "./div.js"
function h() { import k from "./inner.js" }
obj.import("./m.js");
import wasm from "./add.wasm?module"
import{m}from"./min.js";export{n}from"./min2.js"
import from from "./from.js"
import json from "./data.json" with { type: "json" };
import {"string name" as sn} from "./strname.js";
console.log(import.meta.url);
'''


def test_static_imports_found_and_everything_else_skipped():
    found = [(i.keyword, i.specifier, i.line) for i in J.static_imports(SCANNED)]
    assert found == [
        ("import", "./a.js", 2),
        ("import", "./lib/b.mjs", 4),
        ("import", "../x.js", 5),
        ("import", "./side.js", 6),
        ("import", "./e.js", 7),
        ("export", "./re.js", 8),
        ("export", "./re2.js", 9),
        ("export", "./f.js", 10),
        ("import", "./add.wasm?module", 21),
        ("import", "./min.js", 22),
        ("export", "./min2.js", 22),
        ("import", "./from.js", 23),
        ("import", "./data.json", 24),
        ("import", "./strname.js", 25),
    ]


def test_string_escapes_in_specifiers_are_decoded():
    assert [i.specifier for i in J.static_imports('import a from "./\\x61\\u0062\\u{63}.js"')] == ["./abc.js"]


def test_resolve_relative_to_the_importer():
    assert J.resolve("lib/x.js", "../a.js") == "a.js"
    assert J.resolve("lib/x.js", "./b/../c.js") == "lib/c.js"
    assert J.resolve("lib/x.js", "/root.js") == "root.js"
    assert J.resolve("a.js", "../b.js") is None
    assert J.resolve("a.js", "./w.wasm?module") == "w.wasm"
    assert J.is_relative("./a") and J.is_relative("../a") and not J.is_relative("node:fs") and not J.is_relative("pkg")


# --------------------------------------------------------------------------- _routes.json


def routes(**data):
    return json.dumps(dict({"version": 1, "include": ["/*"], "exclude": []}, **data))


def test_valid_routes_are_returned_parsed():
    data = R.validate_routes(routes(include=["/api/*", "/login"], exclude=["/api/static/x"], description="d").encode())
    assert data["include"] == ["/api/*", "/login"]


@pytest.mark.parametrize("content, problem", [
    ("{nope", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    ("[1]", "must be a JSON object"),
    (routes(version=2), '"version" must be 1, not 2'),
    (routes(version="1"), '"version" must be 1, not "1"'),
    (json.dumps({"version": 1, "include": ["/*"]}), '"exclude" must be an array'),
    (routes(include="/*"), '"include" must be an array'),
    (routes(include=[1]), 'every rule must be a string; "include" has 1'),
    (routes(include=[]), "at least one rule"),
    (routes(include=["/a%d" % i for i in range(60)], exclude=["/b%d" % i for i in range(41)]), "60 include and 41 exclude"),
    (routes(include=["/" + "x" * 100]), "has 101 characters; each rule may have at most 100"),
    (routes(exclude=["api/*"]), 'the exclude rule "api/*" must start with "/"'),
    (routes(include=["/api/*", "/api/users"]), 'the include rules "/api/*" and "/api/users" overlap'),
    # Python's parser raised RecursionError ("maximum recursion depth exceeded") at this depth.
    ("[" * 100000 + "]" * 100000, "not valid JSON (arrays or objects nested too deeply)"),
    ('{"version": 1, "include": ' + "[" * 100000, "not valid JSON (arrays or objects nested too deeply)"),
    # JSON.parse, which wrangler and Pages use, has no NaN or Infinity.
    ('{"version": NaN, "include": ["/*"], "exclude": []}', "not valid JSON (NaN is not a JSON value)"),
])
def test_invalid_routes_name_the_problem(content, problem):
    with pytest.raises(ERR.WorkerError) as caught:
        R.validate_routes(content, "/site/_routes.json")
    assert caught.value.message.startswith("invalid /site/_routes.json: ")
    assert problem in caught.value.message


def deepest_parsable_nesting():
    """The deepest nesting Python's parser reads here (it depends on the Python version and on the
    stack the test runner already uses: pytest-xdist's workers use more), found by bisection."""
    low, high = 1, 100000
    while low < high:
        mid = (low + high + 1) // 2
        try:
            json.loads("[" * mid + "]" * mid)
            low = mid
        except RecursionError:
            high = mid - 1
    return low


def test_a_rule_nested_near_the_parsers_limit_is_named_without_a_recursion_error():
    # Printing the rule back in the message recurses too, and may pass the limit the parser kept within.
    depth = deepest_parsable_nesting() - 5
    content = '{"version": 1, "include": ' + "[" * depth + "]" * depth + ', "exclude": []}'
    with pytest.raises(ERR.WorkerError) as caught:
        R.validate_routes(content, "/site/_routes.json")
    assert caught.value.message.startswith('invalid /site/_routes.json: every rule must be a string; "include" has ')


def test_routes_limits_count_utf16_units_like_javascript():
    R.validate_routes(routes(include=["/" + "\U0001F600" * 49]))  # 1 + 98 UTF-16 units
    with pytest.raises(ERR.WorkerError, match="101 characters"):
        R.validate_routes(routes(include=["/" + "\U0001F600" * 50]))
    R.validate_routes(routes(include=["/r%d" % i for i in range(50)], exclude=["/e%d" % i for i in range(50)]))
