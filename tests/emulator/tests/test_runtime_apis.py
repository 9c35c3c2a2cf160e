"""The runtime APIs deployed workers call at request time: the Cache API (``caches.default``,
``caches.open``), ``env.ASSETS.fetch``, ``ctx.waitUntil``, ``ctx.passThroughOnException``,
``navigator``, ``request.cf``.

The Cache API follows Cloudflare's documentation of it (developers.cloudflare.com/workers/
runtime-apis/cache/): ``put`` honours ``Cache-Control`` (``s-maxage`` before ``max-age``;
``no-store``, ``no-cache``, ``private`` not stored), the Edge TTL of the status without it, and
never stores ``Set-Cookie`` unless ``private=Set-Cookie``; ``match`` answers conditional requests.
"""
from __future__ import annotations

import json
import time

import pytest
import requests
from conformance_helpers import EMULATOR_DIR, in_ci
from emu_helpers import create_project, deploy, get_deployment

WORKERD = EMULATOR_DIR / "node_modules" / ".bin" / "workerd"

WORKER = b"""
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const q = url.searchParams;
    const cache = q.get("ns") ? await caches.open(q.get("ns")) : caches.default;
    const key = new Request(url.origin + "/item/" + (q.get("k") || "a"));
    if (url.pathname === "/put") {
      const headers = { "Content-Type": "text/plain", "ETag": '"v1"', "X-Kept": "yes" };
      if (q.get("cc")) headers["Cache-Control"] = q.get("cc");
      if (q.get("cookie")) headers["Set-Cookie"] = "session=1";
      await cache.put(key, new Response(q.get("body") || "cached body",
                                        { status: Number(q.get("status") || 200), headers }));
      return new Response("put");
    }
    if (url.pathname === "/match") {
      const headers = {};
      for (const name of ["If-None-Match", "Range"]) {
        if (request.headers.get("x-" + name)) headers[name] = request.headers.get("x-" + name);
      }
      const hit = await cache.match(new Request(key, { headers }));
      if (!hit) return new Response("miss", { status: 404 });
      return Response.json({ status: hit.status, body: await hit.text(),
                             cache: hit.headers.get("CF-Cache-Status"), kept: hit.headers.get("X-Kept"),
                             cookie: hit.headers.get("Set-Cookie"), range: hit.headers.get("Content-Range") });
    }
    if (url.pathname === "/delete") return new Response(String(await cache.delete(key)));
    if (url.pathname === "/runtime") {
      let waited = false;
      ctx.waitUntil(new Promise((resolve) => setTimeout(() => { waited = true; resolve(); }, 5)));
      ctx.passThroughOnException();
      const asset = await env.ASSETS.fetch(new URL("/about", request.url));
      return Response.json({ userAgent: navigator.userAgent, cf: typeof request.cf,
                             country: request.cf && request.cf.country,
                             asset: asset.status + " " + (await asset.text()),
                             ip: request.headers.get("CF-Connecting-IP") });
    }
    if (q.get("throw")) {
      if (q.get("throw") === "pass") ctx.passThroughOnException();
      throw new Error("the worker failed");
    }
    return new Response("no route", { status: 400 });
  },
};
"""


@pytest.fixture
def site(emu):
    if not WORKERD.exists():
        reason = f"workerd not installed at {WORKERD} (run: npm ci --prefix tests/emulator)"
        if in_ci():
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    create_project(emu, "rt")
    d = deploy(emu, "rt", {"/about.html": (b"about page", "text/html")}, {"_worker.js": WORKER})
    deadline = time.monotonic() + 20
    while get_deployment(emu, "rt", d["id"])["latest_stage"]["status"] == "active" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get_deployment(emu, "rt", d["id"])["latest_stage"]["status"] == "success"

    def call(path, **headers):
        r = emu.site("rt.pages.dev", path, headers=headers)
        return r.status_code, (r.json() if r.headers.get("Content-Type", "").startswith("application/json")
                               else r.text)
    return call


def test_cache_put_match_delete(site):
    assert site("/match") == (404, "miss")
    assert site("/put?cc=max-age%3D60") == (200, "put")
    status, hit = site("/match")
    assert status == 200, hit
    assert (hit["status"], hit["body"], hit["cache"], hit["kept"]) == (200, "cached body", "HIT", "yes")
    # conditional and partial matches
    assert site("/match", **{"x-If-None-Match": '"v1"'})[1]["status"] == 304
    assert site("/match", **{"x-If-None-Match": '"v2"'})[1]["status"] == 200
    _, part = site("/match", **{"x-Range": "bytes=0-5"})
    assert (part["status"], part["body"], part["range"]) == (206, "cached", "bytes 0-5/11")
    # delete: true once, then false; the entry is gone
    assert site("/delete") == (200, "true")
    assert site("/delete") == (200, "false")
    assert site("/match") == (404, "miss")


@pytest.mark.parametrize("query, stored", [
    ("cc=no-store", False),
    ("cc=no-cache", False),
    ("cc=private", False),
    ("cc=max-age%3D0", False),
    ("cc=s-maxage%3D60%2C%20max-age%3D0", True),   # a shared cache reads s-maxage first
    ("cc=s-maxage%3D0%2C%20max-age%3D60", False),
    ("", True),                                     # no Cache-Control: 200's Edge TTL (2 h)
    ("status=500", False),                          # no Edge TTL for a 500
    ("status=404", True),                           # 404: 3 minutes
    ("cc=max-age%3D60&cookie=1", False),            # Set-Cookie is never cached...
])
def test_cache_put_honours_cache_control(site, query, stored):
    site(f"/put?{query}")
    status, _ = site("/match")
    assert status == (200 if stored else 404), query


def test_cache_set_cookie_with_private_is_stored_without_it(site):
    site("/put?cookie=1&cc=private%3DSet-Cookie%2C%20max-age%3D60")
    status, hit = site("/match")
    assert status == 200 and hit["cookie"] is None and hit["body"] == "cached body", hit


def test_cache_entries_expire_and_named_caches_are_apart(site):
    site("/put?cc=max-age%3D1&k=short")
    site("/put?ns=one&body=in+one&cc=max-age%3D60")
    assert site("/match?k=short")[0] == 200
    assert site("/match?ns=one")[1]["body"] == "in one"
    assert site("/match")[0] == 404 and site("/match?ns=two")[0] == 404
    time.sleep(1.2)
    assert site("/match?k=short")[0] == 404


def test_other_runtime_apis(site):
    status, out = site("/runtime")
    assert status == 200, out
    assert out["userAgent"] == "Cloudflare-Workers"
    assert out["asset"] == "200 about page"
    assert out["cf"] == "object" and out["country"], out
    assert out["ip"], out
    print(json.dumps(out))


def test_pass_through_on_exception_serves_the_static_asset(site):
    """Pages Functions: after ``passThroughOnException()`` an exception hands the request on to
    the static assets; without it the request fails."""
    assert site("/about?throw=pass") == (200, "about page")
    assert site("/about?throw=yes")[0] == 500
