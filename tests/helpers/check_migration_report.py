"""Render a migration report (roles/migration_report) in headless Chromium and check it.

    check_migration_report.py PAGE.html [--data REPORT.json] [--screenshot OUT.png]

REPORT.json is what the page was rendered from (default: the JSON file the role writes beside the
page). The page is loaded with ``chromium --headless --dump-dom``; the DOM must show one row per
project with its verdict, a ``<details>`` part (opened by a click) with every blocker, step and
not-judged code, each secret's command, and the Wrangler configuration as JSON equal to the
report's; and the page must be self-contained (no scripts, no external stylesheets, images or
frames). With --screenshot, a PNG of the page is written, with every part opened, for a person to
look at. Needs Debian's ``chromium``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from check_status_page import Builder, Checker, chromium_binary, run_chromium


def check_self_contained(dom, chk):
    chk.ok(not dom.find_all("script"), "the page has a <script>")
    chk.ok(not dom.find_all("iframe") and not dom.find_all("img"), "the page loads frames or images")
    for link in dom.find_all("link"):
        chk.ok(link.attrs.get("rel") != "stylesheet", "the page loads an external stylesheet")


def check_project(dom, item, chk):
    name = item["name"]
    row = dom.find("tr", id=f"project-{name}")
    if not chk.ok(row is not None, f"{name}: no row"):
        return
    chk.ok(row.attrs.get("data-verdict") == item["verdict"], f"{name}: verdict {row.attrs.get('data-verdict')}")
    badge = [s.text().strip() for s in row.find_all("span") if "verdict" in (s.attrs.get("class") or "")]
    chk.ok(badge == [item["verdict"]], f"{name}: verdict badge {badge}")
    details = row.find("details")
    if not chk.ok(details is not None and details.find("summary") is not None, f"{name}: no click-open part"):
        return
    text = details.text()
    for kind in ("blockers", "steps", "unknowns"):
        for found in item[kind]:
            chk.ok(found["code"] in text, f"{name}: {kind[:-1]} {found['code']} not shown")
    summary = details.find("summary").text()
    chk.ok(re.search(r"%d blockers?, %d steps?" % (len(item["blockers"]), len(item["steps"])), summary) is not None,
           f"{name}: summary {summary!r}")
    for secret in item["secrets"]:
        chk.ok(secret["command"] in text, f"{name}: secret command for {secret['name']} missing")
    pre = details.find("pre")
    try:
        shown = json.loads(pre.text()) if pre is not None else None
    except ValueError:
        shown = None
    chk.ok(shown == item["wrangler_config"], f"{name}: the Wrangler configuration shown differs from the report")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("page")
    ap.add_argument("--data", help="the report the page was rendered from (default: PAGE with .json)")
    ap.add_argument("--screenshot", help="write a PNG of the page (every part opened) here")
    args = ap.parse_args(argv)
    page = Path(args.page).resolve()
    report = json.loads(Path(args.data or page.with_suffix(".json")).read_text(encoding="utf-8"))
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(prefix="cfpages-chromium-") as profile:
        builder = Builder()
        builder.feed(run_chromium(binary, ["--dump-dom", page.as_uri()], profile))
        dom = builder.root
        chk = Checker()
        chk.ok(dom.find("body") is not None, "chromium returned no <body>")
        check_self_contained(dom, chk)
        rows = dom.find_all("tr", **{"class": "project"})
        chk.ok(len(rows) == len(report), f"{len(rows)} project rows for {len(report)} projects")
        for item in report:
            check_project(dom, item, chk)
        if args.screenshot:
            # The same page with every <details> open, so the picture shows what a click shows.
            opened = Path(profile) / "opened.html"
            opened.write_text(page.read_text(encoding="utf-8").replace("<details>", "<details open>"), encoding="utf-8")
            out = Path(args.screenshot).resolve()
            out.parent.mkdir(parents=True, exist_ok=True)
            height = max(900, min(12000, 300 + 520 * len(report)))
            run_chromium(binary, [f"--screenshot={out}", f"--window-size=1280,{height}", opened.as_uri()], profile)
            chk.ok(out.is_file() and out.stat().st_size > 1000, f"no screenshot written to {out}")
    if chk.failures:
        print(f"migration report check FAILED: {len(chk.failures)} of {chk.checks} checks", file=sys.stderr)
        for failure in chk.failures:
            print("  - " + failure, file=sys.stderr)
        return 1
    verdicts = ", ".join("%s %s" % (item["name"], item["verdict"]) for item in report)
    print(f"migration report check passed: {chk.checks} checks, {len(report)} projects ({verdicts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
