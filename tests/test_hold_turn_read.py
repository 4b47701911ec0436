"""A hold turn after the first reads the call's record and its queue in one script (`turn_wait`).

Its URL names the queue the last turn found the caller in (`d`); the record decides. Each test
sends a turn whose URL is wrong about the caller (another queue, another day, a call the hotline
never had), as a stale or made-up URL would be, and checks that the turn reads the caller's own
queue from the record, as a first turn does, and that the next turn's URL names it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.clock import FixedClock
from ivr.services import services_of
from ivr.waits.live import turn_wait, wait_for_caller
from standin.phone import Call
from tests.conftest import PUBLIC_BASE_URL
from tests.test_hold_keys import on_hold


def next_turn_url(call: Call) -> str:
    """The URL of the turn the call's last document redirects to."""
    root = call.last_twiml
    assert root is not None and root[-1].tag == "Redirect"
    return root[-1].text or ""


@pytest.fixture
def two_trip_turns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The departments of the turns read the first turn's way (the record, then its queue)."""
    import ivr.voice.waiting as waiting

    real = waiting.wait_for_caller
    seen: list[str] = []

    def recording(live: Any, record: Any, now: Any) -> Any:
        seen.append(record.get("department"))
        return real(live, record, now)

    monkeypatch.setattr(waiting, "wait_for_caller", recording)
    return seen


def test_a_turn_after_the_first_reads_in_one_script(
    dial: Callable[..., Call], two_trip_turns: list[str]
) -> None:
    call = on_hold(dial)
    assert next_turn_url(call).endswith("&d=payments")
    two_trip_turns.clear()
    call.continue_loop(documents=2)
    assert call.on_hold and two_trip_turns == []  # both read by `turn_wait`
    assert next_turn_url(call).endswith("&d=payments")


def test_a_turn_naming_another_queue_reads_the_callers_own(
    dial: Callable[..., Call], redis_conn: redis.Redis, two_trip_turns: list[str]
) -> None:
    call = on_hold(dial)
    turns_before = redis_conn.zscore(keys.hold_turns("payments"), call.call_sid)
    two_trip_turns.clear()
    call.redirect_pending(f"{PUBLIC_BASE_URL}/voice/hold?p=1&t=1&h=1&d=security")
    call.continue_loop()
    assert two_trip_turns == ["payments"]
    assert call.on_hold and next_turn_url(call).endswith("&d=payments")
    assert redis_conn.zscore(keys.hold_turns("security"), call.call_sid) is None  # nothing written there
    assert redis_conn.zscore(keys.hold_turns("payments"), call.call_sid) is not None
    assert turns_before is not None


def test_a_turn_of_a_call_from_another_day_reads_the_calls_own_day(
    dial: Callable[..., Call], redis_conn: redis.Redis, two_trip_turns: list[str]
) -> None:
    """A call that began before midnight counts on its own day's counters: a turn after midnight
    is read against the record's day, not today's (the script is given today's)."""
    call = on_hold(dial)
    redis_conn.hset(keys.call(call.call_sid), "day", "000101")  # began on another day
    two_trip_turns.clear()
    call.continue_loop()
    assert two_trip_turns == ["payments"]
    assert call.on_hold and next_turn_url(call).endswith("&d=payments")


def test_a_turn_of_a_call_without_a_record_makes_it_again_as_any_webhook_does(
    dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    """The record is gone (expired, or lost with Redis): the turn does not go on from its URL's
    queue; it makes the record again, as a call's first webhook does, and the new record (in the
    menu) sends the caller to the start of the call."""
    call = on_hold(dial)
    redis_conn.delete(keys.call(call.call_sid))
    sent = len(call.request_paths())
    call.continue_loop()
    assert redis_conn.hget(keys.call(call.call_sid), "ref")
    turn, then = call.request_paths()[sent : sent + 2]
    assert turn.startswith("/voice/hold?") and turn.endswith("&d=payments")
    assert then == "/voice/incoming"


@pytest.mark.parametrize("priority", ["urgent", "high", "normal"])
def test_the_one_script_reads_the_same_wait_as_the_first_turns_way(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, clock: FixedClock, priority: str
) -> None:
    """The script reads the live state for the lowest class and keeps the caller's: for a caller
    of any class, the same state as the first turn's two round trips read."""
    first = on_hold(dial, "+8613900000001")
    call = on_hold(dial)
    redis_conn.hset(keys.call(call.call_sid), "priority", priority)
    hotline = services_of(app)
    now = clock.now()
    record = hotline.calls.load(call.call_sid)
    assert record is not None and first.on_hold
    found, wait = turn_wait(hotline.live, call.call_sid, "payments", record.day, now)
    assert found is not None and wait is not None and found.fields == record.fields
    assert wait == wait_for_caller(hotline.live, record, now)
    assert wait.position == 2
