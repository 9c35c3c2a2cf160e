# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the unit tests fake, once: the clock, and a PagesClient checked against its real
signatures (``conftest.py`` offers both as fixtures: ``clock``, ``install_client``). The Pages API
behind such a client, for the module tests, is ``fake_pages_api.py`` (fixture ``pages_api``)."""

from __future__ import annotations

from unittest.mock import create_autospec

from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient


class Clock:
    """The one fake clock of the unit tests: ``now`` moves only when something sleeps.

    ``clock()`` and ``clock.monotonic()`` read it, ``clock.sleep(s)`` advances it and records
    ``s`` in ``sleeps``; ``clock.time()`` is the wall clock (``now`` plus an epoch), for JWT
    expiry times."""

    EPOCH = 1_700_000_000.0

    def __init__(self, now=0.0):
        self.now = now
        self.sleeps = []

    def __call__(self):
        return self.now

    def monotonic(self):
        return self.now

    def time(self):
        return self.EPOCH + self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def autospec_client(fake):
    """A ``create_autospec(PagesClient)`` whose methods run ``fake``'s methods of the same name.

    A call the real ``PagesClient`` would not accept (an unknown keyword, a missing argument)
    fails, and so does a call of a method the fake does not have; the fake keeps the state and
    the call log the test inspects."""
    client = create_autospec(PagesClient, instance=True)
    client.describe_credentials.return_value = "an API token (Authorization: Bearer)"
    for name in dir(PagesClient):
        if name.startswith("_") or not callable(getattr(PagesClient, name)):
            continue
        implementation = getattr(fake, name, None)
        method = getattr(client, name)
        if callable(implementation):
            method.side_effect = implementation
        elif name != "describe_credentials":
            method.side_effect = AssertionError("the fake client has no %s()" % name)
    # PagesClient's rate-limit pacer is an instance attribute (not in the class spec): the fake's, or none.
    client.pacer = getattr(fake, "pacer", None)
    return client


def parse_form(body, content_type):
    """The fields of a ``multipart/form-data`` request body (bytes or a file-like the client sent),
    parsed by the standard library's MIME parser: ``[(name, (filename, content bytes, content type))]``
    (a part without a ``Content-Type`` header has None)."""
    import email.parser
    import email.policy

    raw = body.read() if hasattr(body, "read") else body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("ascii") + b"\r\n\r\n" + raw
    )
    assert message.is_multipart(), "not a multipart body"
    return [
        (
            part.get_param("name", header="content-disposition"),
            (part.get_filename(), part.get_payload(decode=True), part["Content-Type"] and part.get_content_type()),
        )
        for part in message.iter_parts()
    ]
