"""Connecting through a conference room (`hotline.connect_via: conference`), whole calls.

The caller is matched as with a Dial; `/voice/connect` puts them in their call's room with the
hold music, and the hotline places the agent's leg through the REST stand-in. The test plays the
agent's phone (the placed call answered, or its status callback saying it was not) and reads
what the caller, the agent and the supervisor's figures show. The guarantees are those of
tests/test_connecting.py: one agent once, the caller back at their place when the agent does not
answer, the agent freed when the caller gives up during the ring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask

from hotline_tools.livephone import _parties as parties_text
from ivr import create_app, keys
from ivr.callcenter.agents import NOT_READY, ON_CALL, READY, RING_MARGIN_SECONDS, RINGING, WRAP_UP
from ivr.callcenter.events import EventLog
from ivr.clock import FixedClock
from ivr.hotline.schema import HotlineSettings
from ivr.services import services_of
from ivr.settings import DEFAULT_HOTLINE_CONFIG
from queue_worker import context
from queue_worker.reaper import reap_once
from standin.control import Control, add_control
from standin.live import LiveCalls
from standin.outbound import Dialler
from standin.phone import Call
from standin.rest import OutboundCall, Switchboard, create_rest_app, serve_in_thread
from standin.transport import FlaskTransport
from standin.webhook import call_params, status_callback_params
from tests import test_callbacks as callbacks
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    hotline_app,
    hotline_variant,
    in_rooms,
    waiting_in,
)
from tests.test_agent_console import ClientApi, Session
from tests.test_api import Api, go_ready, token_for
from tests.test_connecting import ready, state_of, topup_caller
from tests.test_live_calls import Listener, queued_caller

WAIT_ROUTE = "/voice/room/wait"
SURVEY_ASK = "请为本次服务评分，1分表示很不满意，5分表示非常满意。"  # prompts/zh-CN.yaml: survey_ask


@pytest.fixture
def app(
    app_settings: dict[str, Any],
    redis_conn: redis.Redis,
    clock: FixedClock,
    tmp_path: Path,
    switchboard: Switchboard,
) -> Iterator[Flask]:
    """The hotline with `connect_via: conference` (the conftest's `dial` and `run_jobs` use it),
    recording nothing (tests/test_room_supervisors.py has a recorded one)."""
    yield from hotline_app(app_settings, clock, hotline_variant(tmp_path, in_rooms()), switchboard)


def agent_legs(switchboard: Switchboard, caller: Call) -> list[OutboundCall]:
    """The calls the hotline placed to bring an agent into this caller's room."""
    return [
        c
        for c in switchboard.outbound_calls
        if "/voice/room/agent?" in (c.url or "") and f"call={caller.call_sid}&" in (c.url or "")
    ]


def in_the_room(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> tuple[Call, OutboundCall]:
    """A top-up caller matched with li_na: in their room, li_na's phone ringing."""
    call = topup_caller(dial)
    ready(app, "li_na", run_jobs)
    assert state_of(app, "li_na") == RINGING
    call.continue_loop()  # the matcher's REST redirect: into the room
    return call, agent_legs_of(app, call)


def agent_legs_of(app: Flask, call: Call) -> OutboundCall:
    switchboard: Switchboard = app.extensions["test_switchboard"]
    [leg] = agent_legs(switchboard, call)
    return leg


def answer(app: Flask, switchboard: Switchboard, leg: OutboundCall) -> Call:
    """The agent's phone picks up the leg the hotline placed: the whisper, then the room."""
    phone = Call(
        FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN),
        from_=leg.from_,
        to=leg.to,
        account_sid=ACCOUNT_SID,
        call_sid=leg.sid,
        voice_url=leg.url or "",
        status_callback=leg.status_callback,
        extra_params={"Direction": "outbound-api"},
    )
    switchboard.register(phone)
    phone.start()
    return phone


def not_reached(app: Flask, leg: OutboundCall, status: str) -> None:
    """The agent's leg ends unanswered: Twilio's status callback says how."""
    params = call_params(
        account_sid=ACCOUNT_SID, call_sid=leg.sid, call_status=status, from_=leg.from_, to=leg.to
    )
    params.update(status_callback_params(status, 0), Direction="outbound-api")
    reply = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN).request(
        "POST", leg.status_callback or "", params
    )
    assert reply.status == 200


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
    assert "支付与充值来电：充值失败。账户尾号0017，身份已验证。" in " ".join(h.text for h in phone.heard)
    assert phone.state == "conference"
    assert state_of(app, "li_na") == ON_CALL
    room = switchboard.conferences.find(f"call-{call.call_sid}")
    assert room is not None and room.status == "in-progress"
    assert room.hears(call.call_sid, leg.sid) and room.hears(leg.sid, call.call_sid)
    # The room's events keep its sid on the call record.
    assert redis_conn.hget(keys.call(call.call_sid), "room") == room.sid
    mark = call.mark()
    call.continue_loop()
    assert call.heard[mark:] == []  # talking: no more music

    phone.hangup()  # li_na hangs up: the room ends, the caller goes on with the survey
    assert call.heard_text(mark).endswith("请为本次服务评分，1分表示很不满意，5分表示非常满意。")
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
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, leg = in_the_room(app, dial, run_jobs)
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
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, leg = in_the_room(app, dial, run_jobs)
    phone = answer(app, switchboard, leg)
    call.hangup()
    assert state_of(app, "li_na") == WRAP_UP
    assert phone.state == "completed"  # the caller ended the room: li_na's leg hangs up
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert stats["answered"] == "1" and stats["handled"] == "1"
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "served"


def test_the_demo_hotline_connects_through_rooms_and_records_payments(
    app_settings: dict[str, Any], clock: FixedClock
) -> None:
    """The shipped file (what `make run` serves) uses rooms; a file that says nothing, the Dial."""
    shipped = create_app({**app_settings, "hotline_config": DEFAULT_HOTLINE_CONFIG}, clock=clock)
    assert services_of(shipped).config.file.hotline.connect_via == "conference"
    assert services_of(shipped).config.file.departments["payments"].record
    assert HotlineSettings(overflow_number="+862161234567").connect_via == "dial"


# -- a called-back customer ------------------------------------------------------------------------


@pytest.fixture
def cb_room_app(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    """Callbacks offered to every waiting caller, and connections through rooms."""
    path = callbacks.hotline_file(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "conference"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    application = callbacks.make_app({**app_settings, "hotline_config": path}, clock)
    yield application
    context.install(None)


def test_a_called_back_customer_meets_the_agent_in_their_room(
    cb_room_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = cb_room_app
    asker = callbacks.on_hold(app, switchboard)
    callbacks.ask_callback(asker)
    callbacks.ready(app, "li_na")
    (placed,) = callbacks.calls_to(switchboard, asker)
    back = callbacks.customer(app, switchboard, placed)
    back.press("1")
    assert back.state == "conference" and back.dialed[-1]["value"] == f"call-{asker.call_sid}"
    [leg] = agent_legs(switchboard, asker)
    phone = answer(app, switchboard, leg)
    assert "支付与充值来电：充值失败。账户尾号0017，身份已验证。" in " ".join(h.text for h in phone.heard)
    room = switchboard.conferences.find(f"call-{asker.call_sid}")
    assert room is not None and room.hears(back.call_sid, leg.sid) and room.hears(leg.sid, back.call_sid)
    hotline = services_of(app)
    assert hotline.agents.get("li_na").state == ON_CALL
    phone.hangup()
    assert back.heard_text().endswith(SURVEY_ASK)  # the customer rates the call
    back.silence()
    assert back.heard_text().endswith("感谢您的来电，再见。") and back.state == "completed"
    assert hotline.agents.get("li_na").state == WRAP_UP
    counters = callbacks.stats(redis_conn, asker)
    assert counters["callbacks_connected"] == "1" and counters["answered"] == "1"
    assert redis_conn.hget(keys.call(asker.call_sid), "status") == "served"


def test_an_agent_who_misses_a_called_back_customer_in_the_room_means_a_new_call_soon(
    cb_room_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = cb_room_app
    asker = callbacks.on_hold(app, switchboard)
    callbacks.ask_callback(asker)
    callbacks.ready(app, "li_na")
    (placed,) = callbacks.calls_to(switchboard, asker)
    back = callbacks.customer(app, switchboard, placed)
    back.press("1")
    [leg] = agent_legs(switchboard, asker)
    not_reached(app, leg, "no-answer")
    back.continue_loop()  # the REST redirect out of the room
    assert "客服代表暂时无法接听" in back.heard_text() and back.state == "completed"
    agent = services_of(app).agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == "no-answer"
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["cb_status"]) == ("callback", "waiting")


def test_an_agent_leg_into_a_customers_room_whose_end_was_never_reported_is_settled_by_the_reaper(
    cb_room_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """The agent's leg rang out, and its status callback met a Redis outage: Twilio knows it is
    over, the hotline does not. The reaper asks Twilio about that leg (not only the customer's),
    counts the agent not reached, and the customer hears so: they are called again soon."""
    app = cb_room_app
    asker = callbacks.on_hold(app, switchboard)
    callbacks.ask_callback(asker)
    callbacks.ready(app, "li_na")
    (placed,) = callbacks.calls_to(switchboard, asker)
    back = callbacks.customer(app, switchboard, placed)
    back.press("1")
    assert back.state == "conference"
    [leg] = agent_legs(switchboard, asker)
    leg.status = "no-answer"  # as Twilio has it; the report never reached the hotline
    hotline = services_of(app)
    clock.set(clock.now() + timedelta(seconds=hotline.callbacks.check_seconds() + 1))  # the lease ran out
    reaped = reap_once(hotline, hotline.clock.now())
    assert reaped.agents == {"li_na": "callback agent no-answer"}
    agent = hotline.agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == "no-answer"
    back.continue_loop()  # the reaper's REST redirect out of the room
    assert "客服代表暂时无法接听" in back.heard_text() and back.state == "completed"
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["cb_status"]) == ("callback", "waiting")


def test_an_agent_leg_lost_without_a_word_is_ended_by_the_reaper_and_the_caller_put_back(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
    clock: FixedClock,
) -> None:
    """No answer and no status callback ever come: after the ringing lease, the reaper cancels
    the leg, takes the caller out of the room to the hold loop, and li_na is not ready."""
    call, leg = in_the_room(app, dial, run_jobs)
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


# -- hold --------------------------------------------------------------------------------------------


def test_the_agent_holds_the_caller_from_the_console_and_takes_them_back(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, leg = in_the_room(app, dial, run_jobs)
    answer(app, switchboard, leg)
    room = switchboard.conferences.find(f"call-{call.call_sid}")
    assert room is not None
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


# -- warm transfer -----------------------------------------------------------------------------------


def talking_with_li_na(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], switchboard: Switchboard
) -> tuple[Call, Call, Any]:
    """A caller talking with li_na in their room, wang_wei ready (security, Mandarin)."""
    call, leg = in_the_room(app, dial, run_jobs)
    phone = answer(app, switchboard, leg)
    hotline = services_of(app)
    hotline.agents.choose("wang_wei", READY, hotline.clock.now())
    room = switchboard.conferences.find(f"call-{call.call_sid}")
    assert room is not None
    return call, phone, room


def consult_leg(redis_conn: redis.Redis, call: Call) -> str:
    return str(redis_conn.hget(keys.call(call.call_sid), "consult_leg"))


def test_a_warm_transfer_completed_from_the_console(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """li_na holds the caller, talks with security's wang_wei, hands the caller over and leaves."""
    call, li_na, room = talking_with_li_na(app, dial, run_jobs, switchboard)
    session = Session()
    rooms = switchboard.conferences

    def script() -> Iterator[str]:
        yield "consult-dept security"
        assert "the caller is on hold, wang_wei's phone rings" in session.text()
        assert state_of(app, "wang_wei") == RINGING
        leg = consult_leg(redis_conn, call)
        rooms.deliver()  # the caller's hold reaches the app (the room's event)
        rooms.answered(leg)  # wang_wei picks up
        assert state_of(app, "wang_wei") == ON_CALL
        assert room.hears(li_na.call_sid, leg) and room.hears(leg, li_na.call_sid)
        assert not room.hears(call.call_sid, leg) and not room.hears(call.call_sid, li_na.call_sid)
        yield "call"
        assert "CONSULTING wang_wei (talking)" in session.text() and "ON HOLD" in session.text()
        yield "complete"
        assert "handed to wang_wei: file the wrap-up" in session.text()
        rooms.deliver()
        assert room.hears(call.call_sid, leg) and room.hears(leg, call.call_sid)
        assert li_na.state == "completed"  # li_na's leg left the room
        assert state_of(app, "li_na") == WRAP_UP and state_of(app, "wang_wei") == ON_CALL
        yield "quit"

    assert session.run(ClientApi(app, token_for(app, "agent", "li_na")), script()) == 0
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert (record["agent"], record["transfers"], record["on_hold"]) == ("wang_wei", "1", "")
    mark = call.mark()
    rooms.hang_up(consult_leg_of(switchboard, call))  # wang_wei ends the call: the room ends
    assert call.heard_text(mark).endswith("请为本次服务评分，1分表示很不满意，5分表示非常满意。")
    assert state_of(app, "wang_wei") == WRAP_UP
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert (stats["answered"], stats["handled"], stats["transferred_out"]) == ("1", "2", "1")
    call.silence()  # no rating
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "served"
    assert rooms.problems == []


def test_a_first_agent_who_hangs_up_while_consulting_hands_the_caller_over(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """li_na consults wang_wei, then hangs up instead of `complete`: the room goes on, the
    caller comes off hold with wang_wei (not to the survey), li_na is in wrap-up, counted once."""
    call, li_na, room = talking_with_li_na(app, dial, run_jobs, switchboard)
    api, token = Api(app), token_for(app, "agent", "li_na")
    assert api.call("POST", "/api/agent/call/consult", token, json={"agent": "wang_wei"}).status_code == 200
    rooms = switchboard.conferences
    leg = consult_leg(redis_conn, call)
    rooms.deliver()
    rooms.answered(leg)  # wang_wei picks up: the two agents talk
    mark = call.mark()
    li_na.hangup()  # li_na hangs up without completing
    rooms.deliver()
    assert room.status == "in-progress" and call.heard_text(mark) == ""  # no survey, no goodbye
    assert room.hears(call.call_sid, leg) and room.hears(leg, call.call_sid)  # off hold, with wang_wei
    assert state_of(app, "li_na") == WRAP_UP and state_of(app, "wang_wei") == ON_CALL
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert (record["agent"], record["transfers"], record["on_hold"]) == ("wang_wei", "1", "")
    logged = room_events(redis_conn, call.call_sid, "hold", "unhold", "consult", "handover", "consult_end")
    assert [(e["e"], e["agent"], e.get("to", e.get("by", ""))) for e in logged] == [
        ("hold", "li_na", "li_na"),  # the consultation holds the caller
        ("consult", "li_na", "wang_wei"),
        ("handover", "wang_wei", "li_na"),
        ("unhold", "wang_wei", "wang_wei"),
    ]
    assert logged[2]["how"] == "hung_up"
    rooms.hang_up(leg)  # wang_wei ends the call: now the room ends, and the caller is asked
    assert call.heard_text(mark).endswith("请为本次服务评分，1分表示很不满意，5分表示非常满意。")
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert (stats["answered"], stats["handled"], stats["transferred_out"]) == ("1", "2", "1")
    assert rooms.problems == []


def test_a_first_agent_who_hangs_up_while_the_consulted_phone_rings_puts_the_caller_back(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """li_na consults wang_wei and hangs up before he answers: his ring stops and he is free,
    the caller is told they are transferred and goes back to their place in payments (not to
    the survey), li_na is in wrap-up."""
    call, li_na, room = talking_with_li_na(app, dial, run_jobs, switchboard)
    place = redis_conn.hget(keys.call(call.call_sid), "queue_score")  # their place when they joined
    assert place
    api, token = Api(app), token_for(app, "agent", "li_na")
    assert api.call("POST", "/api/agent/call/consult", token, json={"agent": "wang_wei"}).status_code == 200
    rooms = switchboard.conferences
    leg = consult_leg(redis_conn, call)
    rooms.deliver()
    assert state_of(app, "wang_wei") == RINGING
    mark = call.mark()
    li_na.hangup()  # li_na hangs up while wang_wei's phone rings
    rooms.deliver()
    assert state_of(app, "li_na") == WRAP_UP and state_of(app, "wang_wei") == READY
    assert room.participant(leg) is None or not room.participant(leg).in_room  # the ring stopped
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert (record["status"], record["department"], record["transferred_by"]) == (
        "queued",
        "payments",
        "li_na",
    )
    assert "consult_agent" not in record
    call.continue_loop()  # the REST redirect: out of the room
    heard = call.heard_text(mark)
    assert "正在为您转接支付与充值" in heard and "请为本次服务评分" not in heard
    assert redis_conn.zscore(keys.queue("payments", "zh-CN"), call.call_sid) == float(place)  # their place
    logged = room_events(redis_conn, call.call_sid, "consult", "consult_end")
    assert [(e["e"], e["to"]) for e in logged] == [("consult", "wang_wei"), ("consult_end", "wang_wei")]


def room_events(conn: redis.Redis, sid: str, *names: str) -> list[dict[str, str]]:
    """The event log's entries of these kinds about this call, oldest first."""
    return [e.fields for e in EventLog(conn).after("0-0") if e.name in names and e.fields["sid"] == sid]


def consult_leg_of(switchboard: Switchboard, call: Call) -> str:
    """The consulted agent's leg: the room's participant labelled `consult`."""
    room = switchboard.conferences.find(f"call-{call.call_sid}")
    assert room is not None
    found = room.participant("consult")
    assert found is not None
    return found.call_sid


def test_a_warm_transfer_cancelled_brings_the_caller_back(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, li_na, room = talking_with_li_na(app, dial, run_jobs, switchboard)
    api, token = Api(app), token_for(app, "agent", "li_na")
    started = api.call("POST", "/api/agent/call/consult", token, json={"agent": "wang_wei"})
    assert started.status_code == 200 and started.get_json()["state"] == "ringing"
    again = api.call("POST", "/api/agent/call/consult", token, json={"agent": "emma_chen"})
    assert again.status_code == 409 and "already consulting wang_wei" in again.get_json()["error"]
    leg = consult_leg(redis_conn, call)
    switchboard.conferences.answered(leg)
    cancelled = api.call("POST", "/api/agent/call/consult/cancel", token)
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "canceled"
    switchboard.conferences.deliver()
    assert room.participant("consult") is None
    assert room.hears(call.call_sid, li_na.call_sid) and room.hears(li_na.call_sid, call.call_sid)
    assert state_of(app, "li_na") == ON_CALL
    assert state_of(app, "wang_wei") == WRAP_UP  # a consultation needs no write-up: ready at the sweep
    hotline = services_of(app)
    assert hotline.agents.sweep(hotline.clock.now(), 3600) == ["wang_wei"]
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert "consult_agent" not in record and record["agent"] == "li_na" and record["on_hold"] == ""


def test_a_consulted_agent_who_declines_leaves_the_caller_with_the_first_agent(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, li_na, room = talking_with_li_na(app, dial, run_jobs, switchboard)
    api, token = Api(app), token_for(app, "agent", "li_na")
    assert api.call("POST", "/api/agent/call/consult", token, json={"agent": "wang_wei"}).status_code == 200
    switchboard.conferences.not_answered(consult_leg(redis_conn, call), "busy")  # declined
    switchboard.conferences.deliver()
    wang_wei = services_of(app).agents.get("wang_wei")
    assert wang_wei.state == NOT_READY and wang_wei.reason == "busy"
    assert room.hears(call.call_sid, li_na.call_sid)
    assert state_of(app, "li_na") == ON_CALL
    assert "consult_agent" not in redis_conn.hgetall(keys.call(call.call_sid))
    refused = api.call("POST", "/api/agent/call/consult/complete", token)
    assert refused.status_code == 409


def test_a_caller_who_hangs_up_during_the_consultation_frees_both_agents(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, _li_na, _room = talking_with_li_na(app, dial, run_jobs, switchboard)
    api, token = Api(app), token_for(app, "agent", "li_na")
    assert (
        api.call("POST", "/api/agent/call/consult", token, json={"department": "security"}).status_code == 200
    )
    switchboard.conferences.answered(consult_leg(redis_conn, call))
    call.hangup()  # the room ends with the caller: the consulted leg with it
    assert state_of(app, "li_na") == WRAP_UP
    assert state_of(app, "wang_wei") == WRAP_UP
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "served"


def test_consulting_an_agent_who_is_not_ready_is_refused(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], switchboard: Switchboard
) -> None:
    talking_with_li_na(app, dial, run_jobs, switchboard)
    api, token = Api(app), token_for(app, "agent", "li_na")
    refused = api.call("POST", "/api/agent/call/consult", token, json={"agent": "emma_chen"})
    assert refused.status_code == 409 and "not ready" in refused.get_json()["error"]
    unknown = api.call("POST", "/api/agent/call/consult", token, json={"agent": "nobody"})
    assert unknown.status_code == 400


# -- the live stand-in: the console is the agent's phone --------------------------------------------


def test_live_the_console_answers_its_leg_hears_the_whisper_holds_and_hangs_up(
    app: Flask, switchboard: Switchboard, run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """Through the live stand-in, as `make run` serves it: the caller waits in their room, the
    console rings, shows the whisper, talks, holds the caller, and hangs up; the caller hears
    the survey."""
    calls = LiveCalls(
        switchboard, lambda: FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN), ACCOUNT_SID
    )
    switchboard.dialer = Dialler(calls)
    server = create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN)
    add_control(server, calls)
    url, stop = serve_in_thread(server)
    try:
        control = Control(url, ACCOUNT_SID, AUTH_TOKEN)
        control.register("li_na")
        console = Listener(lambda after, wait: control.client_events("li_na", after, wait))
        sid, phone = queued_caller(control)
        api, token = Api(app), token_for(app, "agent", "li_na")
        go_ready(api, token, run_jobs)
        phone.until(lambda e: e["kind"] == "dialling" and e["target"] == "conference", "the room")
        ring = console.kind("ring")
        control.client_act("li_na", "answer")
        assert "账户尾号0017，身份已验证" in console.kind("whisper")["text"]
        console.kind("connected")
        wait_until(
            lambda: api.get("/api/agent/me", token).get_json()["state"] == "on_call", "li_na on the call"
        )
        room = switchboard.conferences.find(f"call-{sid}")
        assert room is not None
        wait_until(lambda: room.hears(sid, ring["call"]), "the two talking")
        assert phone.kind("answered")["by"] == "li_na"  # the caller's phone: `[answered: agent li_na]`
        held = api.call("POST", "/api/agent/call/hold", token, json={"hold": True})
        assert held.status_code == 200
        wait_until(lambda: redis_conn.hget(keys.call(sid), "on_hold") == "1", "the room's hold event")
        assert not room.hears(sid, ring["call"])
        assert api.call("POST", "/api/agent/call/hold", token, json={"hold": False}).status_code == 200
        wait_until(lambda: room.hears(sid, ring["call"]), "the caller back")
        # A supervisor's softphone (client:zhao_min) listens, then barges in.
        control.register("zhao_min")
        boss_phone = Listener(lambda after, wait: control.client_events("zhao_min", after, wait))
        ref = redis_conn.hget(keys.call(sid), "ref")
        boss = token_for(app, "supervisor", "zhao_min")
        body = {"mode": "listen", "reach": "client:zhao_min"}
        assert api.call("POST", f"/api/supervisor/calls/{ref}/monitor", boss, json=body).status_code == 200
        sv = boss_phone.kind("ring")["call"]
        control.client_act("zhao_min", "answer")
        wait_until(lambda: room.hears(sv, sid) and room.hears(sv, ring["call"]), "the supervisor listening")
        assert not room.hears(sid, sv) and not room.hears(ring["call"], sv)
        shown = phone.until(
            lambda e: e["kind"] == "room" and supervisor_shown(e, False), "the listener shown"
        )
        assert "supervisor zhao_min (listening, you do not hear them)" in parties_text(shown["parties"])
        assert "agent li_na;" in parties_text(shown["parties"]) + ";"  # talking with the caller
        barge = api.call("POST", f"/api/supervisor/calls/{ref}/monitor", boss, json={"mode": "barge"})
        assert barge.status_code == 200
        assert room.hears(sid, sv) and room.hears(ring["call"], sv)
        phone.until(lambda e: e["kind"] == "room" and supervisor_shown(e, True), "the supervisor heard")
        control.client_act("zhao_min", "hangup")
        wait_until(lambda: not redis_conn.hget(keys.call(sid), "supervisor"), "the supervisor gone")
        assert room.hears(sid, ring["call"])
        control.client_act("li_na", "hangup")
        phone.said("请为本次服务评分")
        console.kind("call-ended")
        wait_until(
            lambda: api.get("/api/agent/me", token).get_json()["state"] == "wrap_up", "li_na in wrap-up"
        )
        control.act(sid, "hangup")
        phone.kind("ended")
        assert switchboard.conferences.problems == []
    finally:
        stop()
        switchboard.dialer = None  # the switchboard outlives this test
        switchboard.conferences.on_pending = None


def supervisor_shown(event: dict[str, Any], heard: bool) -> bool:
    """The caller's phone shows zhao_min in the room, hearing the caller, heard or not."""
    return any(
        (p["role"], p["who"], p["hears_you"], p["you_hear"]) == ("supervisor", "zhao_min", True, heard)
        for p in event["parties"]
    )


def wait_until(test: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    """Wait for something the live stand-in does on its own threads (a bound, not a timing)."""
    deadline = time.monotonic() + seconds
    while not test():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s")
        time.sleep(0.02)


def test_live_a_warm_transfer_between_two_consoles(
    app: Flask, switchboard: Switchboard, run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """Through the live stand-in: li_na's console consults wang_wei's, completes, and leaves;
    wang_wei talks with the caller and hangs up; the caller hears the survey."""
    calls = LiveCalls(
        switchboard, lambda: FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN), ACCOUNT_SID
    )
    switchboard.dialer = Dialler(calls)
    server = create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN)
    add_control(server, calls)
    url, stop = serve_in_thread(server)
    try:
        control = Control(url, ACCOUNT_SID, AUTH_TOKEN)
        control.register("li_na")
        control.register("wang_wei")
        first = Listener(lambda after, wait: control.client_events("li_na", after, wait))
        second = Listener(lambda after, wait: control.client_events("wang_wei", after, wait))
        sid, phone = queued_caller(control)
        api, li_na, wang_wei = Api(app), token_for(app, "agent", "li_na"), token_for(app, "agent", "wang_wei")
        go_ready(api, li_na, run_jobs)
        first_leg = first.kind("ring")["call"]
        control.client_act("li_na", "answer")
        first.kind("connected")
        wait_until(lambda: api.get("/api/agent/me", li_na).get_json()["state"] == "on_call", "li_na talking")
        assert api.put("/api/agent/state", wang_wei, {"state": "ready"}).status_code == 200
        room = switchboard.conferences.find(f"call-{sid}")
        assert room is not None
        wait_until(lambda: room.hears(sid, first_leg), "the caller and li_na talking")

        consult = api.call("POST", "/api/agent/call/consult", li_na, json={"agent": "wang_wei"})
        assert consult.status_code == 200, consult.get_json()
        second_leg = second.kind("ring")["call"]
        control.client_act("wang_wei", "answer")
        wait_until(lambda: redis_conn.hget(keys.call(sid), "consult_state") == "talking", "the consultation")
        wait_until(
            lambda: room.hears(first_leg, second_leg) and not room.hears(sid, second_leg), "the agents alone"
        )
        done = api.call("POST", "/api/agent/call/consult/complete", li_na)
        assert done.status_code == 200 and done.get_json()["state"] == "completed"
        first.kind("call-ended")  # li_na's leg left the room
        wait_until(
            lambda: room.hears(sid, second_leg) and room.hears(second_leg, sid), "the caller with wang_wei"
        )
        assert api.get("/api/agent/me", li_na).get_json()["state"] == "wrap_up"
        phone.until(  # the caller's phone shows whom they talk with now
            lambda e: e["kind"] == "room" and parties_text(e["parties"]) == "agent wang_wei", "wang_wei shown"
        )
        control.client_act("wang_wei", "hangup")
        phone.said("请为本次服务评分")
        wait_until(
            lambda: api.get("/api/agent/me", wang_wei).get_json()["state"] == "wrap_up", "wang_wei done"
        )
        control.act(sid, "hangup")
        phone.kind("ended")
        assert redis_conn.hget(keys.call(sid), "outcome") == "served"
        assert switchboard.conferences.problems == []
    finally:
        stop()
        switchboard.dialer = None
        switchboard.conferences.on_pending = None
