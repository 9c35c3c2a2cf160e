# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""Every exception class of the collection, in one hierarchy under :class:`PagesError`, so that a
module fails the same way for an API call that failed (``PagesAPIError``) and for an upload that
cannot go on (``UploadError``): ``PagesModule.fail_api()`` turns either into ``fail_json``. Also
Cloudflare's error codes the collection acts on, and the advice for the errors users meet."""

from __future__ import annotations

import re
from urllib.parse import unquote


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


# --------------------------------------------------------------------------- errors users meet

# Cloudflare documents an automated anti-abuse cooldown on creating many Pages projects in an
# account's first 48 hours, which lifts on its own and which Support cannot lift
# (developers.cloudflare.com/pages/platform/limits/, cloudflare/cloudflare-docs#31552). Its error
# code is not published, so the words of the answer to a project creation identify it.
_COOLDOWN_WORDS = re.compile(
    r"anti-?abuse|cool-?down|too many (?:new )?projects|temporar\w* (?:restrict|block|disabl|prevent)\w*",
    re.IGNORECASE,
)
_PROJECT_IN_PATH = re.compile(r"/pages/projects/([^/?]+)")


def is_create_cooldown(err):
    """Whether ``err`` is the anti-abuse cooldown on creating projects (an answer to POST .../pages/projects)."""
    path = getattr(err, "path", None) or ""
    if getattr(err, "method", None) != "POST" or not path.rstrip("/").endswith("/pages/projects"):
        return False
    texts = [err.message] + [str(e.get("message") or "") for e in err.errors if isinstance(e, dict)]
    return any(_COOLDOWN_WORDS.search(text) for text in texts)


def project_in_path(err):
    """The project name in the path of a failed API call, or None."""
    match = _PROJECT_IN_PATH.search(getattr(err, "path", None) or "")
    return unquote(match.group(1)) if match else None


def create_cooldown_advice():
    return (
        "Cloudflare is holding back project creation in this account: an automated anti-abuse cooldown applies to "
        "accounts that create many Pages projects in their first 48 hours. It lifts on its own and Cloudflare Support "
        "cannot lift it: run the task again later. To avoid it, do not create a project per branch or pull request; "
        "deploy branches as preview deployments of one project (pages_deployment with branch)."
    )


def project_not_found_advice(name, account_id, visible=None, more=False):
    """What to do when the API says project ``name`` is not found (8000007) in ``account_id``: Cloudflare
    answers the same for a project of another account (cloudflare/workers-sdk#15313). ``visible``: the
    names of the projects the credential can see in that account (None: not read); ``more``: there are more."""
    text = (
        "Cloudflare answers 'Project not found' (code 8000007) for a project that is in another account too. If %r "
        "exists (in the dashboard), set account_id to the account that holds it (the 32 hexadecimal characters after "
        "dash.cloudflare.com/ in the project's URL), with a credential that can reach that account; a project "
        "converted to a Worker is no longer a Pages project." % name
    )
    if visible is not None:
        if visible:
            text += " Projects this credential sees in account %s: %s%s." % (
                account_id, ", ".join(visible), ", ..." if more else "")
        else:
            text += " This credential sees no Pages project in account %s." % account_id
    return text


# The API's not-found codes (a bare 404 is a wrong URL, see ROUTE_MISS_CODES).
PROJECT_NOT_FOUND = 8000007
DEPLOYMENT_NOT_FOUND = 8000009
DOMAIN_NOT_FOUND = 8000021
# Cloudflare's answers for a path it cannot route (a wrong api_base_url, a malformed account id):
# 7003 "Could not route to ..., perhaps your object identifier is invalid?" and 7000 "No route for that URI".
ROUTE_MISS_CODES = frozenset((7000, 7003))


class PagesAPIError(PagesError):
    """A failed API call: HTTP status (0 when no response came) and Cloudflare's ``errors[]``."""

    def __init__(self, message, status=0, errors=None, method=None, path=None, body_excerpt=None):
        self.method = method
        self.path = path
        self.body_excerpt = body_excerpt
        super().__init__(message, status, errors)

    @property
    def is_not_found(self):
        """The API said a project, deployment or domain does not exist (a bare 404 is a wrong URL)."""
        return self.has_code(PROJECT_NOT_FOUND, DEPLOYMENT_NOT_FOUND, DOMAIN_NOT_FOUND)

    @property
    def is_route_miss(self):
        """Nothing answers at this URL: a 404 without a Pages not-found code, or Cloudflare's 7003/7000."""
        return self.has_code(*ROUTE_MISS_CODES) or (self.status == 404 and not self.is_not_found)

    def __str__(self):
        where = "%s %s: " % (self.method, self.path) if self.method and self.path else ""
        status = " (HTTP %s)" % self.status if self.status else ""
        return "%s%s%s" % (where, self.message, status)


class RateLimitBudgetSpent(PagesAPIError):
    """Waiting for the rate limit would pass ``rate_limit_budget``: nothing was sent."""


class AmbiguousOutcome(Exception):
    """A request may or may not have reached the server (timeout, dropped connection, 5xx): the
    client checks before it sends a non-idempotent request again. Never leaves ``PagesClient``."""


class BudgetSpent(Exception):
    """The next wait for the rate limit would pass the task's ``rate_limit_budget``.

    ``PagesClient`` turns it into a ``PagesAPIError`` (HTTP 429) naming the request.
    """


class BulkStopped(PagesAPIError):
    """A bulk run stopped part-way: the budget was spent or the task was interrupted.

    ``done``, ``failures`` and ``not_attempted`` say what happened to each item (see :func:`run_bulk`).
    """

    def __init__(self, message, status, done, failures, not_attempted):
        super().__init__(message, status)
        self.done = done
        self.failures = failures
        self.not_attempted = not_attempted


class UploadError(PagesError):
    """A direct upload cannot go on; the message names the offending paths, or the count and the
    limit. ``status`` and ``errors`` carry the API's answer when an API call was the cause."""

    def to_result(self):
        # Only what an API answer gave: a scan error has neither.
        return dict((key, value) for key, value in super().to_result().items() if value)


class FileCountError(UploadError):
    """The site has more files than a deployment may have."""


class UploadCancelled(Exception):
    """Raised while a bucket body is read after the upload was cancelled (SIGINT)."""


class PruneStopped(PagesAPIError):
    """A prune stopped part-way (rate-limit budget spent, Ctrl-C): ``deleted``, ``skipped``,
    ``failed`` as from :func:`execute_prune`, and ``remaining``, the planned deletions never attempted.
    Running the prune again resumes: the plan deletes oldest first, so the rules choose the rest again."""

    def __init__(self, message, status, deleted, skipped, failed, remaining):
        super().__init__(message, status)
        self.deleted, self.skipped, self.failed, self.remaining = deleted, skipped, failed, remaining


class BranchCleanupRefused(ValueError):
    """The branch is not a preview branch (its deployments are production deployments), or empty."""


class WorkerError(UploadError):
    """A worker, its routes or its Functions build cannot be deployed; raised before any request.
    An :class:`UploadError`, so the engine and the module handle it like any refused site."""


class LocalBuildError(ValueError):
    """The local build cannot be read; the message names the option or file."""
