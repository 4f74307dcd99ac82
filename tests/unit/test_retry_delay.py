"""The wait before a failed webhook delivery is tried again (``retry_delay``): the first
retry after ``first_retry``, then twice as long each time, never more than an hour. No
jitter: the same failure count always gives the same wait."""

from __future__ import annotations

from datetime import timedelta

import pytest

from widget_server.workers.outbox_pass import MAX_DELAY, retry_delay

FIVE_SECONDS = timedelta(seconds=5)  # webhook_first_retry_ms's default


def test_the_first_retry_waits_the_first_retry_setting() -> None:
    assert retry_delay(FIVE_SECONDS, 1) == FIVE_SECONDS


def test_before_any_failure_the_wait_is_the_first_retry_too() -> None:
    assert retry_delay(FIVE_SECONDS, 0) == FIVE_SECONDS


def test_each_further_retry_waits_twice_as_long() -> None:
    waits = [retry_delay(FIVE_SECONDS, n) for n in range(1, 6)]
    assert waits == [timedelta(seconds=s) for s in (5, 10, 20, 40, 80)]


def test_the_wait_is_capped_at_an_hour() -> None:
    assert MAX_DELAY == timedelta(hours=1)
    assert retry_delay(FIVE_SECONDS, 11) == MAX_DELAY  # 5 s * 2**10 = 85 min
    assert retry_delay(FIVE_SECONDS, 40) == MAX_DELAY


def test_the_default_schedule_of_twelve_attempts() -> None:
    """With the defaults (5 s, 12 attempts) a receiver has about two and a half hours to come back."""
    waits = [retry_delay(FIVE_SECONDS, tried) for tried in range(1, 12)]  # no wait after the 12th
    assert [int(w.total_seconds()) for w in waits] == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert sum(waits, timedelta()) == timedelta(seconds=8715)


def test_a_first_retry_longer_than_the_cap_is_capped_too() -> None:
    assert retry_delay(timedelta(hours=2), 1) == MAX_DELAY


def test_the_wait_is_the_same_every_time() -> None:
    assert {retry_delay(FIVE_SECONDS, 3) for _ in range(20)} == {timedelta(seconds=20)}


@pytest.mark.parametrize("tried", [47, 60, 1000])
def test_many_failed_attempts_still_wait_an_hour(tried: int) -> None:
    """webhook_max_attempts has no upper bound: a high setting must not crash the settle pass."""
    assert retry_delay(FIVE_SECONDS, tried) == MAX_DELAY
