# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of ``_client.bodies``: a form sent by the client has the bytes requests (urllib3)
would have encoded, and is read in blocks without copying its fields."""

from __future__ import annotations

import json

import pytest
import requests
import urllib3.filepost

from ansible_collections.cfpages.cloudflare.plugins.module_utils._client import bodies as B
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fakes import parse_form

BOUNDARY = "0123456789abcdef0123456789abcdef"

FIELDS = [
    ("manifest", (None, bytearray(b'{"/index.html":"' + b"a" * 32 + b'"}'))),
    ("branch", (None, "main")),
    ("commit_message", (None, "caf\u00e9 \u2713\n\ndeploy".encode("utf-8"))),
    ("commit_dirty", (None, "false")),
    ("_headers", ("_headers", b"/*\n  X-Frame-Options: DENY\n", "text/plain")),
    ("_worker.bundle", ("_worker.bundle", b"--x\r\nbundle bytes\r\n--x--", "application/javascript+module")),
    ('odd"name\r\n', ('a"b.txt', b"", "text/plain")),
]


def requests_encoding(fields, monkeypatch):
    """What requests itself sends for ``files=fields`` with BOUNDARY."""
    monkeypatch.setattr(urllib3.filepost, "choose_boundary", lambda: BOUNDARY)
    plain = [(name, tuple(bytes(v) if isinstance(v, bytearray) else v for v in value)) for name, value in fields]
    prepared = requests.Request("POST", "https://api.example.test/", files=plain).prepare()
    return prepared.body, prepared.headers["Content-Type"]


def test_form_matches_requests_encoding(monkeypatch):
    form = B.FormData(FIELDS, boundary=BOUNDARY)
    expected, content_type = requests_encoding(FIELDS, monkeypatch)
    body = form.body()
    assert len(body) == form.length == len(expected)
    assert body.read() == expected
    assert form.content_type == content_type


@pytest.mark.parametrize("block", [1, 7, 8192, 10 ** 6])
def test_form_read_in_blocks(block, monkeypatch):
    form = B.FormData(FIELDS, boundary=BOUNDARY)
    body = form.body()
    pieces = []
    while True:
        piece = body.read(block)
        if not piece:
            break
        assert len(piece) <= block
        pieces.append(piece)
    assert b"".join(pieces) == requests_encoding(FIELDS, monkeypatch)[0]
    # a new body per attempt: the form itself is not used up
    assert form.body().read() == b"".join(pieces)


def test_form_does_not_copy_a_large_field():
    manifest = bytearray(b"m" * 100000)
    form = B.FormData([("manifest", (None, manifest))], boundary=BOUNDARY)
    assert any(part is manifest for part in form._parts)
    assert parse_form(form.body(), form.content_type) == [("manifest", (None, bytes(manifest), None))]


class Produced:
    """Content produced while it is sent: 1,000 pieces, never joined."""

    def __init__(self):
        self.runs = 0
        self.yielded = 0

    def pieces(self):
        self.runs += 1
        for i in range(1000):
            self.yielded += 1
            yield b"%05d," % i

    def __len__(self):
        return 6000


def test_form_field_produced_while_sent(monkeypatch):
    content = Produced()
    fields = [("branch", (None, "main")), ("manifest", (None, content)), ("x", ("x.txt", b"x", "text/plain"))]
    form = B.FormData(fields, boundary=BOUNDARY)
    assert content.runs == 0
    expected, _content_type = requests_encoding([(n, (v[0], bytes(b"".join(Produced().pieces())) if v[1] is content else v[1]) + v[2:])
                                                 for n, v in fields], monkeypatch)
    for attempt in (1, 2):
        body = form.body()
        assert len(body) == len(expected)
        blocks = [body.read(1024)]
        assert content.yielded < 1000 * attempt, "the field is produced as it is read, not joined first"
        while True:
            block = body.read(1024)
            if not block:
                break
            blocks.append(block)
        assert b"".join(blocks) == expected and content.runs == attempt


class RecordingSession:
    def __init__(self):
        self.headers = {}
        self.sent = []

    def request(self, method, url, **kwargs):
        data = kwargs["data"]
        self.sent.append((kwargs["headers"].get("Content-Type"), data.read(), len(data)))
        response = requests.Response()
        response.status_code = 200 if len(self.sent) > 1 else 502
        response._content = json.dumps({"success": True, "errors": [], "messages": [], "result": {"id": "d"}}).encode()
        return response


def test_client_sends_files_as_a_form_every_attempt():
    session = RecordingSession()
    client = PagesClient("acct", api_token="tok", session=session, sleep=lambda s: None)
    assert client.request("PUT", "/x", files=[("metadata", ("metadata.json", "{}", "application/json"))])["result"] == {"id": "d"}
    assert len(session.sent) == 2, "the 502 is retried"
    (type1, body1, length1), (type2, body2, length2) = session.sent
    assert type1 == type2 and type1.startswith("multipart/form-data; boundary=")
    assert body1 == body2 and len(body1) == length1 == length2
    assert parse_form(body1, type1) == [("metadata", ("metadata.json", b"{}", "application/json"))]
