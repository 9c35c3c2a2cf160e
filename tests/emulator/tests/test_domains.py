"""Custom domains: add, status walk, validation failure rule, retry, uniqueness, serving."""
import time

from emu_helpers import create_project, deploy, error_of, get_project, ok

DOMS = "/accounts/{a}/pages/projects/{p}/domains"


def dpath(project, name=""):
    return DOMS.replace("{p}", project) + (f"/{name}" if name else "")


def wait_status(emu, project, name, wanted, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = ok(emu.api("GET", dpath(project, name)))
        if d["status"] == wanted:
            return d
        time.sleep(0.05)
    raise AssertionError(f"{name} never became {wanted}")


def test_domain_walks_to_active_and_serves(emu):
    emu.config(domain_seconds=1.0)
    create_project(emu, "shop")
    deploy(emu, "shop", {"/index.html": (b"prod", "text/html")})
    d = ok(emu.api("POST", dpath("shop"), json={"name": "Shop.Example.COM"}))
    assert d["name"] == "shop.example.com" and d["status"] == "initializing"
    assert d["validation_data"] == {"status": "initializing", "method": "http"}
    assert d["certificate_authority"] == "google" and len(d["zone_tag"]) == 32
    assert emu.site("shop.example.com").status_code == 404 or \
        emu.site("shop.example.com").headers["Content-Type"] == "application/json"
    pending = wait_status(emu, "shop", "shop.example.com", "pending")
    assert pending["validation_data"]["status"] == "pending"
    active = wait_status(emu, "shop", "shop.example.com", "active")
    assert active["validation_data"] == {"status": "active", "method": "http"}
    assert active["verification_data"] == {"status": "active"}
    assert active["id"] == d["id"] and active["created_on"] == d["created_on"]
    r = emu.site("shop.example.com", "/")
    assert r.status_code == 200 and r.content == b"prod"
    assert get_project(emu, "shop")["domains"] == ["shop.pages.dev", "shop.example.com"]
    listing = emu.api("GET", dpath("shop")).json()
    assert [x["name"] for x in listing["result"]] == ["shop.example.com"]
    assert listing["result_info"]["total_count"] == 1


def test_validation_failure_rule_and_retry(emu):
    names = ["fail-www.example.com", "shop.invalid"]
    create_project(emu, "bad")
    for name in names:
        ok(emu.api("POST", dpath("bad"), json={"name": name}))
    for name in names:
        err = wait_status(emu, "bad", name, "error")
        assert err["validation_data"]["status"] == "error"
        assert "CNAME" in err["validation_data"]["error_message"]
        assert err["verification_data"]["status"] == "error"
    for name in names:
        retried = ok(emu.api("PATCH", dpath("bad", name)))
        assert retried["status"] == "initializing"
    for name in names:
        assert wait_status(emu, "bad", name, "error")["status"] == "error"
        assert emu.site(name).status_code != 200


def test_domain_unavailable_across_projects_and_accounts(start_emulator):
    a, b = "a" * 32, "b" * 32
    emu = start_emulator("--token", f"ta={a}", "--token", f"tb={b}", token="ta", account=a)
    create_project(emu, "one")
    create_project(emu, "two")
    ok(emu.api("POST", dpath("one"), json={"name": "taken.example.org"}))
    for project in ("one", "two"):
        r = emu.api("POST", dpath(project), json={"name": "taken.example.org"})
        assert error_of(r) == (400, 8000018, "Domain is unavailable")
    emu.token, emu.account = "tb", b
    create_project(emu, "three")
    r = emu.api("POST", dpath("three"), json={"name": "TAKEN.example.org"})
    assert error_of(r) == (400, 8000018, "Domain is unavailable")


def test_unknown_invalid_and_delete(emu):
    create_project(emu, "dm")
    create_project(emu, "other")
    for method in ("GET", "PATCH", "DELETE"):
        assert error_of(emu.api(method, dpath("dm", "nope.example.com")))[:2] == (404, 8000021)
    for bad in ("*.example.com", "nodot", "a..b.com", "-x.example.com", "x.pages.dev", ""):
        assert error_of(emu.api("POST", dpath("dm"), json={"name": bad}))[:2] == (400, 8000019)
    assert error_of(emu.api("POST", dpath("dm"), json={}))[:2] == (400, 8000041)
    ok(emu.api("POST", dpath("dm"), json={"name": "www.example.net"}))
    # a domain of another project is "unknown" here
    assert error_of(emu.api("GET", dpath("other", "www.example.net")))[:2] == (404, 8000021)
    assert ok(emu.api("DELETE", dpath("dm", "www.example.net"))) is None
    assert get_project(emu, "dm")["domains"] == ["dm.pages.dev"]
    # freed for reuse
    ok(emu.api("POST", dpath("other", "").rstrip("/"), json={"name": "www.example.net"}))


def test_deleting_project_frees_domains(emu):
    create_project(emu, "a1")
    ok(emu.api("POST", dpath("a1"), json={"name": "free.example.com"}))
    ok(emu.api("DELETE", "/accounts/{a}/pages/projects/a1"))
    create_project(emu, "a2")
    ok(emu.api("POST", dpath("a2"), json={"name": "free.example.com"}))
