# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of _assets that need no HTTP: when the upload token is fetched again, how big uploads
are planned into buckets, and the checks around an upload. (Written for what mutation testing,
tests/mutation.sh, found no test noticing.)"""

from __future__ import annotations

import base64
import json
import os

import pytest

from ansible_collections.cfpages.cloudflare.plugins.module_utils import _errors as ERR
from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import (
    buckets as UB,
    pages_assets as A,
    scan as S,
)
from ansible_collections.cfpages.cloudflare.plugins.module_utils._errors import PagesAPIError
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.fakes import Clock, autospec_client
from ansible_collections.cfpages.cloudflare.tests.unit.plugins.site_files import write

MiB = 1024 * 1024


def jwt(claims):
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return "eyJhbGciOiJIUzI1NiJ9.%s.c2ln" % payload


class Tokens:
    """Hands out the JWTs ``make(n)`` for n = 0, 1, 2, ... (one per fetch)."""

    def __init__(self, make):
        self.make = make
        self.issued = 0

    def get_upload_token(self, name):
        token = self.make(self.issued)
        self.issued += 1
        return token


def token_of(make, clock, **kwargs):
    tokens = Tokens(make)
    return A.UploadToken(autospec_client(tokens), "site", clock=clock.time, **kwargs), tokens


# --------------------------------------------------------------------------- the upload token


def test_the_default_margin_is_a_minute_before_exp():
    clock = Clock()
    token, tokens = token_of(lambda n: jwt({"iat": 1000 * n, "exp": 1000 * n + 1000}), clock)
    token.get()
    clock.now += 939.5
    token.get()
    assert tokens.issued == token.fetches == 1
    clock.now += 0.5  # 60 s before exp
    token.get()
    assert tokens.issued == token.fetches == 2


def test_a_token_without_iat_expires_at_exp_read_by_our_clock():
    clock = Clock()
    # 100 s to live: the margin is a quarter of that, 25 s.
    token, tokens = token_of(lambda n: jwt({"exp": int(clock.time()) + 100, "n": n}), clock)
    token.get()
    clock.now += 74.5
    token.get()
    assert tokens.issued == 1
    clock.now += 1.0
    token.get()
    assert tokens.issued == 2


def test_iat_makes_a_skewed_server_clock_harmless():
    clock = Clock()
    # The server's clock is three hours behind ours: exp is in our past, but the token lives 300 s.
    behind = int(clock.time()) - 3 * 3600
    token, tokens = token_of(lambda n: jwt({"iat": behind, "exp": behind + 300, "n": n}), clock)
    token.get()
    clock.now += 200
    token.get()
    assert tokens.issued == 1


def test_exp_not_after_iat_is_read_as_a_time_by_our_clock():
    clock = Clock()
    at = int(clock.time()) + 400
    token, tokens = token_of(lambda n: jwt({"iat": at, "exp": at, "n": n}), clock)
    token.get()
    clock.now += 200  # 200 s before exp, outside the 60 s margin
    token.get()
    assert tokens.issued == 1


def test_a_refresh_asked_with_a_replaced_token_does_not_fetch_again_whatever_the_tokens_look_like():
    # Tokens that sort downwards: "replaced" must mean "not the current one", not an ordering.
    token, tokens = token_of(lambda n: "token-%d" % (9 - n), Clock())
    one, two = token.provider(), token.provider()
    assert one(False) == two(False) == "token-9"
    assert one(True) == "token-8"
    assert two(True) == "token-8" and tokens.issued == 2


# --------------------------------------------------------------------------- buckets


def files(*sizes):
    return [S.SiteFile("/f%03d" % i, "/x", size) for i, size in enumerate(sizes)]


def test_a_bucket_holds_at_most_40_mib_of_files():
    buckets = UB.plan_buckets(files(*[30 * MiB] * 3), concurrency=1, min_buckets=1)
    assert [b.size for b in buckets] == [30 * MiB] * 3
    buckets = UB.plan_buckets(files(*[20 * MiB] * 3), concurrency=1, min_buckets=1)
    assert sorted(b.size for b in buckets) == [20 * MiB, 40 * MiB]
    buckets = UB.plan_buckets(files(*[20 * MiB] * 4), concurrency=1, min_buckets=1)
    assert [b.size for b in buckets] == [40 * MiB, 40 * MiB]


def test_an_upload_is_split_into_buckets_of_at_least_1_mib():
    # 5 MiB: five buckets; one byte more needs a sixth.
    assert len(UB.plan_buckets(files(*[512 * 1024] * 10), concurrency=3)) == 5
    assert len(UB.plan_buckets(files(*[512 * 1024] * 10 + [1]), concurrency=3)) == 6


def test_a_big_upload_gets_four_buckets_per_concurrent_request():
    assert len(UB.plan_buckets(files(*[MiB] * 40), concurrency=3)) == 12
    assert len(UB.plan_buckets(files(*[MiB] * 40), concurrency=2)) == 8


# --------------------------------------------------------------------------- around an upload


def test_every_file_that_changed_or_vanished_before_the_upload_is_named(tmp_path):
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        write(tmp_path, name, name)
    scan = S.scan_site(str(tmp_path))
    os.remove(str(tmp_path / "a.txt"))
    os.remove(str(tmp_path / "b.txt"))
    # c.txt shrinks but keeps its modification time: its size alone tells.
    mtime_ns = os.stat(str(tmp_path / "c.txt")).st_mtime_ns
    write(tmp_path, "c.txt", "c")
    os.utime(str(tmp_path / "c.txt"), ns=(mtime_ns, mtime_ns))
    with pytest.raises(ERR.UploadError) as err:
        UB.check_unchanged(scan.files)
    assert str(err.value).startswith("3 files changed or disappeared since the site was hashed: /a.txt, /b.txt, /c.txt;")
    os.remove(str(tmp_path / "c.txt"))
    with pytest.raises(ERR.UploadError) as err:
        UB.check_unchanged(scan.files[3:] + scan.files[:1])
    assert str(err.value).startswith("1 file changed or disappeared since the site was hashed: /a.txt;")


class CheckMissing:
    def __init__(self, answer):
        self.answer = answer

    def assets_request(self, endpoint, body, jwt_provider):
        return self.answer


def test_a_check_missing_answer_that_is_not_a_list_is_an_upload_error(tmp_path):
    write(tmp_path, "index.html", "hi")
    scan = S.scan_site(str(tmp_path))
    token = A.UploadToken(autospec_client(Tokens(lambda n: "jwt")), "site")
    with pytest.raises(ERR.UploadError, match=r"check-missing answered \{'hashes': 1\} instead of a list of hashes"):
        A.missing_hashes(autospec_client(CheckMissing({"hashes": 1})), token, scan)
    wanted = scan.files[0].hash
    assert A.missing_hashes(autospec_client(CheckMissing([wanted, 7, "other"])), token, scan) == [wanted]


class RefusingUploads:
    """Refuses the first upload request; logs the others."""

    timeout = 30.0

    def __init__(self):
        self.uploads = 0

    def request(self, method, path, data=None, **kwargs):
        self.uploads += 1
        if self.uploads == 1:
            raise PagesAPIError("refused [code 8000099]", 400, [{"code": 8000099, "message": "refused"}], method, path)
        body = data()
        while body.read(65536):
            pass


@pytest.mark.parametrize("concurrency", [0, 1])
def test_a_failed_bucket_is_named_by_its_place_in_the_upload(tmp_path, concurrency):
    for name in ("a.txt", "b.txt", "c.txt"):
        write(tmp_path, name, name * 10)
    scan = S.scan_site(str(tmp_path))
    token = A.UploadToken(autospec_client(Tokens(lambda n: "jwt")), "site")
    client = RefusingUploads()
    with pytest.raises(ERR.UploadError) as err:
        A.upload_missing(client, token, scan, scan.unique_hashes(), concurrency=concurrency, max_bucket_files=1)
    assert "failed to upload 1 files (bucket 1, " in str(err.value) and "refused [code 8000099]" in str(err.value)
    assert err.value.status == 400 and client.uploads == 1


def test_a_max_file_count_claim_below_one_means_the_default():
    for value in (0, -5, True, "100000"):
        token, _tokens = token_of(lambda n, value=value: jwt({"max_file_count_allowed": value}), Clock())
        assert token.max_file_count == A.MAX_FILE_COUNT_DEFAULT
    token, _tokens = token_of(lambda n: jwt({"max_file_count_allowed": 1}), Clock())
    assert token.max_file_count == 1
