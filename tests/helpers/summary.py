"""Rows of the test run's summary table: recorded by the noxfile's sessions, printed by tests/run.sh.

    python summary.py RUN_DIR SECONDS    print the table of RUN_DIR/rows.jsonl and the closing line;
                                         exit 1 when a row failed or there is none

A row is one stage, or one ansible-core line of a matrix stage: name, result (pass / skip / FAIL),
seconds and a short note. Only the standard library is used (it runs with any Python 3).
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

_LOCK = threading.Lock()


def rows_file():
    run_dir = os.environ.get("CFPAGES_RUN_DIR")
    return Path(run_dir) / "rows.jsonl" if run_dir else None


def record(name, result, seconds, note=""):
    """Add a row (no-op outside tests/run.sh, which sets CFPAGES_RUN_DIR)."""
    if result == "FAIL":
        print(f"FAILED: {name}", flush=True)
    path = rows_file()
    if path is None:
        print(f"{name}: {result} ({fmt_secs(seconds)}) {note}".rstrip(), flush=True)
        return
    with _LOCK, open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"name": name, "result": result, "seconds": int(seconds), "note": note}) + "\n")


def fmt_secs(seconds):
    seconds = int(seconds)
    return "%dm%02ds" % (seconds // 60, seconds % 60)


def print_summary(run_dir, total, bold=""):
    path = Path(run_dir) / "rows.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []
    plain = "\033[0m" if bold else ""
    print(f"\n{bold}== Summary{plain}")
    line = "%-22s %-6s %8s  %s"
    print(line % ("STAGE", "RESULT", "TIME", "NOTE"))
    print(line % ("-" * 22, "-" * 6, "-" * 8, "----"))
    counts = {"pass": 0, "FAIL": 0, "skip": 0}
    for row in rows:
        print((line % (row["name"], row["result"], fmt_secs(row["seconds"]), row["note"])).rstrip())
        counts[row["result"]] = counts.get(row["result"], 0) + 1
    print("%-22s %-6s %8s" % ("total", "", fmt_secs(total)))
    print()
    print(f"{counts['pass']} passed, {counts['FAIL']} failed, {counts['skip']} skipped")
    return bool(rows) and counts["FAIL"] == 0


if __name__ == "__main__":
    BOLD = "\033[1m" if sys.stdout.isatty() else ""
    sys.exit(0 if print_summary(sys.argv[1], int(sys.argv[2]), BOLD) else 1)
