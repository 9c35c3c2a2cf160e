# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The static ``import``/``export ... from`` specifiers of an ES module, found without a JS engine.

Only what the Workers runtime links at start-up matters here: static declarations at the top
level of a module (``import "x"``, ``import a, {b as c} from "x"``, ``import * as n from "x"``,
``export * from "x"``, ``export {a} from "x"``). Dynamic ``import("x")`` and ``import.meta``
are not links and are ignored.

The scan skips comments, string literals, template literals (with nested ``${...}``) and
regular-expression literals, and tracks bracket depth, so an ``import`` inside a string, a
comment or a function body is never taken for a declaration. A ``/`` starts a regular expression
when the code before it cannot end an expression (the usual rule of JS tokenizers); this is a
heuristic, and a wrong guess can only hide a declaration, not invent one.
"""

from __future__ import annotations

import posixpath
import re

# A run of code without anything that changes the scanner's state.
_RUN = re.compile(r"[^'\"`/{}()\[\]\s]+")
_SPACE = re.compile(r"\s+")
_STRING = {
    "'": re.compile(r"'(?:[^'\\\n\r]|\\[\s\S])*'"),
    '"': re.compile(r'"(?:[^"\\\n\r]|\\[\s\S])*"'),
}
_TEMPLATE_CHARS = re.compile(r"(?:[^`\\$]|\\[\s\S]|\$(?!\{))*")
_REGEX = re.compile(r"/(?![*/])(?:[^/\\\[\n\r]|\\.|\[(?:[^\]\\\n\r]|\\.)*\])+/[A-Za-z]*")
_KEYWORD = re.compile(r"(?<![\w$])(import|export)(?![\w$])")
# Words after which a "/" starts a regular expression, not a division.
_REGEX_AFTER_WORD = re.compile(
    r"(?:^|[^\w$.])(?:return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else|yield|await)\Z"
)
_IDENT = re.compile(r"[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*")
_SKIP = re.compile(r"(?:\s+|//[^\n\r]*|/\*[\s\S]*?\*/)*")


class StaticImport:
    """One specifier: ``keyword`` (``import``/``export``), ``specifier`` (the decoded string),
    ``line`` (1-based) of the specifier."""

    __slots__ = ("keyword", "specifier", "line")

    def __init__(self, keyword, specifier, line):
        self.keyword = keyword
        self.specifier = specifier
        self.line = line

    def __repr__(self):
        return "StaticImport(%r, %r, line=%d)" % (self.keyword, self.specifier, self.line)


def _decode_string(literal):
    """The value of a JS string literal (common escapes; anything unusual is kept as written)."""
    body = literal[1:-1]
    if "\\" not in body:
        return body
    out = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "x" and re.match(r"[0-9a-fA-F]{2}", body[i + 2:i + 4]):
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif nxt == "u" and body[i + 2:i + 3] == "{":
            end = body.find("}", i + 3)
            try:
                out.append(chr(int(body[i + 3:end], 16)))
                i = end + 1
            except ValueError:
                out.append(nxt)
                i += 2
        elif nxt == "u" and re.match(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        elif nxt in "\r\n":
            i += 2  # line continuation
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def _skip(text, pos):
    return _SKIP.match(text, pos).end()


def _string_at(text, pos):
    if pos < len(text) and text[pos] in _STRING:
        match = _STRING[text[pos]].match(text, pos)
        if match:
            return match
    return None


def _declaration(text, keyword, pos):
    """The string literal match of the specifier of the declaration whose keyword ends at
    ``pos``, or None (not a declaration with a specifier)."""
    pos = _skip(text, pos)
    if keyword == "import":
        if pos < len(text) and text[pos] in "(.":
            return None  # import(...) or import.meta
        literal = _string_at(text, pos)
        if literal:
            return literal  # import "x"
    elif pos < len(text) and text[pos] not in "*{":
        return None  # export default / const / function ...: no specifier
    # Clause: names, "*", "as", braces with names or strings, commas, then "from" and a string.
    steps = 0
    while pos < len(text) and steps < 10000:
        steps += 1
        c = text[pos]
        if c == "{":
            end = pos + 1
            while end < len(text) and text[end] != "}":
                literal = _string_at(text, end)
                if literal:
                    end = literal.end()
                elif text[end] in "'\";(":
                    return None
                else:
                    end += 1
            pos = _skip(text, end + 1)
            continue
        if c in "*,":
            pos = _skip(text, pos + 1)
            continue
        ident = _IDENT.match(text, pos)
        if not ident:
            return None
        pos = _skip(text, ident.end())
        if ident.group(0) == "from":
            literal = _string_at(text, pos)
            if literal:
                return literal
            # "from" may also be an imported binding's name: go on.
    return None


def _regex_allowed(prev):
    """Whether a ``/`` after the code ``prev`` (the last significant piece) starts a regex."""
    if not prev:
        return True
    last = prev[-1]
    if last in ")]":
        return False
    if last == "}":
        return True
    if last.isalnum() or last in "_$" or ord(last) > 127:
        return bool(_REGEX_AFTER_WORD.search(prev))
    return last != "."


def static_imports(text):
    """Every static import/export specifier of the module source ``text``, in order."""
    found = []
    if text.startswith("#!"):
        start = text.find("\n")
        pos = len(text) if start < 0 else start
    else:
        pos = 0
    n = len(text)
    stack = []  # "{", "(", "[" or "${" (a template substitution)
    prev = ""  # the last significant piece of code (for the regex-or-division guess)

    def scan_template(p):
        """Scan template characters from ``p``; returns the position after the closing
        backtick, or after ``${`` (pushing it on the stack)."""
        p = _TEMPLATE_CHARS.match(text, p).end()
        if p >= n:
            return n
        if text[p] == "`":
            return p + 1
        stack.append("${")
        return p + 2

    while pos < n:
        c = text[pos]
        if c.isspace():
            pos = _SPACE.match(text, pos).end()
            continue
        if c in "'\"":
            literal = _string_at(text, pos)
            pos = literal.end() if literal else pos + 1
            prev = "a"
            continue
        if c == "`":
            pos = scan_template(pos + 1)
            prev = "a"
            continue
        if c == "/":
            nxt = text[pos + 1:pos + 2]
            if nxt == "/":
                end = text.find("\n", pos)
                pos = n if end < 0 else end
                continue
            if nxt == "*":
                end = text.find("*/", pos + 2)
                pos = n if end < 0 else end + 2
                continue
            if _regex_allowed(prev):
                match = _REGEX.match(text, pos)
                if match:
                    pos = match.end()
                    prev = "a"
                    continue
            pos += 1
            prev = "/"
            continue
        if c in "{([":
            stack.append(c)
            pos += 1
            prev = c
            continue
        if c in "})]":
            top = stack.pop() if stack else None
            pos += 1
            if top == "${":
                pos = scan_template(pos)
                prev = "a"
            else:
                prev = c
            continue
        run = _RUN.match(text, pos)
        end = run.end()
        if not stack:
            for keyword in _KEYWORD.finditer(text, pos, end):
                before = text[keyword.start() - 1:keyword.start()] if keyword.start() else ""
                if before == ".":
                    continue  # a property named import/export
                literal = _declaration(text, keyword.group(1), keyword.end())
                if literal is not None:
                    found.append(
                        StaticImport(keyword.group(1), _decode_string(literal.group(0)), text.count("\n", 0, literal.start()) + 1)
                    )
        prev = run.group(0)
        pos = end
    return found


def is_relative(specifier):
    """Whether a specifier names a module of the bundle by path (``./``, ``../`` or ``/``)."""
    return specifier.startswith(("./", "../", "/"))


def resolve(importer, specifier):
    """The module name that ``specifier`` names when imported from the module named
    ``importer`` (names are paths relative to the bundle root, ``/``-separated), or None when
    it points above the root. Like URL resolution: ``./`` and ``../`` are relative to the
    importer's directory, ``/`` to the root; a query or fragment is not part of the name."""
    path = re.split(r"[?#]", specifier, maxsplit=1)[0]
    if path.startswith("/"):
        joined = path.lstrip("/")
    else:
        joined = posixpath.join(posixpath.dirname(importer), path)
    parts = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)
