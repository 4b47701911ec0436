"""Who the hotline may call back or text, and how often: the guard against toll fraud."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import redis
from flask import Flask

from ivr.clock import FixedClock
from ivr.hotline.outreach import OutboundLimitSettings
from ivr.outbound.limits import OutboundLimits
from ivr.outbound.numbers import check_outbound_number
from ivr.services import services_of


@pytest.mark.parametrize(
    ("raw", "e164", "reason"),
    [
        ("13800138000", "+8613800138000", None),  # a mobile keyed in without the country code
        ("+86 138 0013 8000", "+8613800138000", None),
        ("021 5000 1234", "+862150001234", None),  # a Shanghai fixed line
        ("+14155550123", "+14155550123", None),  # US numbers are fixed-line-or-mobile
        ("+19005550123", None, "type"),  # US premium rate
        ("4006001234", None, "type"),  # China's 400 shared-cost numbers
        ("+442079460000", None, "country"),  # a valid London number, not an allowed country
        ("+8613800", None, "invalid"),
        ("call me", None, "garbled"),
        ("", None, "garbled"),
    ],
)
def test_only_valid_numbers_of_allowed_types_and_countries_pass(
    app: Flask, raw: str, e164: str | None, reason: str | None
) -> None:
    check = check_outbound_number(services_of(app).config.file, raw)
    assert (check.e164, check.reason) == (e164, reason)
    assert check.ok is (reason is None)


def _limits(conn: redis.Redis, **settings: int) -> OutboundLimits:
    return OutboundLimits(conn, OutboundLimitSettings(**settings), "Asia/Shanghai")


def test_a_number_gets_its_daily_callbacks_and_no_more(redis_conn: redis.Redis, clock: FixedClock) -> None:
    limits = _limits(redis_conn, callbacks_per_number_per_day=2)
    now = clock.now()
    assert limits.allow("callback", "+8613800138000", now) is None
    assert limits.allow("callback", "+8613800138000", now + timedelta(hours=1)) is None
    assert limits.allow("callback", "+8613800138000", now + timedelta(hours=2)) == (
        "callbacks_per_number_per_day"
    )
    assert limits.allow("callback", "+8613900139000", now) is None  # another number is its own
    # The next local day starts afresh (the hotline's midnight, not UTC's).
    tomorrow = now.replace(hour=0, minute=1) + timedelta(days=1)
    assert limits.allow("callback", "+8613800138000", tomorrow) is None
    assert limits.refusals(now.strftime("%y%m%d")) == {"callback:callbacks_per_number_per_day": 1}


def test_the_hotline_wide_rate_and_hourly_cap_hold_for_every_number(
    redis_conn: redis.Redis, clock: FixedClock
) -> None:
    limits = _limits(redis_conn, messages_per_minute=3, messages_per_hour=4)
    now = clock.now().replace(second=0)
    numbers = [f"+861380013800{i}" for i in range(6)]
    assert [limits.allow("message", n, now) for n in numbers[:4]] == [None, None, None, "messages_per_minute"]
    later = now + timedelta(minutes=1)
    assert limits.allow("message", numbers[4], later) is None  # a new minute, the 4th of the hour
    assert limits.allow("message", numbers[5], later) == "messages_per_hour"
    # A refused message does not use up the minute's allowance.
    assert limits.allow("message", numbers[5], now + timedelta(hours=1)) is None
    assert limits.refusals(now.strftime("%y%m%d")) == {
        "message:messages_per_minute": 1,
        "message:messages_per_hour": 1,
    }


def test_racing_workers_cannot_both_take_the_last_call_of_the_hour(
    redis_url: str, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    now = clock.now()
    granted: list[bool] = []
    barrier = threading.Barrier(20)

    def worker() -> None:
        conn = redis.Redis.from_url(redis_url, decode_responses=True)
        limits = _limits(conn, calls_per_hour=7)
        barrier.wait()
        granted.append(limits.allow("call", "+8613800138000", now) is None)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 7


def test_refusals_are_logged_with_the_number_masked(
    redis_conn: redis.Redis, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    limits = _limits(redis_conn, callbacks_per_number_per_day=1)
    limits.allow("callback", "+8613800138000", clock.now())
    limits.allow("callback", "+8613800138000", clock.now())
    assert "callbacks_per_number_per_day" in caplog.text
    assert "13800138000" not in caplog.text and "+86*********00" in caplog.text
