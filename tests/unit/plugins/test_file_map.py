# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""docs/developing.md's file map stays true, and every module_utils file says it is private.

The map is the first column of the tables in docs/developing.md: each backticked path there is an
entry (a bare file name after a path in the same cell is that path's neighbour, as in
``tests/emulator/tests/wrangler_capture.py``, ``test_wrangler_lanes.py``; ``<name>`` stands for any
one path component). Every ``.py`` file under ``plugins/`` must be an entry (a package's
``__init__.py`` may be named by its directory, ``plugins/module_utils/upload/``); and for each of
``roles/``, ``playbooks/`` and ``extensions/`` that the map lists anything of, every top-level
entry of it must be listed (itself, or a path inside it). Every ``.py`` file under
``plugins/module_utils/``, sub-packages included, carries the header line that says it is no
public API.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]  # tests/unit/plugins/ -> the collection root
MAP = ROOT / "docs" / "developing.md"
PRIVATE = "# PRIVATE to the collection: not a public API, may change without notice."
LISTED_DIRS = ("roles", "playbooks", "extensions")
PLACEHOLDER = re.compile(r"<[^<>/]+>")


def map_entries(text):
    """The backticked paths of the first cell of every table row of ``text``."""
    entries = []
    for line in text.splitlines():
        if not line.startswith("|") or re.match(r"^\|\s*:?-+", line):
            continue
        first = line.split("|")[1]
        base = ""
        for token in re.findall(r"`([^`]+)`", first):
            if "/" in token:
                base = token.rsplit("/", 1)[0] + "/"
                entries.append(token)
            elif base:
                entries.append(base + token)
    return entries


def _pattern(entry):
    return PLACEHOLDER.sub("*", entry.rstrip("/"))


def _named(path, entries):
    """path (relative, posix) is an entry, matches one with placeholders, or is a package's
    __init__.py named by its directory."""
    candidates = {path}
    if path.endswith("/__init__.py"):
        candidates.add(path[:-len("/__init__.py")])
    for entry in entries:
        pattern = _pattern(entry)
        if any(fnmatch.fnmatchcase(c, pattern) and pattern.count("/") == c.count("/") for c in candidates):
            return True
    return False


def _under(path, entries):
    """path (a top-level entry of roles/, playbooks/ or extensions/) is named, or something inside it is."""
    for entry in entries:
        pattern = _pattern(entry)
        parts = pattern.split("/")
        depth = path.count("/") + 1
        if len(parts) >= depth and fnmatch.fnmatchcase(path, "/".join(parts[:depth])):
            return True
    return False


def missing_from_map(root, text):
    """What the map of ``text`` misses in the tree at ``root``: plugins/ Python files, and the
    top-level entries of roles/, playbooks/ and extensions/ where the map lists that directory."""
    entries = map_entries(text)
    missing = [p for p in sorted(f.relative_to(root).as_posix() for f in (root / "plugins").rglob("*.py"))
               if "__pycache__" not in p and not _named(p, entries)]
    for top in LISTED_DIRS:
        if not any(_pattern(e) == top or _pattern(e).startswith(top + "/") for e in entries):
            continue
        for child in sorted((root / top).iterdir()) if (root / top).is_dir() else ():
            rel = child.relative_to(root).as_posix()
            if child.name != "__pycache__" and not _under(rel, entries):
                missing.append(rel + ("/" if child.is_dir() else ""))
    return missing


def without_private_header(root):
    """plugins/module_utils/ Python files (sub-packages too) without the PRIVATE header line; an empty
    ``__init__.py`` is exempt (ansible-test's empty-init check wants it empty)."""
    return [f.relative_to(root).as_posix() for f in sorted((root / "plugins" / "module_utils").rglob("*.py"))
            if "__pycache__" not in f.parts and f.read_text(encoding="utf-8").strip()
            and PRIVATE not in f.read_text(encoding="utf-8").splitlines()[:15]]


def test_file_map_names_every_plugin_file_and_listed_directory():
    missing = missing_from_map(ROOT, MAP.read_text(encoding="utf-8"))
    assert not missing, ("docs/developing.md's file map does not name: " + ", ".join(missing)
                         + " (add a row to its table saying what each is)")


def test_every_module_utils_file_has_the_private_header():
    bad = without_private_header(ROOT)
    assert not bad, f"without the line {PRIVATE!r} near the top: " + ", ".join(bad)


# The checks themselves, on a small tree of their own: they find what is missing, and only that.

MAP_TEXT = """\
| path | what |
|---|---|
| `plugins/module_utils/_api.py` | the client |
| `plugins/module_utils/upload/` | the engine package |
| `plugins/module_utils/upload/_core.py`, `_pages.py` | its core and backend |
| `plugins/modules/<module>.py` | a module each |
| `roles/deploy_site/` | a role |
| `extensions/awx/job_templates.yml` | AWX |
"""


@pytest.fixture
def tree(tmp_path):
    files = ["plugins/module_utils/_api.py", "plugins/module_utils/upload/__init__.py",
             "plugins/module_utils/upload/_core.py", "plugins/module_utils/upload/_pages.py",
             "plugins/modules/pages_project.py", "roles/deploy_site/tasks/main.yml", "extensions/awx/x.yml",
             "playbooks/deploy.yml"]
    for name in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PRIVATE + "\n" if "module_utils" in name else "---\n", encoding="utf-8")
    return tmp_path


def test_a_complete_map_misses_nothing(tree):
    # playbooks/ is not in the map at all, so its files need no rows.
    assert missing_from_map(tree, MAP_TEXT) == []


@pytest.mark.parametrize("extra, expected", [
    ("plugins/module_utils/_new.py", "plugins/module_utils/_new.py"),
    ("plugins/module_utils/upload/deep/_walk.py", "plugins/module_utils/upload/deep/_walk.py"),
    ("plugins/module_utils/deployments/__init__.py", "plugins/module_utils/deployments/__init__.py"),
    ("plugins/doc_fragments/auth.py", "plugins/doc_fragments/auth.py"),
    ("roles/rebuild/tasks/main.yml", "roles/rebuild/"),
    ("extensions/eda/rulebook.yml", "extensions/eda/"),
])
def test_a_file_the_map_misses_is_reported(tree, extra, expected):
    path = tree / extra
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PRIVATE + "\n", encoding="utf-8")
    assert missing_from_map(tree, MAP_TEXT) == [expected]


def test_a_module_utils_file_without_the_header_is_reported(tree):
    assert without_private_header(tree) == []
    (tree / "plugins/module_utils/upload/deep").mkdir()
    (tree / "plugins/module_utils/upload/deep/_walk.py").write_text('"""Walk."""\n', encoding="utf-8")
    (tree / "plugins/module_utils/upload/__init__.py").write_text("", encoding="utf-8")  # empty: exempt
    (tree / "plugins/module_utils/upload/deep/__init__.py").write_text("X = 1\n", encoding="utf-8")
    assert without_private_header(tree) == ["plugins/module_utils/upload/deep/__init__.py",
                                            "plugins/module_utils/upload/deep/_walk.py"]
