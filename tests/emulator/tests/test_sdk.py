"""Conformance: the official `cloudflare` Python SDK (PyPI, 5.x) drives the emulator.

The SDK's models are generated from Cloudflare's current OpenAPI schema (Stainless). Its own
parsing is lenient (a value of the wrong type is kept as-is, unknown keys go to ``model_extra``),
so besides using the SDK's return values we re-validate every raw ``result`` with pydantic
(``Model.model_validate``) and walk ``model_extra`` at every level: the emulator must answer what
the SDK's types say, with the only deviations listed (and sourced) in ``ALLOWED_*`` below.
"""
from __future__ import annotations

import json
import time
from datetime import datetime

import cloudflare  # requirements.txt; a missing SDK is an error, never a silent skip
import pydantic
import pytest
from cloudflare.types.pages import Deployment, Project, Stage
from cloudflare.types.pages.projects import (
    DomainCreateResponse,
    DomainEditResponse,
    DomainGetResponse,
    DomainListResponse,
)
from cloudflare.types.pages.projects.deployments.history import LogGetResponse
from conformance_helpers import DEV_EMAIL, DEV_KEY, asset_hash, host_of

# Keys the real API sends that cloudflare-python 5.x does not model (pages-api.md §3.4, captured
# real deployments [O AK]). Anything else in model_extra is an emulator invention.
ALLOWED_EXTRA = {
    "Deployment": {"production_branch", "compatibility_date", "compatibility_flags",
                   "build_image_major_version", "usage_model"},
}
# The SDK marks `Deployment.source` required, but real direct-upload deployments have no
# `source` (pages-api.md §3.4, [O AK]); only git-built deployments carry it.


def _sdk_client(emu, **kw):
    return cloudflare.Cloudflare(api_token=kw.pop("token", emu.token), base_url=emu.base_url,
                                 max_retries=0, **kw)


def _extras(model, path="") -> list[str]:
    """Every ``model_extra`` key in a parsed model tree, as ``Class.path.key``."""
    found = []
    allowed = ALLOWED_EXTRA.get(type(model).__name__, set())
    for key in (model.model_extra or {}):
        if key not in allowed:
            found.append(f"{type(model).__name__}{path}.{key}")
    for name in type(model).model_fields:
        found += _walk(getattr(model, name, None), f"{path}.{name}")
    return found


def _walk(value, path):
    if isinstance(value, pydantic.BaseModel):
        return _extras(value, path)
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _walk(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _walk(v, f"{path}[{k}]")]
    return []


def strict(model_cls, data, *, allow_missing=()):
    """Validate raw ``data`` as ``model_cls`` (pydantic, not the SDK's lenient construct)."""
    try:
        model = model_cls.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = [e for e in exc.errors()
                  if not (e["type"] == "missing" and tuple(e["loc"]) in allow_missing)]
        if errors:
            raise AssertionError(f"{model_cls.__name__} does not parse: {errors}\n{data}") from None
        model = model_cls.model_construct(**data)
    extras = _extras(model)
    assert not extras, f"keys the SDK does not know: {extras}"
    return model


def strict_deployment(data):
    # nested Project.latest_deployment/canonical_deployment are checked by strict_project
    missing = (("source",),) if data["deployment_trigger"]["type"] == "ad_hoc" else ()
    d = strict(Deployment, data, allow_missing=missing)
    for stage in data["stages"] + [data["latest_stage"]]:
        strict(Stage, stage)
    assert d.short_id == d.id[:8] and d.url == f"https://{d.short_id}.{host_of(d.url).split('.', 1)[1]}"
    return d


def strict_project(data):
    nested = {k: data.get(k) for k in ("latest_deployment", "canonical_deployment")}
    model = strict(Project, {**data, "latest_deployment": None, "canonical_deployment": None})
    for value in nested.values():
        if value is not None:
            strict_deployment(value)
    return model


def raw(method, *args, **kwargs):
    """Call a ``with_raw_response`` SDK method; return (parsed SDK value, raw JSON body)."""
    resp = method(*args, **kwargs)
    return resp.parse(), resp.http_response.json()


def test_sdk_projects(emu):
    client = _sdk_client(emu)
    projects = client.pages.projects
    a = emu.account

    project, body = raw(projects.with_raw_response.create, account_id=a, name="sdk-proj",
                        production_branch="main",
                        build_config={"build_command": "make", "destination_dir": "public"},
                        deployment_configs={"production": {
                            "env_vars": {"PLAIN": {"type": "plain_text", "value": "p"},
                                         "SECRET": {"type": "secret_text", "value": "hush"}},
                            "compatibility_date": "2024-05-01",
                            "kv_namespaces": {"KV": {"namespace_id": "ns1"}}}})
    strict_project(body["result"])
    assert isinstance(project, Project) and isinstance(project.created_on, datetime)
    assert project.name == "sdk-proj" and project.production_branch == "main"
    assert project.subdomain == "sdk-proj.pages.dev" and project.domains == ["sdk-proj.pages.dev"]
    prod = project.deployment_configs.production
    assert prod.env_vars["PLAIN"].value == "p" and prod.env_vars["SECRET"].value == ""
    assert prod.env_vars["SECRET"].type == "secret_text"
    assert prod.kv_namespaces["KV"].namespace_id == "ns1"
    assert project.latest_deployment is None and project.canonical_deployment is None

    for i in range(4):
        projects.create(account_id=a, name=f"sdk-more-{i}", production_branch="main")
    # auto-pagination: page=1,2,3 with 2 each, then an empty page ends it
    names = [p.name for p in projects.list(account_id=a, per_page=2)]
    assert sorted(names) == sorted(["sdk-proj"] + [f"sdk-more-{i}" for i in range(4)])
    _, body = raw(projects.with_raw_response.list, account_id=a, per_page=2, page=1)
    for item in body["result"]:
        strict_project(item)
    assert body["result_info"]["total_count"] == 5

    got, body = raw(projects.with_raw_response.get, "sdk-proj", account_id=a)
    strict_project(body["result"])
    assert got.id == project.id

    edited, body = raw(projects.with_raw_response.edit, "sdk-proj", account_id=a,
                       deployment_configs={"production": {
                           "env_vars": {"PLAIN": None,
                                        "ADDED": {"type": "plain_text", "value": "a"}}}})
    strict_project(body["result"])
    env = edited.deployment_configs.production.env_vars
    assert set(env) == {"SECRET", "ADDED"} and env["SECRET"].value == ""
    assert edited.deployment_configs.production.kv_namespaces["KV"].namespace_id == "ns1"

    projects.purge_build_cache("sdk-proj", account_id=a)
    token = projects.get_upload_token("sdk-proj", account_id=a)
    assert token.jwt and token.jwt.count(".") == 2

    assert projects.delete("sdk-more-3", account_id=a) is None
    with pytest.raises(cloudflare.NotFoundError) as err:
        projects.get("sdk-more-3", account_id=a)
    assert err.value.status_code == 404
    assert err.value.body["errors"][0]["code"] == 8000007
    with pytest.raises(cloudflare.APIStatusError) as err:  # HTTP status of 8000002: 400/409 [G]
        projects.create(account_id=a, name="sdk-proj", production_branch="main")
    assert err.value.body["errors"][0]["code"] == 8000002


def _sdk_deploy(client, emu, project, files, branch, **fields):
    """The whole direct-upload flow through the SDK (upload JWT client for /pages/assets/*)."""
    a = emu.account
    jwt = client.pages.projects.get_upload_token(project, account_id=a).jwt
    uploader = _sdk_client(emu, token=jwt)
    manifest = {path: asset_hash(data, path) for path, data in files.items()}
    missing = list(uploader.pages.assets.check_missing(hashes=list(manifest.values())))
    assert set(missing) <= set(manifest.values())
    payload = [{"key": manifest[p], "value": __import__("base64").b64encode(d).decode(),
                "metadata": {"content_type": "text/plain"}, "base64": True}
               for p, d in files.items() if manifest[p] in missing]
    if payload:
        uploader.pages.assets.upload(body=payload)
    uploader.pages.assets.upsert_hashes(hashes=list(manifest.values()))
    dep, body = raw(client.pages.projects.deployments.with_raw_response.create, project,
                    account_id=a, manifest=json.dumps(manifest), branch=branch, **fields)
    strict_deployment(body["result"])
    return dep


def test_sdk_deployments(emu):
    client = _sdk_client(emu)
    a = emu.account
    deployments = client.pages.projects.deployments
    client.pages.projects.create(account_id=a, name="sdk-dep", production_branch="main")
    files = {"/index.html": b"<h1>sdk</h1>", "/docs/a.txt": b"a"}

    p1 = _sdk_deploy(client, emu, "sdk-dep", files, "main", commit_hash="c" * 40,
                     commit_message="one", commit_dirty="false",
                     _headers=("_headers", b"/*\n  X-From: sdk\n"))
    p2 = _sdk_deploy(client, emu, "sdk-dep", {**files, "/b.txt": b"b"}, "main")
    v1 = _sdk_deploy(client, emu, "sdk-dep", files, "feature-1")
    v2 = _sdk_deploy(client, emu, "sdk-dep", files, "feature-1")
    assert isinstance(p1, Deployment) and p1.environment == "production"
    assert p1.deployment_trigger.type == "ad_hoc"
    assert p1.deployment_trigger.metadata.branch == "main"
    assert p1.deployment_trigger.metadata.commit_hash == "c" * 40
    assert p1.deployment_trigger.metadata.commit_dirty is False
    assert isinstance(p1.created_on, datetime) and isinstance(p1.latest_stage, Stage)
    assert v2.environment == "preview" and v2.aliases == ["https://feature-1.sdk-dep.pages.dev"]

    listed = list(deployments.list("sdk-dep", account_id=a))
    assert [d.id for d in listed] == [v2.id, v1.id, p2.id, p1.id]
    _, body = raw(deployments.with_raw_response.list, "sdk-dep", account_id=a, env="production")
    assert [d["id"] for d in body["result"]] == [p2.id, p1.id]
    for item in body["result"]:
        strict_deployment(item)
    assert [d.id for d in deployments.list("sdk-dep", account_id=a, env="preview",
                                           per_page=1)] == [v2.id, v1.id]
    with pytest.raises(cloudflare.BadRequestError) as err:
        deployments.list("sdk-dep", account_id=a, per_page=26)
    assert err.value.body["errors"][0]["code"] == 8000024

    got, body = raw(deployments.with_raw_response.get, p1.id, account_id=a,
                    project_name="sdk-dep")
    strict_deployment(body["result"])
    assert got.id == p1.id and got.latest_stage.name == "deploy"

    logs, body = raw(deployments.history.logs.with_raw_response.get, p1.id, account_id=a,
                     project_name="sdk-dep")
    strict(LogGetResponse, body["result"])
    assert logs.total == len(logs.data)

    retried, body = raw(deployments.with_raw_response.retry, p1.id, account_id=a,
                        project_name="sdk-dep")
    strict_deployment(body["result"])
    assert retried.id not in (p1.id, p2.id) and retried.environment == "production"

    rolled, body = raw(deployments.with_raw_response.rollback, p1.id, account_id=a,
                       project_name="sdk-dep")
    strict_deployment(body["result"])
    assert rolled.id == p1.id
    project = client.pages.projects.get("sdk-dep", account_id=a)
    assert project.canonical_deployment.id == p1.id

    assert deployments.delete(v1.id, account_id=a, project_name="sdk-dep") is None
    with pytest.raises(cloudflare.NotFoundError) as err:
        deployments.get(v1.id, account_id=a, project_name="sdk-dep")
    assert err.value.body["errors"][0]["code"] == 8000009
    with pytest.raises(cloudflare.BadRequestError) as err:
        deployments.delete(v2.id, account_id=a, project_name="sdk-dep")
    assert err.value.body["errors"][0]["code"] == 8000035
    assert deployments.delete(v2.id, account_id=a, project_name="sdk-dep", force=True) is None


def test_sdk_domains(emu):
    client = _sdk_client(emu)
    a = emu.account
    domains = client.pages.projects.domains
    client.pages.projects.create(account_id=a, name="sdk-dom", production_branch="main")

    created, body = raw(domains.with_raw_response.create, "sdk-dom", account_id=a,
                        name="shop.example.com")
    strict(DomainCreateResponse, body["result"])
    assert created.name == "shop.example.com"
    assert created.status in ("initializing", "pending", "active")

    listed = list(domains.list("sdk-dom", account_id=a))
    assert [d.name for d in listed] == ["shop.example.com"]
    _, body = raw(domains.with_raw_response.list, "sdk-dom", account_id=a)
    for item in body["result"]:
        strict(DomainListResponse, item)

    deadline = time.monotonic() + 20
    while True:
        got, body = raw(domains.with_raw_response.get, "shop.example.com", account_id=a,
                        project_name="sdk-dom")
        strict(DomainGetResponse, body["result"])
        if got.status == "active":
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.2)
    assert got.validation_data.status == "active" and got.verification_data.status == "active"
    assert "shop.example.com" in client.pages.projects.get("sdk-dom", account_id=a).domains

    edited, body = raw(domains.with_raw_response.edit, "shop.example.com", account_id=a,
                       project_name="sdk-dom")
    strict(DomainEditResponse, body["result"])
    assert edited.id == created.id

    assert domains.delete("shop.example.com", account_id=a, project_name="sdk-dom") is None
    with pytest.raises(cloudflare.NotFoundError):
        domains.get("shop.example.com", account_id=a, project_name="sdk-dom")


def test_sdk_auth_variants(emu, start_emulator):
    """Email + global key works; wrong tokens/accounts map to the SDK's typed errors."""
    by_key = cloudflare.Cloudflare(api_email=DEV_EMAIL, api_key=DEV_KEY, base_url=emu.base_url,
                                   max_retries=0)
    by_key.pages.projects.create(account_id=emu.account, name="sdk-key", production_branch="main")
    assert [p.name for p in by_key.pages.projects.list(account_id=emu.account)] == ["sdk-key"]

    with pytest.raises(cloudflare.PermissionDeniedError) as err:
        _sdk_client(emu, token="not-a-known-token").pages.projects.list(account_id=emu.account)
    assert err.value.body["errors"][0]["code"] == 10000

    acc1, acc2 = "1" * 32, "2" * 32
    own = start_emulator("--token", f"tok-one={acc1}", "--token", f"tok-two={acc2}")
    client = cloudflare.Cloudflare(api_token="tok-one", base_url=own.base_url, max_retries=0)
    client.pages.projects.create(account_id=acc1, name="mine", production_branch="main")
    with pytest.raises(cloudflare.PermissionDeniedError):
        client.pages.projects.list(account_id=acc2)
    with pytest.raises(cloudflare.PermissionDeniedError):  # the dev token is off with --token
        cloudflare.Cloudflare(api_token=emu.token, base_url=own.base_url,
                              max_retries=0).pages.projects.list(account_id=acc1)


def test_sdk_git_project_build(emu):
    """A Git-connected project (minimal `source` sent) and a build started through the SDK parse
    strictly: `source.config` comes back complete and build deployments carry `source`."""
    client = _sdk_client(emu)
    a = emu.account
    project, body = raw(client.pages.projects.with_raw_response.create, account_id=a,
                        name="sdk-git", production_branch="main",
                        source={"type": "github", "config": {"owner": "acme", "repo_name": "site"}},
                        build_config={"build_command": "npm run build", "destination_dir": "dist"})
    strict_project(body["result"])
    cfg = project.source.config
    assert (cfg.owner, cfg.repo_name, cfg.production_branch) == ("acme", "site", "main")
    assert cfg.owner_id.isdigit() and cfg.repo_id.isdigit()

    dep, body = raw(client.pages.projects.deployments.with_raw_response.create, "sdk-git",
                    account_id=a, branch="main")
    strict_deployment(body["result"])
    assert dep.source.type == "github" and dep.latest_stage.name != "deploy"
    deadline = time.monotonic() + 20
    while True:
        got, body = raw(client.pages.projects.deployments.with_raw_response.get, dep.id,
                        account_id=a, project_name="sdk-git")
        strict_deployment(body["result"])
        if got.latest_stage.name == "deploy" and got.latest_stage.status == "success":
            break
        assert time.monotonic() < deadline, got.latest_stage
        time.sleep(0.2)
    assert [s.status for s in got.stages] == ["success"] * 5
    logs = client.pages.projects.deployments.history.logs.get(dep.id, account_id=a, project_name="sdk-git",
                                                              extra_query={"size": 10000000})
    assert logs.total == len(logs.data) >= 1
    assert client.pages.projects.get("sdk-git", account_id=a).canonical_deployment.id == dep.id
