"""The collection's content types against mime@3 itself (the table wrangler uses for uploads).

Runs node with ``tests/emulator/node_modules/mime`` (pinned in package.json) and compares, for every
extension either side knows and for the path shapes mime@3 treats differently (in a directory,
top-level without a dot, dot-files, upper case), the collection's ``_content_types.content_type_of``
with ``mime.getType(path) || "application/octet-stream"``, as wrangler computes it.
Skips only when node is absent; a missing ``node_modules/mime`` is a failure (run
``npm ci --prefix tests/emulator``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EMULATOR_DIR = HERE.parent
REPO = EMULATOR_DIR.parent.parent
MIME_DIR = EMULATOR_DIR / "node_modules" / "mime"
OCTET = "application/octet-stream"

NODE_SCRIPT = r"""
const mime = require(process.argv[1]);
const paths = JSON.parse(require("fs").readFileSync(0, "utf8"));
const known = Object.keys(mime._types);
process.stdout.write(JSON.stringify({
  known: known,
  types: paths.map((p) => mime.getType(p) || "application/octet-stream"),
}));
"""


@pytest.fixture(scope="module")
def upload_engine(tmp_path_factory):
    """The collection's ``_content_types`` and ``_mime_types`` (imported as ansible_collections.cfpages.cloudflare)."""
    root = tmp_path_factory.mktemp("collections")
    (root / "ansible_collections" / "cfpages").mkdir(parents=True)
    os.symlink(REPO, root / "ansible_collections" / "cfpages" / "cloudflare")
    sys.path.insert(0, str(root))
    try:
        from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import content_types as _content_types
        from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import mime_types as _mime_types
        yield _content_types, _mime_types
    finally:
        sys.path.remove(str(root))


def _node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot compare with mime@3 (npm package mime)")
    assert MIME_DIR.is_dir(), f"{MIME_DIR} is missing: run npm ci --prefix tests/emulator"
    return node


def _mime3(node: str, paths: list[str]) -> dict:
    out = subprocess.run([node, "-e", NODE_SCRIPT, str(MIME_DIR)], input=json.dumps(paths),
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def _shapes(ext: str) -> list[str]:
    """Relative paths (as wrangler passes them to getType) that exercise mime@3's path rules."""
    return [f"a/b/file.{ext}", f"file.{ext.upper()}", f"x.y.{ext}", ext, f"dir/{ext}", f".{ext}",
            f"dir/.{ext}", f"dir\\win.{ext}"]


def test_pinned_mime_is_3x_and_matches_the_data_file(upload_engine):
    _node_or_skip()
    _, mime_types = upload_engine
    pinned = json.loads((EMULATOR_DIR / "package.json").read_text())["devDependencies"]["mime"]
    installed = json.loads((MIME_DIR / "package.json").read_text())["version"]
    assert pinned.startswith("3.") and pinned == installed == mime_types.MIME_VERSION, (
        f"package.json pins mime {pinned}, node_modules has {installed}, the data file was generated "
        f"from {mime_types.MIME_VERSION}: run tools/generate_content_types.py")


def test_every_extension_matches_mime3(upload_engine):
    node = _node_or_skip()
    content_types, mime_types = upload_engine
    known = set(_mime3(node, [])["known"])
    ours = set(mime_types.MIME_TYPES)
    assert known - ours == set(), "extensions mime@3 knows and the collection does not"
    assert ours - known == set(), "extensions the collection maps and mime@3 does not"

    exts = sorted(known) + ["unknownext", "", "."]
    paths = [p for ext in exts for p in _shapes(ext)] + ["README", "a/LICENSE", "trailing.", "a/trailing."]
    expected = _mime3(node, paths)["types"]
    wrong = {p: (content_types.content_type_of(p), want) for p, want in zip(paths, expected)
             if content_types.content_type_of(p) != want or content_types.content_type_of("/" + p) != want}
    assert not wrong, f"{len(wrong)} paths differ from mime@3 (ours, mime@3): {dict(list(wrong.items())[:20])}"
    assert len(known) > 1000  # the full table, not the common web types only
