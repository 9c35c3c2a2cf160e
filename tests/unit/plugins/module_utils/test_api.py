# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the shared API client: auth, retries, Retry-After, pagination, errors, secrets."""

from __future__ import annotations

import json
import os
import random
import re
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from ansible_collections.cfpages.cloudflare.plugins.module_utils._client import (
    api as _api,
    retry_timing as _retry_timing,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError, PagesError

TOKEN = "tok-3f9a1c0e7b5d4a2f8e6c1b0a9d8e7f6a5b4c3d2e"
GLOBAL_KEY = "key-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


def response(status=200, body=None, headers=None, raw=None):
    resp = requests.Response()
    resp.status_code = status
    if raw is not None:
        resp._content = raw
    elif body is not None:
        resp._content = json.dumps(body).encode()
    else:
        resp._content = b""
    resp.headers = CaseInsensitiveDict(headers or {})
    return resp


def ok(result, result_info=None):
    body = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return response(200, body)


def fail(status, code, message, headers=None, chain=None):
    err = {"code": code, "message": message}
    if chain:
        err["error_chain"] = chain
    return response(status, {"success": False, "errors": [err], "messages": [], "result": None}, headers)


class FakeSession:
    """Answers each request with the next scripted response (or raises a scripted exception)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []
        self.headers = {}

    def request(self, method, url, **kwargs):
        self.calls.append(dict(kwargs, method=method, url=url))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(*answers, **kwargs):
    session = FakeSession(*answers)
    sleeps = []
    kwargs.setdefault("api_token", TOKEN)
    client = PagesClient(
        account_id=ACCOUNT,
        base_url="https://api.example.test/client/v4",
        sleep=sleeps.append,
        rng=random.Random(1),
        session=session,
        **kwargs
    )
    return client, session, sleeps


# ---------------------------------------------------------------- auth


def test_token_auth_sends_bearer_header_only():
    client, session, _sleeps = make_client(ok({"name": "p"}))
    client.get_project("p")
    headers = session.calls[0]["headers"]
    assert headers["Authorization"] == "Bearer " + TOKEN
    assert "X-Auth-Key" not in headers
    assert session.calls[0]["url"] == "https://api.example.test/client/v4/accounts/%s/pages/projects/p" % ACCOUNT


def test_global_key_auth_sends_email_and_key():
    client, session, _sleeps = make_client(ok({"name": "p"}), api_token=None, api_email="ops@example.com", api_key=GLOBAL_KEY)
    client.get_project("p")
    headers = session.calls[0]["headers"]
    assert headers == {"X-Auth-Email": "ops@example.com", "X-Auth-Key": GLOBAL_KEY}


def test_token_wins_over_global_key():
    client, session, _sleeps = make_client(ok(None), api_email="ops@example.com", api_key=GLOBAL_KEY)
    client.get_project("p")
    assert session.calls[0]["headers"]["Authorization"] == "Bearer " + TOKEN
    assert client.auth_method == "token"


@pytest.mark.parametrize("kwargs", [{"api_token": None}, {"api_token": None, "api_email": "a@b.c"}, {"api_token": None, "api_key": GLOBAL_KEY}])
def test_missing_credentials_are_refused(kwargs):
    with pytest.raises(ValueError, match="No Cloudflare credentials"):
        make_client(**kwargs)


def test_user_agent_names_collection_and_version():
    client, _session, _sleeps = make_client(user_agent_extra="ansible-core/2.99")
    agent = client.session.headers["User-Agent"]
    assert agent.startswith("cfpages.cloudflare/%s " % _api.COLLECTION_VERSION)
    assert agent.endswith("ansible-core/2.99")


def test_collection_version_matches_galaxy_yml():
    # A source checkout has galaxy.yml; an installed collection has MANIFEST.json instead.
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
    galaxy = os.path.join(root, "galaxy.yml")
    if os.path.exists(galaxy):
        with open(galaxy) as f:
            version = re.search(r"^version:\s*(\S+)", f.read(), re.M).group(1)
    else:
        with open(os.path.join(root, "MANIFEST.json")) as f:
            version = json.load(f)["collection_info"]["version"]
    assert version == _api.COLLECTION_VERSION


def test_path_parts_are_quoted():
    client, _session, _sleeps = make_client()
    assert client.account_path("projects", "p", "domains", "a b/c") == "/accounts/%s/pages/projects/p/domains/a%%20b%%2Fc" % ACCOUNT


# ---------------------------------------------------------------- retries


def test_retry_after_seconds_is_honoured():
    client, session, sleeps = make_client(
        fail(429, 971, "Please wait and consider throttling your request speed", {"Retry-After": "7"}),
        ok({"name": "p"}),
    )
    assert client.get_project("p") == {"name": "p"}
    assert sleeps == [pytest.approx(7.0, abs=0.05)]
    assert len(session.calls) == 2


def test_retry_after_http_date_is_honoured():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    client, _session, sleeps = make_client(fail(503, 0, "unavailable", {"Retry-After": format_datetime(when, usegmt=True)}), ok(None))
    client.get(client.account_path("projects"))
    assert 27 <= sleeps[0] <= 30


@pytest.mark.parametrize(
    "value, expected",
    [("0", 0.0), ("2.5", 2.5), ("-3", 0.0), ("", None), (None, None), ("soon", None),
     # float() reads these; as a wait, inf never ends and nan made sleep() fail.
     ("inf", None), ("nan", None), ("-inf", None), ("1e999", None)],
)
def test_parse_retry_after(value, expected):
    assert _retry_timing.parse_retry_after(value) == expected


def test_parse_retry_after_http_date_in_the_past_is_zero():
    past = format_datetime(datetime.now(timezone.utc) - timedelta(hours=1), usegmt=True)
    assert _retry_timing.parse_retry_after(past) == 0.0


class FixedRng:
    """``uniform(a, b)`` answers ``a + (b - a) * fraction``."""

    def __init__(self, fraction):
        self.fraction = fraction

    def uniform(self, low, high):
        return low + (high - low) * self.fraction


def test_backoff_schedule_grows_exponentially_with_jitter_and_cap():
    for attempt in range(8):
        full = min(_retry_timing.BACKOFF_CAP, _retry_timing.BACKOFF_BASE * 2 ** attempt)
        # "Equal jitter": half of the delay is fixed, the other half is drawn at random.
        assert _retry_timing.backoff_delay(attempt, FixedRng(0.0)) == pytest.approx(full / 2)
        assert _retry_timing.backoff_delay(attempt, FixedRng(0.5)) == pytest.approx(full * 0.75)
        assert _retry_timing.backoff_delay(attempt, FixedRng(1.0)) == pytest.approx(full)
    rng = random.Random(3)
    samples = set(_retry_timing.backoff_delay(4, rng) for _sample in range(20))
    assert len(samples) > 10 and all(8.0 < delay < 16.0 for delay in samples)


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504, 520, 524])
def test_retryable_statuses_are_retried_on_get(status):
    client, session, sleeps = make_client(response(status, raw=b"<html>edge error</html>"), ok({"name": "p"}))
    assert client.get_project("p") == {"name": "p"}
    assert len(sleeps) == 1 and len(session.calls) == 2


@pytest.mark.parametrize("code", [8000000, 10046, 971])
def test_transient_codes_are_retried_even_with_a_4xx_status(code):
    client, session, _sleeps = make_client(fail(400, code, "transient"), ok([]))
    assert client.get(client.account_path("projects")) == []
    assert len(session.calls) == 2


@pytest.mark.parametrize("status, code", [(400, 8000024), (403, 10000), (404, 7003), (409, 8000002)])
def test_other_4xx_are_not_retried(status, code):
    client, session, sleeps = make_client(fail(status, code, "no"))
    with pytest.raises(PagesAPIError) as info:
        client.get(client.account_path("projects"))
    assert info.value.status == status and info.value.codes == [code]
    assert sleeps == [] and len(session.calls) == 1


def test_retries_are_capped_in_count():
    client, session, sleeps = make_client(*[response(502, raw=b"bad gateway")] * 4, max_retries=3)
    with pytest.raises(PagesAPIError) as info:
        client.get(client.account_path("projects"))
    assert len(session.calls) == 4 and len(sleeps) == 3
    assert "after 3 retries" in str(info.value)
    assert info.value.status == 502


def test_retries_are_capped_in_total_wait():
    answers = [response(503, raw=b"unavailable", headers={"Retry-After": "50"})] * 5
    client, session, sleeps = make_client(*answers, retry_max_wait=120)
    with pytest.raises(PagesAPIError) as info:
        client.get(client.account_path("projects"))
    assert sleeps == [50.0, 50.0]
    assert "retry_max_wait" in str(info.value)


def test_connection_errors_and_timeouts_are_retried():
    client, session, sleeps = make_client(
        requests.exceptions.ConnectionError("reset by peer"),
        requests.exceptions.ReadTimeout("read timed out"),
        ok({"name": "p"}),
    )
    assert client.get_project("p") == {"name": "p"}
    assert len(sleeps) == 2


def test_post_without_recheck_is_not_resent_after_an_ambiguous_failure():
    client, session, _sleeps = make_client(response(502, raw=b"bad gateway"))
    with pytest.raises(PagesAPIError):
        client.request("POST", client.account_path("projects", "p", "deployments"), json_body={})
    assert len(session.calls) == 1


def test_post_is_resent_after_429_without_recheck():
    client, session, sleeps = make_client(fail(429, 971, "slow down", {"Retry-After": "1"}), ok({"id": "d1"}))
    assert client.request("POST", client.account_path("projects", "p", "deployments"))["result"] == {"id": "d1"}
    assert sleeps == [pytest.approx(1.0, abs=0.05)]


def test_create_project_looks_before_resending_and_finds_the_first_try():
    created = {"name": "site", "id": "abc"}
    client, session, sleeps = make_client(requests.exceptions.ReadTimeout("timed out"), ok(created))
    assert client.create_project({"name": "site", "production_branch": "main"}) == created
    assert [c["method"] for c in session.calls] == ["POST", "GET"]
    assert sleeps == []


def test_create_project_resends_when_the_look_finds_nothing():
    created = {"name": "site", "id": "abc"}
    client, session, _sleeps = make_client(
        response(500, raw=b"oops"),
        fail(404, 8000007, "Project not found."),
        ok(created),
    )
    assert client.create_project({"name": "site", "production_branch": "main"}) == created
    assert [c["method"] for c in session.calls] == ["POST", "GET", "POST"]


def test_create_project_recheck_error_other_than_404_is_raised():
    client, session, _sleeps = make_client(response(500, raw=b"oops"), fail(403, 10000, "Authentication error"))
    with pytest.raises(PagesAPIError) as info:
        client.create_project({"name": "site", "production_branch": "main"})
    assert info.value.status == 403
    assert [c["method"] for c in session.calls] == ["POST", "GET"]


def test_delete_that_was_cut_off_and_then_404s_counts_as_done():
    client, session, _sleeps = make_client(
        requests.exceptions.ConnectionError("connection dropped"),
        fail(404, 8000009, "The deployment ID you have specified does not exist. "),
    )
    client.delete_deployment("p", "d1", force=True)
    assert session.calls[1]["params"] == {"force": "true"}


def test_delete_of_something_missing_is_an_error_on_the_first_try():
    client, _session, _sleeps = make_client(fail(404, 8000009, "The deployment ID you have specified does not exist. "))
    with pytest.raises(PagesAPIError) as info:
        client.delete_deployment("p", "d1")
    assert info.value.is_not_found


def test_expired_upload_jwt_is_refreshed_without_counting_a_retry():
    tokens = []

    def provider(refresh):
        tokens.append(refresh)
        return "jwt-%d" % len(tokens)

    client, session, sleeps = make_client(fail(401, 8000013, "Expired JWT"), ok(["h1"]), max_retries=0)
    assert client.assets_request("check-missing", {"hashes": ["h1"]}, provider) == ["h1"]
    assert tokens == [False, True]
    assert session.calls[0]["headers"] == {"Authorization": "Bearer jwt-1"}
    assert session.calls[1]["headers"] == {"Authorization": "Bearer jwt-2"}
    assert sleeps == []


# ---------------------------------------------------------------- pagination


def page(items, page_no, per_page, total):
    pages = (total + per_page - 1) // per_page
    return ok(items, {"page": page_no, "per_page": per_page, "count": len(items), "total_count": total, "total_pages": pages})


def test_pagination_follows_result_info_within_the_projects_cap():
    client, session, _sleeps = make_client(
        page([{"name": "p%d" % i} for i in range(10)], 1, 10, 23),
        page([{"name": "p%d" % i} for i in range(10, 20)], 2, 10, 23),
        page([{"name": "p%d" % i} for i in range(20, 23)], 3, 10, 23),
    )
    names = [p["name"] for p in client.list_projects()]
    assert names == ["p%d" % i for i in range(23)]
    assert [c["params"] for c in session.calls] == [{"page": n, "per_page": 10} for n in (1, 2, 3)]


def test_build_logs_are_asked_for_whole_as_wrangler_does():
    logs = {"total": 2, "includes_container_logs": False, "data": [{"line": "a", "ts": "t"}, {"line": "b", "ts": "t"}]}
    client, session, _sleeps = make_client(ok(logs))
    assert client.get_deployment_logs("p", "d1") == logs
    assert session.calls[0]["url"].endswith("/pages/projects/p/deployments/d1/history/logs")
    assert session.calls[0]["params"] == {"size": 10000000}


def test_pagination_stops_at_the_limit_without_fetching_more_pages():
    client, session, _sleeps = make_client(page([{"id": str(i)} for i in range(25)], 1, 25, 80))
    ids = [d["id"] for d in client.list_deployments("p", env="preview", limit=5)]
    assert ids == ["0", "1", "2", "3", "4"]
    assert session.calls[0]["params"] == {"env": "preview", "page": 1, "per_page": 25}
    assert len(session.calls) == 1


def test_pagination_without_result_info_stops_on_a_short_page():
    client, session, _sleeps = make_client(ok([{"id": str(i)} for i in range(25)]), ok([{"id": "x"}]))
    assert len(list(client.list_deployments("p"))) == 26
    assert len(session.calls) == 2


def test_pagination_stops_on_an_empty_page_even_if_result_info_says_more():
    client, session, _sleeps = make_client(ok([], {"page": 1, "per_page": 25, "total_pages": 9}))
    assert list(client.list_deployments("p")) == []
    assert len(session.calls) == 1


# ---------------------------------------------------------------- errors


def test_error_message_has_code_and_chain_and_status():
    client, _session, _sleeps = make_client(
        fail(400, 6003, "Invalid request headers", chain=[{"code": 6111, "message": "Invalid format for Authorization header"}])
    )
    with pytest.raises(PagesAPIError) as info:
        client.get_project("p")
    text = str(info.value)
    assert "Invalid request headers [code 6003] (Invalid format for Authorization header [code 6111])" in text
    assert "(HTTP 400)" in text and text.startswith("GET /accounts/")
    assert info.value.codes == [6003, 6111]
    assert info.value.to_result() == {"status": 400, "errors": info.value.errors}


def test_get_project_maps_only_not_found_to_none():
    client, _session, _sleeps = make_client(fail(404, 8000007, "Project not found."), fail(403, 10000, "Authentication error"))
    assert client.get_project("missing") is None
    with pytest.raises(PagesAPIError):
        client.get_project("forbidden")


@pytest.mark.parametrize("raw", [b"<html>502 Bad Gateway</html>", b'{"success": true, "resu'])
def test_non_json_error_body_is_a_clear_error(raw):
    client, _session, _sleeps = make_client(response(400, raw=raw))
    with pytest.raises(PagesAPIError) as info:
        client.get_project("p")
    assert "malformed response" in str(info.value)
    assert info.value.status == 400
    assert info.value.body_excerpt == raw[:200].decode()


def test_truncated_success_body_is_retried_then_reported():
    client, session, _sleeps = make_client(response(200, raw=b'{"success": tr'), response(200, raw=b'{"success": tr'), max_retries=1)
    with pytest.raises(PagesAPIError) as info:
        client.get_project("p")
    assert "malformed response" in str(info.value) and info.value.status == 200
    assert len(session.calls) == 2


def test_empty_204_is_success():
    client, _session, _sleeps = make_client(response(204))
    assert client.request("DELETE", client.account_path("projects", "p"))["result"] is None


def test_secrets_never_appear_in_errors_or_logs():
    lines = []
    client, _session, _sleeps = make_client(
        requests.exceptions.ConnectionError("failed with header Bearer %s" % TOKEN),
        requests.exceptions.ConnectionError("again %s" % TOKEN),
        max_retries=1,
        log=lines.append,
    )
    with pytest.raises(PagesAPIError) as info:
        client.get_project("p")
    everything = str(info.value) + repr(info.value.to_result()) + "\n".join(lines)
    assert TOKEN not in everything
    assert lines, "a retry is logged"


def test_describe_credentials_names_the_method_not_the_secret():
    client, _session, _sleeps = make_client(api_token=None, api_email="ops@example.com", api_key=GLOBAL_KEY)
    text = client.describe_credentials()
    assert "ops@example.com" in text and GLOBAL_KEY not in text


# ---------------------------------------------------------------- hardening (issue 11 points 1, 4, 7)


def test_a_bare_404_or_a_route_miss_is_not_absent_and_names_the_url():
    route_miss = response(404, {"success": False, "result": None, "messages": [], "errors": [
        {"code": 7003, "message": "Could not route to /client/v4/x, perhaps your object identifier is invalid?"},
        {"code": 7000, "message": "No route for that URI"}]})
    for answer in (route_miss, response(404, raw=b"<html>not here</html>"), fail(400, 7003, "Could not route")):
        client, _session, _sleeps = make_client(answer)
        with pytest.raises(PagesAPIError) as info:
            client.get_project("p")
        assert not info.value.is_not_found
        assert "Nothing answers at https://api.example.test/client/v4/accounts/%s/pages/projects/p" % ACCOUNT in str(info.value)
        assert "check api_base_url (https://api.example.test/client/v4) and account_id (%s)" % ACCOUNT in str(info.value)


def test_only_the_resource_code_means_absent():
    client, _session, _sleeps = make_client(fail(404, 8000007, "Project not found."))
    assert client.get_project("p") is None
    client, _session, _sleeps = make_client(fail(404, 8000007, "Project not found."))
    with pytest.raises(PagesAPIError):
        client.get_deployment("p", "d")  # the project is missing, not the deployment: no silent None


def test_header_errors_never_show_the_credential_even_escaped():
    for token in (TOKEN + "\n", TOKEN + "\r\n", " " + TOKEN):
        exc = requests.exceptions.InvalidHeader(
            "Invalid leading whitespace, reserved character(s), or return character(s) in header value: %r"
            % ("Bearer " + token))
        client, _session, _sleeps = make_client(exc, api_token=token)
        with pytest.raises(PagesAPIError) as info:
            client.get_project("p")
        assert TOKEN not in str(info.value)
        assert TOKEN[:20] not in repr(info.value.message)


def test_create_that_lost_a_race_reads_the_project():
    client, session, _sleeps = make_client(
        fail(409, 8000002, "A project with this name already exists. Choose a different project name."),
        ok({"name": "p", "production_branch": "main"}),
    )
    project, created = client.create_project_or_existing({"name": "p", "production_branch": "main"})
    assert (project["name"], created) == ("p", False)
    assert [c["method"] for c in session.calls] == ["POST", "GET"]
    client, _session, _sleeps = make_client(ok({"name": "p"}))
    assert client.create_project_or_existing({"name": "p", "production_branch": "main"}) == ({"name": "p"}, True)
    client, _session, _sleeps = make_client(fail(400, 8000040, "Invalid project name"))
    with pytest.raises(PagesAPIError):
        client.create_project_or_existing({"name": "p", "production_branch": "main"})


# ---------------------------------------------------------------- 408, JWT refresh cap, missing_ok


def test_408_is_ambiguous_so_a_post_looks_before_resending():
    """A 408 may come after the server did the work: a create looks first, and takes what it finds."""
    created = {"name": "site", "id": "abc"}
    client, session, sleeps = make_client(fail(408, 0, "Request Timeout"), ok(created))
    assert client.create_project({"name": "site", "production_branch": "main"}) == created
    assert [c["method"] for c in session.calls] == ["POST", "GET"]
    assert sleeps == []


def test_408_on_a_post_without_recheck_is_not_resent():
    client, session, _sleeps = make_client(fail(408, 0, "Request Timeout"), ok({"id": "d1"}))
    with pytest.raises(PagesAPIError) as info:
        client.request("POST", client.account_path("projects", "p", "deployments"), json_body={})
    assert info.value.status == 408 and len(session.calls) == 1


def test_upload_token_refreshes_are_capped():
    """A JWT the API keeps refusing is fetched again at most 3 times, then the call fails."""
    refused = [fail(401, 8000013, "Unauthorized") for _refusal in range(10)]
    client, session, sleeps = make_client(*refused)
    asked = []

    def provider(refresh):
        asked.append(refresh)
        return "jwt-%d" % len(asked)

    with pytest.raises(PagesAPIError) as info:
        client.request("POST", "/pages/assets/check-missing", json_body={}, idempotent=True, jwt_provider=provider)
    assert info.value.has_code(8000013)
    assert asked == [False, True, True, True]
    assert len(session.calls) == 4 and sleeps == [] and client.retry_count == 0


@pytest.mark.parametrize("answer", [
    fail(404, 8000009, "The deployment ID you have specified does not exist."),
    fail(400, 8000009, "The deployment ID you have specified does not exist."),
])
def test_delete_with_missing_ok_is_false_for_what_is_gone(answer):
    client, _session, _sleeps = make_client(answer)
    assert client.delete_deployment("p", "d1", missing_ok=True) is False


def test_delete_with_missing_ok_raises_other_errors_and_is_true_when_it_deleted():
    client, _session, _sleeps = make_client(fail(400, 8000035, "aliased"), ok(None))
    with pytest.raises(PagesAPIError):
        client.delete_domain("p", "www.example.com", missing_ok=True)
    assert client.delete_domain("p", "www.example.com", missing_ok=True) is True


def test_error_codes_skip_malformed_entries_and_status_defaults_to_0():
    err = PagesAPIError("x", errors=[
        "text", {"code": "8000009"}, {"code": 8000013, "error_chain": ["text", {"code": None}, {"code": 7}]},
    ])
    assert err.status == 0 and err.codes == [8000013, 7]
    assert err.has_code(7) and not err.has_code(8000009)
    assert err.to_result() == {"status": 0, "errors": err.errors}
    assert PagesError("no API answer").to_result() == {"status": 0, "errors": []}
