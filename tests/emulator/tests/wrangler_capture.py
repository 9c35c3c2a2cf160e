"""What a client sends, request by request: a recording proxy in front of the emulator, and a
normalized transcript of the recording to compare two wrangler versions (test_wrangler_lanes.py).

The emulator's own request log keeps method, path, query and status; comparing wrangler releases
needs more: headers, multipart fields and their content types, the parts of `_worker.bundle`, the
upload payload's keys and content types. The proxy forwards every request unchanged and keeps it
whole; :func:`transcript` turns a recording into comparable rows, with what legitimately varies
between runs (random names, boundaries, tokens, lengths) replaced by stable marks.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import requests

# Headers whose value says nothing about what a client asks for (or varies by run).
_TRANSPORT = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"}
_HOP = {"transfer-encoding", "connection", "keep-alive", "content-encoding", "content-length"}
# wrangler's random names in a bundle (functionsWorker-0.<random>.js, bundledWorker-0.<random>.mjs,
# .wrangler/tmp/<dir>) and esbuild's temporary paths.
_RANDOM = [
    (re.compile(rb"(functionsWorker|bundledWorker)-0\.\d+\.(m?js)"), rb"\1-RANDOM.\2"),
    (re.compile(rb"[^\s\"'`]*\.wrangler/tmp/[^\s\"'`]*"), rb".wrangler/tmp/RANDOM"),
    (re.compile(rb"/tmp/[^\s\"'`]*"), rb"/tmp/RANDOM"),
    (re.compile(rb"wrangler@\d+\.\d+\.\d+"), rb"wrangler@VERSION"),  # _routes.json's description
]
# A module's bytes depend on the bundler (esbuild's version, the polyfills wrangler adds), not on
# the protocol: differences() reports them apart, as one line per bundle.
MODULE_CONTENT = "content"


class Recorder:
    """A proxy on 127.0.0.1 forwarding to ``upstream`` (the emulator's root URL). ``base_url``:
    the API base to give a client; ``requests``: what came through, in order."""

    def __init__(self, upstream: str, api_prefix: str):
        self.upstream = upstream.rstrip("/")
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _any(self):
                body = self._body()
                headers = [(k.lower(), v) for k, v in self.headers.items()]
                with recorder._lock:
                    recorder.requests.append({"method": self.command, "target": self.path, "headers": headers,
                                              "body": body})
                fwd = {k: v for k, v in self.headers.items() if k.lower() not in _TRANSPORT}
                resp = requests.request(self.command, recorder.upstream + self.path, headers=fwd, data=body,
                                        timeout=300, allow_redirects=False)
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in _HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}{api_prefix}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> list[dict]:
        """The requests so far, and start a new recording."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken


def _stable(data: bytes) -> bytes:
    for pattern, replacement in _RANDOM:
        data = pattern.sub(replacement, data)
    return data


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(_stable(data)).hexdigest()[:16] + f" ({len(_stable(data))} bytes)"


def multipart_parts(body: bytes, content_type: str) -> list[dict]:
    """[{name, filename, content_type, data}] of a multipart/form-data body."""
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not m:
        return []
    delimiter = b"--" + m.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, data = chunk.partition(b"\r\n\r\n")
        data = data[:-2] if data.endswith(b"\r\n") else data
        fields = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        disp = fields.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disp)
        filename = re.search(r'\bfilename="([^"]*)"', disp)
        parts.append({"name": name.group(1) if name else None, "filename": filename.group(1) if filename else None,
                      "content_type": fields.get("content-type"), "data": data})
    return parts


def _bundle_rows(data: bytes) -> dict:
    """A `_worker.bundle` (a multipart body whose first line is its boundary)."""
    boundary = data.split(b"\r\n", 1)[0][2:].decode("ascii", "replace")
    rows = []
    for part in multipart_parts(data, f'multipart/form-data; boundary="{boundary}"'):
        row = {"name": _stable(part["name"].encode()).decode() if part["name"] else None,
               "filename": _stable(part["filename"].encode()).decode() if part["filename"] else None,
               "content_type": part["content_type"]}
        if part["name"] == "metadata":
            meta = json.loads(part["data"])
            row["metadata"] = json.loads(_stable(json.dumps(meta, sort_keys=True).encode()))
        else:
            row["content"] = _digest(part["data"])
        rows.append(row)
    return {"parts": rows}


def _form_rows(parts: list[dict]) -> list[dict]:
    rows = []
    for part in parts:
        row = {"name": part["name"], "filename": part["filename"], "content_type": part["content_type"]}
        if part["name"] == "manifest":
            row["manifest"] = json.loads(part["data"])
        elif part["name"] == "_worker.bundle":
            row["bundle"] = _bundle_rows(part["data"])
        elif part["name"] in ("_headers", "_redirects", "_routes.json", "_worker.js",
                              "functions-filepath-routing-config.json"):
            row["content"] = _digest(part["data"])
        else:
            row["value"] = part["data"].decode("utf-8", "replace")
        rows.append(row)
    return rows


def _json_rows(path: str, body: bytes):
    data = json.loads(body)
    if path.endswith("/pages/assets/upload"):
        # key, content type and encoding per file (the values are the files, already keyed by hash)
        return sorted(({"key": i["key"], "metadata": i.get("metadata"), "base64": i.get("base64"),
                        "fields": sorted(i)} for i in data), key=lambda i: i["key"])
    if path.endswith("/pages/assets/check-missing") or path.endswith("/pages/assets/upsert-hashes"):
        return {k: sorted(v) if isinstance(v, list) else v for k, v in data.items()}
    return data


def transcript(recorded: list[dict], keep_headers=("content-type", "accept", "authorization", "user-agent")) -> list[dict]:
    """Comparable rows, one per request, in order: method, path (the account id as ACCOUNT),
    query, the chosen headers (credentials as marks) and the other header names, the body."""
    rows = []
    for req in recorded:
        url = urlsplit(req["target"])
        path = re.sub(r"/accounts/[0-9a-f]{32}", "/accounts/ACCOUNT", url.path)
        path = re.sub(r"/deployments/[0-9a-f-]{36}", "/deployments/ID", path)
        headers = {}
        for k, v in req["headers"]:
            if k in _TRANSPORT:
                continue
            if k == "authorization":
                v = "Bearer JWT" if v.count(".") == 2 else "Bearer TOKEN"
            elif k == "content-type":
                v = re.sub(r"boundary=.*", "boundary=B", v)
            elif k == "user-agent":
                v = re.sub(r"wrangler/\d+\.\d+\.\d+", "wrangler/VERSION", v)
            headers[k] = v if k in keep_headers else "(present)"
        body = req["body"]
        ctype = dict(req["headers"]).get("content-type", "")
        if not body:
            content = None
        elif ctype.startswith("multipart/form-data"):
            content = _form_rows(multipart_parts(body, ctype))
        elif ctype.startswith("application/json"):
            content = _json_rows(path, body)
        else:
            content = _digest(body)
        rows.append({"call": f"{req['method']} {path}", "query": sorted(parse_qsl(url.query, keep_blank_values=True)),
                     "headers": headers, "body": content})
    return rows


def _uploads_as_one(rows: list[dict]) -> list[dict]:
    """The bucket uploads run concurrently (wrangler: 3 at a time), so they arrive in any order:
    one row with the items of all of them, and their count."""
    out = []
    for row in rows:
        if row["call"].endswith("/pages/assets/upload") and out and out[-1]["call"] == row["call"]:
            merged = dict(out[-1])
            merged["body"] = sorted(merged["body"] + row["body"], key=lambda i: i["key"])
            merged["buckets"] = merged.get("buckets", 1) + 1
            out[-1] = merged
        else:
            out.append(dict(row))
    return out


def _take_module_contents(row: dict) -> list[str]:
    """The digests of the bundle's modules, taken out of the row (a copy of its body is made)."""
    taken = []
    if isinstance(row.get("body"), list):
        row["body"] = json.loads(json.dumps(row["body"]))
        for field in row["body"]:
            if isinstance(field, dict) and "bundle" in field:
                for part in field["bundle"]["parts"]:
                    if MODULE_CONTENT in part:
                        taken.append(part.pop(MODULE_CONTENT))
    return taken


def differences(a: list[dict], b: list[dict], label_a="a", label_b="b") -> list[str]:
    """Human-readable differences between two transcripts (the call order first, then per call)."""
    out = []
    a, b = _uploads_as_one(a), _uploads_as_one(b)
    calls_a, calls_b = [r["call"] for r in a], [r["call"] for r in b]
    if calls_a != calls_b:
        out.append(f"order of calls: {label_a} {calls_a} / {label_b} {calls_b}")
    for i, (ra, rb) in enumerate(zip(a, b)):
        if ra["call"] != rb["call"]:
            continue
        modules_a, modules_b = _take_module_contents(ra), _take_module_contents(rb)
        if modules_a != modules_b:
            out.append(f"#{i} {ra['call']} _worker.bundle module contents: {label_a} {modules_a} / "
                       f"{label_b} {modules_b}")
        for field in ("query", "headers", "body", "buckets"):
            if ra.get(field) != rb.get(field):
                out.append(f"#{i} {ra['call']} {field}: {label_a} {json.dumps(ra.get(field), sort_keys=True)} / "
                           f"{label_b} {json.dumps(rb.get(field), sort_keys=True)}")
    return out
