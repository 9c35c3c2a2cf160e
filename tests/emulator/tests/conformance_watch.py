"""Opt-in pytest plugin: check EVERY emulator response of a test session, not only the scenarios.

    PYTHONPATH=tests/emulator/tests python -m pytest tests/emulator/tests -p conformance_watch

Wraps ``requests.Session.send`` for the session. Every JSON response under ``/client/v4`` is
validated against the OpenAPI schema (with the errata of test_conformance_openapi.py) and every
200 result of a project/deployment/domain/logs call is parsed strictly with the ``cloudflare``
SDK's models (as test_sdk.py does). Injected 5xx faults are skipped (not in the schema; their
envelope is checked by test_conformance_openapi.py). Violations are listed at the end and make
the run fail.
"""
from __future__ import annotations

import re

import pytest
import requests

_violations: list[str] = []
_counts = {"schema": 0, "sdk": 0}


def _sdk_check(path: str, method: str, body: dict):
    import test_sdk as sdk
    from cloudflare.types.pages.projects import DomainGetResponse
    from cloudflare.types.pages.projects.deployments.history import LogGetResponse

    result = body.get("result")
    items = result if isinstance(result, list) else [result]
    acct = r"/accounts/[^/]+/pages/projects"
    if method == "DELETE" or result is None:
        return
    if re.fullmatch(acct + r"(/[^/]+)?", path):
        check = sdk.strict_project
    elif re.fullmatch(acct + r"/[^/]+/deployments(/[^/]+(/retry|/rollback)?)?", path):
        check = sdk.strict_deployment
    elif re.fullmatch(acct + r"/[^/]+/domains(/[^/]+)?", path):
        def check(item):
            return sdk.strict(DomainGetResponse, item)
    elif path.endswith("/history/logs"):
        def check(item):
            return sdk.strict(LogGetResponse, item)
    else:
        return
    for item in items:
        check(item)
    _counts["sdk"] += 1


def pytest_configure(config):
    from test_conformance_openapi import MISSING_SPEC, SPEC_FILE, SpecChecker, apply_errata, load_raw_spec

    if not SPEC_FILE.is_file():
        raise pytest.UsageError(MISSING_SPEC)
    checker = SpecChecker(apply_errata(load_raw_spec())[0])
    original = requests.Session.send

    def send(self, request, **kwargs):
        resp = original(self, request, **kwargs)
        url = request.url or ""
        if "/client/v4/" not in url or resp.status_code >= 500:
            return resp
        if not resp.headers.get("Content-Type", "").startswith("application/json"):
            return resp
        try:
            if checker.operation(resp):
                checker.check(resp)
            else:
                checker.check_outside(resp)
            _counts["schema"] += 1
            if resp.status_code == 200:
                path = url.split("/client/v4", 1)[1].split("?", 1)[0]
                _sdk_check(path, request.method, resp.json())
        except AssertionError as exc:
            _violations.append(f"{request.method} {url}\n{str(exc)[:1500]}")
        return resp

    requests.Session.send = send


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    tr.section("conformance_watch")
    tr.write_line(f"responses validated against the schema: {_counts['schema']}, "
                  f"parsed strictly by the SDK: {_counts['sdk']}, violations: {len(_violations)}")
    for v in _violations[:30]:
        tr.write_line("---- " + v)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if _violations and exitstatus == 0:
        session.exitstatus = 1
