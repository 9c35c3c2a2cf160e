"""Helpers shared by the conformance tests (test_conformance_*.py, test_sdk.py, test_wrangler.py).

Kept apart from conftest.py on purpose: conftest owns the fixtures, this module only has plain
functions a test imports (``from conformance_helpers import ...``).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from pathlib import Path

import blake3
import pytest

HERE = Path(__file__).resolve().parent
EMULATOR_DIR = HERE.parent
REPO_ROOT = EMULATOR_DIR.parent.parent

if str(EMULATOR_DIR) not in sys.path:
    sys.path.insert(0, str(EMULATOR_DIR))
from pages_emulator import DEV_EMAIL, DEV_KEY  # noqa: F401  (re-exported: the documented dev credential)

if str(REPO_ROOT / "tests" / "helpers") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "tests" / "helpers"))
import environments as envs  # noqa: E402,F401  (the wrangler lanes: envs.wrangler_lane)

# Facts from shared/cloudflare/pages-api.md.
MESSAGE_8000009 = ("The deployment ID you have specified does not exist. "
                   "Update the deployment ID and try again. ")  # trailing space is real (§1.2)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def wrangler_or_skip():
    """The wrangler executable the conformance tests run (test_wrangler.py, test_static_conformance.py).

    ``CFPAGES_WRANGLER`` names another one (a test lane with a newer wrangler sets it); by default
    the pinned one of tests/emulator/package.json in tests/emulator/node_modules. Missing: the test
    skips on a developer machine and FAILS in CI (``CI=true``), so CI never passes by not running it.
    """
    override = os.environ.get("CFPAGES_WRANGLER")
    exe = Path(override) if override else EMULATOR_DIR / "node_modules" / ".bin" / "wrangler"
    if exe.exists() and shutil.which("node"):
        return exe
    reason = (f"wrangler not installed at {exe} (run: npm ci --prefix tests/emulator)"
              if not exe.exists() else "node is not on PATH")
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def wrangler_lane_command(lane) -> list:
    """``[node, wrangler.js]`` of a wrangler lane (environments.wrangler_lane). Missing: the test
    skips on a developer machine and FAILS in CI (``CI=true``)."""
    try:
        return [str(p) for p in envs.wrangler_lane(lane)]
    except envs.SetupError as err:
        if in_ci():
            pytest.fail(f"CI=true and {err}")
        pytest.skip(str(err))


def wrangler_env(home: Path, node=None, **extra) -> dict:
    """The environment wrangler runs in for the tests: no metrics, no error reports, no update
    check, non-interactive, a private HOME so no developer configuration leaks in. With ``node``
    (a lane's), its directory comes first on PATH: whatever wrangler starts as `node` is the same one."""
    (home / ".config").mkdir(parents=True, exist_ok=True)
    path = os.environ.get("PATH", "/usr/bin:/bin")
    return {
        "PATH": os.pathsep.join((str(Path(node).parent), path)) if node else path,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "WRANGLER_SEND_METRICS": "false",
        "WRANGLER_SEND_ERROR_REPORTS": "false",
        "CI": "true",
        "NO_COLOR": "1",
        "WRANGLER_HIDE_BANNER": "true",  # also skips wrangler's update check (an npm request)
        "FORCE_COLOR": "0",
        **extra,
    }


def shared_file(name: str) -> Path:
    """A file of ``../shared/cloudflare`` beside the repo (CI has it at the same place)."""
    override = os.environ.get("CFPAGES_SHARED_DIR")
    base = Path(override) if override else REPO_ROOT.parent / "shared"
    return base / "cloudflare" / name


# --------------------------------------------------------------------------- hashing (§5.3)

def node_extname(name: str) -> str:
    """Node's ``path.extname(basename)`` without the dot ("" for ``.DS_Store``, ``foo.``)."""
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    if dot <= 0 or dot == len(base) - 1:
        return ""
    return base[dot + 1:]


def asset_hash(data: bytes, name: str) -> str:
    """wrangler's asset key: hex(BLAKE3(base64(bytes) + ext))[:32]."""
    material = base64.b64encode(data).decode("ascii") + node_extname(name)
    return blake3.blake3(material.encode("utf-8")).hexdigest()[:32]


# --------------------------------------------------------------------------- direct upload

def upload_assets(api, project: str, files: dict[str, bytes], *, check=None) -> dict[str, str]:
    """Upload-token → check-missing → upload → upsert-hashes, as wrangler does (§5.1).

    ``api`` is ``Emulator.api``-like: ``api(method, path, headers=..., auth=..., json=...)``.
    ``files`` maps manifest paths ("/a/b.html") to bytes. Returns the manifest.
    ``check`` (optional) is called with every response.
    """
    check = check or (lambda r: r)
    manifest = {path: asset_hash(data, path) for path, data in files.items()}
    r = check(api("GET", f"/accounts/{{a}}/pages/projects/{project}/upload-token"))
    assert r.status_code == 200, r.text
    jwt = r.json()["result"]["jwt"]
    jwt_headers = {"Authorization": f"Bearer {jwt}"}
    hashes = list(dict.fromkeys(manifest.values()))
    r = check(api("POST", "/pages/assets/check-missing", auth=False, headers=jwt_headers,
                  json={"hashes": hashes}))
    assert r.status_code == 200, r.text
    missing = set(r.json()["result"])
    payload = []
    for path, data in files.items():
        h = manifest[path]
        if h in missing:
            missing.discard(h)
            payload.append({"key": h, "value": base64.b64encode(data).decode("ascii"),
                            "metadata": {"contentType": "application/octet-stream"},
                            "base64": True})
    if payload:
        r = check(api("POST", "/pages/assets/upload", auth=False, headers=jwt_headers,
                      json=payload))
        assert r.status_code == 200, r.text
    r = check(api("POST", "/pages/assets/upsert-hashes", auth=False, headers=jwt_headers,
                  json={"hashes": hashes}))
    assert r.status_code == 200, r.text
    return manifest


def deployment_form(manifest: dict[str, str] | None = None, **fields) -> dict:
    """``files=`` argument for requests: every field as multipart/form-data.

    Plain values become text parts; ``bytes`` values become file parts named after the field
    (as wrangler sends ``_headers``/``_redirects``).
    """
    parts = {}
    if manifest is not None:
        parts["manifest"] = (None, json.dumps(manifest, separators=(",", ":")))
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bytes):
            parts[name] = (name, value, "application/octet-stream")
        else:
            parts[name] = (None, str(value))
    return parts


def deploy(api, project: str, files: dict[str, bytes], *, branch: str | None = None,
           check=None, **fields):
    """Direct-upload ``files`` and create a deployment; returns the create response."""
    check = check or (lambda r: r)
    manifest = upload_assets(api, project, files, check=check)
    form = deployment_form(manifest, branch=branch, **fields)
    return check(api("POST", f"/accounts/{{a}}/pages/projects/{project}/deployments", files=form))


def host_of(url: str) -> str:
    """``https://abc.proj.pages.dev/`` → ``abc.proj.pages.dev``."""
    return url.split("://", 1)[-1].split("/", 1)[0]
