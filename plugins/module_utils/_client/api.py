# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The one HTTP client of the collection, built on a ``requests.Session``.

It knows Cloudflare's v4 envelope, authenticates with an API token or an email + global API
key, retries what is safe to retry (with exponential backoff, jitter and ``Retry-After``),
follows ``result_info`` pagination and turns every failure into one exception type,
:class:`PagesAPIError`, whose text never contains a credential.
"""

from __future__ import annotations

import random
import time
import traceback
from urllib.parse import quote

from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import (
    AmbiguousOutcome,
    BudgetSpent,
    DEPLOYMENT_NOT_FOUND,
    DOMAIN_NOT_FOUND,
    format_errors,
    PagesAPIError,
    PROJECT_NOT_FOUND,
    RateLimitBudgetSpent,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils import _json
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.bodies import FormData
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.retry_timing import (
    backoff_delay,
    parse_retry_after,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.ratelimit import (
    DEFAULT_BUDGET,
    Pacer,
    WaitBudget,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._secrets import register_secret
from ansible_collections.cfpages.cloudflare.plugins.module_utils._version import COLLECTION_NAME, COLLECTION_VERSION

try:
    import requests

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by the module's missing_required_lib path
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()


DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"

# Page-size caps the API enforces with 400 / 8000024 above them (pages-api.md section 1.2,
# user-asks.md section 6: projects 10, deployments 25).
PROJECTS_PER_PAGE = 10
DEPLOYMENTS_PER_PAGE = 25
# Build log lines asked for: all of them, as wrangler asks (its history/logs?size=10000000).
LOG_PAGE_SIZE = 10000000

# Cloudflare error codes that mean "try again later" whatever the HTTP status:
# 971 throttled, 8000000 unknown (transient) error, 10046 too many bulk operations.
TRANSIENT_CODES = frozenset((971, 8000000, 10046))
# The upload JWT is missing, wrong or expired: fetch a new one and send again.
JWT_EXPIRED_CODE = 8000013
PROJECT_EXISTS = 8000002
AUTH_CODES = frozenset((6003, 6111, 6103, 9106, 9109, 10000, 1000))


def success_envelope(result):
    """A success envelope around ``result`` (what a ``recheck`` returns when it found the object)."""
    return {"success": True, "errors": [], "messages": [], "result": result}


def found_envelope(result):
    """``success_envelope(result)``, or None when nothing was found: the contract of a ``recheck``."""
    return None if result is None else success_envelope(result)


class PagesClient:
    """HTTP client for the Cloudflare Pages API.

    ``log`` receives one line per retry (never a header or a body). ``sleep`` and ``rng`` are
    injectable so that tests run without waiting.
    """

    def __init__(
        self,
        account_id,
        api_token=None,
        api_email=None,
        api_key=None,
        base_url=DEFAULT_BASE_URL,
        timeout=30.0,
        max_retries=5,
        retry_max_wait=120.0,
        validate_certs=True,
        user_agent_extra=None,
        log=None,
        sleep=None,
        rng=None,
        session=None,
        rate_limit_budget=DEFAULT_BUDGET,
        pacer=None,
    ):
        if not HAS_REQUESTS:
            raise RuntimeError("the requests library is required")
        if api_token:
            self.auth_method = "token"
        elif api_email and api_key:
            self.auth_method = "global_key"
        else:
            raise ValueError(
                "No Cloudflare credentials: set api_token (or the CLOUDFLARE_API_TOKEN environment variable), "
                "or api_email and api_key (CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY)."
            )
        self.account_id = account_id
        self._api_token = api_token
        self._api_email = api_email
        self._api_key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.retry_max_wait = max(0.0, float(retry_max_wait))
        self.validate_certs = validate_certs
        self.log = log or (lambda line: None)
        # Looked up at call time (not bound at import), so tests can patch time.sleep.
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.session = session or requests.Session()
        agent = "%s/%s python-requests/%s" % (COLLECTION_NAME, COLLECTION_VERSION, requests.__version__)
        if user_agent_extra:
            agent += " " + user_agent_extra
        self.session.headers["User-Agent"] = agent
        self.request_count = 0
        self.retry_count = 0
        # One pacer per task: every request (and every thread) shares its budget.
        self.pacer = pacer or Pacer(WaitBudget(rate_limit_budget), log=self.log, sleep=sleep)
        self._last_jwt = None

    # ------------------------------------------------------------------ plumbing

    def describe_credentials(self):
        """Which credential was used, for error messages (never the secret itself)."""
        if self.auth_method == "token":
            return "an API token (Authorization: Bearer)"
        return "the global API key of %s (X-Auth-Email + X-Auth-Key)" % self._api_email

    def _auth_headers(self, jwt=None):
        if jwt is not None:
            self._last_jwt = jwt
            return {"Authorization": "Bearer %s" % jwt}
        if self.auth_method == "token":
            return {"Authorization": "Bearer %s" % self._api_token}
        return {"X-Auth-Email": self._api_email, "X-Auth-Key": self._api_key}

    def url(self, path):
        return self.base_url + path

    def account_path(self, *parts):
        """``/accounts/{account_id}/pages/...`` with every part URL-quoted."""
        quoted = "/".join(quote(str(p), safe="") for p in parts)
        return "/accounts/%s/pages/%s" % (quote(str(self.account_id), safe=""), quoted)

    def request(
        self,
        method,
        path,
        params=None,
        json_body=None,
        files=None,
        idempotent=None,
        recheck=None,
        jwt_provider=None,
        data=None,
        content_type=None,
        timeout=None,
        gateway_backoff=None,
    ):
        """Send one API call and return the decoded v4 envelope (a dict).

        Retries connection errors, timeouts, 408, 429, 5xx and the transient Cloudflare codes,
        within ``max_retries`` and ``retry_max_wait``. A call that is not ``idempotent`` (POST by
        default) is sent again after an ambiguous failure only when ``recheck()`` — which looks
        for what the first try may have created — returns None; when it returns an envelope, that
        is the answer. ``jwt_provider(refresh)`` switches auth to an upload JWT; an expired or
        rejected JWT (8000013) is refreshed and the call re-sent without counting as a retry.
        ``data`` may be a callable returning the body: it is called once per attempt, so a streamed
        (file-like) body is rebuilt for every retry. ``files`` (requests ``files=`` items) is sent
        as a :class:`FormData`, whose fields are never copied into one buffer. ``timeout``
        replaces the client's for this call.
        ``gateway_backoff(n)``, called on an HTTP 524 with the number of 524s before it, returns
        ``(extra_seconds, counts)``: the wait is that much longer, and the retry counts against
        ``max_retries`` only when ``counts`` (``retry_max_wait`` bounds every wait).
        """
        method = method.upper()
        if files is not None:
            form = FormData(files)
            data, content_type = form.body, form.content_type
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
        attempt = 0
        waited = 0.0
        gateway_errors = 0
        jwt_refreshes = 0
        jwt = jwt_provider(False) if jwt_provider else None
        # Upload-JWT calls are rate limited separately from the API credential.
        rate_key = "assets" if jwt_provider else "api"
        ambiguous_before = False
        while True:
            headers = self._auth_headers(jwt)
            if content_type:
                headers["Content-Type"] = content_type
            try:
                envelope = self._send_once(method, path, params, json_body, data, headers, timeout, rate_key)
                return envelope
            except RateLimitBudgetSpent:
                raise
            except PagesAPIError as err:
                if err.status == 429 or err.has_code(971):
                    # Throttled (nothing was done): the pacer waits Retry-After within the budget, not retry_max_wait.
                    self.pacer.throttled_for(rate_key, getattr(err, "retry_after", None))
                    continue
                if jwt_provider and (err.has_code(JWT_EXPIRED_CODE) or err.status in (401, 403)) and jwt_refreshes < 3:
                    jwt_refreshes += 1
                    self.log("%s %s: upload token rejected or expired, fetching a new one" % (method, path))
                    jwt = jwt_provider(True)
                    continue
                if method == "DELETE" and ambiguous_before and err.is_not_found:
                    # The first try was cut off after the server had deleted it: gone is what we wanted.
                    return success_envelope(None)
                retryable, ambiguous = self._classify(err)
                if not retryable:
                    raise
                failure = err
                retry_after = getattr(err, "retry_after", None)
            except AmbiguousOutcome as cut:
                failure = cut.args[0]
                retryable, ambiguous, retry_after = True, True, None

            if ambiguous and not idempotent:
                if recheck is None:
                    raise failure
                found = recheck()
                if found is not None:
                    self.log("%s %s: the first try had succeeded after all" % (method, path))
                    return found
            if ambiguous:
                ambiguous_before = True
            extra, counts = 0.0, True
            if gateway_backoff is not None and failure.status == 524:
                extra, counts = gateway_backoff(gateway_errors)
                gateway_errors += 1
            if counts and attempt >= self.max_retries:
                raise self._give_up(failure, attempt)
            delay = (retry_after if retry_after is not None else backoff_delay(attempt, self.rng)) + extra
            if waited + delay > self.retry_max_wait:
                raise self._give_up(failure, attempt, waited=waited, next_delay=delay)
            if counts:
                attempt += 1
            self.retry_count += 1
            what = "retry %d/%d" % (attempt, self.max_retries) if counts else "gateway timeout %d, not counted" % gateway_errors
            self.log("%s %s: %s; %s in %.1fs" % (method, path, failure.message, what, delay))
            (self.sleep or time.sleep)(delay)
            waited += delay
            if jwt_provider:
                jwt = jwt_provider(False)

    def _give_up(self, failure, attempt, waited=None, next_delay=None):
        note = " after %d retries" % attempt if attempt else ""
        if next_delay is not None:
            note += " (the next wait of %.0fs would pass retry_max_wait=%.0fs)" % (next_delay, self.retry_max_wait)
        message = failure.message + note
        if failure.status == 429 or failure.has_code(971):
            message += (
                ". Cloudflare allows 1,200 API requests per 5 minutes per user and then blocks all calls "
                "for 5 minutes; wait, or raise rate_limit_budget."
            )
        return PagesAPIError(
            message, failure.status, failure.errors, failure.method, failure.path, failure.body_excerpt
        )

    @staticmethod
    def _classify(err):
        """(retryable, ambiguous) for an error response."""
        if err.status == 429 or err.has_code(971, 10046):
            return True, False  # throttled: rejected before any work was done
        if err.status == 408:
            return True, True
        if err.status >= 500:
            return True, True
        if err.has_code(8000000):
            return True, True
        return False, False

    def _pace(self, rate_key, method, path):
        try:
            self.pacer.before_request(rate_key, "%s %s" % (method, path))
        except BudgetSpent as exc:
            raise RateLimitBudgetSpent(str(exc), 429, [], method, path)

    def _send_once(self, method, path, params, json_body, data, headers, timeout=None, rate_key="api"):
        self._pace(rate_key, method, path)
        self.request_count += 1
        response = None
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=params,
                json=json_body,
                # A callable gives a fresh body per attempt (a streamed upload cannot be re-read).
                data=data() if callable(data) else data,
                headers=headers,
                timeout=timeout or self.timeout,
                verify=self.validate_certs,
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise AmbiguousOutcome(self._transport_error(method, path, "timed out connecting", exc))
        except requests.exceptions.ConnectionError as exc:
            raise AmbiguousOutcome(self._transport_error(method, path, "connection failed", exc))
        except requests.exceptions.Timeout as exc:
            raise AmbiguousOutcome(self._transport_error(method, path, "timed out after %ss" % (timeout or self.timeout), exc))
        except requests.exceptions.RequestException as exc:
            raise PagesAPIError("request failed: %s" % self._exc_text(exc), 0, [], method, path)
        finally:
            self.pacer.after_response(rate_key, response)
        try:
            return self._decode(method, path, response)
        except PagesAPIError as err:
            if err.is_route_miss:
                err.message += (
                    ". Nothing answers at %s: check api_base_url (%s) and account_id (%s)."
                    % (self.url(path), self.base_url, self.account_id)
                )
            raise

    def _transport_error(self, method, path, what, exc):
        return PagesAPIError("%s (%s)" % (what, self._exc_text(exc)), 0, [], method, path)

    def _exc_text(self, exc):
        # requests names a header value in some errors (InvalidHeader shows its repr()): mask every
        # credential in its plain and its escaped form.
        text = str(exc)
        for secret in (self._api_token, self._api_key, self._last_jwt):
            if secret:
                for form in (secret, repr(secret)[1:-1], secret.strip()):
                    if form:
                        text = text.replace(form, "********")
        return text[:300]

    @staticmethod
    def _decode(method, path, response):
        status = response.status_code
        body = response.content or b""
        if status in (204, 205) or (not body.strip() and status < 400):
            return success_envelope(None)
        try:
            envelope = _json.loads(body)
            if not isinstance(envelope, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            excerpt = body[:200].decode("utf-8", "replace")
            err = PagesAPIError(
                "Received a malformed response from the API (not a JSON envelope): %r" % excerpt,
                status,
                [],
                method,
                path,
                excerpt,
            )
            err.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status < 400:
                # A 2xx with a truncated or non-JSON body: we cannot know what happened.
                raise AmbiguousOutcome(err)
            raise err
        if status >= 400 or envelope.get("success") is False:
            errors = envelope.get("errors") or []
            text = format_errors(errors) or "the API reported a failure without details"
            err = PagesAPIError(text, status, errors, method, path)
            err.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise err
        return envelope

    # ------------------------------------------------------------------ generic helpers

    def get(self, path, params=None):
        return self.request("GET", path, params=params).get("result")

    def get_or_none(self, path, not_found_code):
        """The result, or None when the API answers ``not_found_code``. Any other error is raised, a bare
        404 too: it means a wrong URL (api_base_url, account_id), not a missing object."""
        try:
            return self.get(path)
        except PagesAPIError as err:
            if err.has_code(not_found_code):
                return None
            raise

    def delete(self, path, not_found_code, params=None, missing_ok=False):
        """DELETE ``path``: True, or with ``missing_ok`` False when the API answers the resource's own
        ``not_found_code`` (gone already is what was wanted; a bare 404 is raised, see get_or_none)."""
        try:
            self.request("DELETE", path, params=params)
        except PagesAPIError as err:
            if missing_ok and err.has_code(not_found_code):
                return False
            raise
        return True

    def paginate(self, path, params=None, per_page=DEPLOYMENTS_PER_PAGE, limit=None):
        """Yield the items of every page, following ``result_info``; stop after ``limit`` items."""
        page = 1
        seen = 0
        while True:
            query = dict(params or {})
            query.update(page=page, per_page=per_page)
            envelope = self.request("GET", path, params=query)
            items = envelope.get("result") or []
            for item in items:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            info = envelope.get("result_info") or {}
            if not items:
                return
            total_pages = info.get("total_pages")
            total_count = info.get("total_count")
            if isinstance(total_pages, int):
                if page >= total_pages:
                    return
            elif isinstance(total_count, int):
                if page * per_page >= total_count:
                    return
            elif len(items) < per_page:
                return
            page += 1

    # ------------------------------------------------------------------ projects

    def get_project(self, name):
        """The project, or None when the API says 8000007. Any other error is raised."""
        return self.get_or_none(self.account_path("projects", name), PROJECT_NOT_FOUND)

    def list_projects(self, limit=None):
        return self.paginate(self.account_path("projects"), per_page=PROJECTS_PER_PAGE, limit=limit)

    def create_project(self, body):
        name = body["name"]

        def recheck():
            return found_envelope(self.get_project(name))

        return self.request("POST", self.account_path("projects"), json_body=body, recheck=recheck).get("result")

    def create_project_or_existing(self, body):
        """(project, created): creates the project, or, when the API answers "already exists" (another
        run created it in between), reads it and returns it with ``created`` False."""
        try:
            return self.create_project(body), True
        except PagesAPIError as err:
            if not err.has_code(PROJECT_EXISTS):
                raise
            existing = self.get_project(body["name"])
            if existing is None:
                raise
            return existing, False

    def update_project(self, name, body):
        return self.request("PATCH", self.account_path("projects", name), json_body=body).get("result")

    def connect_source(self, name, source):
        """POST ``.../projects/{name}/source``: connect (or replace) the project's git repository. The body is
        the source object itself, ``{type, config}`` (Cloudflare API reference, "Connect project source").
        Setting the same source twice has the same effect: safe to re-send."""
        path = self.account_path("projects", name, "source")
        return self.request("POST", path, json_body=source, idempotent=True).get("result")

    def disconnect_source(self, name):
        """DELETE ``.../projects/{name}/source``: disconnect the project's git repository."""
        return self.request("DELETE", self.account_path("projects", name, "source")).get("result")

    def delete_project(self, name, missing_ok=False):
        return self.delete(self.account_path("projects", name), PROJECT_NOT_FOUND, missing_ok=missing_ok)

    def purge_build_cache(self, name):
        self.request("POST", self.account_path("projects", name, "purge_build_cache"), idempotent=True)

    def get_upload_token(self, name):
        return register_secret(self.get(self.account_path("projects", name, "upload-token"))["jwt"])

    # ------------------------------------------------------------------ deployments

    def list_deployments(self, project, env=None, limit=None):
        params = {"env": env} if env else None
        return self.paginate(
            self.account_path("projects", project, "deployments"), params=params, limit=limit
        )

    def get_deployment(self, project, deployment_id):
        """The deployment, or None when the API says it does not exist."""
        return self.get_or_none(self.account_path("projects", project, "deployments", deployment_id), DEPLOYMENT_NOT_FOUND)

    def create_deployment(self, project, fields, recheck=None):
        """POST a multipart deployment. ``fields`` is a list of requests ``files=`` tuples."""
        return self.request(
            "POST", self.account_path("projects", project, "deployments"), files=fields, recheck=recheck
        ).get("result")

    def delete_deployment(self, project, deployment_id, force=False, missing_ok=False):
        params = {"force": "true"} if force else None
        path = self.account_path("projects", project, "deployments", deployment_id)
        return self.delete(path, DEPLOYMENT_NOT_FOUND, params=params, missing_ok=missing_ok)

    def rollback_deployment(self, project, deployment_id):
        # Rolling back to the same target twice has the same effect: safe to re-send.
        path = self.account_path("projects", project, "deployments", deployment_id, "rollback")
        return self.request("POST", path, json_body={}, idempotent=True).get("result")

    def retry_deployment(self, project, deployment_id, recheck=None):
        path = self.account_path("projects", project, "deployments", deployment_id, "retry")
        return self.request("POST", path, json_body={}, recheck=recheck).get("result")

    def get_deployment_logs(self, project, deployment_id):
        """The whole build log: without ``size`` the API may answer one page of it, so ask for as
        much as wrangler does (workers-sdk, packages/wrangler/src/pages/deploy.ts)."""
        path = self.account_path("projects", project, "deployments", deployment_id, "history", "logs")
        return self.get(path, params={"size": LOG_PAGE_SIZE}) or {}

    # ------------------------------------------------------------------ domains

    def list_domains(self, project):
        return self.get(self.account_path("projects", project, "domains")) or []

    def get_domain(self, project, domain):
        """The domain, or None when the API says it does not exist."""
        return self.get_or_none(self.account_path("projects", project, "domains", domain), DOMAIN_NOT_FOUND)

    def add_domain(self, project, domain):
        def recheck():
            return found_envelope(self.get_domain(project, domain))

        path = self.account_path("projects", project, "domains")
        return self.request("POST", path, json_body={"name": domain}, recheck=recheck).get("result")

    def retry_domain_validation(self, project, domain):
        return self.request("PATCH", self.account_path("projects", project, "domains", domain)).get("result")

    def delete_domain(self, project, domain, missing_ok=False):
        path = self.account_path("projects", project, "domains", domain)
        return self.delete(path, DOMAIN_NOT_FOUND, missing_ok=missing_ok)

    # ------------------------------------------------------------------ direct-upload assets

    # ------------------------------------------------------------------ zones

    def find_zones(self, name):
        """The zones of this account named ``name`` (``GET /zones`` filtered by ``name`` and
        ``account.id``; needs Zone Read). Zones are listed 50 to a page at most."""
        return list(self.paginate("/zones", params={"name": name, "account.id": self.account_id}, per_page=50))

    def assets_request(self, endpoint, body, jwt_provider):
        """POST to ``/pages/assets/<endpoint>`` with the upload JWT. Content-addressed: safe to re-send."""
        return self.request(
            "POST", "/pages/assets/%s" % endpoint, json_body=body, idempotent=True, jwt_provider=jwt_provider
        ).get("result")
