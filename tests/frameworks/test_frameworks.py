"""Real framework builds deployed with pages_deployment and with `wrangler pages deploy` serve the same.

For each app of apps.APPS (SvelteKit + adapter-cloudflare, Astro 5 SSR + @astrojs/cloudflare 12, a
Pages Functions project, an Eleventy site of 3,000+ pages), built once from its committed sources
and lockfile, deployed by both tools to one emulator running workerd: every request of the app's
list (pages, API routes, a POST, 404s, redirects, built assets) gets the same status, content type,
body and headers from both deployments, and a rerun of the playbook changes nothing.

Each comparison is written to tests/output/frameworks/<lane>-<app>.json.
"""
from __future__ import annotations

import json

import pytest
from conftest import OUTPUT, host_free

# Headers that differ between any two responses (time, connection handling, the emulator's own
# diagnostics); everything else is compared. Content-Length follows from the body, compared itself.
VOLATILE = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length", "cf-ray",
            "age"}


def _snapshot(response, deployed):
    headers = {}
    for name, value in response.headers.items():
        low = name.lower()
        if low in VOLATILE or low.startswith("x-pages-emulator"):
            continue
        headers[low] = host_free(value, deployed)
    try:
        body = host_free(response.content.decode("utf-8"), deployed)
    except UnicodeDecodeError:
        body = response.content.hex()
    return {"status": response.status_code, "content-type": headers.pop("content-type", None),
            "location": headers.pop("location", None), "headers": headers, "body": body}


def _requests_of(deployed):
    """The app's requests plus one per asset glob (a built file whose name the build chose)."""
    reqs = list(deployed.app.requests)
    for pattern in deployed.app.asset_globs:
        found = sorted(deployed.output.glob(pattern))
        assert found, f"the build has no {pattern} under {deployed.output}"
        reqs.append(type(reqs[0])("/" + found[0].relative_to(deployed.output).as_posix()))
    return reqs


def _differences(ours, theirs):
    diffs = []
    for key in ("status", "content-type", "location", "body"):
        if ours[key] != theirs[key]:
            show = (lambda v: (v[:300] + "...") if isinstance(v, str) and len(v) > 300 else v)
            diffs.append(f"{key}: ours {show(ours[key])!r} / wrangler's {show(theirs[key])!r}")
    for name in sorted(set(ours["headers"]) | set(theirs["headers"])):
        if ours["headers"].get(name) != theirs["headers"].get(name):
            diffs.append(f"header {name}: ours {ours['headers'].get(name)!r} / wrangler's {theirs['headers'].get(name)!r}")
    return diffs


def test_first_run_deploys(deployed):
    result = deployed.first_run["deploy"]
    assert result["changed"] is True, result
    assert result["worker"]["mode"] == deployed.app.worker, result["worker"]
    assert result["worker"].get("bundled", False) is deployed.app.bundled, result["worker"]
    assert result["upload"]["files"] >= deployed.app.min_files, result["upload"]


def test_responses_match_wrangler(deployed, emu):
    """Both deployments answer every request of the list alike, and the answers are the app's own."""
    rows, findings = [], []
    for req in _requests_of(deployed):
        ours = _snapshot(emu.request(deployed.host("ours"), req), deployed)
        theirs = _snapshot(emu.request(deployed.host("wrangler"), req), deployed)
        diffs = _differences(ours, theirs)
        rows.append({"request": req.label, "same": not diffs, "differences": diffs, "ours": ours, "wrangler": theirs})
        findings += [f"{req.label}: {d}" for d in diffs]
    (OUTPUT / f"{deployed.lane.name}-{deployed.app.name}.json").write_text(json.dumps(rows, indent=2) + "\n")
    # Not just "the same": a page both tools fail alike (a 500 from both) must not pass.
    expected = {r.label: r.status for r in deployed.app.requests if r.status is not None}
    wrong = [f"{row['request']}: {row['ours']['status']} (expected {expected[row['request']]}); body "
             f"{row['ours']['body'][:200]!r}" for row in rows
             if row["request"] in expected and row["ours"]["status"] != expected[row["request"]]]
    assert not findings and not wrong, (
        f"{deployed.app.name}: {len(findings)} difference(s) between ours and wrangler's deployment, "
        f"{len(wrong)} unexpected status(es) (all responses: tests/output/frameworks/):\n  "
        + "\n  ".join(findings + wrong))


def test_rerun_is_a_noop(deployed):
    again = deployed.run_playbook()
    assert again["deploy"]["changed"] is False, again["deploy"]
    changed_projects = [r["item"] for r in again["projects"]["results"] if r["changed"]]
    assert not changed_projects, again["projects"]
    assert again["deploy"]["deployment"]["id"] == deployed.first_run["deploy"]["deployment"]["id"]


@pytest.fixture(autouse=True)
def _timings(request):
    yield
    deployed = request.node.funcargs.get("deployed")
    if deployed is not None:
        (OUTPUT / f"{deployed.lane.name}-{deployed.app.name}-timings.json").write_text(
            json.dumps(deployed.timings, indent=2) + "\n")
