"""tests/config.toml, read once: the ansible-core matrix, the venvs' tools, the integration
settings and the stages (used by noxfile.py and, through the command line, by tests/run.sh).

    python3 tests/helpers/config.py stages     the stage names, in run order, one a line
    python3 tests/helpers/config.py help       the stages and what each one is, for tests/run.sh --help

Standard library only (tomllib: Python 3.11 and later), so tests/run.sh can ask before nox exists.
"""
from __future__ import annotations

import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "config.toml"
NEEDS = {"lines:matrix", "lines:integration", "tools", "importer", "node", "wrangler"}


@dataclass(frozen=True)
class Line:
    """An ansible-core line: the Python it runs on here, its pip spec, and whether it is a pre-release."""
    python: str
    spec: str
    pre: bool = False


def _load():
    data = tomllib.loads(PATH.read_text(encoding="utf-8"))
    stages = {s["name"]: s for s in data["stage"]}
    for stage in stages.values():
        unknown = set(stage.get("needs", ())) - NEEDS
        if unknown:
            raise ValueError(f"{PATH}: stage {stage['name']}: unknown needs {sorted(unknown)} (known: {sorted(NEEDS)})")
    return data, stages


DATA, _STAGES = _load()
MATRIX = {core: Line(**line) for core, line in DATA["matrix"].items()}
TOOLS_LINE = DATA["tools_line"]
TOOLS = DATA["venvs"]["tools"]
IMPORTER = DATA["venvs"]["importer"]
EDA = DATA["venvs"]["eda"]
INTEGRATION = DATA["integration"]
STAGES = list(_STAGES)


def needs(stage):
    """What the prepare session builds for a stage (tests/config.toml, [[stage]] needs)."""
    return set(_STAGES[stage].get("needs", ()))


def integration_wrangler_lane(core):
    return INTEGRATION["wrangler_lane"].get(core, INTEGRATION["default_wrangler_lane"])


def stage_help():
    lines = []
    for name, stage in _STAGES.items():
        text = " ".join(stage["help"].split())
        wrapped = textwrap.wrap(text, 110 - 15, break_on_hyphens=False) or [""]
        lines.append(f"  {name:<12} {wrapped[0]}")
        lines += [" " * 15 + more for more in wrapped[1:]]
    return "\n".join(lines)


def main(argv):
    if argv == ["stages"]:
        print("\n".join(STAGES))
    elif argv == ["help"]:
        print(stage_help())
    else:
        sys.exit("usage: config.py stages|help")


if __name__ == "__main__":
    main(sys.argv[1:])
