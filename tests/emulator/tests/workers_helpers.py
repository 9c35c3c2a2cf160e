"""Helpers for the Workers-scripts tests (test_workers_api.py, test_workers_serving.py,
test_workers_wrangler.py): the direct-upload flow of developers.cloudflare.com/workers/static-assets/direct-upload/
done with requests, the way a client such as the worker_deployment module does it."""
from __future__ import annotations

import base64
import json
import mimetypes

from conformance_helpers import asset_hash
from emu_helpers import ok

SITE_TYPES = {".html": "text/html", ".css": "text/css", ".js": "application/javascript",
              ".txt": "text/plain", ".json": "application/json"}


def content_type(path: str):
    for ext, ctype in SITE_TYPES.items():
        if path.endswith(ext):
            return ctype
    return mimetypes.guess_type(path)[0]


def manifest_of(files: dict) -> dict:
    """{"/path": {"hash", "size"}} with wrangler's hash (conformance_helpers.asset_hash)."""
    return {p: {"hash": asset_hash(data, p), "size": len(data)} for p, data in files.items()}


def upload_assets(emu, script: str, files: dict) -> tuple[str, list]:
    """Session, then every bucket; returns (completion jwt, buckets the server asked for)."""
    manifest = manifest_of(files)
    session = ok(emu.api("POST", f"/accounts/{{a}}/workers/scripts/{script}/assets-upload-session",
                         json={"manifest": manifest}))
    by_hash = {e["hash"]: p for p, e in manifest.items()}
    jwt = session["jwt"]
    for bucket in session["buckets"]:
        form = [(h, (h, base64.b64encode(files[by_hash[h]]), content_type(by_hash[h]) or "application/null"))
                for h in bucket]
        r = emu.api("POST", "/accounts/{a}/workers/assets/upload?base64=true", auth=False,
                    headers={"Authorization": f"Bearer {session['jwt']}"}, files=form)
        assert r.status_code in (201, 202), r.text
        if r.status_code == 201:
            jwt = r.json()["result"]["jwt"]
    return jwt, session["buckets"]


def metadata(jwt=None, *, main="index.js", config=None, bindings=(), **extra) -> dict:
    meta = {"compatibility_date": "2025-01-01", **extra}
    if main:
        meta["main_module"] = main
        meta["bindings"] = list(bindings)
    if jwt:
        meta["assets"] = {"jwt": jwt, "config": config or {}}
    return meta


def put_script(emu, script: str, meta: dict, modules: dict | None = None, path=None):
    """PUT .../scripts/{script} (or POST to ``path``) as multipart: metadata + ES modules."""
    form = [("metadata", ("blob", json.dumps(meta), "application/json"))]
    for name, code in (modules or {}).items():
        form.append((name, (name, code, "application/javascript+module")))
    return emu.api("PUT" if path is None else "POST", path or f"/accounts/{{a}}/workers/scripts/{script}", files=form)


def deploy_worker(emu, script: str, files: dict, *, modules=None, config=None, bindings=(), workers_dev=True, **extra):
    jwt, _ = upload_assets(emu, script, files) if files else (None, [])
    meta = metadata(jwt, main="index.js" if modules else None, config=config, bindings=bindings, **extra)
    result = ok(put_script(emu, script, meta, modules))
    if workers_dev:
        ok(emu.api("POST", f"/accounts/{{a}}/workers/scripts/{script}/subdomain", json={"enabled": True}))
    return result


def host_of(emu, script: str) -> str:
    sub = ok(emu.api("GET", "/accounts/{a}/workers/subdomain"))["subdomain"]
    return f"{script}.{sub}.workers.dev"
