# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.cfpages.cloudflare.plugins.module_utils._upload import throughput as T


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_first_bucket_is_small_and_alone():
    sizer = T.BucketSizer(40 * 1024 * 1024, 3)
    assert sizer.bucket_bytes(3) == T.FIRST_BUCKET_BYTES
    assert sizer.allowed(T.FIRST_BUCKET_BYTES) == 1
    assert T.BucketSizer(1000, 3).bucket_bytes(1) == 1000  # never above the ceiling


def test_a_request_alone_measures_the_link():
    clock = Clock()
    meter = T.Throughput(clock)
    token = meter.start()
    clock.now += 2.0
    meter.finish(token, 400000, 300000)
    assert meter.rate() == 200000 and meter.biggest == 300000


def test_requests_sharing_the_link_count_it_whole():
    clock = Clock()
    meter = T.Throughput(clock)
    first, second = meter.start(), meter.start()
    clock.now += 4.0
    meter.finish(first, 400000, 300000)  # 100 KB/s each while two shared the link: 200 KB/s in all
    assert meter.rate() == 200000
    clock.now += 1.0
    meter.finish(second, 500000, 375000)  # two for 4 s, alone for 1 s: 1.8 sharing on average
    assert meter.samples[-1] == 500000 / 5.0 * 1.8


def test_a_slowdown_counts_at_once():
    clock = Clock()
    meter = T.Throughput(clock)
    for seconds in (1.0, 1.0, 10.0):
        token = meter.start()
        clock.now += seconds
        meter.finish(token, 1000000, 750000)
    assert meter.rate() == 100000


def test_buckets_fit_a_tenth_of_the_time_limit_with_the_requests_sharing_the_link():
    clock = Clock()
    sizer = T.BucketSizer(40 * 1024 * 1024, 3, throughput=T.Throughput(clock))
    token = sizer.throughput.start()
    clock.now += 10.0
    sizer.throughput.finish(token, 2000000, 1500000)  # 200 KB/s
    target = T.REQUEST_TIME_LIMIT * T.TARGET_FRACTION
    # 200 KB/s shared by 3: 66.7 KB/s for 30 s = 2 MB of body = 1.5 MB of files each
    assert sizer.bucket_bytes(3) == int(200000 / 3 * target * 0.75)
    assert sizer.bucket_bytes(1) == int(200000 * target * 0.75)
    # A bucket of 3 MB of files takes 20 s alone: one at a time; 1 MB: 3 at once (the ceiling).
    assert sizer.allowed(3000000) == 1 and sizer.allowed(1000000) == 3


def test_a_bucket_grows_at_most_fourfold_over_the_biggest_measured():
    clock = Clock()
    sizer = T.BucketSizer(40 * 1024 * 1024, 3, throughput=T.Throughput(clock))
    token = sizer.throughput.start()
    clock.now += 0.01
    sizer.throughput.finish(token, 350000, T.FIRST_BUCKET_BYTES)  # a fast link
    assert sizer.bucket_bytes(3) == 4 * T.FIRST_BUCKET_BYTES


def test_a_failed_request_teaches_nothing():
    clock = Clock()
    meter = T.Throughput(clock)
    token = meter.start()
    clock.now += 100.0
    meter.abandon(token)
    assert meter.rate() is None and meter._inflight == 0
