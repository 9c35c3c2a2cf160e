# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the module base class: common options, env fallbacks, error mapping."""

from __future__ import annotations

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client import api as _api
from ansible_collections.cfpages.cloudflare.plugins.module_utils import _base

TOKEN = "tok-5b1d9e7c3a2f4e6d8c0b1a2f3e4d5c6b7a8f9e0d"
GLOBAL_KEY = "key-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


class ProbeModule(_base.PagesModule):
    """Reads a project; lets a test choose what the client answers."""

    argument_spec = dict(name=dict(type="str", required=True))
    answer = None
    errors = []

    def execute(self):
        self.result["client"] = {
            "base_url": self.client.base_url,
            "auth": self.client.auth_method,
            "timeout": self.client.timeout,
            "max_retries": self.client.max_retries,
        }
        if self.errors:
            raise self.errors[0]
        self.result["project"] = self.answer


def main():
    ProbeModule().run()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("CLOUDFLARE_API_TOKEN", "CF_API_TOKEN", "CLOUDFLARE_EMAIL", "CF_EMAIL", "CLOUDFLARE_API_KEY",
                 "CF_API_KEY", "CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID", "CLOUDFLARE_API_BASE_URL", "CF_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    ProbeModule.answer = None
    ProbeModule.errors = []


def test_options_come_from_wrangler_environment_variables(run_module, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:9/client/v4")
    kind, result = run_module(main, {"name": "p"})
    assert kind == "exit", result
    assert result["client"] == {"base_url": "http://127.0.0.1:9/client/v4", "auth": "token", "timeout": 30.0, "max_retries": 5}


def test_global_key_from_environment(run_module, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_EMAIL", "ops@example.com")
    monkeypatch.setenv("CLOUDFLARE_API_KEY", GLOBAL_KEY)
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT})
    assert kind == "exit" and result["client"]["auth"] == "global_key"


def test_no_credentials_fail_with_advice(run_module):
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT})
    assert kind == "fail"
    assert "No Cloudflare credentials" in result["msg"] and "CLOUDFLARE_API_TOKEN" in result["msg"]


def test_half_a_global_key_fails(run_module):
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_key": GLOBAL_KEY})
    assert kind == "fail" and "api_email and api_key go together" in result["msg"]


def test_account_id_is_required(run_module):
    kind, result = run_module(main, {"name": "p", "api_token": TOKEN})
    assert kind == "fail" and "account_id" in result["msg"]


def test_api_errors_become_failures_with_status_errors_and_auth_advice(run_module):
    ProbeModule.errors = [ERR.PagesAPIError(
        "Authentication error [code 10000]", 403, [{"code": 10000, "message": "Authentication error"}], "GET", "/accounts/x"
    )]
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_token": TOKEN})
    assert kind == "fail"
    assert result["status"] == 403 and result["errors"] == [{"code": 10000, "message": "Authentication error"}]
    assert "Authentication error [code 10000]" in result["msg"]
    assert "an API token (Authorization: Bearer)" in result["msg"] and "Cloudflare Pages: Edit" in result["msg"]
    assert TOKEN not in repr(result)


def test_non_auth_errors_have_no_auth_advice(run_module):
    ProbeModule.errors = [ERR.PagesAPIError("Project not found. [code 8000007]", 404, [{"code": 8000007, "message": "x"}])]
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_token": TOKEN})
    assert kind == "fail" and "Cloudflare Pages: Edit" not in result["msg"]


@pytest.mark.parametrize("status, codes", [(401, []), (403, []), (400, [{"code": 9109, "message": "Unauthorized"}])])
def test_a_rejected_credential_is_recognised_by_status_or_by_code(run_module, status, codes):
    ProbeModule.errors = [ERR.PagesAPIError("refused", status, codes, "GET", "/accounts/x")]
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_token": TOKEN})
    assert kind == "fail" and "Cloudflare Pages: Edit" in result["msg"]


def test_a_negative_rate_limit_budget_is_refused_with_its_value(run_module):
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_token": TOKEN, "rate_limit_budget": -2.5})
    assert kind == "fail" and result["msg"] == "rate_limit_budget must be at least 0, not -2.5."
    for budget in (0, 0.5):  # 0: never wait for the rate limit
        kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_token": TOKEN, "rate_limit_budget": budget})
        assert kind == "exit", result


@pytest.mark.parametrize("verbosity, reported", [(0, False), (1, True), (2, True)])
def test_rate_limit_waits_are_reported_from_one_v(run_module, verbosity, reported):
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_token": TOKEN, "_ansible_verbosity": verbosity})
    assert kind == "exit" and ("rate_limit" in result) is reported


def test_the_escaped_forms_of_a_secret_are_its_repr_json_and_stripped_spellings():
    assert _base.escaped_forms(["  s3cr3t\n"]) == {"  s3cr3t\\n", "s3cr3t"}
    assert _base.escaped_forms(['quo"te']) == {'quo\\"te'}
    # Four characters are enough to be worth hiding; shorter forms would hide ordinary text.
    assert _base.escaped_forms([" abcd "]) == {"abcd"}
    assert _base.escaped_forms([" abc "]) == set()
    assert _base.escaped_forms(["plain", 5, None]) == set()


@pytest.mark.parametrize("option, value, message", [
    # The HTTP library's own text ("Timeout value connect was 0, but it must be ...") did not name the option.
    ("timeout", 0, "timeout must be more than 0, not 0.0."),
    ("timeout", -5, "timeout must be more than 0, not -5.0."),
    ("timeout", "nan", "timeout must be a finite number, not nan."),
    ("timeout", "inf", "timeout must be a finite number, not inf."),
    ("max_retries", -1, "max_retries must be at least 0, not -1."),
    ("retry_max_wait", -0.5, "retry_max_wait must be at least 0, not -0.5."),
    ("retry_max_wait", "nan", "retry_max_wait must be a finite number, not nan."),
    ("rate_limit_budget", "nan", "rate_limit_budget must be a finite number, not nan."),
])
def test_number_options_are_refused_before_any_request(run_module, option, value, message):
    ProbeModule.errors = [AssertionError("no request may be made")]
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_token": TOKEN, option: value})
    assert kind == "fail" and result["msg"] == message


def test_the_lowest_number_options_are_accepted(run_module):
    kind, result = run_module(main, {"name": "p", "account_id": ACCOUNT, "api_token": TOKEN, "timeout": 0.001,
                                     "max_retries": 0, "retry_max_wait": 0, "rate_limit_budget": 0})
    assert kind == "exit", result


def cooldown_error():
    # The cooldown's code is not published: the mapping keys on the answer's words to POST .../projects.
    return ERR.PagesAPIError(
        "Your account is temporarily restricted from creating new Pages projects: an automated anti-abuse measure "
        "limits how many projects a new account creates in its first 48 hours [code 8000101]", 400,
        [{"code": 8000101, "message": "temporarily restricted ... anti-abuse ... first 48 hours"}],
        "POST", "/accounts/%s/pages/projects" % ACCOUNT)


def test_the_project_creation_cooldown_says_it_lifts_on_its_own(run_module):
    ProbeModule.errors = [cooldown_error()]
    kind, result = run_module(main, {"name": "p", "api_token": TOKEN, "account_id": ACCOUNT})
    assert kind == "fail" and result["errors"][0]["code"] == 8000101
    assert "lifts on its own" in result["msg"] and "Support cannot lift it" in result["msg"]
    assert "preview deployments" in result["msg"]


def test_the_same_words_elsewhere_are_not_the_cooldown(run_module):
    err = cooldown_error()
    err.path = "/accounts/%s/pages/projects/p/deployments" % ACCOUNT
    ProbeModule.errors = [err]
    kind, result = run_module(main, {"name": "p", "api_token": TOKEN, "account_id": ACCOUNT})
    assert kind == "fail" and "lifts on its own" not in result["msg"]


def test_project_not_found_may_be_in_another_account(run_module, monkeypatch):
    listed = []

    def list_projects(self, limit=None):
        listed.append(limit)
        return iter([{"name": "docs"}, {"name": "blog"}])

    monkeypatch.setattr(_api.PagesClient, "list_projects", list_projects)
    ProbeModule.errors = [ERR.PagesAPIError(
        "Project not found. The specified project name does not match any of your existing projects. [code 8000007]",
        404, [{"code": 8000007, "message": "Project not found."}], "GET",
        "/accounts/%s/pages/projects/shop/deployments" % ACCOUNT)]
    kind, result = run_module(main, {"name": "p", "api_token": TOKEN, "account_id": ACCOUNT})
    assert kind == "fail" and listed == [21]
    assert "'shop'" in result["msg"] and "another account" in result["msg"] and "set account_id" in result["msg"]
    assert "Projects this credential sees in account %s: docs, blog." % ACCOUNT in result["msg"]


def test_project_not_found_advice_when_the_projects_cannot_be_read(run_module, monkeypatch):
    def list_projects(self, limit=None):
        raise ERR.PagesAPIError("Authentication error", 403, [{"code": 10000, "message": "Authentication error"}])

    monkeypatch.setattr(_api.PagesClient, "list_projects", list_projects)
    ProbeModule.errors = [ERR.PagesAPIError("Project not found.", 404, [{"code": 8000007, "message": "x"}],
                                            "GET", "/accounts/%s/pages/projects/shop" % ACCOUNT)]
    kind, result = run_module(main, {"name": "p", "api_token": TOKEN, "account_id": ACCOUNT})
    assert kind == "fail" and "another account" in result["msg"] and "credential sees" not in result["msg"]
