# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Request bodies sent as they are produced, with a ``Content-Length`` known in advance.

:class:`StreamedBody` is a read-once file-like over a sequence of byte pieces: requests sends
such a body with its ``len()`` as ``Content-Length`` and reads it in blocks, so no piece is
copied into one buffer. The upload buckets (``_upload``) produce their pieces from disk;
:class:`FormData` is a ``multipart/form-data`` form whose fields are in memory or produced while
they are sent (the deployment's manifest, 7 MB at 100,000 files): encoding it the way requests
does (one ``BytesIO`` of every part, then its ``getvalue()``) would hold the manifest three times.

The part headers are those urllib3 writes (``Content-Disposition: form-data; name="..."``, then
``filename`` and ``Content-Type`` when given; ``"``, CR and LF percent-encoded as in the HTML
living standard's form encoding), so a form sent either way has the same bytes.
"""

from __future__ import annotations

import binascii
import os

_PARAM_ESCAPES = {10: "%0A", 13: "%0D", 34: "%22"}


def new_boundary():
    """A random boundary of 32 hex characters (hex and base64 never contain ``\\r\\n--``)."""
    return binascii.hexlify(os.urandom(16)).decode("ascii")


def part_head(boundary, name, filename=None, content_type=None):
    """The delimiter and headers that open one part, as bytes."""
    disposition = 'form-data; name="%s"' % str(name).translate(_PARAM_ESCAPES)
    if filename is not None:
        disposition += '; filename="%s"' % str(filename).translate(_PARAM_ESCAPES)
    head = "--%s\r\nContent-Disposition: %s\r\n" % (boundary, disposition)
    if content_type:
        head += "Content-Type: %s\r\n" % content_type
    return (head + "\r\n").encode("utf-8")


def closing_delimiter(boundary):
    return ("--%s--\r\n" % boundary).encode("ascii")


class StreamedBody:
    """A body read once, in blocks, from the pieces ``_generate()`` yields (bytes-like), whose
    total is ``length`` bytes. Make a new one for every attempt of a request."""

    def __init__(self, length, pieces=None):
        self._length = length
        self._pieces = iter(pieces) if pieces is not None else self._generate()
        self._current = b""
        self._offset = 0

    def __len__(self):
        return self._length

    def _generate(self):
        return iter(())

    def read(self, size=-1):
        if size is None or size < 0:
            rest = [self._current[self._offset:]] + list(self._pieces)
            self._current, self._offset = b"", 0
            return b"".join(rest)
        out = []
        need = size
        while need > 0:
            if self._offset >= len(self._current):
                try:
                    self._current = next(self._pieces)
                except StopIteration:
                    self._current = b""
                    self._offset = 0
                    break
                self._offset = 0
            available = len(self._current) - self._offset
            if self._offset == 0 and available <= need:
                out.append(self._current)
                self._offset = available
                need -= available
            else:
                take = min(available, need)
                out.append(self._current[self._offset:self._offset + take])
                self._offset += take
                need -= take
        return b"".join(out)


class FormData:
    """A ``multipart/form-data`` form, given as requests ``files=`` items: ``(name, (filename,
    content))`` or ``(name, (filename, content, content_type))``; a ``filename`` of None makes a
    plain field. Content is str (sent as UTF-8), bytes-like (sent as it is, never copied whole),
    or produced while it is sent: an object with ``len()`` and ``pieces()`` (bytes-like pieces of
    exactly that length, produced again for every attempt). :meth:`body` makes one read-once body
    per attempt."""

    def __init__(self, fields, boundary=None):
        self.boundary = boundary or new_boundary()
        parts = []
        for name, value in fields:
            filename, content = value[0], value[1]
            content_type = value[2] if len(value) > 2 else None
            if isinstance(content, str):
                content = content.encode("utf-8")
            parts.extend((part_head(self.boundary, name, filename, content_type), content, b"\r\n"))
        parts.append(closing_delimiter(self.boundary))
        self._parts = parts
        self.length = sum(len(part) for part in parts)

    @property
    def content_type(self):
        return "multipart/form-data; boundary=%s" % self.boundary

    def _pieces(self):
        for part in self._parts:
            if hasattr(part, "pieces"):
                yield from part.pieces()
            else:
                yield part

    def body(self):
        return StreamedBody(self.length, self._pieces())
