# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The base of every error the collection raises, so that a module fails the same way for an
API call that failed (``_api.PagesAPIError``) and for an upload that cannot go on
(``_site.UploadError``): ``PagesModule.fail_api()`` turns either into ``fail_json``."""

from __future__ import annotations


class PagesError(Exception):
    """``message``, plus the API's ``status`` (0 when no API answer caused it) and ``errors[]``."""

    def __init__(self, message, status=0, errors=None):
        self.message = message
        self.status = status
        self.errors = list(errors or [])
        super().__init__(message)

    @property
    def codes(self):
        """Cloudflare's error codes in ``errors[]``, each error's ``error_chain`` included."""
        codes = []
        for err in self.errors:
            if isinstance(err, dict) and isinstance(err.get("code"), int):
                codes.append(err["code"])
                for link in err.get("error_chain") or []:
                    if isinstance(link, dict) and isinstance(link.get("code"), int):
                        codes.append(link["code"])
        return codes

    def has_code(self, *codes):
        return any(code in self.codes for code in codes)

    def to_result(self):
        """What a module puts into ``fail_json`` besides ``msg``."""
        return {"status": self.status, "errors": self.errors}


def format_errors(errors):
    """Cloudflare's ``errors[]`` as ``message [code N]; ...`` (the chain too, as wrangler shows it)."""
    parts = []
    for err in errors or []:
        if not isinstance(err, dict):
            parts.append(str(err))
            continue
        text = str(err.get("message") or "").strip() or "error"
        if err.get("code") is not None:
            text += " [code %s]" % err["code"]
        chain = [c for c in err.get("error_chain") or [] if isinstance(c, dict)]
        if chain:
            text += " (%s)" % "; ".join(
                "%s [code %s]" % (str(c.get("message") or "").strip(), c.get("code")) for c in chain
            )
        parts.append(text)
    return "; ".join(parts)
