# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Conventions every module keeps, checked on their sources and classes."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _base

MODULES_DIR = pathlib.Path(_base.__file__).resolve().parents[1] / "modules"
MODULE_FILES = sorted(MODULES_DIR.glob("*.py"))


def _is_changed(node):
    return isinstance(node, ast.Constant) and node.value == "changed"


def changed_writes(source):
    """The line numbers where ``source`` writes a ``changed`` key itself: ``x["changed"] = ...``,
    ``x.update(changed=...)`` or ``exit_json(changed=...)``, ``{"changed": ...}``, ``x.setdefault("changed", ...)``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) and _is_changed(node.slice):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            if any(keyword.arg == "changed" for keyword in node.keywords):
                lines.append(node.lineno)
            elif node.args and _is_changed(node.args[0]) and getattr(node.func, "attr", None) in ("setdefault", "__setitem__"):
                lines.append(node.lineno)
        elif isinstance(node, ast.Dict) and any(_is_changed(key) for key in node.keys):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_scan_finds_every_way_of_writing_changed():
    source = (
        'r["changed"] = True\n'
        "r.update(changed=False, x=1)\n"
        'r = {"changed": True}\n'
        'r.setdefault("changed", True)\n'
        'a = r["changed"] = b\n'
        'if r["changed"]:\n    pass\n'  # a read is fine
        "self._mark_as_changed()\n"
    )
    assert changed_writes(source) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.name)
def test_modules_set_changed_only_through_mark_as_changed(path):
    """``changed`` is the base's to write (``PagesModule._mark_as_changed``), as in hetzner.hcloud."""
    assert changed_writes(path.read_text(encoding="utf-8")) == []


def test_mark_as_changed_is_the_one_writer_in_the_base():
    tree = ast.parse(pathlib.Path(_base.__file__).read_text(encoding="utf-8"))
    writers = set()
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef) and changed_writes(ast.unparse(func)):
            writers.add(func.name)
    # __init__ starts the result with changed=False; everything else goes through the method.
    assert writers == {"__init__", "_mark_as_changed"}


def module_classes():
    from ansible_collections.cfpages.cloudflare.plugins.modules import (
        pages_deployment,
        pages_domain,
        pages_info,
        pages_migration_info,
        pages_project,
    )

    for module in (pages_deployment, pages_domain, pages_info, pages_migration_info, pages_project):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, _base.PagesModule) and value is not _base.PagesModule:
                yield value


WITH_STATES = [cls for cls in module_classes() if "state" in cls.argument_spec]


def test_the_modules_with_states_are_found():
    assert sorted(cls.__name__ for cls in WITH_STATES) == ["PagesDeployment", "PagesDomain", "PagesProject"]


@pytest.mark.parametrize("cls", WITH_STATES, ids=lambda c: c.__name__)
def test_every_option_is_in_the_table_of_options_by_state(cls):
    """A new option has one more place to edit, and this test names it."""
    assert cls.option_states is not None
    assert sorted(cls.option_states) == sorted(cls.argument_spec)
    states = set(cls.argument_spec["state"]["choices"])
    for option, valid_in in cls.option_states.items():
        assert valid_in, option
        for entry in valid_in:
            state, _sep, needs = entry.partition(" with ")
            assert state in states, (option, entry)
            assert not needs or needs in cls.argument_spec, (option, entry)


def _documentation(cls):
    import sys

    import yaml

    return yaml.safe_load(sys.modules[cls.__module__].DOCUMENTATION)


@pytest.mark.parametrize("cls", [c for c in WITH_STATES if not c.refuse_misplaced_options], ids=lambda c: c.__name__)
def test_options_a_state_ignores_say_so_in_their_documentation(cls):
    """Where a module ignores an option in a state (instead of refusing it), the table and the option's
    documentation agree: "Ignored with O(state=X)." for each state outside its entry, and only those."""
    states = cls.argument_spec["state"]["choices"]
    options = _documentation(cls)["options"]
    for option, valid_in in cls.option_states.items():
        ignored = [s for s in states if s not in valid_in]
        text = " ".join(options[option]["description"])
        said = sorted(set(re.findall(r"Ignored with O\(state=(\w+)\)", text)))
        assert said == sorted(ignored), option


PLUGINS_DIR = MODULES_DIR.parent
ERRORS_FILE = PLUGINS_DIR / "module_utils" / "_errors.py"


def exception_classes(source):
    """``(line, name)`` of each class in ``source`` that derives, by name, from an exception: a base
    named ``Exception``, ``BaseException`` or ending in ``Error``, or one of the file's own such classes."""
    found, names = [], set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        bases = [getattr(b, "id", getattr(b, "attr", "")) for b in node.bases]
        if any(b in ("Exception", "BaseException") or b.endswith(("Error", "Exception")) or b in names for b in bases):
            found.append((node.lineno, node.name))
            names.add(node.name)
    return found


def test_the_exception_scan_finds_direct_and_derived_classes():
    source = "class A(Exception): pass\nclass B(A): pass\nclass C(ValueError): pass\nclass D(object): pass\n"
    assert exception_classes(source) == [(1, "A"), (2, "B"), (3, "C")]


@pytest.mark.parametrize(
    "path", sorted(p for p in PLUGINS_DIR.rglob("*.py") if p != ERRORS_FILE), ids=lambda p: str(p.relative_to(PLUGINS_DIR))
)
def test_every_exception_class_lives_in_errors(path):
    """One hierarchy in one file (amazon.aws's ``errors.py``): a new failure kind goes into ``_errors.py``."""
    assert exception_classes(path.read_text(encoding="utf-8")) == []
