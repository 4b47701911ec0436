"""Warm transfer between agents in the caller's room (`hotline.connect_via: conference`).

li_na talks with the caller and consults wang_wei (by name or by department), from the console or
the API: the caller is held while the two agents talk; li_na completes (wang_wei keeps the
caller), cancels or is declined (the caller is back with her), or hangs up (before wang_wei
answers: the caller goes back to their place; after: wang_wei keeps them). A specialist line is
consulted the same way (tests/test_specialist_consult.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import NOT_READY, ON_CALL, READY, RINGING, WRAP_UP
from ivr.services import services_of
from standin.rest import Switchboard
from tests.rooms import SURVEY_ASK, Talking, consult_leg, consulting, room_events
from tests.test_agent_console import ClientApi, Session
from tests.test_api import Api, token_for
from tests.test_connecting import state_of


@pytest.fixture
def app(rooms_app: Flask) -> Flask:
    """The hotline connecting through rooms, recording nothing."""
    return rooms_app


def test_a_warm_transfer_completed_from_the_console(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """li_na holds the caller, talks with security's wang_wei, hands the caller over and leaves."""
    call, li_na, room = talking
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
    consulted = room.participant("consult")  # wang_wei's leg, labelled in the room
    assert consulted is not None
    rooms.hang_up(consulted.call_sid)  # wang_wei ends the call: the room ends
    assert call.heard_text(mark).endswith(SURVEY_ASK)
    assert state_of(app, "wang_wei") == WRAP_UP
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert (stats["answered"], stats["handled"], stats["transferred_out"]) == ("1", "2", "1")
    call.silence()  # no rating
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "served"
    assert rooms.problems == []


def test_a_first_agent_who_hangs_up_while_consulting_hands_the_caller_over(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """li_na consults wang_wei, then hangs up instead of `complete`: the room goes on, the
    caller comes off hold with wang_wei (not to the survey), li_na is in wrap-up, counted once."""
    call, li_na, room = talking
    leg, _ = consulting(app, switchboard, call, {"agent": "wang_wei"}, picks_up=True)  # the two agents talk
    rooms = switchboard.conferences
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
    assert call.heard_text(mark).endswith(SURVEY_ASK)
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert (stats["answered"], stats["handled"], stats["transferred_out"]) == ("1", "2", "1")
    assert rooms.problems == []


def test_a_first_agent_who_hangs_up_while_the_consulted_phone_rings_puts_the_caller_back(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """li_na consults wang_wei and hangs up before he answers: his ring stops and he is free,
    the caller is told they are transferred and goes back to their place in payments (not to
    the survey), li_na is in wrap-up."""
    call, li_na, room = talking
    place = redis_conn.hget(keys.call(call.call_sid), "queue_score")  # their place when they joined
    assert place
    leg, _ = consulting(app, switchboard, call, {"agent": "wang_wei"}, picks_up=False)
    rooms = switchboard.conferences
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


def test_a_warm_transfer_cancelled_brings_the_caller_back(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, li_na, room = talking
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
    assert hotline.agents.sweep(hotline.clock.now(), hotline.clock.ago(3600)) == ["wang_wei"]
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert "consult_agent" not in record and record["agent"] == "li_na" and record["on_hold"] == ""


def test_a_consulted_agent_who_declines_leaves_the_caller_with_the_first_agent(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, li_na, room = talking
    leg, _ = consulting(app, switchboard, call, {"agent": "wang_wei"}, picks_up=False)
    switchboard.conferences.not_answered(leg, "busy")  # declined
    switchboard.conferences.deliver()
    wang_wei = services_of(app).agents.get("wang_wei")
    assert wang_wei.state == NOT_READY and wang_wei.reason == "busy"
    assert room.hears(call.call_sid, li_na.call_sid)
    assert state_of(app, "li_na") == ON_CALL
    assert "consult_agent" not in redis_conn.hgetall(keys.call(call.call_sid))
    refused = Api(app).call("POST", "/api/agent/call/consult/complete", token_for(app, "agent", "li_na"))
    assert refused.status_code == 409


def test_a_caller_who_hangs_up_during_the_consultation_frees_both_agents(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, _li_na, _room = talking
    consulting(app, switchboard, call, {"department": "security"}, picks_up=True)
    call.hangup()  # the room ends with the caller: the consulted leg with it
    assert state_of(app, "li_na") == WRAP_UP
    assert state_of(app, "wang_wei") == WRAP_UP
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "served"


def test_consulting_an_agent_who_is_not_ready_is_refused(
    app: Flask, talking: Talking, switchboard: Switchboard
) -> None:
    api, token = Api(app), token_for(app, "agent", "li_na")
    refused = api.call("POST", "/api/agent/call/consult", token, json={"agent": "emma_chen"})
    assert refused.status_code == 409 and "not ready" in refused.get_json()["error"]
    unknown = api.call("POST", "/api/agent/call/consult", token, json={"agent": "nobody"})
    assert unknown.status_code == 400


def test_the_consulted_agents_console_says_when_the_caller_becomes_theirs(
    app: Flask, talking: Talking, switchboard: Switchboard
) -> None:
    """wang_wei's console shows li_na consulting him; once she completes, that the caller is his."""
    call, _, _ = talking
    session, api = Session(), ClientApi(app, token_for(app, "agent", "wang_wei"))
    li_na = token_for(app, "agent", "li_na")

    def script() -> Iterator[str]:
        consulting(app, switchboard, call, {"agent": "wang_wei"}, picks_up=True)
        session.ticks[0]()
        assert "CONSULTED: the agent on this call asks you about it" in session.text()
        mark = len(session.out)
        session.ticks[0]()
        assert session.text(mark) == ""  # still consulted: nothing new to say
        assert Api(app).call("POST", "/api/agent/call/consult/complete", li_na).status_code == 200
        session.ticks[0]()
        after = session.text(mark)
        assert "li_na handed the caller to you: you talk with the caller now" in after
        assert "CONSULTED" not in after
        mark = len(session.out)
        session.ticks[0]()
        assert session.text(mark) == ""  # said once
        yield "quit"

    assert session.run(api, script()) == 0
