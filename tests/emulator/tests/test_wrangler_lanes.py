"""What each wrangler lane sends, request by request, and what changed between them.

The same scenario (a project create, a static deploy with _headers/_redirects, an advanced-mode
``_worker.js``, a Functions project) runs through a recording proxy (wrangler_capture.py) in
front of the emulator once per lane ("4.86": wrangler 4.86.0 on Node 20; "current": the newest
wrangler 4.x on Node 22; tests/helpers/environments.py). With both lanes chosen the transcripts
are compared: every difference must be one listed in KNOWN_DIFFERENCES (what the collection and
the emulator were checked against), so a new wrangler that sends something else fails here.

The collection's own engine (pages_deployment, run with ansible) deploys the static site through
the same proxy: its manifest and upload items must equal the newest wrangler's.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conformance_helpers import REPO_ROOT, envs, wrangler_env, wrangler_lane_command
from wrangler_capture import Recorder, differences, transcript

COMMIT = "0123456789abcdef0123456789abcdef01234567"
STATIC = {
    "index.html": b"<!doctype html><h1>lanes</h1>\n",
    "404.html": b"<h1>nope</h1>",
    "css/site.css": b"body{color:red}",
    "js/app.mjs": b"export const x = 1;\n",
    "data/items.json": b'{"a": 1}',
    "img/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "img/pixel.webp": b"RIFF\x00\x00\x00\x00WEBP",
    "fonts/a.woff2": b"wOF2\x00\x01",
    "docs/readme.md": b"# readme\n",
    "docs/manual.pdf": b"%PDF-1.4\n",
    "feed.xml": b"<rss/>",
    "app.wasm": b"\x00asm\x01\x00\x00\x00",
    "manifest.webmanifest": b"{}",
    "LICENSE": b"no extension\n",
    "nested/ünï/name.with.dots.tar.gz": b"dots\n",
    "UPPER.HTML": b"upper\n",
    "empty.txt": b"",
    "_headers": b"/*\n  X-Lane: yes\n",
    "_redirects": b"/old /index.html 301\n",
}
WORKER = {
    "index.html": b"<h1>worker</h1>",
    "_worker.js": b"export default { async fetch(request, env) { return env.ASSETS.fetch(request); } };\n",
}
# An advanced-mode directory deployed with --no-bundle: the modules go as they are, so the bundle's
# bytes must be the same from both wranglers and from our engine.
WORKER_DIR = {
    "index.html": b"<h1>worker dir</h1>",
    "_worker.js/index.js": (b"import { VERSION } from './lib/version.js';\nimport text from './notes.txt';\n"
                            b"export default { async fetch(request, env) {\n"
                            b"  if (new URL(request.url).pathname === '/v') return new Response(VERSION + text);\n"
                            b"  return env.ASSETS.fetch(request); } };\n"),
    "_worker.js/lib/version.js": b"export const VERSION = 'v1';\n",
    "_worker.js/notes.txt": b"notes\n",
    "_worker.js/add.wasm": bytes.fromhex("0061736d0100000001070160027f7f017f030201000707010361646400000a09010700200020016a0b"),
}
FUNCTIONS = {
    "public/index.html": b"<h1>functions</h1>",
    "functions/api/hello.js": b"export function onRequestGet() { return new Response('hello'); }\n",
}


def _write(root: Path, files: dict) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _scenario(emulator, lane, work: Path) -> dict:
    """{step: transcript} of the scenario run by the lane's wrangler against a reset emulator."""
    command = wrangler_lane_command(lane)
    emulator.reset()
    recorder = Recorder(emulator.root_url, "/client/v4")
    home = work / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    env = wrangler_env(home, command[0], TMPDIR=str(home), CLOUDFLARE_API_BASE_URL=recorder.base_url,
                       CLOUDFLARE_API_TOKEN=emulator.token, CLOUDFLARE_ACCOUNT_ID=emulator.account)
    static = _write(work / "static", STATIC)
    worker = _write(work / "worker", WORKER)
    fn = _write(work / "fn", FUNCTIONS)
    worker_dir = _write(work / "worker-dir", WORKER_DIR)
    steps = {
        "project create": (["pages", "project", "create", "lanes", "--production-branch", "main"], work),
        "static deploy": (["pages", "deploy", str(static), "--project-name", "lanes", "--branch", "main",
                           "--commit-hash", COMMIT, "--commit-message", "lanes", "--commit-dirty=true"], work),
        "_worker.js deploy": (["pages", "deploy", str(worker), "--project-name", "lanes", "--branch", "main",
                               "--commit-hash", COMMIT, "--commit-message", "lanes"], work),
        "functions deploy": (["pages", "deploy", "public", "--project-name", "lanes", "--branch", "preview",
                              "--commit-hash", COMMIT, "--commit-message", "lanes"], fn),
        "_worker.js directory --no-bundle deploy": (
            ["pages", "deploy", str(worker_dir), "--project-name", "lanes", "--branch", "main",
             "--commit-hash", COMMIT, "--commit-message", "lanes", "--no-bundle"], work),
    }
    out = {}
    try:
        for step, (args, cwd) in steps.items():
            proc = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=180, stdin=subprocess.DEVNULL, check=False)
            recorded = recorder.take()
            out[step] = {"rc": proc.returncode, "output": proc.stdout + proc.stderr,
                         "requests": transcript(recorded), "raw": recorded}
    finally:
        recorder.close()
    return out


@pytest.fixture(scope="module")
def lane_runs(emulator, tmp_path_factory):
    runs = {lane: _scenario(emulator, lane, tmp_path_factory.mktemp(f"lane-{lane}"))
            for lane in envs.wrangler_lanes_chosen()}
    dump = os.environ.get("CFPAGES_LANE_TRANSCRIPTS")  # a directory: keep them to read or diff
    if dump:
        Path(dump).mkdir(parents=True, exist_ok=True)
        for lane, steps in runs.items():
            for step, run in steps.items():
                for i, req in enumerate(run["raw"]):
                    if req["body"]:
                        (Path(dump) / f"{lane}-{re.sub(r"[^A-Za-z0-9_.-]+", "_", step)}-{i}.body").write_bytes(req["body"])
            (Path(dump) / f"wrangler-{lane}.json").write_text(json.dumps(
                {step: {k: v for k, v in run.items() if k != "raw"} for step, run in steps.items()},
                indent=1, sort_keys=True, ensure_ascii=False))
    return runs


@pytest.mark.parametrize("lane", envs.wrangler_lanes_chosen())
def test_every_step_succeeds(lane_runs, lane):
    for step, run in lane_runs[lane].items():
        assert run["rc"] == 0, f"{lane}: {step} failed:\n{run['output']}"


# What the current wrangler sends differently from 4.86, step by step, each with why it is accepted.
# A difference not listed fails test_lanes_send_the_same; one listed that no longer shows fails too
# (keep this the true list).
KNOWN_DIFFERENCES = {
    ("_worker.js deploy", "_worker.bundle module contents"):
        "the bundled module's bytes: esbuild's version, and for a compatibility date from 2026-08-04 "
        "(the default date is today) wrangler 4.164 bundles Node.js polyfills (unenv: console, "
        "process, performance) importing node:events, node:process and node:stream, as nodejs_compat "
        "is on by default from that date; module names, content types and metadata are the same",
    ("functions deploy", "_worker.bundle module contents"):
        "the same for the Functions build (wrangler's router template, esbuild, the polyfills)",
}


def _lane_differences(runs, step):
    return differences(runs["4.86"][step]["requests"], runs["current"][step]["requests"], "4.86", "current")


def test_lanes_send_the_same(lane_runs):
    if not {"4.86", "current"} <= set(lane_runs):
        pytest.skip("needs both wrangler lanes (CFPAGES_WRANGLER_LANES)")
    unexpected, seen = [], set()
    for step in lane_runs["4.86"]:
        for line in _lane_differences(lane_runs, step):
            known = [k for k in KNOWN_DIFFERENCES if k[0] == step and k[1] in line]
            if known:
                seen.update(known)
            else:
                unexpected.append(f"{step}: {line}")
    assert not unexpected, "wrangler current sends what 4.86 did not:\n" + "\n".join(unexpected)
    assert seen == set(KNOWN_DIFFERENCES), f"listed but no longer different: {set(KNOWN_DIFFERENCES) - seen}"


def _collection_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("collections")
    (root / "ansible_collections" / "cfpages").mkdir(parents=True)
    os.symlink(REPO_ROOT, root / "ansible_collections" / "cfpages" / "cloudflare")
    return root


def _fields(rows, step):
    """The create-deployment fields of a step's transcript, by name."""
    (create,) = [r for r in rows if r["call"].endswith("/deployments") and r["call"].startswith("POST")]
    return {field["name"]: field for field in create["body"]}, create


def _upload_items(rows):
    return sorted((item for r in rows if r["call"].endswith("/pages/assets/upload") for item in r["body"]),
                  key=lambda i: i["key"])


def _our_deploy(emulator, site: Path, tmp_path: Path, collections: Path) -> list[dict]:
    """The transcript of pages_deployment (run by ansible) deploying ``site`` to project "lanes"."""
    ansible = Path(sys.executable).parent / "ansible"
    if not ansible.exists():
        pytest.skip(f"no ansible beside {sys.executable}")
    emulator.reset()
    emulator.api("POST", "/accounts/{a}/pages/projects",
                 json={"name": "lanes", "production_branch": "main"}).raise_for_status()
    recorder = Recorder(emulator.root_url, "/client/v4")
    try:
        args = {"project_name": "lanes", "source": str(site), "branch": "main", "commit_hash": COMMIT,
                "commit_message": "lanes", "commit_dirty": True, "api_base_url": recorder.base_url,
                "api_token": emulator.token, "account_id": emulator.account}
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections),
               "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "ANSIBLE_NOCOLOR": "1"}
        proc = subprocess.run([str(ansible), "localhost", "-m", "cfpages.cloudflare.pages_deployment",
                               "-a", json.dumps(args)], env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        recorded = transcript(recorder.take())
    finally:
        recorder.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return recorded


@pytest.fixture(scope="module")
def collections(tmp_path_factory):
    return _collection_root(tmp_path_factory)


def _needs_current(lane_runs):
    if "current" not in lane_runs:
        pytest.skip("needs the current wrangler lane (CFPAGES_WRANGLER_LANES)")
    return lane_runs["current"]


def test_our_engine_sends_the_manifest_of_the_newest_wrangler(emulator, lane_runs, tmp_path, collections):
    """pages_deployment deploys the static site wrangler deployed: the same manifest, the same
    upload items (keys, content types, encoding), the same special files, the same form fields."""
    theirs = _needs_current(lane_runs)["static deploy"]["requests"]
    ours = _our_deploy(emulator, _write(tmp_path / "static", STATIC), tmp_path, collections)
    our_fields, our_create = _fields(ours, "ours")
    their_fields, their_create = _fields(theirs, "wrangler")
    assert our_fields["manifest"]["manifest"] == their_fields["manifest"]["manifest"]
    assert _upload_items(ours) == _upload_items(theirs)
    for name in ("_headers", "_redirects"):
        assert our_fields[name] == their_fields[name], name
    # the same form fields, in the same order (our commit_message carries a digest trailer)
    assert [f["name"] for f in our_create["body"]] == [f["name"] for f in their_create["body"]]


def test_our_worker_bundle_is_the_newest_wranglers_no_bundle(emulator, lane_runs, tmp_path, collections):
    """An advanced-mode _worker.js/ directory: our `_worker.bundle` field (its content type and
    file name, the metadata, every module's name, content type and bytes, their order) is the one
    wrangler --no-bundle sends."""
    theirs = _needs_current(lane_runs)["_worker.js directory --no-bundle deploy"]["requests"]
    ours = _our_deploy(emulator, _write(tmp_path / "worker-dir", WORKER_DIR), tmp_path, collections)
    our_fields, _ = _fields(ours, "ours")
    their_fields, _ = _fields(theirs, "wrangler")
    assert our_fields["manifest"] == their_fields["manifest"]
    assert our_fields["_worker.bundle"] == their_fields["_worker.bundle"]
