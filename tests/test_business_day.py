"""The hotline's day is its local day: a call at 07:00 in Shanghai belongs to that day, not UTC's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import redis

from ivr import keys
from ivr.callcenter.calls import NO_DAY, CallRecord
from ivr.clock import FixedClock, business_day
from standin.phone import Call

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_business_day_is_the_day_in_the_hotlines_time_zone() -> None:
    late_utc = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert business_day(late_utc, "Asia/Shanghai") == "261125"
    assert business_day(late_utc, "America/New_York") == "261124"
    assert business_day(late_utc, "UTC") == "261124"


def test_a_call_before_8_in_shanghai_gets_the_local_day_and_reference(
    dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    clock.set(datetime(2026, 11, 25, 7, 0, tzinfo=SHANGHAI))  # 23:00 on the 24th in UTC
    call = dial()
    record = CallRecord(call.call_sid, redis_conn.hgetall(keys.call(call.call_sid)))
    assert record.day == "261125"
    assert record.get("ref").startswith("261125")


def test_a_record_without_its_day_counts_under_one_day_nobody_reports() -> None:
    assert CallRecord("CA" + "0" * 32, {"status": "queued"}).day == NO_DAY
    assert CallRecord("CA" + "0" * 32, {"day": ""}).day == NO_DAY
