"""GET /zones (name and account filters, paging) and the seeding endpoint POST /__emulator/zones."""
import requests
from conftest import DEV_ACCOUNT
from emu_helpers import error_of, ok

OTHER = "b" * 32


def seed(emu, **body):
    return requests.post(emu.root_url + "/__emulator/zones", json=body, timeout=10)


def zones(emu, **query):
    return emu.api("GET", "/zones", params=query)


def test_zones_of_the_account_by_name(emu):
    full = seed(emu, name="Example.COM", account_id=DEV_ACCOUNT).json()
    assert full["name"] == "example.com" and full["type"] == "full" and full["status"] == "active"
    assert full["account"]["id"] == DEV_ACCOUNT and len(full["id"]) == 32 and full["name_servers"]
    seed(emu, name="shop.example.net", account_id=DEV_ACCOUNT, type="partial")
    seed(emu, name="example.org", account_id=OTHER)

    assert [z["name"] for z in ok(zones(emu, name="example.com"))] == ["example.com"]
    assert [z["name"] for z in ok(zones(emu, **{"name": "example.com", "account.id": DEV_ACCOUNT}))] == ["example.com"]
    assert ok(zones(emu, **{"name": "example.com", "account.id": OTHER})) == []
    # another account's zone is not listed to this credential, whatever the filters say
    assert ok(zones(emu, name="example.org")) == []
    assert ok(zones(emu, **{"name": "example.org", "account.id": OTHER})) == []
    assert ok(zones(emu, name="www.example.com")) == []
    partial = ok(zones(emu, name="ends_with:.net"))
    assert [(z["name"], z["type"], z["cname_suffix"]) for z in partial] == [("shop.example.net", "partial",
                                                                              "cdn.cloudflare.net")]
    assert {z["name"] for z in ok(zones(emu))} == {"example.com", "shop.example.net"}
    assert ok(zones(emu, status="pending")) == []


def test_zone_paging_and_bad_list_options(emu):
    for i in range(7):
        seed(emu, name=f"z{i}.example", account_id=DEV_ACCOUNT)
    r = zones(emu, per_page=5, page=2)
    body = r.json()
    assert [z["name"] for z in body["result"]] == ["z5.example", "z6.example"]
    assert body["result_info"] == {"page": 2, "per_page": 5, "count": 2, "total_count": 7, "total_pages": 2}
    assert error_of(zones(emu, per_page=51))[0] == 400
    assert error_of(zones(emu, per_page="x"))[0] == 400


def test_zones_need_credentials(emu):
    r = emu.api("GET", "/zones", auth=False)
    assert r.status_code in (400, 401, 403) and not r.json()["success"]


def test_bad_seeds_and_reset(emu):
    assert seed(emu, name="not a domain", account_id=DEV_ACCOUNT).status_code == 400
    assert seed(emu, name="example.com", account_id="xyz").status_code == 400
    assert seed(emu, name="example.com", account_id=DEV_ACCOUNT, type="cname").status_code == 400
    assert seed(emu, name="example.com", account_id=DEV_ACCOUNT, color="red").status_code == 400
    assert seed(emu, name="example.com", account_id=DEV_ACCOUNT).status_code == 200
    assert seed(emu, name="example.com", account_id=DEV_ACCOUNT).status_code == 409
    assert seed(emu, name="example.com", account_id=OTHER).status_code == 200   # per account
    emu.reset()
    assert ok(zones(emu)) == []
