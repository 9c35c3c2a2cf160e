"""Direct-upload deployments: create, list, aliases, delete, rollback, retry, logs, asset endpoints."""
import base64
import json

import pytest

from emu_helpers import (create_project, deploy, error_of, get_deployment, get_project, jwt_for,
                         key_for, list_deployments, ok, post_deployment, upload)

DEPS = "/accounts/{a}/pages/projects/{p}/deployments"


def deps_path(project, suffix=""):
    return DEPS.replace("{p}", project) + suffix


def test_direct_upload_deployment_shape(emu):
    create_project(emu, "du")
    d = deploy(emu, "du", {"/index.html": (b"<h1>x</h1>", "text/html")}, branch="main",
               commit_hash="abc123", commit_message="msg", commit_dirty="true")
    assert d["short_id"] == d["id"][:8]
    assert d["url"] == f"https://{d['short_id']}.du.pages.dev"
    assert d["environment"] == "production" and d["production_branch"] == "main"
    assert d["deployment_trigger"] == {"type": "ad_hoc", "metadata": {
        "branch": "main", "commit_hash": "abc123", "commit_message": "msg", "commit_dirty": True}}
    assert d["latest_stage"] == {"name": "deploy", "started_on": None, "ended_on": d["created_on"],
                                 "status": "success"}
    assert [s["name"] for s in d["stages"]] == ["queued", "initialize", "clone_repo", "build", "deploy"]
    assert d["stages"][0] == {"name": "queued", "started_on": d["created_on"], "ended_on": None,
                              "status": "active"}
    assert [s["status"] for s in d["stages"][1:4]] == ["idle"] * 3
    assert d["aliases"] is None and d["is_skipped"] is False and d["env_vars"] == {}
    assert "source" not in d and set(d["build_config"].values()) == {None}
    assert d["uses_functions"] is False
    p = get_project(emu, "du")
    assert p["latest_deployment"] == d and p["canonical_deployment"] == d
    assert get_deployment(emu, "du", d["id"]) == d


def test_branch_omitted_means_production_and_commit_fields_default(emu):
    create_project(emu, "def", "trunk")
    d = deploy(emu, "def", {"/a.txt": b"a"})
    assert d["environment"] == "production"
    assert d["deployment_trigger"]["metadata"] == {"branch": "trunk", "commit_hash": "",
                                                   "commit_message": "", "commit_dirty": False}


def test_commit_message_truncated_at_384_bytes(emu):
    create_project(emu, "trunc")
    msg = "é" * 300  # 600 bytes
    d = deploy(emu, "trunc", {"/a": b"a"}, commit_message=msg)
    out = d["deployment_trigger"]["metadata"]["commit_message"]
    assert out == "é" * 192 + "\n\n[commit_message truncated]"
    short = "x" * 384
    d = deploy(emu, "trunc", {"/a": b"a"}, commit_message=short)
    assert d["deployment_trigger"]["metadata"]["commit_message"] == short


def test_manifest_errors(emu):
    create_project(emu, "bad")
    r = post_deployment(emu, "bad", None, branch="main")
    assert error_of(r)[:2] == (400, 8000096)
    r = post_deployment(emu, "bad", {"/index.html": "f" * 32})
    status, code, message = error_of(r)
    assert (status, code) == (400, 8000097) and "/index.html" in message and "f" * 32 in message
    r = emu.api("POST", deps_path("bad"), files={"manifest": (None, "{not json")})
    assert error_of(r)[:2] == (400, 8000041)
    r = emu.api("POST", deps_path("bad"), files={"manifest": (None, '["x"]')})
    assert error_of(r)[:2] == (400, 8000041)
    # nothing was created
    assert list_deployments(emu, "bad").json()["result"] == []


def test_hashes_are_per_account(start_emulator):
    a, b = "a" * 32, "b" * 32
    emu = start_emulator("--token", f"ta={a}", "--token", f"tb={b}", token="ta", account=a)
    create_project(emu, "pa")
    manifest = upload(emu, "pa", {"/x.txt": b"shared"})
    emu.token, emu.account = "tb", b
    create_project(emu, "pb")
    assert error_of(post_deployment(emu, "pb", manifest))[:2] == (400, 8000097)


def test_file_limit(emu):
    emu.config(max_file_count=2)
    create_project(emu, "lim")
    files = {f"/{i}.txt": str(i).encode() for i in range(3)}
    manifest = upload(emu, "lim", files)
    assert error_of(post_deployment(emu, "lim", manifest))[:2] == (400, 8000098)
    ok(post_deployment(emu, "lim", dict(list(manifest.items())[:2])))


def test_worker_js_and_bundle_are_exclusive(emu):
    create_project(emu, "wk")
    manifest = upload(emu, "wk", {"/index.html": b"i"})
    r = post_deployment(emu, "wk", manifest, files={"_worker.js": b"export default {}",
                                                     "_worker.bundle": b"bundle"})
    assert error_of(r)[:2] == (400, 8000099)
    d = ok(post_deployment(emu, "wk", manifest, files={"_worker.js": b"export default {}",
                                                        "_routes.json": b'{"version":1}'}))
    assert d["uses_functions"] is True


def test_check_missing_order_and_upload_keys_logged(emu):
    create_project(emu, "assets")
    jwt = jwt_for(emu, "assets")
    h = {"Authorization": f"Bearer {jwt}"}
    k1, k2, k3 = "1" * 32, "2" * 32, "3" * 32
    ok(emu.api("POST", "/pages/assets/upload", auth=False, headers=h, json=[
        {"key": k2, "value": base64.b64encode(b"two").decode(), "metadata": {"contentType": "text/plain"},
         "base64": True}]))
    assert ok(emu.api("POST", "/pages/assets/check-missing", auth=False, headers=h,
                      json={"hashes": [k3, k2, k1]})) == [k3, k1]
    assert ok(emu.api("POST", "/pages/assets/upsert-hashes", auth=False, headers=h,
                      json={"hashes": [k1, k2, k3]})) is True
    uploads = [e for e in emu.requests_log() if e["path"].endswith("/pages/assets/upload")]
    assert [{k: v for k, v in e.items() if k not in ("seconds", "at")} for e in uploads] == [
        {"method": "POST", "path": "/client/v4/pages/assets/upload", "query": {}, "status": 200, "keys": [k2],
         "bytes": len(json.dumps([{"key": k2, "value": base64.b64encode(b"two").decode(),
                                   "metadata": {"contentType": "text/plain"}, "base64": True}]))}]
    assert 0 <= uploads[0]["seconds"] < 10 and uploads[0]["at"] >= 0
    # malformed bodies
    assert error_of(emu.api("POST", "/pages/assets/upload", auth=False, headers=h,
                            json={"key": k1}))[:2] == (400, 8000041)
    assert error_of(emu.api("POST", "/pages/assets/upload", auth=False, headers=h,
                            json=[{"key": k1, "value": "%%%", "base64": True}]))[:2] == (400, 8000041)
    assert error_of(emu.api("POST", "/pages/assets/check-missing", auth=False, headers=h,
                            json={"hashes": "x"}))[:2] == (400, 8000041)


def test_list_order_env_filter_and_pagination(emu):
    create_project(emu, "lst")
    ids = [deploy(emu, "lst", {"/a": b"a"}, branch="main" if i % 2 else f"f{i}")["id"] for i in range(6)]
    body = list_deployments(emu, "lst").json()
    assert [d["id"] for d in body["result"]] == ids[::-1]
    assert body["result_info"] == {"page": 1, "per_page": 25, "count": 6, "total_count": 6,
                                   "total_pages": 1}
    prod = list_deployments(emu, "lst", env="production").json()["result"]
    assert [d["id"] for d in prod] == [ids[5], ids[3], ids[1]]
    prev = list_deployments(emu, "lst", env="preview").json()["result"]
    assert {d["environment"] for d in prev} == {"preview"} and len(prev) == 3
    body = list_deployments(emu, "lst", per_page=4, page=2).json()
    assert [d["id"] for d in body["result"]] == ids[1::-1]
    assert body["result_info"] == {"page": 2, "per_page": 4, "count": 2, "total_count": 6,
                                   "total_pages": 2}
    for params in ({"per_page": 26}, {"per_page": 0}, {"page": -1}, {"env": "staging"}):
        assert error_of(list_deployments(emu, "lst", **params)) == (
            400, 8000024, "Invalid list options provided. Review the `page` or `per_page` parameter.")
    ok(list_deployments(emu, "lst", per_page=25))


@pytest.mark.parametrize("branch,alias", [
    ("feature/Login", "feature-login"),
    ("fix/api", "fix-api"),
    ("download-api-add-filter-information", "download-api-add-filter-info"),
    ("--Trim--me--", "trim--me"),
    ("a" * 27 + "/b", "a" * 27 + "-"),   # cut to 28, no re-trim
    ("UPPER_case.dots", "upper-case-dots"),
])
def test_branch_alias_slug(emu, branch, alias):
    create_project(emu, "al")
    d = deploy(emu, "al", {"/a": b"a"}, branch=branch)
    assert d["environment"] == "preview"
    assert d["aliases"] == [f"https://{alias}.al.pages.dev"]


def test_empty_slug_gets_stable_random_alias(emu):
    create_project(emu, "rnd")
    d1 = deploy(emu, "rnd", {"/a": b"a"}, branch="///")
    alias = d1["aliases"][0]
    assert alias.startswith("https://branch-") and alias.endswith(".rnd.pages.dev")
    assert len(alias.split(".")[0]) == len("https://branch-") + 10
    d2 = deploy(emu, "rnd", {"/a": b"a"}, branch="///")
    assert d2["aliases"] == [alias]


def test_aliases_only_on_newest_preview_of_branch(emu):
    create_project(emu, "news")
    old = deploy(emu, "news", {"/a": b"a"}, branch="dev")
    new = deploy(emu, "news", {"/a": b"b"}, branch="dev")
    other = deploy(emu, "news", {"/a": b"c"}, branch="other")
    prod = deploy(emu, "news", {"/a": b"d"}, branch="main")
    assert get_deployment(emu, "news", old["id"])["aliases"] is None
    assert get_deployment(emu, "news", new["id"])["aliases"] == ["https://dev.news.pages.dev"]
    assert get_deployment(emu, "news", other["id"])["aliases"] == ["https://other.news.pages.dev"]
    assert prod["aliases"] is None
    p = get_project(emu, "news")
    assert p["latest_deployment"]["id"] == prod["id"]
    assert p["canonical_deployment"]["id"] == prod["id"]
    # a preview as the newest deployment: latest moves, canonical stays
    newest = deploy(emu, "news", {"/a": b"e"}, branch="x")
    p = get_project(emu, "news")
    assert p["latest_deployment"]["id"] == newest["id"]
    assert p["canonical_deployment"]["id"] == prod["id"]


def test_delete_rules(emu):
    create_project(emu, "del")
    old_prod = deploy(emu, "del", {"/a": b"1"})
    prod = deploy(emu, "del", {"/a": b"2"})
    old_dev = deploy(emu, "del", {"/a": b"3"}, branch="dev")
    dev = deploy(emu, "del", {"/a": b"4"}, branch="dev")
    path = deps_path("del", "/{}").replace("{a}", "{{a}}")
    r = emu.api("DELETE", path.format("00000000-0000-0000-0000-000000000000"))
    assert error_of(r) == (404, 8000009, "The deployment ID you have specified does not exist. "
                                         "Update the deployment ID and try again. ")
    r = emu.api("DELETE", path.format(prod["id"]))
    assert error_of(r)[:2] == (400, 8000034)
    r = emu.api("DELETE", path.format(prod["id"]), params={"force": "true"})
    assert error_of(r)[:2] == (400, 8000034)
    r = emu.api("DELETE", path.format(dev["id"]))
    assert error_of(r) == (400, 8000035, "You cannot delete an aliased deployment without a "
                                         "`?force=true` parameter in the API request URL.")
    r = emu.api("DELETE", path.format(dev["id"]), params={"force": "false"})
    assert error_of(r)[:2] == (400, 8000035)
    assert ok(emu.api("DELETE", path.format(old_prod["id"]))) is None
    assert ok(emu.api("DELETE", path.format(dev["id"]), params={"force": "true"})) is None
    # the alias moved to the branch's next-newest deployment
    assert get_deployment(emu, "del", old_dev["id"])["aliases"] == ["https://dev.del.pages.dev"]
    assert error_of(emu.api("GET", path.format(dev["id"])))[:2] == (404, 8000009)
    remaining = [d["id"] for d in list_deployments(emu, "del").json()["result"]]
    assert remaining == [old_dev["id"], prod["id"]]


def test_rollback_rules(emu):
    create_project(emu, "rb")
    first = deploy(emu, "rb", {"/a": b"1"})
    second = deploy(emu, "rb", {"/a": b"2"})
    preview = deploy(emu, "rb", {"/a": b"3"}, branch="dev")
    path = deps_path("rb", "/{}/rollback").replace("{a}", "{{a}}")
    r = emu.api("POST", path.format(preview["id"]), json={})
    assert error_of(r)[:2] == (400, 8000038)
    assert error_of(emu.api("POST", path.format("nope"), json={}))[:2] == (404, 8000009)
    d = ok(emu.api("POST", path.format(first["id"]), json={}))
    assert d["id"] == first["id"]
    p = get_project(emu, "rb")
    assert p["canonical_deployment"]["id"] == first["id"]
    assert p["latest_deployment"]["id"] == preview["id"]
    # the former canonical can be deleted now; the new canonical cannot
    assert ok(emu.api("DELETE", deps_path("rb", f"/{second['id']}"))) is None
    assert error_of(emu.api("DELETE", deps_path("rb", f"/{first['id']}")))[:2] == (400, 8000034)
    # roll "forward" to a newer production deployment
    third = deploy(emu, "rb", {"/a": b"4"})
    ok(emu.api("POST", path.format(first["id"])))
    ok(emu.api("POST", path.format(third["id"])))
    assert get_project(emu, "rb")["canonical_deployment"]["id"] == third["id"]


def test_retry_creates_a_copy(emu):
    create_project(emu, "rt")
    orig = deploy(emu, "rt", {"/index.html": b"hello"}, branch="dev", commit_hash="c0ffee",
                  commit_message="m", commit_dirty="false", special={"_headers": b"/*\n  X-A: 1\n"})
    new = ok(emu.api("POST", deps_path("rt", f"/{orig['id']}/retry"), json={}))
    assert new["id"] != orig["id"]
    assert new["deployment_trigger"] == orig["deployment_trigger"]
    assert new["environment"] == "preview"
    assert new["aliases"] == ["https://dev.rt.pages.dev"]
    assert get_deployment(emu, "rt", orig["id"])["aliases"] is None
    site = emu.site(f"{new['short_id']}.rt.pages.dev", "/")
    assert site.content == b"hello" and site.headers["X-A"] == "1"
    assert error_of(emu.api("POST", deps_path("rt", "/nope/retry")))[:2] == (404, 8000009)


def test_logs(emu):
    create_project(emu, "lg")
    d = deploy(emu, "lg", {"/a": b"a"})
    logs = ok(emu.api("GET", deps_path("lg", f"/{d['id']}/history/logs"), params={"size": 10000000}))
    assert logs["includes_container_logs"] is False
    assert logs["total"] == len(logs["data"]) > 0
    assert set(logs["data"][0]) == {"line", "ts"}
    assert logs["data"][-1]["line"] == "Success: Your site was deployed!"
    assert error_of(emu.api("GET", deps_path("lg", "/nope/history/logs")))[:2] == (404, 8000009)


def test_key_helper_is_stable():
    assert key_for(b"x", "/a.txt") == key_for(b"x", "/b/c.txt") != key_for(b"x", "/a.png")


def test_malformed_multipart_bodies(emu):
    create_project(emu, "mp")
    url = deps_path("mp")
    for ctype, data in [("multipart/form-data", b"garbage"),
                        ("multipart/form-data; boundary=xyz", b"garbage"),
                        ("application/json", b'{"branch": "x"}')]:
        r = emu.api("POST", url, data=data, headers={"Content-Type": ctype})
        assert error_of(r)[:2] == (400, 8000041), ctype
    # an empty body is "no fields": a DU project then lacks its manifest
    r = emu.api("POST", url, data=b"", headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert error_of(r)[:2] == (400, 8000096)
    # urlencoded forms work too
    manifest = upload(emu, "mp", {"/a.txt": b"a"})
    import json
    d = ok(emu.api("POST", url, data={"manifest": json.dumps(manifest), "branch": "dev"}))
    assert d["environment"] == "preview"
