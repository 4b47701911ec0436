"""Connecting through a conference room (`hotline.connect_via: conference`), whole calls.

The caller is matched as with a Dial; `/voice/connect` puts them in their call's room with the
hold music, and the hotline places the agent's leg through the REST stand-in. The test plays the
agent's phone (the placed call answered, or its status callback saying it was not) and reads
what the caller, the agent and the supervisor's figures show. The guarantees are those of
tests/test_connecting.py: one agent once, the caller back at their place when the agent does not
answer, the agent freed when the caller gives up during the ring. The agent holds the caller from
the console. Elsewhere: a called-back customer's room (tests/test_room_callbacks.py), warm
transfers (tests/test_room_consult.py, tests/test_specialist_consult.py), the live stand-in's
consoles (tests/test_live_room.py), supervisors and recordings (tests/test_room_supervisors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask

from ivr import create_app, keys
from ivr.callcenter.agents import NOT_READY, ON_CALL, READY, RING_MARGIN_SECONDS, WRAP_UP
from ivr.clock import FixedClock
from ivr.hotline.schema import HotlineSettings
from ivr.services import services_of
from ivr.settings import DEFAULT_HOTLINE_CONFIG
from queue_worker.reaper import reap_once
from standin.phone import Call
from standin.rest import OutboundCall, Switchboard
from tests.conftest import not_reached, waiting_in
from tests.rooms import SURVEY_ASK, WHISPER, agent_legs, answer, in_the_room, room_of
from tests.test_agent_console import ClientApi, Session
from tests.test_api import token_for
from tests.test_connecting import ready, state_of, topup_caller


@pytest.fixture
def app(rooms_app: Flask) -> Flask:
    """The hotline connecting through rooms, recording nothing."""
    return rooms_app


def test_the_caller_waits_in_their_room_and_the_agent_joins_after_the_whisper(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, leg = in_the_room(app, dial, run_jobs)
    assert "正在为您接通客服代表" in call.heard_text()
    assert call.state == "conference"
    assert call.dialed[-1]["kind"] == "conference" and call.dialed[-1]["value"] == f"call-{call.call_sid}"
    # Music while li_na's phone rings: the payments hold music, from the room's waitUrl.
    music = services_of(app).config.file.departments["payments"].hold_music_url
    music = music or services_of(app).config.file.hotline.hold_music_url
    assert call.heard[-1].text == music
    assert (leg.to, leg.timeout) == (
        "client:li_na",
        services_of(app).config.file.hotline.ring_timeout_seconds,
    )
    assert redis_conn.hget(keys.call(call.call_sid), "agent_leg") == leg.sid

    phone = answer(app, switchboard, leg)
    assert WHISPER in " ".join(h.text for h in phone.heard)
    assert phone.state == "conference"
    assert state_of(app, "li_na") == ON_CALL
    room = room_of(switchboard, call)
    assert room.status == "in-progress"
    assert room.hears(call.call_sid, leg.sid) and room.hears(leg.sid, call.call_sid)
    # The room's events keep its sid on the call record.
    assert redis_conn.hget(keys.call(call.call_sid), "room") == room.sid
    mark = call.mark()
    call.continue_loop()
    assert call.heard[mark:] == []  # talking: no more music

    phone.hangup()  # li_na hangs up: the room ends, the caller goes on with the survey
    assert call.heard_text(mark).endswith(SURVEY_ASK)
    call.silence()
    assert call.heard_text().endswith("感谢您的来电，再见。")
    assert call.state == "completed"
    assert state_of(app, "li_na") == WRAP_UP
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert stats["offered"] == "1" and stats["answered"] == "1" and stats["handled"] == "1"
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "served"
    assert redis_conn.hget(keys.call(call.call_sid), "room_event") == "conference-end"
    assert switchboard.conferences.problems == []


@pytest.mark.parametrize("status", ["no-answer", "busy"])
def test_an_agent_who_does_not_answer_sends_the_caller_back_to_their_place(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
    status: str,
) -> None:
    first, leg = in_the_room(app, dial, run_jobs)
    second = topup_caller(dial)
    not_reached(app, leg, status)
    agent = services_of(app).agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == status
    assert waiting_in(redis_conn, "payments") == [first.call_sid, second.call_sid]
    # Out of the room and back in the hold loop (the REST redirect), at the head of the queue.
    first.continue_loop()
    assert first.state != "conference" and first.on_hold
    assert redis_conn.hget(keys.call(first.call_sid), "agent_leg") is None
    ready(app, "li_na", run_jobs)
    first.continue_loop()
    assert first.state == "conference"  # the same caller again, not the one behind
    assert len(agent_legs(switchboard, first)) == 2
    assert waiting_in(redis_conn, "payments") == [second.call_sid]


def test_a_caller_who_hangs_up_while_the_agent_rings_frees_the_agent_and_stops_the_ring(
    app: Flask,
    ringing: tuple[Call, OutboundCall],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, leg = ringing
    call.hangup()
    assert state_of(app, "li_na") == READY
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "abandoned_while_ringing"
    placed = switchboard.outbound_call(leg.sid)
    assert placed is not None and placed.status == "canceled"  # li_na's phone stops ringing
    # Had li_na answered in that instant, her leg hangs up: nothing to talk to.
    phone = answer(app, switchboard, leg)
    assert phone.state == "completed" and phone.heard == []
    assert state_of(app, "li_na") == READY
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert stats["abandoned"] == "1" and "answered" not in stats


def test_a_caller_who_hangs_up_while_talking_sends_the_agent_to_wrap_up_once(
    app: Flask,
    ringing: tuple[Call, OutboundCall],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, leg = ringing
    phone = answer(app, switchboard, leg)
    call.hangup()
    assert state_of(app, "li_na") == WRAP_UP
    assert phone.state == "completed"  # the caller ended the room: li_na's leg hangs up
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert stats["answered"] == "1" and stats["handled"] == "1"
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "served"


def test_an_agent_leg_lost_without_a_word_is_ended_by_the_reaper_and_the_caller_put_back(
    app: Flask,
    ringing: tuple[Call, OutboundCall],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
    clock: FixedClock,
) -> None:
    """No answer and no status callback ever come: after the ringing lease, the reaper cancels
    the leg, takes the caller out of the room to the hold loop, and li_na is not ready."""
    call, leg = ringing
    hotline = services_of(app)
    ring = hotline.config.file.hotline.ring_timeout_seconds + RING_MARGIN_SECONDS
    clock.set(clock.now() + timedelta(seconds=ring + 1))
    reaped = reap_once(hotline, hotline.clock.now())
    assert reaped.callers == {call.call_sid: "back"}
    agent = hotline.agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == "ring_timeout"
    placed = switchboard.outbound_call(leg.sid)
    assert placed is not None and placed.status == "canceled"
    call.continue_loop()  # the reaper's REST redirect
    assert call.state != "conference" and call.on_hold
    assert waiting_in(redis_conn, "payments") == [call.call_sid]


def test_the_demo_hotline_connects_through_rooms_and_records_payments(
    app_settings: dict[str, Any], clock: FixedClock
) -> None:
    """The shipped file (what `make run` serves) uses rooms; a file that says nothing, the Dial."""
    shipped = create_app({**app_settings, "hotline_config": DEFAULT_HOTLINE_CONFIG}, clock=clock)
    assert services_of(shipped).config.file.hotline.connect_via == "conference"
    assert services_of(shipped).config.file.departments["payments"].record
    assert HotlineSettings(overflow_number="+862161234567").connect_via == "dial"


# -- hold ------------------------------------------------------------------------------------------


def test_the_agent_holds_the_caller_from_the_console_and_takes_them_back(
    app: Flask,
    ringing: tuple[Call, OutboundCall],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, leg = ringing
    answer(app, switchboard, leg)
    room = room_of(switchboard, call)
    session = Session()
    music = services_of(app).config.file.departments["payments"].hold_music_url
    music = music or services_of(app).config.file.hotline.hold_music_url

    def script() -> Iterator[str]:
        yield "hold"
        assert "the caller is on hold (they hear music)" in session.text()
        assert not room.hears(leg.sid, call.call_sid) and not room.hears(call.call_sid, leg.sid)
        mark = call.mark()
        call.continue_loop()  # the hold's music, from the hotline's room music document
        assert [item.text for item in call.heard[mark:]] == [music, music]
        assert redis_conn.hget(keys.call(call.call_sid), "on_hold") == "1"  # the room's event
        yield "call"
        assert "ON HOLD: the caller hears music" in session.text()
        yield "unhold"
        assert "the caller is back with you" in session.text()
        call.continue_loop()  # the room tells the hotline
        assert room.hears(leg.sid, call.call_sid) and room.hears(call.call_sid, leg.sid)
        assert redis_conn.hget(keys.call(call.call_sid), "on_hold") == ""
        yield "quit"

    assert session.run(ClientApi(app, token_for(app, "agent", "li_na")), script()) == 0
    assert switchboard.conferences.problems == []
