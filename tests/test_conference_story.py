"""Issue 15's "done when", as one whole call through the stand-in.

A caller of a recorded department talks with li_na, whose console warm-transfers them to
wang_wei (consult, the two agents talk, complete); the supervisor zhao_min listens from the
supervisor's console, then barges; wang_wei pauses the recording for a card number and resumes
it; the call ends and the recording is complete, its paused stretch left out, listed for the
supervisor. Every request is a signed webhook or an API call; Twilio is the conference stand-in,
whose recording clock the test moves by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from hotline_tools.screenpop import groups
from hotline_tools.supervising import run_supervisor
from ivr import keys
from ivr.callcenter.agents import ON_CALL, READY, WRAP_UP
from ivr.clock import FixedClock
from ivr.services import services_of
from standin.rest import Switchboard
from tests.conftest import hotline_app, hotline_variant
from tests.rooms import li_na_answers_in_the_room, recorded_caller
from tests.test_agent_console import ClientApi, Session, typed
from tests.test_api import Api, token_for
from tests.test_connecting import state_of


@pytest.fixture
def app(
    app_settings: dict[str, Any],
    redis_conn: redis.Redis,
    clock: FixedClock,
    tmp_path: Path,
    switchboard: Switchboard,
) -> Iterator[Flask]:
    """The demo hotline as shipped for rooms: connections through rooms, payments records."""

    def as_shipped(data: dict[str, Any]) -> None:
        assert data["hotline"]["connect_via"] == "conference" and data["departments"]["payments"]["record"]

    yield from hotline_app(app_settings, clock, hotline_variant(tmp_path, as_shipped), switchboard)


def test_warm_transfer_then_a_supervisor_listens_and_barges_and_the_recording_is_paused(
    app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    rooms = switchboard.conferences
    seconds = [1000.0]
    rooms.ticks = lambda: seconds[0]  # the recordings' clock, moved by the test
    caller = recorded_caller(app, switchboard)
    hotline = services_of(app)
    hotline.agents.choose("wang_wei", READY, hotline.clock.now())
    li_na, room = li_na_answers_in_the_room(app, switchboard, caller)
    [recording] = room.recordings
    ref = str(redis_conn.hget(keys.call(caller.call_sid), "ref"))

    # 1. li_na's console: consult wang_wei, talk, complete.
    session = Session()
    legs: list[str] = []

    def li_na_console() -> Iterator[str]:
        yield "consult wang_wei"
        assert "the caller is on hold, wang_wei's phone rings" in session.text()
        leg = str(redis_conn.hget(keys.call(caller.call_sid), "consult_leg"))
        legs.append(leg)
        rooms.deliver()
        rooms.answered(leg)
        assert room.hears(li_na.call_sid, leg) and not room.hears(caller.call_sid, leg)
        yield "complete"
        assert "handed to wang_wei: file the wrap-up" in session.text()
        rooms.deliver()
        yield "quit"

    assert session.run(ClientApi(app, token_for(app, "agent", "li_na")), li_na_console()) == 0
    [wang_wei] = legs
    assert room.hears(caller.call_sid, wang_wei) and room.hears(wang_wei, caller.call_sid)
    assert li_na.state == "completed" and state_of(app, "li_na") == WRAP_UP
    assert state_of(app, "wang_wei") == ON_CALL
    seconds[0] += 60  # a minute of conversation with wang_wei

    # 2. zhao_min's console: listen (muted), then barge (heard by both), by the reference number.
    heard: dict[str, tuple[bool, bool, bool]] = {}

    def supervisor_leg() -> str:
        leg = room.participant("supervisor")
        assert leg is not None
        return str(leg.call_sid)

    def after_listen() -> None:
        rooms.answered(supervisor_leg())
        sv = supervisor_leg()
        heard["listen"] = (
            room.hears(sv, caller.call_sid),
            room.hears(caller.call_sid, sv),
            room.hears(wang_wei, sv),
        )

    def after_barge() -> None:
        sv = supervisor_leg()
        heard["barge"] = (
            room.hears(sv, caller.call_sid),
            room.hears(caller.call_sid, sv),
            room.hears(wang_wei, sv),
        )

    script: list[tuple[str, Callable[[], None]]] = [
        (f"listen {groups(ref)}", after_listen),
        (f"barge {groups(ref)}", after_barge),
    ]
    out: list[str] = []
    assert (
        run_supervisor(
            ClientApi(app, token_for(app, "supervisor", "zhao_min")), typed(script), out.append, "zhao_min"
        )
        == 0
    )
    assert heard == {"listen": (True, False, False), "barge": (True, True, True)}
    pop = Api(app).get("/api/agent/call", token_for(app, "agent", "wang_wei")).get_json()
    assert (pop["supervisor"], pop["supervisor_mode"], pop["recording"]) == (
        "zhao_min",
        "barge",
        "in-progress",
    )

    # 3. wang_wei's console: the recording paused while the caller reads a card number, resumed.
    session = Session()

    def wang_wei_console() -> Iterator[str]:
        yield "rec-pause"
        assert "recording paused" in session.text() and recording.status == "paused"
        seconds[0] += 20  # the card number: not recorded
        yield "rec-resume"
        assert "recording in-progress" in session.text() and recording.status == "in-progress"
        seconds[0] += 30
        yield "quit"

    assert session.run(ClientApi(app, token_for(app, "agent", "wang_wei")), wang_wei_console()) == 0

    # 4. wang_wei ends the call: the recording is complete, without the paused 20 s.
    rooms.hang_up(wang_wei)
    assert recording.status == "completed" and recording.duration == 90  # 60 + 30, not 110
    record = redis_conn.hgetall(keys.call(caller.call_sid))
    assert (record["recording_status"], record["recording_url"]) == ("completed", recording.url)
    listed = Api(app).get(f"/api/supervisor/calls/{ref}/recordings", token_for(app, "supervisor", "zhao_min"))
    [info] = listed.get_json()["recordings"]
    assert (info["sid"], info["duration_seconds"]) == (recording.sid, 90)
    assert state_of(app, "wang_wei") == WRAP_UP
    assert rooms.problems == []
