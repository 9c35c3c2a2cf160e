"""Render a status page (roles/status_page) in headless Chromium and check it.

    check_status_page.py PAGE.html --data DATA.(yml|json) [--screenshot OUT.png] [--width 1280]

DATA is what the page was rendered from: a list (or ``{status_page_data: [...]}``) of
``{project, deployments, domains}`` in the API's shapes. The page is loaded with
``chromium --headless --dump-dom`` and the resulting DOM must show, for every project: its section,
production URL, custom domains with their status, and every deployment's row with the expected
status, branch, short commit, first line of the commit message, preview and alias links, and the
"Live" badge on the live production deployment. The page must be self-contained: inline CSS, no
scripts, no external stylesheets, images, fonts or frames. With --screenshot, a PNG of the page
(full height) is written for a person to look at.

Needs Debian's ``chromium`` (tests/run.sh installs it) and PyYAML for YAML data.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag=None, **attrs):
        out = []
        for n in self.iter():
            if tag and n.tag != tag:
                continue
            if all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append(n)
        return out

    def find(self, tag=None, **attrs):
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def text(self):
        parts = []
        for c in self.children:
            parts.append(c.text() if isinstance(c, Node) else c)
        return "".join(parts)

    def hrefs(self):
        return [n.attrs.get("href") for n in self.find_all("a")]


class Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def expected_state(d):
    st = d.get("latest_stage") or {}
    status, stage = st.get("status") or "", st.get("name") or ""
    if status == "success" and stage in ("deploy", ""):
        return "success"
    if status == "failure":
        return "failure"
    if status == "canceled":
        return "canceled"
    if status == "active" or (status == "success" and stage != "deploy"):
        return "active"
    return "queued"


def load_data(path):
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith((".yml", ".yaml")):
        import yaml  # noqa: PLC0415 - only needed for YAML input

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("status_page_data", [])
    return data or []


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("chromium not found: install Debian's chromium package (apt-get install -y chromium)")


def run_chromium(binary, args, profile):
    cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        sys.exit(f"chromium failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return proc.stdout


class Checker:
    def __init__(self):
        self.failures = []
        self.checks = 0

    def ok(self, cond, msg):
        self.checks += 1
        if not cond:
            self.failures.append(msg)
        return cond


def check_dom(dom: Node, data, chk: Checker):
    # Self-contained: no scripts, frames, external stylesheets, images or fonts.
    for tag in ("script", "iframe", "object", "embed", "frame"):
        chk.ok(not dom.find_all(tag), f"the page has a <{tag}> element (must be self-contained, no scripts)")
    for link in dom.find_all("link"):
        chk.ok("stylesheet" not in (link.attrs.get("rel") or "") and "icon" not in (link.attrs.get("rel") or ""),
               f"external resource <link {link.attrs}>")
    for n in dom.iter():
        src = n.attrs.get("src")
        if src:
            chk.ok(src.startswith("data:"), f"<{n.tag} src={src!r}> loads an external asset")
    styles = dom.find_all("style")
    chk.ok(styles, "no inline <style> element")
    css = "".join(s.text() for s in styles)
    chk.ok(not re.search(r"@import|url\(\s*['\"]?(https?:)?//", css), "the CSS loads something external")
    chk.ok(dom.find("title") is not None and dom.find("title").text().strip(), "no <title>")

    stat = dom.find(id="stat-projects")
    chk.ok(stat is not None and stat.find("b") is not None and stat.find("b").text().strip() == str(len(data)),
           f"the projects counter does not say {len(data)}")
    if not data:
        chk.ok("No Pages projects" in dom.text(), "an empty account does not say so")

    for entry in data:
        p = entry["project"]
        name = p["name"]
        sec = dom.find("section", data_project=name)
        if not chk.ok(sec is not None, f"project {name}: no section"):
            continue
        h2 = sec.find("h2")
        chk.ok(h2 is not None and h2.text().strip() == name, f"project {name}: heading is not the name")
        if p.get("subdomain"):
            prod = sec.find(data_role="production-url")
            url = "https://" + p["subdomain"]
            chk.ok(prod is not None and url in prod.hrefs(), f"project {name}: production URL {url} not linked")
        dom_box = sec.find(data_role="domains")
        for d in entry.get("domains") or []:
            span = dom_box.find(data_domain=d["name"]) if dom_box is not None else None
            if chk.ok(span is not None, f"project {name}: custom domain {d['name']} missing"):
                chk.ok(f"https://{d['name']}" in span.hrefs(), f"project {name}: domain {d['name']} not linked")
                chk.ok((d.get("status") or "unknown") in span.text(),
                       f"project {name}: domain {d['name']} status {d.get('status')} not shown")
        canonical = (p.get("canonical_deployment") or {}).get("id")
        deployments = entry.get("deployments") or []
        if not deployments:
            chk.ok("No deployments yet." in sec.text(), f"project {name}: no 'No deployments yet.' note")
        rows = [r for r in sec.find_all("tr") if "data-deployment" in r.attrs]
        chk.ok(len(rows) == len(deployments), f"project {name}: {len(rows)} deployment rows, expected {len(deployments)}")
        for d in deployments:
            row = sec.find("tr", data_deployment=d["id"])
            if not chk.ok(row is not None, f"project {name}: deployment {d['id']} has no row"):
                continue
            want = expected_state(d)
            chk.ok(row.attrs.get("data-status") == want,
                   f"deployment {d['id']}: status {row.attrs.get('data-status')!r}, expected {want!r}")
            text = row.text()
            meta = (d.get("deployment_trigger") or {}).get("metadata") or {}
            if meta.get("branch"):
                chk.ok(meta["branch"] in text, f"deployment {d['id']}: branch {meta['branch']} not shown")
            if meta.get("commit_hash"):
                chk.ok(meta["commit_hash"][:7] in text, f"deployment {d['id']}: commit {meta['commit_hash'][:7]} not shown")
            # pages_deployment's own trailer lines (cfpages-digest:, cfpages-index:) are not shown
            lines = [ln.strip() for ln in (meta.get("commit_message") or "").splitlines()
                     if ln.strip() and not re.match(r"cfpages-[a-z]+: ", ln)]
            chk.ok(not re.search(r"cfpages-[a-z]+: ", text),
                   f"deployment {d['id']}: the module's trailer lines are shown")
            if lines:
                first = lines[0]
                chk.ok(first in text, f"deployment {d['id']}: commit message {first!r} not shown as text")
            if d.get("environment"):
                chk.ok(d["environment"] in text, f"deployment {d['id']}: environment not shown")
            links = row.hrefs()
            if d.get("url"):
                chk.ok(d["url"] in links, f"deployment {d['id']}: preview link {d['url']} missing")
            for alias in d.get("aliases") or []:
                chk.ok(alias in links, f"deployment {d['id']}: alias link {alias} missing")
            chk.ok(re.search(r"(just now|\d+ (min|h|days|months) ago)", text) is not None,
                   f"deployment {d['id']}: no age shown")
            live = "Live" in [s.text().strip() for s in row.find_all("span")]
            chk.ok(live == (d["id"] == canonical), f"deployment {d['id']}: Live badge {'missing' if not live else 'wrong'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("page")
    ap.add_argument("--data", required=True, help="the data the page was rendered from (YAML or JSON)")
    ap.add_argument("--screenshot", help="write a PNG of the page here")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=0, help="window height (default: from the page's length)")
    ap.add_argument("--dark", action="store_true", help="screenshot with prefers-color-scheme: dark")
    args = ap.parse_args(argv)

    page = Path(args.page).resolve()
    data = load_data(args.data)
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(prefix="cfpages-chromium-") as profile:
        dom_text = run_chromium(binary, ["--dump-dom", page.as_uri()], profile)
        builder = Builder()
        builder.feed(dom_text)
        dom = builder.root
        chk = Checker()
        chk.ok(dom.find("body") is not None, "chromium returned no <body>")
        check_dom(dom, data, chk)
        if args.screenshot:
            out = Path(args.screenshot).resolve()
            out.parent.mkdir(parents=True, exist_ok=True)
            rows = len(dom.find_all("tr")) + 3 * len(data)
            height = args.height or max(800, min(8000, 240 + 130 * len(data) + 42 * rows))
            extra = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] if args.dark else []
            run_chromium(binary, [*extra, f"--screenshot={out}", f"--window-size={args.width},{height}",
                                  page.as_uri()], profile)
            chk.ok(out.is_file() and out.stat().st_size > 1000, f"no screenshot written to {out}")
            if out.is_file():
                print(f"screenshot: {out}")
    if chk.failures:
        print(f"status page check FAILED: {len(chk.failures)} of {chk.checks} checks", file=sys.stderr)
        for f in chk.failures:
            print("  - " + f, file=sys.stderr)
        return 1
    deployments = sum(len(e.get("deployments") or []) for e in data)
    print(f"status page check passed: {chk.checks} checks, {len(data)} projects, {deployments} deployments "
          f"({page.name}, {os.path.getsize(page)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
