"""Serving a deployment's static assets as Pages does: ``_redirects``, ``_headers``, route matching.

Pages' rules are documented on developers.cloudflare.com ("Serving Pages" → route matching,
``_redirects``, ``_headers``). Where the docs are silent this follows Cloudflare's own
implementation of them, the asset server that ``wrangler pages dev`` runs (workers-sdk
``packages/pages-shared/asset-server/handler.ts``, ``responses.ts``; the parsers in
``packages/workers-shared/utils/configuration/parse{Redirects,Headers}.ts`` and the matcher in
``packages/workers-shared/asset-worker/src/utils/rules-engine.ts``). tests/emulator/tests/
test_static_conformance.py compares the emulator with ``wrangler pages dev`` path by path.

Nothing here knows aiohttp: :func:`serve` takes the request's parts and a lookup function and
returns an :class:`Answer`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote, unquote, urljoin, urlsplit

PERMITTED_STATUS = {200, 301, 302, 303, 307, 308}
MAX_LINE_LENGTH = 2000
MAX_STATIC_REDIRECTS = 2000
MAX_DYNAMIC_REDIRECTS = 100
MAX_HEADER_RULES = 100
SPLAT = re.compile(r"\*")
PLACEHOLDER = re.compile(r":[A-Za-z]\w*")
_ABSOLUTE = re.compile(r"^https://+(?P<host>[^/]+)/?(?P<path>.*)")
_PORT = re.compile(r".*:\d+$")
CACHE_CONTROL_BROWSER = "public, max-age=0, must-revalidate"
REDIRECT_TEXT_TYPE = "text/plain;charset=UTF-8"   # what a Response with a string body gets
# WHATWG URL path percent-encode set (plus "%" kept as is: input may already be encoded)
_PATH_SAFE = "!$&'()*+,-./:;=@_~%[]^|"


# --------------------------------------------------------------------------- URLs

def _resolve_dots(path: str) -> str:
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        low = seg.lower()
        if low in (".", "%2e"):
            if i == len(segments) - 1:
                out.append("")
            continue
        if low in ("..", ".%2e", "%2e.", "%2e%2e"):
            if len(out) > 1:
                out.pop()
            if i == len(segments) - 1:
                out.append("")
            continue
        out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def url_pathname(raw: str) -> str:
    """The ``pathname`` a WHATWG URL parser makes of a raw request path: dot segments resolved,
    characters outside the path set percent-encoded, existing escapes kept."""
    return _resolve_dots(quote(raw or "/", safe=_PATH_SAFE))


def _extract_pathname(path: str, include_search: bool) -> str:
    """workers-shared ``extractPathname``: a rule's path normalised as a URL's path (plus its
    query and fragment for a destination)."""
    if not path.startswith("/"):
        path = "/" + path
    rest, has_fragment, fragment = path.partition("#")
    path, has_query, query = rest.partition("?")
    out = url_pathname(path)
    if include_search:
        out += (f"?{query}" if has_query and query else "") + (f"#{fragment}" if has_fragment and fragment else "")
    return out


def _validate(token: str, only_relative: bool, no_ports: bool, include_search: bool):
    m = _ABSOLUTE.match(token)
    if m and m.group("host"):
        if only_relative or (no_ports and _PORT.match(m.group("host"))):
            return None
        return "https://" + m.group("host") + _extract_pathname(m.group("path"), include_search)
    if not token.startswith("/") and only_relative:
        token = "/" + token
    if token.startswith("/"):
        return _extract_pathname(token, include_search)
    return None


def _has_host(token: str) -> bool:
    m = _ABSOLUTE.match(token)
    return bool(m and m.group("host"))


# --------------------------------------------------------------------------- rules

def _rule_regex(rule: str) -> re.Pattern | None:
    """``*`` → the ``splat`` group, ``:name`` → one segment (one host label in a host); None when
    the rule cannot compile (two splats, a placeholder used twice), as the JS RegExp would throw."""
    text = "(?P<splat>.*)".join(re.escape(part) for part in rule.split("*"))   # ':' stays as is
    m = re.match(r"^(https://[^/]*)", text)
    if m:
        host = re.sub(r":([A-Za-z]\w*)", r"(?P<\1>[^/.]+)", m.group(1), flags=re.ASCII)
        text = host + text[len(m.group(1)):]
    text = re.sub(r"(?<!\?P<):([A-Za-z]\w*)", r"(?P<\1>[^/]+)", text, flags=re.ASCII)
    try:
        return re.compile("^" + text + "$")
    except re.error:
        return None


def _replace(text: str, groups: dict) -> str:
    for name, value in groups.items():
        text = text.replace(":" + name, "undefined" if value is None else value)
    return text


@dataclass
class Redirect:
    source: str
    dest: str
    status: int
    line: int
    regex: re.Pattern | None = None


@dataclass
class Redirects:
    static: dict = field(default_factory=dict)     # exact source -> Redirect
    dynamic: list = field(default_factory=list)    # Redirects with a regex, in file order


def parse_redirects(text: str) -> Redirects:
    """``_redirects``: ``SOURCE DESTINATION [STATUS]`` lines; invalid lines are skipped as Pages
    skips them (with the same limits: 2,000 static and 100 dynamic rules, 2,000 characters a line)."""
    out = Redirects()
    seen: set = set()
    n_static = n_dynamic = 0
    can_static = static_allowed = True
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or len(line) > MAX_LINE_LENGTH:
            continue
        tokens = re.sub(r"\s+#.*$", "", line).split()
        if len(tokens) not in (2, 3):
            continue
        source = _validate(tokens[0], False, True, False)
        if source is None:
            continue
        if can_static and not SPLAT.search(source) and not PLACEHOLDER.search(source):
            n_static += 1
            if n_static > MAX_STATIC_REDIRECTS:
                continue
        else:
            n_dynamic += 1
            can_static = False
            if n_dynamic > MAX_DYNAMIC_REDIRECTS:
                break
        dest = _validate(tokens[1], False, False, True)
        if dest is None:
            continue
        try:
            status = int(tokens[2]) if len(tokens) == 3 else 302
        except ValueError:
            continue
        if status not in PERMITTED_STATUS:
            continue
        relative = not _has_host(dest)
        # `/* /index.html` and `/ /index` would loop with the .html/index redirects below
        if relative and (source.endswith("/*") or source.endswith("/")) and re.search(r"/index(\.html)?$", dest):
            continue
        if source in seen:
            continue
        seen.add(source)
        if status == 200 and not relative:   # a 200 (rewrite) must stay on the site
            continue
        rule = Redirect(source, dest, status, number)
        if static_allowed and not SPLAT.search(source) and not PLACEHOLDER.search(source):
            out.static[source] = rule
        else:
            static_allowed = False
            rule.regex = _rule_regex(source)
            if rule.regex is not None:
                out.dynamic.append(rule)
    return out


def match_redirect(rules: Redirects, host: str, pathname: str):
    """(status, destination) of the rule for this request, or None: an exact (static) rule first,
    then the first matching rule with splats or placeholders."""
    with_host = rules.static.get(f"https://{host}{pathname}")
    without = rules.static.get(pathname)
    hit = min((r for r in (with_host, without) if r), key=lambda r: r.line, default=None)
    if hit:
        return hit.status, hit.dest
    for rule in rules.dynamic:
        target = f"https://{host}{pathname}" if rule.source.startswith("https://") else pathname
        m = rule.regex.match(target)
        if m:
            return rule.status, _replace(rule.dest, m.groupdict())
    return None


@dataclass
class HeaderRule:
    path: str
    regex: re.Pattern
    set: dict       # lower-case name -> value (values of a repeated name joined with ", ")
    unset: list


def parse_headers(text: str) -> list[HeaderRule]:
    """``_headers``: a URL pattern line, then indented ``Name: value`` or ``! Name`` lines.
    At most 100 rules; a later rule for the same pattern replaces the earlier one in its place."""
    rules: dict[str, HeaderRule] = {}
    current = None
    skip = False

    def close():
        if current and (current.set or current.unset):
            rule = rules.get(current.path)
            if rule is not None:
                rule.set, rule.unset = current.set, current.unset
            else:
                regex = _rule_regex(current.path)
                if regex is not None:
                    current.regex = regex
                    rules[current.path] = current

    count = 0
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#") or len(line) > MAX_LINE_LENGTH:
            continue
        if re.match(r"^([^\s]+://|/)", line):
            skip = False
            if count >= MAX_HEADER_RULES:
                break
            close()
            current = None
            path = _validate(line, False, True, False)
            if path is None or len(SPLAT.findall(path)) > 1 or (
                    SPLAT.search(path) and re.search(r":splat(?!\w)", path)):
                skip = True
                continue
            current = HeaderRule(path, None, {}, [])
            count += 1
            continue
        if skip or current is None:
            continue
        if ":" not in line:
            if line.startswith("! "):
                current.unset.append(line[2:].strip())
            continue
        name, value = line.split(":", 1)
        name, value = name.strip().lower(), value.strip()
        if not name or " " in name or not value:
            continue
        current.set[name] = f"{current.set[name]}, {value}" if name in current.set else value
    close()
    return list(rules.values())


# --------------------------------------------------------------------------- responses

class Headers:
    """Case-insensitive, ordered; ``append`` joins values with ", " as the Fetch API does."""

    def __init__(self, items=()):
        self._d: dict[str, list] = {}
        for k, v in items:
            self.set(k, v)

    def set(self, name, value):
        self._d[name.lower()] = [name, value]

    def append(self, name, value):
        if name.lower() in self._d:
            self._d[name.lower()][1] += ", " + value
        else:
            self.set(name, value)

    def delete(self, name):
        self._d.pop(name.lower(), None)

    def get(self, name, default=None):
        entry = self._d.get(name.lower())
        return entry[1] if entry else default

    def __contains__(self, name):
        return name.lower() in self._d

    def items(self):
        return [tuple(v) for v in self._d.values()]


@dataclass
class Answer:
    status: int
    headers: Headers
    body: bytes | None = None


@dataclass
class Asset:
    key: str                  # the manifest hash: Pages' ETag is this key in quotes
    content_type: str
    load: Callable[[], bytes]


def content_type_of(stored: str | None) -> str:
    """The stored type, with ``; charset=utf-8`` added to a ``text/*`` type that has no charset
    (as wrangler's asset server does: packages/wrangler/src/miniflare-cli/assets.ts)."""
    ctype = stored or "application/octet-stream"
    if ctype.startswith("text/") and "charset" not in ctype:
        ctype += "; charset=utf-8"
    return ctype


def _strip_leading_slashes(location: str) -> str:
    return re.sub(r"^(/|%2F|%2f|%5C|%5c|%09|\s|\\)+(.*)", r"/\2", location)


def _location_header(value: str) -> str:
    return quote(value, safe="".join(chr(c) for c in range(0x21, 0x7F)))


def _redirect(status: int, location: str, *, strip=True) -> Answer:
    if strip:
        location = _strip_leading_slashes(location)
    location = _location_header(location)
    headers = Headers([("Location", location)])
    if status == 308:   # Pages' 308 carries no body; the others say where they go
        return Answer(308, headers)
    headers.set("Content-Type", REDIRECT_TEXT_TYPE)
    return Answer(status, headers, f"Redirecting to {location}".encode())


def _decode(pathname: str) -> str:
    """JavaScript's ``decodeURIComponent``, which leaves the path as it is when it cannot decode."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", pathname):
        return pathname
    try:
        return unquote(pathname, errors="strict")
    except UnicodeDecodeError:
        return pathname


def is_preview_host(host: str) -> bool:
    """A ``*.pages.dev`` name with more than three labels (a deployment's or a branch's URL)."""
    return host.endswith(".pages.dev") and len(host.split(".")) > 3


def serve(*, method: str, host: str, raw_path: str, query: str, request_headers,
          lookup: Callable[[str], Asset | None], redirects_text: str, headers_text: str,
          origin: str | None = None) -> Answer:
    """Answer a request for a deployment's static assets.

    ``raw_path`` is the request path as sent (percent-encoded), ``query`` the raw query string
    without ``?``, ``lookup(path)`` the asset at a decoded manifest path (``/a/b.html``) or None,
    ``origin`` the request URL's origin (``https://<host>``)."""
    origin = origin or f"https://{host}"
    pathname = url_pathname(raw_path)
    request_pathname = pathname
    search = f"?{query}" if query else ""
    answer = _route(method, host, pathname, search, origin, request_headers, lookup,
                    parse_redirects(redirects_text))
    if answer.status >= 500:
        return answer
    _attach_headers(answer, parse_headers(headers_text), host, request_pathname)
    if answer.status == 404:
        # Pages never lets a user's Cache-Control make a 404 stick
        answer.headers.delete("Cache-Control")
        answer.headers.append("Cache-Control", "no-store")
    return answer


def _route(method, host, pathname, search, origin, request_headers, lookup, redirects) -> Answer:
    match = match_redirect(redirects, host, pathname)
    if match:
        status, to = match
        dest = urlsplit(urljoin(origin + pathname, to))
        if status == 200:
            pathname = url_pathname(dest.path)
        else:
            dest_origin = f"{dest.scheme}://{dest.netloc}"
            query = f"?{dest.query}" if dest.query else search
            fragment = f"#{dest.fragment}" if dest.fragment else ""
            if dest_origin == origin:
                location = f"{url_pathname(dest.path)}{query}{fragment}"
            else:
                location = f"{dest_origin}{url_pathname(dest.path) if dest.path else '/'}{query}{fragment}"
            return _redirect(status, location, strip=False)

    if method.upper() not in ("GET", "HEAD"):
        return Answer(405, Headers())

    pathname = _decode(pathname)

    def asset_answer(asset: Asset) -> Answer:
        strong = f'"{asset.key}"'
        if request_headers.get("If-None-Match") in (strong, f"W/{strong}"):
            return Answer(304, Headers())
        headers = Headers([("ETag", strong), ("Content-Type", content_type_of(asset.content_type))])
        if "Authorization" not in request_headers and "Range" not in request_headers:
            headers.append("Cache-Control", CACHE_CONTROL_BROWSER)
        if is_preview_host(host):
            headers.set("X-Robots-Tag", "noindex")
        return Answer(200, headers, asset.load())   # the HTTP layer sends no body for HEAD

    def not_found() -> Answer:
        cwd = pathname
        while cwd:
            cwd = cwd[:cwd.rfind("/")]
            page = lookup(f"{cwd}/404.html")
            if page is not None:
                return Answer(404, Headers([("Content-Type", content_type_of(page.content_type))]),
                              page.load())
        index = lookup("/index.html")     # no 404.html anywhere: a single-page application
        if index is not None:
            return asset_answer(index)
        return Answer(404, Headers())

    if pathname.endswith("/"):
        if (asset := lookup(f"{pathname}index.html")) is not None:
            return asset_answer(asset)
        if pathname.endswith("/index/"):
            return _redirect(308, f"/{pathname[1:-len('index/')]}{search}")
        if lookup(re.sub(r"/$", ".html", pathname)) is not None:
            return _redirect(308, f"/{pathname[1:-1]}{search}")
        return not_found()

    if (asset := lookup(pathname)) is not None:
        if pathname.endswith(".html"):
            bare = pathname[:-len(".html")]
            if bare.endswith("/index"):
                return _redirect(308, f"{re.sub(r'/index$', '/', bare)}{search}")
            if bare == "/" or lookup(bare) is not None:
                return asset_answer(asset)
            return _redirect(308, f"{bare}{search}")
        return asset_answer(asset)
    if pathname.endswith("/index"):
        return _redirect(308, f"/{pathname[1:-len('index')]}{search}")
    if (asset := lookup(f"{pathname}.html")) is not None:
        return asset_answer(asset)
    if lookup(f"{pathname}/index.html") is not None:
        return _redirect(308, f"{pathname}/{search}")
    return not_found()


def _attach_headers(answer: Answer, rules: list[HeaderRule], host: str, pathname: str):
    headers = answer.headers
    headers.set("Access-Control-Allow-Origin", "*")
    headers.set("Referrer-Policy", "strict-origin-when-cross-origin")
    if "Content-Type" in headers:
        headers.set("X-Content-Type-Options", "nosniff")
    set_by_rules: set = set()
    for rule in rules:
        target = f"https://{host}{pathname}" if rule.path.startswith("https://") else pathname
        m = rule.regex.match(target)
        if not m:
            continue
        groups = m.groupdict()
        for name in rule.unset:
            headers.delete(name)
        for name, value in rule.set.items():
            value = _replace(value, groups)
            if name in set_by_rules:
                headers.append(name, value)
            else:
                headers.set(name, value)
                set_by_rules.add(name)
