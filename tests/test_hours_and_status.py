"""Business hours as callers meet them, and what the status callback records when they hang up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import redis

from ivr import keys
from ivr.clock import FixedClock
from standin.phone import Call
from tests.conftest import DEMO_ACCOUNT, SHANGHAI, waiting_in

ENGLISH = "2"
TUESDAY_NIGHT = datetime(2026, 11, 24, 23, 0, tzinfo=SHANGHAI)
SATURDAY_MORNING = datetime(2026, 11, 28, 11, 0, tzinfo=SHANGHAI)
NATIONAL_DAY = datetime(2026, 10, 1, 11, 0, tzinfo=SHANGHAI)


def to_issue_menu(dial: Callable[..., Call]) -> Call:
    """A verified English caller at the issue menu."""
    call = dial()
    call.press(ENGLISH)
    call.press(DEMO_ACCOUNT)
    call.press("1")
    return call


def stats(conn: redis.Redis, call: Call) -> dict[str, str]:
    """The day's counters the call contributed to."""
    day = conn.hget(keys.call(call.call_sid), "day")
    return conn.hgetall(keys.daily_stats(day))


def test_closed_departments_are_announced_at_night(dial: Callable[..., Call], clock: FixedClock) -> None:
    """At 23:00 on a weekday only security is open, and the greeting says so."""
    clock.set(TUESDAY_NIGHT)
    call = dial()
    call.press(ENGLISH)
    heard = call.heard_text()
    assert (
        "Please note: general enquiries, payments and top-ups, account services, "
        "international service are closed at this time." in heard
    )
    assert "account security" not in heard.split("Please note:")[1].split("Please enter")[0]


def test_nothing_closed_in_the_morning(dial: Callable[..., Call]) -> None:
    """During opening hours the greeting has no closure notice."""
    call = dial()
    call.press(ENGLISH)
    assert "closed" not in call.heard_text()


def test_closed_department_tells_hours_and_ends_politely(
    dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """A refund at night: payments and general are closed; the caller hears when to call."""
    clock.set(TUESDAY_NIGHT)
    call = to_issue_menu(dial)
    call.press("3")
    heard = call.heard_text()
    assert (
        "Sorry, payments and top-ups is closed now. Opening hours: Monday to Friday 09:00 to 21:00, "
        "Saturday to Sunday 10:00 to 18:00." in heard
    )
    assert heard.endswith("To leave a voicemail, press 2.")
    for _ in range(3):  # no choice: asked again, then goodbye
        call.silence()
    assert call.heard_text().endswith("Thank you for calling. Goodbye.")
    assert call.state == "completed"
    assert waiting_in(redis_conn, "payments") == []


def test_security_is_open_around_the_clock(
    dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """On a public holiday, security still takes calls."""
    clock.set(NATIONAL_DAY)
    call = to_issue_menu(dial)
    call.press("4")
    call.press("2")
    call.silence()
    assert "Connecting you to account security" in call.heard_text()
    assert waiting_in(redis_conn, "security")[:1] == [call.call_sid]


def test_closed_department_passes_callers_on(
    dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """Saturday: account services (weekdays only) hands login problems to general enquiries."""
    clock.set(SATURDAY_MORNING)
    call = to_issue_menu(dial)
    call.press("5")  # login: self-service tips first
    call.press("1")
    call.silence()
    assert "Connecting you to general enquiries" in call.heard_text()
    assert redis_conn.hget(keys.call(call.call_sid), "department") == "general"


def test_hangup_in_menu_is_abandoned_at_that_step(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """The status callback closes the record and counts the abandon at the menu step."""
    call = to_issue_menu(dial)
    call.hangup()
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["outcome"] == "abandoned_in_menu" and record["final_status"] == "completed"
    counters = stats(redis_conn, call)
    assert counters["offered"] == "1"
    assert counters["abandoned_menu"] == "1"
    assert counters["abandoned_at:issue_menu"] == "1"


def test_hangup_on_hold_leaves_the_queue_once(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """A caller who hangs up on hold is removed at once; a repeated callback changes nothing."""
    call = to_issue_menu(dial)
    call.press("6")
    call.silence()
    assert waiting_in(redis_conn, "payments")[:1] == [call.call_sid]
    call.hangup()
    assert waiting_in(redis_conn, "payments") == []
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["outcome"] == "abandoned_in_queue"
    # Twilio may deliver the status callback again: the counters must not move.
    transport = call.transport
    params = {**call.requests[-1][1]}
    transport.request("POST", "/voice/status", params)
    counters = stats(redis_conn, call)
    assert counters["abandoned_queue"] == "1"
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    department = redis_conn.hgetall(keys.department_stats("payments", day))
    assert department["offered"] == "1" and department["abandoned"] == "1"
