"""Helpers for the emulator's behaviour tests (plain functions; fixtures live in conftest.py)."""
from __future__ import annotations

import base64
import hashlib
import json

import requests


def key_for(data: bytes, path: str) -> str:
    """A 32-hex asset key (the emulator trusts keys; wrangler uses BLAKE3, tests need not)."""
    ext = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    return hashlib.sha256(data + ext.encode()).hexdigest()[:32]


def error_of(r: requests.Response):
    body = r.json()
    assert body["success"] is False and body["result"] is None and body["messages"] == []
    return r.status_code, body["errors"][0]["code"], body["errors"][0]["message"]


def ok(r: requests.Response):
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    return body["result"]


def create_project(emu, name="site", branch="main", **extra):
    return ok(emu.api("POST", "/accounts/{a}/pages/projects",
                      json={"name": name, "production_branch": branch, **extra}))


def jwt_for(emu, project):
    return ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/upload-token"))["jwt"]


def upload(emu, project, files: dict) -> dict:
    """Upload ``{path: bytes | (bytes, content_type)}``; return the manifest."""
    jwt = jwt_for(emu, project)
    h = {"Authorization": f"Bearer {jwt}"}
    manifest, payload = {}, []
    for path, spec in files.items():
        data, ctype = spec if isinstance(spec, tuple) else (spec, "application/octet-stream")
        key = key_for(data, path)
        manifest[path] = key
        payload.append({"key": key, "value": base64.b64encode(data).decode(),
                        "metadata": {"contentType": ctype}, "base64": True})
    missing = ok(emu.api("POST", "/pages/assets/check-missing", auth=False, headers=h,
                         json={"hashes": list(manifest.values())}))
    todo = [p for p in payload if p["key"] in missing]
    if todo:
        ok(emu.api("POST", "/pages/assets/upload", auth=False, headers=h, json=todo))
    ok(emu.api("POST", "/pages/assets/upsert-hashes", auth=False, headers=h,
               json={"hashes": list(manifest.values())}))
    return manifest


def post_deployment(emu, project, manifest=None, files=None, **fields):
    """POST a multipart deployment; ``files`` = special files {name: bytes}."""
    parts = []
    if manifest is not None:
        parts.append(("manifest", (None, json.dumps(manifest))))
    for k, v in fields.items():
        parts.append((k, (None, v)))
    for name, data in (files or {}).items():
        parts.append((name, (name, data)))
    if not parts:
        parts = None
    return emu.api("POST", f"/accounts/{{a}}/pages/projects/{project}/deployments", files=parts)


def deploy(emu, project, files: dict, special=None, **fields) -> dict:
    manifest = upload(emu, project, files)
    return ok(post_deployment(emu, project, manifest, special, **fields))


def get_project(emu, project):
    return ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}"))


def get_deployment(emu, project, dep_id):
    return ok(emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments/{dep_id}"))


def list_deployments(emu, project, **params):
    r = emu.api("GET", f"/accounts/{{a}}/pages/projects/{project}/deployments", params=params)
    return r
