# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of pages_domain: name handling, idempotence, the wait/retry/timeout loop (time patched),
check mode, diff and the advice in failures."""

from __future__ import annotations

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.modules import pages_domain
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fake_pages_api import domain

TOKEN = "tok-5b1d9e7c3a2f4e6d8c0b1a2f3e4d5c6b7a8f9e0d"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


NAME = "www.example.com"


@pytest.fixture
def api(pages_api):
    """The fake Pages API with a project ``site`` (its subdomain site.pages.dev) and no domain yet."""
    pages_api.seed_project("site")
    return pages_api


def calls(*methods):
    return [(method, "site", NAME) for method in methods]


def run(run_module, **args):
    args.setdefault("api_token", TOKEN)
    args.setdefault("account_id", ACCOUNT)
    args.setdefault("project_name", "site")
    args.setdefault("name", "www.example.com")
    return run_module(pages_domain.main, args)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "value, expected",
    [
        ("www.example.com", "www.example.com"),
        ("  WWW.Example.COM. ", "www.example.com"),
        ("bücher.example.com", "xn--bcher-kva.example.com"),
    ],
)
def test_names_are_normalised(value, expected):
    assert pages_domain.normalise_name(value) == (expected, None)


@pytest.mark.parametrize(
    "value, text",
    [
        ("", "must be a hostname"),
        ("*.example.com", "wildcard"),
        ("https://www.example.com/", "without scheme"),
        ("www.example.com:8443", "without scheme"),
        ("my-site.pages.dev", "pages.dev hostname"),
    ],
)
def test_bad_names_are_refused(value, text):
    name, problem = pages_domain.normalise_name(value)
    assert name is None and text in problem


def test_bad_name_fails_before_any_request(run_module, api, clock):
    kind, result = run(run_module, name="*.example.com")
    assert kind == "fail" and "wildcard" in result["msg"] and api.calls == []


def test_negative_wait_timeout(run_module, api, clock):
    kind, result = run(run_module, wait_timeout=-1)
    assert kind == "fail" and "wait_timeout" in result["msg"] and api.calls == []


# --------------------------------------------------------------------------- present


def test_add_and_wait_until_active(run_module, api, clock):
    api.script_domain("site", NAME, ["pending", "pending", "active"])
    kind, result = run(run_module, _ansible_diff=True)
    assert kind == "exit", result
    assert result["changed"] is True and result["validation_retried"] is False
    assert result["domain"]["status"] == "active"
    assert api.mutations() == calls("add_domain")
    # backoff: 1, 2, 4 seconds
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert result["diff"] == {"before": "", "after": {"project_name": "site", "name": "www.example.com", "status": "active"}}


def test_poll_interval_is_capped(run_module, api, clock):
    api.script_domain("site", NAME, ["pending"] * 8 + ["active"])
    kind, result = run(run_module)
    assert kind == "exit"
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0]


def test_existing_active_domain_is_not_changed(run_module, api, clock):
    api.seed_domain("site", NAME)
    kind, result = run(run_module, name="WWW.example.com.")
    assert kind == "exit" and result["changed"] is False
    assert api.mutations() == [] and clock.sleeps == []


def test_domain_alias(run_module, api, clock):
    api.seed_domain("site", NAME)
    kind, result = run_module(pages_domain.main, {"api_token": TOKEN, "account_id": ACCOUNT, "project_name": "site", "domain": "www.example.com"})
    assert kind == "exit" and result["changed"] is False


def test_no_wait_returns_at_once(run_module, api, clock):
    kind, result = run(run_module, wait=False)
    assert kind == "exit" and result["changed"] is True
    assert result["domain"]["status"] == "initializing" and "validation_retried" not in result
    assert clock.sleeps == []


def test_error_is_retried_once_then_active(run_module, api, clock):
    api.seed_domain("site", NAME, status="error", error="CNAME record not set", statuses=["error", "pending", "active"])
    kind, result = run(run_module)
    assert kind == "exit", result
    assert result["changed"] is True and result["validation_retried"] is True
    assert result["domain"]["status"] == "active"
    assert api.mutations() == calls("retry_domain_validation")


def test_deactivated_is_retried_too(run_module, api, clock):
    api.seed_domain("site", NAME, status="deactivated", statuses=["deactivated", "active"])
    kind, result = run(run_module)
    assert kind == "exit" and result["validation_retried"] is True


def test_patch_answer_is_not_taken_as_final(run_module, api, clock):
    api.seed_domain("site", NAME, status="error", error="x", statuses=["error", "active"])
    api.inject("retry_domain_validation", answer=domain(NAME, status="error", error="x"))
    kind, result = run(run_module)
    assert kind == "exit" and result["domain"]["status"] == "active"
    assert api.mutations() == calls("retry_domain_validation")


def test_second_failure_fails_with_data_and_advice(run_module, api, clock):
    api.script_domain("site", NAME, ["pending", "error", "pending", "error"])
    kind, result = run(run_module, _ansible_diff=True)
    assert kind == "fail", result
    assert api.mutations() == calls("add_domain", "retry_domain_validation")
    msg = result["msg"]
    assert "failed validation again" in msg and "retried once" in msg
    assert "CNAME record not set" in msg
    assert "CNAME record for www.example.com at site.pages.dev" in msg and "/.well-known/pki-validation/" in msg
    assert result["validation_data"]["status"] == "error"
    assert result["verification_data"]["error_message"] == "CNAME record not set"
    assert result["domain"]["status"] == "error"
    assert result["changed"] is True and result["validation_retried"] is True
    assert result["diff"]["before"] == ""


def test_txt_validation_advice(run_module, api, clock):
    existing = api.seed_domain("site", NAME, status="error", method="txt", error="TXT record not found")
    existing["validation_data"].update(txt_name="_cf-custom-hostname.www.example.com", txt_value="abc-123")
    api.inject("retry_domain_validation", answer=dict(existing))
    kind, result = run(run_module, wait_timeout=0)
    assert kind == "fail"
    assert "TXT record _cf-custom-hostname.www.example.com with the value 'abc-123'" in result["msg"]


def test_blocked_fails_at_once_without_retry(run_module, api, clock):
    api.seed_domain("site", NAME, status="blocked")
    kind, result = run(run_module)
    assert kind == "fail" and "'blocked'" in result["msg"] and "retrying does not help" in result["msg"]
    assert api.mutations() == []


def test_timeout_fails_with_status_and_advice(run_module, api, clock):
    api.script_domain("site", NAME, ["pending"])
    kind, result = run(run_module, wait_timeout=20)
    assert kind == "fail"
    assert "still 'pending' after 20 seconds" in result["msg"] and "Raise wait_timeout" in result["msg"]
    assert result["domain"]["status"] == "pending"
    assert sum(clock.sleeps) == pytest.approx(20.0)
    assert clock.sleeps[-1] == pytest.approx(5.0)  # the last sleep is cut to the deadline


def test_zero_timeout_checks_once(run_module, api, clock):
    api.seed_domain("site", NAME, status="pending")
    kind, result = run(run_module, wait_timeout=0)
    assert kind == "fail" and "after 0 seconds" in result["msg"] and clock.sleeps == []


def test_domain_disappearing_while_waiting(run_module, api, clock):
    api.script_domain("site", NAME, ["pending", None])
    kind, result = run(run_module)
    assert kind == "fail" and "disappeared" in result["msg"]


def test_missing_project_present_fails(run_module, api, clock):
    api.projects.clear()
    kind, result = run(run_module)
    assert kind == "fail" and "Project 'site' does not exist" in result["msg"]
    assert api.mutations() == []


def test_unavailable_domain_advice(run_module, api, clock):
    api.inject("add_domain", error=ERR.PagesAPIError(
        "Domain is unavailable [code 8000018]", 400, [{"code": 8000018, "message": "Domain is unavailable"}], "POST", "/x"
    ))
    kind, result = run(run_module)
    assert kind == "fail"
    assert "another Pages project" in result["msg"] and "8000018" in result["msg"]
    assert result["errors"][0]["code"] == 8000018 and result["status"] == 400
    assert result["changed"] is False


def test_other_add_errors_name_the_action(run_module, api, clock):
    api.inject("add_domain", error=ERR.PagesAPIError(
        "Invalid domain [code 8000019]", 400, [{"code": 8000019, "message": "Invalid"}], "POST", "/x"))
    kind, result = run(run_module)
    assert kind == "fail" and result["msg"].startswith("Adding www.example.com to project 'site' failed")


# --------------------------------------------------------------------------- check mode


def test_check_mode_add(run_module, api, clock):
    kind, result = run(run_module, _ansible_check_mode=True, _ansible_diff=True)
    assert kind == "exit" and result["changed"] is True
    assert result["domain"] == {"name": "www.example.com"}
    assert api.mutations() == [] and clock.sleeps == []
    assert result["diff"]["before"] == "" and result["diff"]["after"]["name"] == "www.example.com"


def test_check_mode_errored_domain_would_retry(run_module, api, clock):
    api.seed_domain("site", NAME, status="error", error="x")
    kind, result = run(run_module, _ansible_check_mode=True)
    assert kind == "exit" and result["changed"] is True and api.mutations() == []
    kind, result = run(run_module, _ansible_check_mode=True, wait=False)
    assert kind == "exit" and result["changed"] is False


def test_no_wait_on_failed_domain_warns(run_module, api, clock, monkeypatch):
    warnings = []
    monkeypatch.setattr(pages_domain.PagesModule, "run", _capture_warnings(pages_domain.PagesModule.run, warnings))
    api.seed_domain("site", NAME, status="error", error="CNAME record not set")
    kind, result = run(run_module, wait=False)
    assert kind == "exit" and result["changed"] is False and api.mutations() == []
    assert len(warnings) == 1
    assert "is 'error'" in warnings[0] and "CNAME record not set" in warnings[0] and "site.pages.dev" in warnings[0]


def _capture_warnings(run_method, sink):
    def run_and_capture(self):
        self.module.warn = sink.append
        run_method(self)

    return run_and_capture


def test_check_mode_pending_domain_is_not_waited_for(run_module, api, clock):
    api.seed_domain("site", NAME, status="pending")
    kind, result = run(run_module, _ansible_check_mode=True)
    assert kind == "exit" and result["changed"] is False and clock.sleeps == []


# --------------------------------------------------------------------------- absent


def test_absent_removes(run_module, api, clock):
    api.seed_domain("site", NAME)
    kind, result = run(run_module, state="absent", _ansible_diff=True)
    assert kind == "exit" and result["changed"] is True
    assert api.mutations() == calls("delete_domain")
    assert result["domain"]["name"] == "www.example.com"
    assert result["diff"]["after"] == "" and result["diff"]["before"]["status"] == "active"


def test_absent_check_mode(run_module, api, clock):
    api.seed_domain("site", NAME)
    kind, result = run(run_module, state="absent", _ansible_check_mode=True)
    assert kind == "exit" and result["changed"] is True and api.mutations() == []


def test_absent_when_gone(run_module, api, clock):
    kind, result = run(run_module, state="absent")
    assert kind == "exit" and result["changed"] is False and result["domain"] == {}


def test_absent_on_missing_project(run_module, api, clock):
    api.projects.clear()
    kind, result = run(run_module, state="absent")
    assert kind == "exit" and result["changed"] is False and api.mutations() == []


def test_absent_race_with_someone_else(run_module, api, clock):
    api.seed_domain("site", NAME)
    # Someone else removes it between our read and our DELETE, which then answers 8000021.
    api.inject("delete_domain", before=lambda: api.domains["site"].pop(NAME))
    kind, result = run(run_module, state="absent")
    assert kind == "exit" and result["changed"] is True


def test_absent_other_errors_fail(run_module, api, clock):
    api.seed_domain("site", NAME)
    api.inject("delete_domain", error=ERR.PagesAPIError("Authentication error [code 10000]", 403, [{"code": 10000, "message": "x"}]))
    kind, result = run(run_module, state="absent")
    assert kind == "fail" and "Cloudflare Pages: Edit" in result["msg"]
