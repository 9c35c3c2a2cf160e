# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the rate-limit pacer and the task's waiting budget (a fake clock, no real waits)."""

from __future__ import annotations

import random
import threading

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client import ratelimit as _ratelimit
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.api import PagesClient
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import RateLimitBudgetSpent
from ansible_collections.cfpages.cloudflare.plugins.module_utils._client.ratelimit import Pacer, WaitBudget

from ansible_collections.cfpages.cloudflare.tests.unit.plugins.module_utils.test_api import (
    ACCOUNT,
    TOKEN,
    FakeSession,
    fail,
    ok,
)


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 2))
        self.now += seconds


class Headers:
    """A response with only headers (what the pacer reads)."""

    def __init__(self, remaining=None, reset=None, quota=None, window=None):
        self.headers = {}
        if remaining is not None:
            self.headers["Ratelimit"] = '"default";r=%d;t=%d' % (remaining, reset)
        if quota is not None:
            self.headers["Ratelimit-Policy"] = '"default";q=%d;w=%d' % (quota, window)


def make_pacer(budget=600.0, **kwargs):
    clock = FakeClock()
    lines = []
    pacer = Pacer(WaitBudget(budget, clock=clock), log=lines.append, sleep=clock.sleep, clock=clock, **kwargs)
    return pacer, clock, lines


@pytest.mark.parametrize(
    "value, expected",
    [
        ('"default";r=50;t=30', {"r": "50", "t": "30"}),
        ('"burst";q=100;w=60, "day";q=1000;w=86400', {"q": "100", "w": "60"}),
        ("default;r=0;t=7", {"r": "0", "t": "7"}),
        ("", None),
        (None, None),
        ("r=5", None),
    ],
)
def test_parse_structured_params(value, expected):
    assert _ratelimit.parse_structured_params(value) == expected


def test_without_headers_it_paces_at_the_documented_default():
    pacer, clock, lines = make_pacer()
    reserve = Pacer.reserve(pacer._state("api"))
    assert reserve == 60
    for _index in range(1200 - reserve):
        pacer.before_request("api", "GET /x")
        pacer.after_response("api", Headers())
    assert clock.sleeps == []
    pacer.before_request("api", "GET /x")  # the window is full but for the reserve: wait for it to reset
    assert clock.sleeps == [300.1]
    assert "pausing 300s until the window resets" in lines[0] and lines[0].startswith("GET /x: ")


@pytest.mark.parametrize("ratelimit, policy", [
    ('"default";r=nan;t=7', '"default";q=inf;w=10'),
    ('"default";r=4;t=inf', '"default";q=60;w=nan'),
    ('"default";r=1e999;t=7', '"default";q=1e999;w=1e999'),
])
def test_headers_that_are_not_finite_numbers_are_ignored(ratelimit, policy):
    """int() of them raised ValueError or OverflowError out of the client."""
    pacer, clock, _lines = make_pacer()
    pacer.before_request("api", "GET /x")
    response = Headers()
    response.headers.update({"Ratelimit": ratelimit, "Ratelimit-Policy": policy})
    pacer.after_response("api", response)
    state = pacer._state("api")
    assert not state.from_headers or state.reset_at - clock.now == 7
    pacer.before_request("api", "GET /x")
    assert clock.sleeps == []


def test_headers_drive_the_pace_and_the_policy():
    pacer, clock, _lines = make_pacer()
    pacer.before_request("api", "GET /x")
    pacer.after_response("api", Headers(remaining=4, reset=7, quota=60, window=10))
    state = pacer._state("api")
    assert (state.quota, state.window) == (60, 10.0)
    assert Pacer.reserve(state) == 3
    pacer.before_request("api", "GET /x")  # 4 left > reserve 3: at once
    assert clock.sleeps == []
    pacer.after_response("api", Headers(remaining=3, reset=7, quota=60, window=10))
    pacer.before_request("api", "GET /x")  # 3 left = reserve: wait for the reset the header gave
    assert clock.sleeps == [7.1]
    # after the reset the whole quota is there again
    for _index in range(10):
        pacer.before_request("api", "GET /x")
    assert clock.sleeps == [7.1]


def test_a_429_blocks_for_retry_after_and_is_charged_once_for_all_threads():
    pacer, clock, lines = make_pacer(budget=400)
    pacer.throttled_for("api", 300.0)
    assert pacer.throttled == 1
    pacer.before_request("api", "DELETE /a")
    assert clock.sleeps == [300.0]
    assert "answered 429" in lines[0] and "300s" in lines[0]
    assert pacer.budget.spent == pytest.approx(300.0)
    # A second waiter for the same block (another thread) costs nothing more.
    budget = WaitBudget(100, clock=clock)
    assert budget.charge_until(clock.now + 60)
    assert budget.charge_until(clock.now + 60)
    assert budget.spent == pytest.approx(60)
    assert not budget.charge_until(clock.now + 101)
    assert budget.spent == pytest.approx(60)


def test_a_wait_the_budget_cannot_cover_is_not_started():
    pacer, clock, _lines = make_pacer(budget=120)
    pacer.throttled_for("api", 300.0)
    with pytest.raises(ERR.BudgetSpent) as info:
        pacer.before_request("api", "DELETE /a")
    assert clock.sleeps == []
    text = str(info.value)
    assert "rate_limit_budget=120s" in text and "300s" in text and "1,200 API requests per 5 minutes" in text


def test_upload_jwt_calls_are_paced_separately():
    pacer, clock, _lines = make_pacer()
    pacer.throttled_for("api", 300.0)
    pacer.before_request("assets", "POST /pages/assets/upload")
    assert clock.sleeps == []


def test_concurrent_requests_never_overspend_the_window():
    pacer, clock, _lines = make_pacer()
    lock = threading.Lock()
    pacer.clock = clock
    sent = []

    def worker():
        for _index in range(400):
            pacer.before_request("api", "DELETE /x")
            with lock:
                sent.append(clock.now)

    # Real threads, fake clock: sleeping advances time for everyone.
    pacer.sleep = clock.sleep
    threads = [threading.Thread(target=worker) for _index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 1600
    window_starts = sorted(set(sent))
    for start in window_starts:
        in_window = [t for t in sent if start <= t < start + 300]
        assert len(in_window) <= 1200


# ---------------------------------------------------------------- through PagesClient


def client_with(*answers, budget=600.0):
    clock = FakeClock()
    session = FakeSession(*answers)
    pacer = Pacer(WaitBudget(budget, clock=clock), sleep=clock.sleep, clock=clock)
    client = PagesClient(
        account_id=ACCOUNT, api_token=TOKEN, base_url="https://api.example.test/client/v4",
        sleep=clock.sleep, rng=random.Random(1), session=session, pacer=pacer,
    )
    return client, session, clock


def test_a_full_300s_block_is_waited_out_and_does_not_count_as_a_retry():
    answers = [fail(429, 971, "slow down", {"Retry-After": "300"})] * 7 + [ok({"name": "p"})]
    client, session, clock = client_with(*answers, budget=10000)
    client.max_retries = 2
    assert client.get_project("p") == {"name": "p"}
    assert clock.sleeps == [300.0] * 7
    assert client.retry_count == 0 and len(session.calls) == 8
    assert client.pacer.summary()["throttled_responses"] == 7


def test_the_budget_stops_the_task_with_a_clear_error():
    answers = [fail(429, 971, "slow down", {"Retry-After": "300"})] * 2
    client, session, clock = client_with(*answers, budget=400)
    client.retry_max_wait = 10  # not what bounds rate-limit waits
    with pytest.raises(RateLimitBudgetSpent) as info:
        client.get_project("p")
    assert clock.sleeps == [300.0]
    assert len(session.calls) == 2
    err = info.value
    assert err.status == 429 and "rate_limit_budget=400s" in str(err) and "GET /accounts/" in str(err)
    assert "1,200 API requests per 5 minutes" in str(err)


def test_response_headers_are_read_by_the_client():
    low = ok({"name": "p"})
    low.headers["Ratelimit"] = '"default";r=2;t=9'
    low.headers["Ratelimit-Policy"] = '"default";q=60;w=10'
    client, _session, clock = client_with(low, ok({"name": "p"}))
    client.get_project("p")
    client.get_project("p")  # 2 left, reserve 3: waits for the reset first
    assert clock.sleeps == [9.1]
