"""Serving deployed sites: asset lookup, ``_redirects`` and ``_headers`` (static subset of Pages)."""
from __future__ import annotations

import re
from dataclasses import dataclass

REDIRECT_CODES = {200, 301, 302, 303, 307, 308}


def _pattern_to_regex(pattern: str) -> re.Pattern:
    """``*`` = splat (any chars, incl. ``/``), ``:name`` = one path segment placeholder."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("(?P<splat>.*)" if "(?P<splat>" not in "".join(out) else ".*")
            i += 1
        elif ch == ":" and i + 1 < len(pattern) and (pattern[i + 1].isalpha() or pattern[i + 1] == "_"):
            m = re.match(r":([A-Za-z_][A-Za-z0-9_]*)", pattern[i:])
            name = m.group(1)
            out.append(f"(?P<{name}>[^/]+)" if f"(?P<{name}>" not in "".join(out) else "[^/]+")
            i += len(m.group(0))
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("^" + "".join(out) + "$")


def _substitute(dest: str, groups: dict) -> str:
    def repl(m):
        name = m.group(1)
        return groups.get(name, m.group(0)) or ""
    return re.sub(r":([A-Za-z_][A-Za-z0-9_]*)", repl, dest)


@dataclass
class Redirect:
    source: str
    dest: str
    status: int
    regex: re.Pattern


def parse_redirects(text: str) -> list[Redirect]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        status = 302
        if len(parts) >= 3:
            try:
                status = int(parts[2])
            except ValueError:
                continue
        if status not in REDIRECT_CODES:
            continue
        rules.append(Redirect(parts[0], parts[1], status, _pattern_to_regex(parts[0])))
    return rules


def _match_rule(source: str, regex: re.Pattern, path: str, host: str):
    """The named groups of a `_redirects`/`_headers` rule that matches ``path``, or None.

    A rule written as an absolute URL is matched against ``https://<host><path>``.
    """
    target = "https://" + host + path if source.startswith(("http://", "https://")) else path
    m = regex.match(target)
    if not m:
        return None
    return {k: v for k, v in m.groupdict().items() if v is not None}


def match_redirect(rules: list[Redirect], path: str, host: str):
    """Return (status, destination) for the first matching rule, or None."""
    for rule in rules:
        groups = _match_rule(rule.source, rule.regex, path, host)
        if groups is not None:
            return rule.status, _substitute(rule.dest, groups)
    return None


@dataclass
class HeaderRule:
    pattern: str
    regex: re.Pattern
    set_headers: list
    detach: list


def parse_headers(text: str) -> list[HeaderRule]:
    rules: list[HeaderRule] = []
    current = None
    for raw in text.splitlines():
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        if raw[:1] not in (" ", "\t"):
            pattern = raw.strip()
            current = HeaderRule(pattern, _pattern_to_regex(pattern), [], [])
            rules.append(current)
            continue
        if current is None:
            continue
        line = raw.strip()
        if line.startswith("!"):
            current.detach.append(line[1:].strip().lower())
        elif ":" in line:
            name, value = line.split(":", 1)
            current.set_headers.append((name.strip(), value.strip()))
    return rules


def headers_for(rules: list[HeaderRule], path: str, host: str) -> dict:
    """Headers to add to a response for ``path``; repeated names are joined with ``, ``."""
    out: dict[str, str] = {}
    names: dict[str, str] = {}
    for rule in rules:
        groups = _match_rule(rule.pattern, rule.regex, path, host)
        if groups is None:
            continue
        for lname in rule.detach:
            if lname in names:
                out.pop(names.pop(lname), None)
        for name, value in rule.set_headers:
            value = _substitute(value, groups)
            key = names.setdefault(name.lower(), name)
            out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def candidates(path: str) -> list[str]:
    """Manifest paths to try for a request path, in order."""
    if path.endswith("/"):
        return [path + "index.html"]
    return [path, path + ".html", path + "/index.html"]


def not_found_candidates(path: str) -> list[str]:
    """Nearest ``404.html`` walking up from the request's directory to the root."""
    parts = path.split("/")[1:-1]
    out = []
    for i in range(len(parts), -1, -1):
        prefix = "/".join(parts[:i])
        out.append(("/" + prefix if prefix else "") + "/404.html")
    return out
