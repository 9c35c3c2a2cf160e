"""Serving a Worker's static assets as Cloudflare's Workers asset server does.

The rules are Cloudflare's documented ones (developers.cloudflare.com/workers/static-assets/routing/:
``html_handling``, ``not_found_handling``, ``run_worker_first``; ``_headers`` and ``_redirects`` on
.../static-assets/headers/ and .../redirects/). Where the docs are silent this follows the asset and
router workers Cloudflare runs (workers-sdk ``packages/workers-shared/asset-worker/src/handler.ts``,
``utils/headers.ts``, ``router-worker/src/worker.ts``). Differences from Pages (``serving.py``)
that matter here: html_handling redirects are **307** (Pages: 308), redirects carry no body, no
default ``Access-Control-Allow-Origin``/``Referrer-Policy``/``X-Content-Type-Options`` headers,
nothing added to a 404, and without a ``404.html`` Workers do not fall back to a single-page
application (``not_found_handling`` says what happens). The ``_redirects``/``_headers`` parsers are
the same in both products (workers-shared ``parseRedirects``/``parseHeaders``), so ``serving.py``'s
are reused.

Nothing here knows aiohttp or workerd: :func:`serve` and :func:`route_to_worker` take the
request's parts and an ``exists(path) -> hash | None`` lookup.
"""
from __future__ import annotations

import re
from urllib.parse import quote, unquote, urljoin, urlsplit

from .serving import (CACHE_CONTROL_BROWSER, Answer, Headers, _replace, _rule_regex, match_redirect,
                      parse_headers, parse_redirects, url_pathname)

HTML_HANDLING = ("auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none")
NOT_FOUND_HANDLING = ("none", "404-page", "single-page-application")
DEFAULT_CONFIG = {"html_handling": "auto-trailing-slash", "not_found_handling": "none"}
NO_INTENT = object()   # the asset server has nothing for the path (a Worker may answer it)


def decode_path(pathname: str) -> str:
    """asset-worker ``decodePath``: each segment decodeURIComponent'ed (left as is when it cannot
    be), runs of ``/`` collapsed."""
    out = []
    for seg in pathname.split("/"):
        try:
            out.append(seg if re.search(r"%(?![0-9A-Fa-f]{2})", seg) else unquote(seg, errors="strict"))
        except UnicodeDecodeError:
            out.append(seg)
    return re.sub(r"/+", "/", "/".join(out))


def encode_path(pathname: str) -> str:
    """asset-worker ``encodePath``: each segment encodeURIComponent'ed."""
    return "/".join(quote(seg, safe="!'()*-._~") for seg in pathname.split("/"))


# ----------------------------------------------------------------------------- intents
# An intent is ("asset", hash, status, resolver) or ("redirect", destination) or None.

def _asset(h, status=200, resolver="html-handling"):
    return ("asset", h, status, resolver)


def get_intent(pathname, config, exists, skip_redirects=False):
    mode = config.get("html_handling") or "auto-trailing-slash"
    fn = {"auto-trailing-slash": _auto, "force-trailing-slash": _force,
          "drop-trailing-slash": _drop}.get(mode)
    if fn is None:   # "none"
        h = exists(pathname)
        return _asset(h) if h else _not_found(pathname, config, exists)
    return fn(pathname, config, exists, skip_redirects)


def _safe_redirect(file, destination, config, exists, skip):
    """Redirect to ``destination`` only when it serves exactly ``file`` (and is no file itself)."""
    if skip or exists(destination):
        return None
    intent = get_intent(destination, config, exists, True)
    if intent and intent[0] == "asset" and intent[1] == exists(file):
        return ("redirect", destination)
    return None


def _first(*attempts):
    for attempt in attempts:
        result = attempt()
        if result:
            return result
    return None


def _auto(p, config, exists, skip):
    def sr(file, dest):
        return lambda: _safe_redirect(file, dest, config, exists, skip)
    exact = exists(p)
    r = None
    if p.endswith("/index"):
        if exact:
            return _asset(exact)
        r = _first(sr(f"{p}.html", p[:-len("index")]), sr(f"{p[:-len('/index')]}.html", p[:-len("/index")]))
    elif p.endswith("/index.html"):
        r = _first(sr(p, p[:-len("index.html")]),
                   sr(f"{p[:-len('/index.html')]}.html", p[:-len("/index.html")]))
    elif p.endswith("/"):
        h = exists(f"{p}index.html")
        if h:
            return _asset(h)
        r = sr(f"{p[:-1]}.html", p[:-1])()
    elif p.endswith(".html"):
        r = _first(sr(p, p[:-len(".html")]), sr(f"{p[:-len('.html')]}/index.html", f"{p[:-len('.html')]}/"))
    if r:
        return r
    if exact:
        return _asset(exact)
    h = exists(f"{p}.html")
    if h:
        return _asset(h)
    return sr(f"{p}/index.html", f"{p}/")() or _not_found(p, config, exists)


def _force(p, config, exists, skip):
    def sr(file, dest):
        return lambda: _safe_redirect(file, dest, config, exists, skip)
    exact = exists(p)
    r = None
    if p.endswith("/index"):
        if exact:
            return _asset(exact)
        r = _first(sr(f"{p}.html", p[:-len("index")]), sr(f"{p[:-len('/index')]}.html", p[:-len("index")]))
    elif p.endswith("/index.html"):
        r = _first(sr(p, p[:-len("index.html")]),
                   sr(f"{p[:-len('/index.html')]}.html", p[:-len("index.html")]))
    elif p.endswith("/"):
        h = exists(f"{p}index.html") or exists(f"{p[:-1]}.html")
        if h:
            return _asset(h)
    elif p.endswith(".html"):
        r = sr(p, f"{p[:-len('.html')]}/")()
        if r:
            return r
        if exact:
            return _asset(exact)
        r = sr(f"{p[:-len('.html')]}/index.html", f"{p[:-len('.html')]}/")()
    if r:
        return r
    if exact:
        return _asset(exact)
    return _first(sr(f"{p}.html", f"{p}/"), sr(f"{p}/index.html", f"{p}/")) or _not_found(p, config, exists)


def _drop(p, config, exists, skip):
    def sr(file, dest):
        return lambda: _safe_redirect(file, dest, config, exists, skip)
    exact = exists(p)
    r = None
    if p.endswith("/index"):
        if exact:
            return _asset(exact)
        if p == "/index":
            r = sr("/index.html", "/")()
        else:
            r = _first(sr(f"{p[:-len('/index')]}.html", p[:-len("/index")]), sr(f"{p}.html", p[:-len("/index")]))
    elif p.endswith("/index.html"):
        if p == "/index.html":
            r = sr("/index.html", "/")()
        else:
            r = sr(p, p[:-len("/index.html")])()
            if not r and exact:
                return _asset(exact)
            r = r or sr(f"{p[:-len('/index.html')]}.html", p[:-len("/index.html")])()
    elif p.endswith("/"):
        if p == "/":
            h = exists("/index.html")
            if h:
                return _asset(h)
        else:
            r = _first(sr(f"{p[:-1]}.html", p[:-1]), sr(f"{p[:-1]}/index.html", p[:-1]))
    elif p.endswith(".html"):
        r = _first(sr(p, p[:-len(".html")]), sr(f"{p[:-len('.html')]}/index.html", p[:-len(".html")]))
    if r:
        return r
    if exact:
        return _asset(exact)
    h = exists(f"{p}.html") or exists(f"{p}/index.html")
    return _asset(h) if h else _not_found(p, config, exists)


def _not_found(pathname, config, exists):
    mode = config.get("not_found_handling") or "none"
    if mode == "single-page-application":
        h = exists("/index.html")
        return _asset(h, 200, "not-found") if h else None
    if mode == "404-page":
        cwd = pathname
        while cwd:
            cwd = cwd[:cwd.rfind("/")]
            h = exists(f"{cwd}/404.html")
            if h:
                return _asset(h, 404, "not-found")
    return None


# ----------------------------------------------------------------------------- requests

def _redirect_answer(status, location):
    return Answer(status, Headers([("Location", location)]))


def _intent(method, host, raw_path, query, config, exists, redirects):
    """Answer (a redirect, 405) or ("asset", hash, status) or NO_INTENT (asset-worker
    ``getResponseOrAssetIntent``)."""
    pathname = url_pathname(raw_path)
    search = f"?{query}" if query else ""
    origin = f"https://{host}"
    proxied = False
    match = match_redirect(redirects, host, pathname)
    if match:
        status, to = match
        dest = urlsplit(urljoin(origin + pathname, to))
        if status == 200:
            pathname, proxied = url_pathname(dest.path), True
        else:
            fragment = f"#{dest.fragment}" if dest.fragment else ""
            q = f"?{dest.query}" if dest.query else search
            dest_origin = f"{dest.scheme}://{dest.netloc}"
            path = url_pathname(dest.path) if dest.path else "/"
            location = f"{path}{q}{fragment}" if dest_origin == origin else f"{dest_origin}{path}{q}{fragment}"
            return _redirect_answer(status if status in (301, 303, 307, 308) else 302, location)
    decoded = decode_path(pathname)
    intent = get_intent(decoded, config, exists)
    if not intent:
        return Answer(404, Headers()) if proxied else NO_INTENT
    if method.upper() not in ("GET", "HEAD"):
        return Answer(405, Headers())
    destination = intent[1] if intent[0] == "redirect" else decoded
    encoded = encode_path(destination)
    if intent[0] == "redirect" or encoded != pathname:
        return _redirect_answer(307, encoded + search)
    return intent


# From this compatibility date (or with the flag), a browser navigation (Sec-Fetch-Mode: navigate)
# that no asset matches gets not_found_handling rather than the Worker (asset-worker
# compatibility-flags.ts; developers.cloudflare.com/workers/static-assets/routing/ "navigation requests").
NAVIGATION_FLAG, NAVIGATION_FLAG_OFF, NAVIGATION_DEFAULT_ON = (
    "assets_navigation_prefers_asset_serving", "assets_navigation_has_no_effect", "2025-04-01")


def navigation_prefers_assets(compatibility_date, compatibility_flags) -> bool:
    flags = compatibility_flags or []
    if NAVIGATION_FLAG in flags:
        return True
    return NAVIGATION_FLAG_OFF not in flags and (compatibility_date or "2021-11-02") >= NAVIGATION_DEFAULT_ON


def can_fetch(*, method, host, raw_path, query, config, exists, redirects_text, static_routing,
              navigation=False) -> bool:
    """asset-worker ``canFetch``: would the assets answer this request? ``not_found_handling`` only
    counts when ``run_worker_first`` is a list of rules (has_static_routing), or for a navigation
    request when the Worker's compatibility prefers assets for those (``navigation``)."""
    if not (static_routing or navigation):
        config = dict(config, not_found_handling="none")
    return _intent(method, host, raw_path, query, config, exists, parse_redirects(redirects_text)) is not NO_INTENT


def serve(*, method, host, raw_path, query, request_headers, config, exists, content_type_of, load,
          redirects_text, headers_text) -> Answer:
    """Answer a request from the assets (a site request routed to them, or ``env.ASSETS.fetch``).

    ``exists(path)`` gives the asset's hash, ``content_type_of(hash)`` its stored type (None: no
    Content-Type), ``load(hash)`` its bytes."""
    result = _intent(method, host, raw_path, query, config, exists, parse_redirects(redirects_text))
    if result is NO_INTENT:
        answer = Answer(404, Headers())
    elif isinstance(result, Answer):
        answer = result
    else:
        _, h, status, _resolver = result
        headers = Headers([("ETag", f'"{h}"')])
        ctype = content_type_of(h)
        if ctype:
            headers.set("Content-Type", ctype)
        if "Authorization" not in request_headers and "Range" not in request_headers:
            headers.set("Cache-Control", CACHE_CONTROL_BROWSER)
        # the asset worker reports its cache's state; the emulator's store always has the asset
        headers.set("CF-Cache-Status", "HIT")
        strong = f'"{h}"'
        if request_headers.get("If-None-Match", "") in (strong, f"W/{strong}"):
            answer = Answer(304, headers)
        else:
            answer = Answer(status, headers, load(h))
    _attach_custom_headers(answer, parse_headers(headers_text), host, url_pathname(raw_path))
    return answer


def _attach_custom_headers(answer, rules, host, pathname):
    set_by_rules: set = set()
    for rule in rules:
        target = f"https://{host}{pathname}" if rule.path.startswith("https://") else pathname
        m = rule.regex.match(target)
        if not m:
            continue
        for name in rule.unset:
            answer.headers.delete(name)
        for name, value in rule.set.items():
            value = _replace(value, m.groupdict())
            if name in set_by_rules:
                answer.headers.append(name, value)
            else:
                answer.headers.set(name, value)
                set_by_rules.add(name)


# ----------------------------------------------------------------------------- run_worker_first

def static_routing(run_worker_first):
    """``run_worker_first`` rules -> (user_worker rules, asset_worker rules) of regexes, or None
    when it is a boolean (workers-shared ``parseStaticRouting``: ``/…`` runs the Worker, ``!/…``
    serves assets, negative rules win)."""
    if not isinstance(run_worker_first, list):
        return None
    user, assets = [], []
    for rule in run_worker_first:
        negative = rule.startswith("!")
        rx = _rule_regex(rule[1:] if negative else rule)
        if rx is not None:
            (assets if negative else user).append(rx)
    return user, assets


def validate_run_worker_first(value) -> str | None:
    """An error message for a bad ``run_worker_first``, else None (Cloudflare's rules: a boolean or
    a list of rules starting with ``/`` or ``!/``, at least one positive)."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        return "assets.config.run_worker_first must be a boolean or a list of route patterns"
    if not value:
        return "assets.config.run_worker_first must not be an empty list"
    for rule in value:
        if not (rule.startswith("/") or rule.startswith("!/")):
            return f"Invalid run_worker_first rule {rule!r}: rules must start with '/' or '!/'"
    if not any(not r.startswith("!") for r in value):
        return "run_worker_first needs at least one positive rule (one starting with '/')"
    return None


def route_to_worker(*, has_worker, run_worker_first, path, can_fetch_assets) -> bool:
    """router-worker: does this request go to the user Worker (True) or to the assets (False)?"""
    if not has_worker:
        return False
    routing = static_routing(run_worker_first)
    if routing is not None:
        user, assets = routing
        if any(rx.match(path) for rx in assets):
            return False
        if any(rx.match(path) for rx in user):
            return True
    elif run_worker_first is True:
        return True
    return not can_fetch_assets()
