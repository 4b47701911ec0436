"""A called-back customer transferred by their agent, like any other caller: whole calls.

The customer is on the hotline's own outbound call (the callback's leg). Cold: they keep their
place and the notes, hear they are transferred, wait with the target department's music and are
connected to its next agent, through a room (`connect_via: conference`) or a Dial (`dial`).
Warm: in a room, the consulted agent takes them over. And the failure paths: the customer hangs
up while being moved, while waiting, while the next agent's phone rings; the next agent does
not answer. Every request is signed as Twilio signs it; Twilio's REST API is the stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import NOT_READY, ON_CALL, READY, RING_MARGIN_SECONDS, RINGING, WRAP_UP
from ivr.clock import FixedClock
from ivr.services import services_of
from queue_worker import context
from queue_worker.reaper import reap_once
from standin.phone import Call
from standin.rest import OutboundCall, Switchboard
from tests import test_callbacks as callbacks
from tests.conftest import not_reached, waiting_in
from tests.rooms import answer
from tests.test_api import Api, token_for

NOTE = "客户充值失败，已核实身份，请账户安全跟进"
SAID_TRANSFER = "请稍候，正在为您转接账户安全。"
SURVEY_ASK = "请为本次服务评分，1分表示很不满意，5分表示非常满意。"  # prompts/zh-CN.yaml: survey_ask


def _app(app_settings: dict[str, Any], tmp_path: Path, clock: FixedClock, connect_via: str) -> Flask:
    path = callbacks.hotline_file(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = connect_via
    for department in data["departments"].values():
        department["record"] = False
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return callbacks.make_app({**app_settings, "hotline_config": path}, clock)


@pytest.fixture(params=["conference", "dial"])
def cb_any_app(
    request: pytest.FixtureRequest,
    app_settings: dict[str, Any],
    redis_conn: redis.Redis,
    clock: FixedClock,
    tmp_path: Path,
) -> Iterator[Flask]:
    """Callbacks offered to every waiting caller; connections through rooms, or by a Dial."""
    yield _app(app_settings, tmp_path, clock, request.param)
    context.install(None)


@pytest.fixture
def cb_room_app(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    yield _app(app_settings, tmp_path, clock, "conference")
    context.install(None)


def in_room(app: Flask) -> bool:
    return services_of(app).config.file.hotline.connect_via == "conference"


def legs_for(switchboard: Switchboard, asker: Call, agent: str) -> list[OutboundCall]:
    """The hotline's calls to an agent's phone for this callback's room."""
    return [
        c
        for c in switchboard.outbound_calls
        if "/voice/room/agent?" in (c.url or "")
        and f"call={asker.call_sid}&" in (c.url or "")
        and f"agent={agent}" in (c.url or "")
    ]


def talking_with_li_na(app: Flask, switchboard: Switchboard) -> tuple[Call, Call, Any]:
    """A customer called back and talking with li_na (payments); returns (asker, customer, li_na's phone)."""
    asker, back = callbacks.called_back(app, switchboard)
    phone: Any = None
    if in_room(app):
        [leg] = legs_for(switchboard, asker, "li_na")
        phone = answer(app, switchboard, leg)
    else:
        assert back.state == "dialing"
        back.answer()  # li_na picks up: the whisper, then the bridge
    assert services_of(app).agents.get("li_na").state == ON_CALL
    return asker, back, phone


def transfer_to_security(app: Flask, api: Api) -> dict[str, Any]:
    resp = api.post("/api/agent/call/transfer", token_for(app, "agent", "li_na"), {
        "department": "security", "notes": NOTE,
    })  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    body: dict[str, Any] = resp.get_json()
    return body


def moved_to_security(app: Flask, switchboard: Switchboard) -> tuple[Call, Call]:
    """A called-back customer li_na transferred to security: their leg redirected there, waiting."""
    asker, back, _ = talking_with_li_na(app, switchboard)
    transfer_to_security(app, Api(app))
    back.take_pending()  # Twilio runs the REST redirect on the customer's leg
    return asker, back


def wang_wei_answers(app: Flask, switchboard: Switchboard, asker: Call, back: Call) -> Any:
    """wang_wei becomes ready, is matched, and picks up: returns his phone (a room's leg) or None."""
    callbacks.ready(app, "wang_wei")
    assert services_of(app).agents.get("wang_wei").state == RINGING
    back.continue_loop()  # the matcher's REST redirect of the customer's leg: the agent is rung
    if in_room(app):
        leg = legs_for(switchboard, asker, "wang_wei")[-1]  # the latest ring
        phone = answer(app, switchboard, leg)
        heard = " ".join(h.text for h in phone.heard)
    else:
        assert back.state == "dialing"
        back.answer()
        phone, heard = None, " ".join(h.text for h in back.agent_heard)
    assert "账户安全来电" in heard  # the whisper names the department the customer now waits for
    return phone


def test_a_called_back_customer_is_cold_transferred_keeps_the_notes_and_reaches_the_next_agent(
    cb_any_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = cb_any_app
    api = Api(app)
    asker, back, li_na = talking_with_li_na(app, switchboard)
    body = transfer_to_security(app, api)
    assert body["redirected"] is True and body["agent_state"] == WRAP_UP
    assert waiting_in(redis_conn, "security") == [asker.call_sid]
    mark = back.mark()
    back.take_pending()  # Twilio runs the REST redirect on the customer's leg
    assert SAID_TRANSFER in back.heard_text(mark)
    assert back.state == "looping"  # waiting with the music, on the line
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["cb_status"], record["department"]) == (
        "queued",
        "transferred",
        "security",
    )
    if li_na is not None:
        assert li_na.state == "completed"  # the customer left the room: li_na's leg ended with it
    wang_wei = wang_wei_answers(app, switchboard, asker, back)
    hotline = services_of(app)
    assert hotline.agents.get("wang_wei").state == ON_CALL
    assert hotline.agents.get("li_na").state == WRAP_UP
    pop = api.get("/api/agent/call", token_for(app, "agent", "wang_wei")).get_json()
    assert pop["department"] == "security" and pop["transfers"] == 1
    [note] = pop["notes"]
    assert (note["agent"], note["text"], note["to"]) == ("li_na", NOTE, "security")
    if wang_wei is not None:
        room = switchboard.conferences.find(f"call-{asker.call_sid}")
        assert room is not None and room.hears(back.call_sid, wang_wei.call_sid)
        assert room.hears(wang_wei.call_sid, back.call_sid)
        wang_wei.hangup()
    else:
        back.dial_result("completed", 40)  # wang_wei hangs up
    assert back.heard_text().endswith(SURVEY_ASK)  # the customer rates the call
    back.silence()
    assert back.heard_text().endswith("感谢您的来电，再见。") and back.state == "completed"
    assert hotline.agents.get("wang_wei").state == WRAP_UP
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["outcome"], record["agent"]) == ("ended", "served", "wang_wei")
    day = record["day"]
    payments = redis_conn.hgetall(keys.department_stats("payments", day))
    security = redis_conn.hgetall(keys.department_stats("security", day))
    assert (payments["callbacks_connected"], payments["transferred_out"]) == ("1", "1")
    assert (security["answered"], security["handled"]) == ("1", "1")
    assert waiting_in(redis_conn, "security") == []


def test_a_transferred_customer_who_hangs_up_while_waiting_is_abandoned_and_rings_no_one(
    cb_any_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = cb_any_app
    asker, back = moved_to_security(app, switchboard)
    back.hangup()  # tired of waiting: their leg's status callback ends the wait
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["outcome"]) == ("ended", "abandoned_in_queue")
    assert waiting_in(redis_conn, "security") == []
    stats = redis_conn.hgetall(keys.department_stats("security", record["day"]))
    assert stats["abandoned"] == "1"
    callbacks.ready(app, "wang_wei")
    assert services_of(app).agents.get("wang_wei").state == READY  # nobody to ring
    assert legs_for(switchboard, asker, "wang_wei") == []


def test_a_customer_who_hangs_up_while_being_moved_leaves_no_place_behind(
    cb_any_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """The customer hangs up just as li_na transfers them: the redirect finds the call over."""
    app = cb_any_app
    asker, back, _ = talking_with_li_na(app, switchboard)
    transfer_to_security(app, Api(app))
    back._hang_up()  # before Twilio ran the redirect
    assert back.state == "completed"
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert record["status"] == "ended" and record["cb_ended_at"]
    assert waiting_in(redis_conn, "security") == []
    hotline = services_of(app)
    assert hotline.agents.get("li_na").state == WRAP_UP  # the transfer sent her there, once
    callbacks.ready(app, "wang_wei")
    assert hotline.agents.get("wang_wei").state == READY


def test_a_customer_gone_before_the_transfer_cannot_be_transferred(
    cb_any_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = cb_any_app
    asker, back, _ = talking_with_li_na(app, switchboard)
    back.hangup()  # li_na is sent to wrap-up by the hang-up
    resp = Api(app).post(
        "/api/agent/call/transfer", token_for(app, "agent", "li_na"), {"department": "security"}
    )
    assert resp.status_code == 409
    assert waiting_in(redis_conn, "security") == []


def test_a_transferred_customer_who_hangs_up_while_the_next_agent_rings_frees_that_agent(
    cb_any_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = cb_any_app
    asker, back = moved_to_security(app, switchboard)
    callbacks.ready(app, "wang_wei")
    back.continue_loop()  # the agent is rung
    hotline = services_of(app)
    assert hotline.agents.get("wang_wei").state == RINGING
    back.hangup()
    assert hotline.agents.get("wang_wei").state == READY
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["outcome"]) == ("ended", "abandoned_while_ringing")
    if in_room(app):
        [leg] = legs_for(switchboard, asker, "wang_wei")
        placed = switchboard.outbound_call(leg.sid)
        assert placed is not None and placed.status == "canceled"  # his phone stops ringing


def test_a_next_agent_who_does_not_answer_puts_the_customer_back_to_wait_for_another(
    cb_any_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = cb_any_app
    asker, back = moved_to_security(app, switchboard)
    callbacks.ready(app, "wang_wei")
    back.continue_loop()
    mark = back.mark()
    if in_room(app):
        [leg] = legs_for(switchboard, asker, "wang_wei")
        not_reached(app, leg, "no-answer")
        back.continue_loop()  # the REST redirect out of the room, back to waiting
    else:
        back.dial_result("no-answer", 0)
    hotline = services_of(app)
    agent = hotline.agents.get("wang_wei")
    assert agent.state == NOT_READY and agent.reason == "no-answer"
    assert back.state == "looping"  # still on the line, waiting
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["cb_status"]) == ("queued", "transferred")
    assert waiting_in(redis_conn, "security") == [asker.call_sid]
    if not in_room(app):
        assert "客服代表暂时无法接听" in back.heard_text(mark)
    wang_wei_answers(app, switchboard, asker, back)  # ready again: connected this time
    assert hotline.agents.get("wang_wei").state == ON_CALL


def test_a_called_back_customer_is_warm_transferred_in_their_room(
    cb_room_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """li_na holds the customer, consults security's wang_wei, hands them over and leaves."""
    app = cb_room_app
    api = Api(app)
    asker, back, li_na = talking_with_li_na(app, switchboard)
    hotline = services_of(app)
    hotline.agents.choose("wang_wei", READY, hotline.clock.now())
    token = token_for(app, "agent", "li_na")
    assert (
        api.call("POST", "/api/agent/call/consult", token, json={"department": "security"}).status_code == 200
    )
    rooms = switchboard.conferences
    room = rooms.find(f"call-{asker.call_sid}")
    leg = str(redis_conn.hget(keys.call(asker.call_sid), "consult_leg"))
    rooms.deliver()
    assert not room.hears(back.call_sid, li_na.call_sid)  # the customer is on hold
    rooms.answered(leg)
    assert room.hears(li_na.call_sid, leg) and not room.hears(back.call_sid, leg)
    assert api.call("POST", "/api/agent/call/consult/complete", token).status_code == 200
    rooms.deliver()
    assert room.hears(back.call_sid, leg) and room.hears(leg, back.call_sid)
    assert li_na.state == "completed"
    assert hotline.agents.get("li_na").state == WRAP_UP and hotline.agents.get("wang_wei").state == ON_CALL
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["agent"], record["transfers"]) == ("wang_wei", "1")
    rooms.hang_up(leg)  # wang_wei ends the call: the room ends
    assert back.heard_text().endswith(SURVEY_ASK)  # the customer rates the call
    back.silence()
    assert back.heard_text().endswith("感谢您的来电，再见。") and back.state == "completed"
    assert hotline.agents.get("wang_wei").state == WRAP_UP
    assert rooms.problems == []


@pytest.mark.parametrize("security_records", [True, False])
def test_each_room_of_a_transferred_customer_keeps_its_own_recording(
    app_settings: dict[str, Any],
    redis_conn: redis.Redis,
    clock: FixedClock,
    tmp_path: Path,
    switchboard: Switchboard,
    security_records: bool,
) -> None:
    """Payments records; security does or does not. The supervisor lists every room's recording;
    wang_wei's screen pop shows his own room's, never the old room's as if it were his."""
    path = callbacks.hotline_file(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "conference"
    data["departments"]["payments"]["record"] = True
    data["departments"]["security"]["record"] = security_records
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    app = callbacks.make_app({**app_settings, "hotline_config": path}, clock)
    try:
        asker, back, li_na = talking_with_li_na(app, switchboard)
        first_room = switchboard.conferences.find(f"call-{asker.call_sid}")
        assert first_room is not None
        [first] = first_room.recordings
        transfer_to_security(app, Api(app))
        back.take_pending()
        wang_wei = wang_wei_answers(app, switchboard, asker, back)
        second_room = switchboard.conferences.find(f"call-{asker.call_sid}")
        assert second_room is not None and second_room is not first_room
        pop = Api(app).get("/api/agent/call", token_for(app, "agent", "wang_wei")).get_json()
        assert pop["recording"] == ("in-progress" if security_records else None)
        wang_wei.hangup()
        ref = redis_conn.hget(keys.call(asker.call_sid), "ref")
        listed = Api(app).get(
            f"/api/supervisor/calls/{ref}/recordings", token_for(app, "supervisor", "zhao_min")
        )
        sids = [(r["sid"], r["status"]) for r in listed.get_json()["recordings"]]
        second = [(r.sid, "completed") for r in second_room.recordings]
        assert sids == [(first.sid, "completed"), *second] and len(second) == int(security_records)
        erased = app.test_cli_runner().invoke(args=["erase", "--number", back.to])
        assert erased.exit_code == 0, erased.output
        assert all(r.deleted for r in [first, *second_room.recordings])  # every room's, at Twilio
    finally:
        context.install(None)


def test_a_next_agents_ring_lost_without_a_word_is_ended_by_the_reaper_and_the_customer_waits_on(
    cb_room_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """wang_wei's leg into the transferred customer's room never reports: after the ringing lease
    the reaper asks Twilio about the customer's own leg (not the long-ended original call),
    cancels the ring and moves the customer back to their waiting turns, at their place."""
    app = cb_room_app
    asker, back = moved_to_security(app, switchboard)
    callbacks.ready(app, "wang_wei")
    back.continue_loop()  # into their room; wang_wei's phone rings, and nothing more is heard
    [leg] = legs_for(switchboard, asker, "wang_wei")
    hotline = services_of(app)
    ring = hotline.config.file.hotline.ring_timeout_seconds + RING_MARGIN_SECONDS
    clock.set(clock.now() + timedelta(seconds=ring + 1))
    reaped = reap_once(hotline, hotline.clock.now())
    assert reaped.callers == {asker.call_sid: "back"}
    agent = hotline.agents.get("wang_wei")
    assert agent.state == NOT_READY and agent.reason == "ring_timeout"
    placed = switchboard.outbound_call(leg.sid)
    assert placed is not None and placed.status == "canceled"
    back.continue_loop()  # the reaper's REST redirect of the customer's leg
    assert back.state == "looping" and "/voice/customer/wait" in (back.current_url or "")
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["cb_status"]) == ("queued", "transferred")
    assert waiting_in(redis_conn, "security") == [asker.call_sid]


def test_a_supervisor_listens_to_a_called_back_customer_and_their_agent(
    cb_room_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """The customer's room is a live call like any other (their original call ended long ago)."""
    app = cb_room_app
    asker, back, li_na = talking_with_li_na(app, switchboard)
    ref = redis_conn.hget(keys.call(asker.call_sid), "ref")
    boss = token_for(app, "supervisor", "zhao_min")
    listen = Api(app).call(
        "POST",
        f"/api/supervisor/calls/{ref}/monitor",
        boss,
        json={"mode": "listen", "reach": "client:zhao_min"},
    )
    assert listen.status_code == 200, listen.get_json()
    room = switchboard.conferences.find(f"call-{asker.call_sid}")
    assert room is not None
    leg = room.participant("supervisor")
    assert leg is not None
    switchboard.conferences.answered(leg.call_sid)
    assert room.hears(leg.call_sid, back.call_sid) and room.hears(leg.call_sid, li_na.call_sid)
    assert not room.hears(back.call_sid, leg.call_sid)
    back.hangup()  # the customer leaves: the conversation is over, no supervisor to keep
    gone = Api(app).call("POST", f"/api/supervisor/calls/{ref}/monitor", boss, json={"mode": "barge"})
    assert gone.status_code == 409


def test_a_first_agent_who_hangs_up_while_the_consulted_phone_rings_puts_the_customer_back(
    cb_room_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """li_na consults wang_wei about a called-back customer and hangs up before he answers: his
    ring stops, and the customer is told they are transferred and waits at their place in
    payments on the hotline's call to them (their original call ended long ago)."""
    app = cb_room_app
    asker, back, li_na = talking_with_li_na(app, switchboard)
    hotline = services_of(app)
    hotline.agents.choose("wang_wei", READY, hotline.clock.now())
    token = token_for(app, "agent", "li_na")
    assert (
        Api(app).call("POST", "/api/agent/call/consult", token, json={"agent": "wang_wei"}).status_code == 200
    )
    rooms = switchboard.conferences
    rooms.deliver()
    assert hotline.agents.get("wang_wei").state == RINGING
    mark = back.mark()
    li_na.hangup()
    rooms.deliver()
    assert hotline.agents.get("li_na").state == WRAP_UP and hotline.agents.get("wang_wei").state == READY
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["cb_status"], record["department"]) == (
        "queued",
        "transferred",
        "payments",
    )
    back.continue_loop()  # the REST redirect of the customer's leg: out of the room
    assert "正在为您转接支付与充值" in back.heard_text(mark) and back.state == "looping"
    assert waiting_in(redis_conn, "payments") == [asker.call_sid]
