"""Warm transfer to a specialist line (hotline.yaml `specialist_lines`): whole calls in a room.

The agent holds the caller and the hotline dials the line's number into the caller's room; the
agent talks with the specialist, then completes (the caller stays with the line, the agent goes
to wrap-up) or cancels (the line leaves, the caller is back with the agent). The line that does
not answer leaves the caller with the agent. Signed webhooks; the conference stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import ON_CALL, WRAP_UP
from standin.phone import Call
from standin.rest import Switchboard
from tests.rooms import Talking, consult_leg, consulting, talking_with_li_na
from tests.test_agent_console import ClientApi, Session
from tests.test_api import Api, token_for
from tests.test_connecting import state_of

LINE = "cross_border_refunds"
NUMBER = "+862150001234"


@pytest.fixture
def app(rooms_app: Flask) -> Flask:
    """The hotline connecting through rooms, recording nothing."""
    return rooms_app


@pytest.fixture
def talking(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], switchboard: Switchboard
) -> Talking:
    """A caller talking with li_na in their room; no other agent ready (the line is consulted)."""
    return talking_with_li_na(app, dial, run_jobs, switchboard, also_ready=())


def test_a_warm_transfer_to_a_specialist_line_from_the_console(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """li_na holds the caller, talks with the cross-border refunds line, hands the caller to it."""

    call, li_na, room = talking
    rooms = switchboard.conferences
    session = Session()
    legs: list[str] = []

    def script() -> Iterator[str]:
        yield f"consult-line {LINE}"
        assert f"the caller is on hold, line:{LINE}'s phone rings" in session.text()
        leg = consult_leg(redis_conn, call)
        legs.append(leg)
        placed = switchboard.outbound_call(leg)
        assert placed is not None and placed.to == NUMBER  # the line's number, nobody else's
        rooms.deliver()
        rooms.answered(leg)  # the specialist picks up
        assert room.hears(li_na.call_sid, leg) and room.hears(leg, li_na.call_sid)
        assert not room.hears(call.call_sid, leg)  # the caller is on hold meanwhile
        yield "call"
        assert f"CONSULTING line:{LINE} (talking)" in session.text()
        yield "complete"
        assert f"handed to line:{LINE}: file the wrap-up" in session.text()
        rooms.deliver()
        yield "quit"

    assert session.run(ClientApi(app, token_for(app, "agent", "li_na")), script()) == 0
    [leg] = legs
    assert room.hears(call.call_sid, leg) and room.hears(leg, call.call_sid)
    assert li_na.state == "completed" and state_of(app, "li_na") == WRAP_UP
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert (record["status"], record["transfer_number"], record["transfers"]) == ("transferred", NUMBER, "1")
    mark = call.mark()
    rooms.hang_up(leg)  # the specialist ends the call: the room ends, the caller hears goodbye
    assert call.heard_text(mark).endswith("感谢您的来电，再见。") and call.state == "completed"
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["outcome"] == "transferred"
    stats = redis_conn.hgetall(keys.department_stats("payments", record["day"]))
    assert (stats["handled"], stats["transferred_out"]) == ("1", "1")
    assert rooms.problems == []


def test_a_specialist_consultation_cancelled_brings_the_caller_back(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:

    call, li_na, room = talking
    leg, started = consulting(app, switchboard, call, {"line": LINE}, picks_up=True)
    assert started["agent"] == f"line:{LINE}"
    api, token = Api(app), token_for(app, "agent", "li_na")
    assert api.call("POST", "/api/agent/call/consult/cancel", token).status_code == 200
    rooms = switchboard.conferences
    rooms.deliver()
    assert room.hears(call.call_sid, li_na.call_sid) and room.hears(li_na.call_sid, call.call_sid)
    assert not room.hears(leg, call.call_sid)  # the line has left
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert (record["status"], record["agent"], record.get("consult_agent")) == ("on_call", "li_na", None)
    assert state_of(app, "li_na") == ON_CALL
    assert rooms.problems == []


def test_a_specialist_line_that_does_not_answer_leaves_the_caller_with_the_agent(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:

    call, li_na, room = talking
    leg, _ = consulting(app, switchboard, call, {"line": LINE}, picks_up=False)
    switchboard.conferences.not_answered(leg, "no-answer")
    switchboard.conferences.deliver()
    assert room.hears(call.call_sid, li_na.call_sid)  # back off hold, with li_na
    assert redis_conn.hget(keys.call(call.call_sid), "consult_agent") is None
    assert state_of(app, "li_na") == ON_CALL
    refused = Api(app).call("POST", "/api/agent/call/consult/complete", token_for(app, "agent", "li_na"))
    assert refused.status_code == 409


def test_only_a_line_of_the_hotline_file_can_be_consulted(
    app: Flask, talking: Talking, switchboard: Switchboard
) -> None:
    api, token = Api(app), token_for(app, "agent", "li_na")
    unknown = api.call("POST", "/api/agent/call/consult", token, json={"line": "my_cousin"})
    assert unknown.status_code == 400 and "no specialist line" in unknown.get_json()["error"]
    both = api.call("POST", "/api/agent/call/consult", token, json={"line": LINE, "agent": "wang_wei"})
    assert both.status_code == 400
