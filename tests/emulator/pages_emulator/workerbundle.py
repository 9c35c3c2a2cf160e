"""A deployment's code: the `_worker.bundle` multipart body, a raw `_worker.js`, and `_routes.json`.

No HTTP and no process handling here (see workers.py); only parsing and matching.

Facts used (no code copied):
- `_worker.bundle` is itself a multipart/form-data body, as for a Workers script upload: a
  `metadata` part with JSON `{"main_module": "<name>", ...}` and one part per module whose
  content type gives its kind (wrangler `src/pages/functions/buildWorker.ts` and
  `src/deployment-bundle/create-worker-upload-form.ts`; Workers upload docs
  https://developers.cloudflare.com/workers/configuration/multipart-upload-metadata/).
- `_routes.json`: `{"version": 1, "include": [...], "exclude": [...]}`, rules start with `/`,
  `*` is a wildcard, exclude wins over include, at most 100 rules of at most 100 characters
  (https://developers.cloudflare.com/pages/functions/routing/#create-a-_routesjson-file). A rule
  `/foo/*` also matches `/foo`, and `/foo` also matches `/foo/` (wrangler
  `templates/pages-dev-util.ts`, the matcher of `wrangler pages dev`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# Content type of a bundle part -> workerd module kind (workerd.capnp `Worker.Module`).
MODULE_KINDS = {
    "application/javascript+module": "esModule",
    "text/javascript+module": "esModule",
    "application/javascript": "commonJsModule",
    "text/javascript": "commonJsModule",
    "application/wasm": "wasm",
    "text/plain": "text",
    "application/octet-stream": "data",
    "application/json": "json",
}
MAX_ROUTES_RULES = 100
MAX_ROUTES_RULE_LENGTH = 100


class BundleError(ValueError):
    """The uploaded worker cannot be read (answered with a 400 before anything is stored)."""


@dataclass
class Module:
    name: str
    kind: str          # a key of workerd's Worker.Module union: esModule, wasm, text, ...
    content: bytes


@dataclass
class WorkerCode:
    main_module: str
    modules: list = field(default_factory=list)   # [Module], the main module first
    metadata: dict = field(default_factory=dict)


def _split_headers(raw: bytes) -> dict:
    headers = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _disposition_name(value: str):
    m = re.search(r'(?:^|;)\s*name="((?:[^"\\]|\\.)*)"', value) or re.search(r'(?:^|;)\s*name=([^;]+)', value)
    return m.group(1).replace('\\"', '"').strip() if m else None


def parse_bundle(data: bytes) -> WorkerCode:
    """Parse a `_worker.bundle` (a complete multipart/form-data body; the boundary is its first line)."""
    if not data.startswith(b"--"):
        raise BundleError("the bundle is not a multipart body (it must start with --<boundary>)")
    first_line = data.split(b"\r\n", 1)[0]
    boundary = first_line[2:]
    if not boundary or len(boundary) > 200:
        raise BundleError("the bundle's multipart boundary is missing or too long")
    delimiter = b"\r\n--" + boundary
    body = b"\r\n" + data
    chunks = body.split(delimiter)
    # chunks[0] is the (empty) preamble; the last chunk starts with "--" (closing delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise BundleError("the bundle's multipart body has no closing boundary")
    metadata = None
    modules: list[Module] = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n"):
            raise BundleError("malformed multipart part (no line break after the boundary)")
        head, sep, content = chunk[2:].partition(b"\r\n\r\n")
        if not sep:
            raise BundleError("malformed multipart part (no blank line after its headers)")
        headers = _split_headers(head)
        name = _disposition_name(headers.get("content-disposition", ""))
        if not name:
            raise BundleError("a multipart part has no name in its Content-Disposition")
        if name == "metadata":
            try:
                metadata = json.loads(content)
            except ValueError:
                raise BundleError("the `metadata` part is not valid JSON") from None
            continue
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        kind = MODULE_KINDS.get(ctype)
        if kind is None:
            raise BundleError(f"module {name!r} has an unsupported content type {ctype or '(none)'!r}")
        if any(m.name == name for m in modules):
            raise BundleError(f"module {name!r} appears twice")
        modules.append(Module(name, kind, content))
    if not isinstance(metadata, dict):
        raise BundleError("the bundle has no `metadata` part with a JSON object")
    main = metadata.get("main_module")
    if not isinstance(main, str) or not main:
        if isinstance(metadata.get("body_part"), str):
            raise BundleError("service-worker bundles (`body_part`) are not supported; use ES modules")
        raise BundleError("`metadata.main_module` is missing")
    main_mod = next((m for m in modules if m.name == main), None)
    if main_mod is None:
        raise BundleError(f"the main module {main!r} is not among the bundle's parts")
    if main_mod.kind not in ("esModule", "commonJsModule"):
        raise BundleError(f"the main module {main!r} is not JavaScript")
    modules.remove(main_mod)
    return WorkerCode(main, [main_mod, *modules], metadata)


def worker_from_script(data: bytes) -> WorkerCode:
    """A raw `_worker.js` field: one ES module (Pages advanced mode requires module syntax)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError("`_worker.js` is not UTF-8 text") from None
    return WorkerCode("_worker.js", [Module("_worker.js", "esModule", data)], {})


def worker_code(special_blobs: dict) -> WorkerCode | None:
    """The worker of a deployment from its special files {name: bytes}, or None."""
    if special_blobs.get("_worker.bundle") is not None:
        return parse_bundle(special_blobs["_worker.bundle"])
    if special_blobs.get("_worker.js") is not None:
        return worker_from_script(special_blobs["_worker.js"])
    return None


def validate_upload(fields: dict):
    """Raise BundleError for a malformed `_worker.bundle`, `_worker.js` or `_routes.json` field."""
    blobs = {k: v if isinstance(v, bytes) else str(v).encode() for k, v in fields.items()
             if k in ("_worker.js", "_worker.bundle", "_routes.json") and v is not None}
    worker_code(blobs)
    if blobs.get("_routes.json") is not None:
        parse_routes(blobs["_routes.json"])


# ---------------------------------------------------------------------------- _routes.json
@dataclass
class Routes:
    include: list
    exclude: list

    def matches(self, path: str) -> bool:
        """True when a request for ``path`` goes to the worker."""
        if any(rule_match(rule, path) for rule in self.exclude):
            return False
        return any(rule_match(rule, path) for rule in self.include)


def parse_routes(data: bytes) -> Routes:
    try:
        spec = json.loads(data)
    except ValueError:
        raise BundleError("`_routes.json` is not valid JSON") from None
    if not isinstance(spec, dict):
        raise BundleError("`_routes.json` must be a JSON object")
    # wrangler refuses a version other than 1 and an empty `include` before uploading; the
    # emulator reads what it can (a missing list is empty: no path goes to the worker).
    include, exclude = spec.get("include") or [], spec.get("exclude") or []
    if not isinstance(include, list) or not isinstance(exclude, list):
        raise BundleError("`_routes.json` `include` and `exclude` must be lists")
    rules = include + exclude
    if len(rules) > MAX_ROUTES_RULES:
        raise BundleError(f"`_routes.json` has {len(rules)} rules; at most {MAX_ROUTES_RULES} are allowed")
    for rule in rules:
        if not isinstance(rule, str) or not rule.startswith("/") or len(rule) > MAX_ROUTES_RULE_LENGTH:
            raise BundleError(f"`_routes.json` rule {rule!r} must be a string starting with `/`, "
                              f"at most {MAX_ROUTES_RULE_LENGTH} characters")
    return Routes(list(include), list(exclude))


_RULE_CACHE: dict = {}


def rule_match(rule: str, path: str) -> bool:
    rx = _RULE_CACHE.get(rule)
    if rx is None:
        if rule in ("/", "/*"):
            body, tail = rule, ""
        elif rule.endswith("/*"):
            body, tail = rule[:-2], "(?:/.*)?"     # /foo/* also matches /foo
        elif rule.endswith("/"):
            body, tail = rule[:-1], "/?"           # /foo/ also matches /foo
        elif rule.endswith("*"):
            body, tail = rule, ""
        else:
            body, tail = rule, "/?"                # /foo also matches /foo/
        rx = re.compile("^" + ".*".join(re.escape(part) for part in body.split("*")) + tail + "$")
        _RULE_CACHE[rule] = rx
    return rx.match(path) is not None
