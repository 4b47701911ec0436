"""Supervisors, recordings and erasure in conference rooms (`hotline.connect_via: conference`).

Whole calls through the stand-in, as in tests/test_connecting_room.py (whose room fixtures and
agent's phone these tests use): a supervisor listens, coaches and barges, from the API and the
supervisor's console; the conversation is recorded, paused and listed, deleted past retention;
erasure removes everything about a caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from hotline_tools.screenpop import groups
from hotline_tools.supervising import run_supervisor
from ivr import keys
from ivr.clock import FixedClock
from ivr.jobs import periodic
from ivr.services import services_of
from standin.phone import Call
from standin.rest import OutboundCall, Switchboard
from standin.transport import FlaskTransport
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, hotline_app, hotline_variant, in_rooms
from tests.rooms import (
    Talking,
    answer,
    li_na_answers_in_the_room,
    recorded_caller,
    room_events,
)
from tests.test_agent_console import ClientApi, Session, typed
from tests.test_api import Api, token_for


@pytest.fixture
def app(rooms_app: Flask) -> Flask:
    """Connections through rooms, recording nothing (the recording tests use `recorded_app`)."""
    return rooms_app


# -- supervisors -------------------------------------------------------------------------------------


def test_a_supervisor_listens_coaches_and_barges_and_every_step_is_audited(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call, li_na, room = talking
    ref = redis_conn.hget(keys.call(call.call_sid), "ref")
    api, boss = Api(app), token_for(app, "supervisor", "zhao_min")
    agent_token = token_for(app, "agent", "li_na")
    caplog.set_level("INFO", logger="ivr.audit")

    no_phone = api.call("POST", f"/api/supervisor/calls/{ref}/monitor", boss, json={"mode": "listen"})
    assert no_phone.status_code == 409 and "reach" in no_phone.get_json()["error"]
    listen = api.call(
        "POST",
        f"/api/supervisor/calls/{ref}/monitor",
        boss,
        json={"mode": "listen", "reach": "client:zhao_min"},
    )
    assert listen.status_code == 200 and listen.get_json() == {
        "ref": ref,
        "supervisor": "zhao_min",
        "mode": "listen",
    }
    leg = room.participant("supervisor")
    assert leg is not None and leg.muted
    switchboard.conferences.answered(leg.call_sid)  # the supervisor's phone picks up
    sv = leg.call_sid
    # Listen: the supervisor hears both; nobody hears the supervisor.
    assert room.hears(sv, call.call_sid) and room.hears(sv, li_na.call_sid)
    assert not room.hears(call.call_sid, sv) and not room.hears(li_na.call_sid, sv)
    pop = api.call("GET", "/api/agent/call", agent_token).get_json()
    assert (pop["supervisor"], pop["supervisor_mode"]) == ("zhao_min", "listen")  # the agent sees it

    coach = api.call("POST", f"/api/supervisor/calls/{ref}/monitor", boss, json={"mode": "coach"})
    assert coach.status_code == 200
    assert room.hears(li_na.call_sid, sv) and not room.hears(call.call_sid, sv)  # the agent only

    barge = api.call("POST", f"/api/supervisor/calls/{ref}/monitor", boss, json={"mode": "barge"})
    assert barge.status_code == 200
    assert room.hears(li_na.call_sid, sv) and room.hears(call.call_sid, sv)  # both
    assert [p.call_sid for p in room.participants.values()].count(sv) == 1  # one ring, three modes

    left = api.call("DELETE", f"/api/supervisor/calls/{ref}/monitor", boss)
    assert left.status_code == 200 and left.get_json()["mode"] is None
    switchboard.conferences.deliver()
    assert room.participant("supervisor") is None
    assert room.hears(call.call_sid, li_na.call_sid)  # the conversation goes on
    assert "supervisor" not in redis_conn.hgetall(keys.call(call.call_sid))
    logged = room_events(redis_conn, call.call_sid, "monitor", "unmonitor")
    assert [(e["e"], e["supervisor"], e["mode"], e["agent"], e["ref"]) for e in logged] == [
        ("monitor", "zhao_min", "listen", "li_na", ref),
        ("monitor", "zhao_min", "coach", "li_na", ref),
        ("monitor", "zhao_min", "barge", "li_na", ref),
        ("unmonitor", "zhao_min", "", "li_na", ref),
    ]
    audited = [r.getMessage() for r in caplog.records if r.name == "ivr.audit"]
    assert audited == [
        f"supervisor zhao_min listen on call {call.call_sid} (agent li_na)",
        f"supervisor zhao_min coach on call {call.call_sid} (agent li_na)",
        f"supervisor zhao_min barge on call {call.call_sid} (agent li_na)",
        f"supervisor zhao_min left call {call.call_sid}",
    ]
    assert switchboard.conferences.problems == []


def test_the_supervisor_console_listens_then_barges_by_the_reference_number(
    app: Flask,
    talking: Talking,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """`make console ARGS="--supervisor zhao_min --token ..."`: the reference number as the agent's
    screen pop shows it rings the supervisor's phone into the room, muted; `barge` makes them
    heard by both without a new ring; `leave` takes them out; `recordings` lists none here."""
    call, li_na, room = talking
    ref = str(redis_conn.hget(keys.call(call.call_sid), "ref"))
    shown = groups(ref)  # "2611 2400 0017", typed with its spaces
    heard: dict[str, tuple[bool, bool]] = {}

    def supervisor_leg() -> str:
        leg = room.participant("supervisor")
        assert leg is not None
        return str(leg.call_sid)

    def after_listen() -> None:
        switchboard.conferences.answered(supervisor_leg())  # the console's `answer`
        sv = supervisor_leg()
        assert room.hears(sv, call.call_sid) and room.hears(sv, li_na.call_sid)
        heard["listen"] = (room.hears(call.call_sid, sv), room.hears(li_na.call_sid, sv))

    def after_barge() -> None:
        sv = supervisor_leg()
        heard["barge"] = (room.hears(call.call_sid, sv), room.hears(li_na.call_sid, sv))
        assert [p.call_sid for p in room.participants.values()].count(sv) == 1  # no second ring

    def after_leave() -> None:
        switchboard.conferences.deliver()
        assert room.participant("supervisor") is None

    script = [
        (f"listen {shown}", after_listen),
        (f"barge {shown}", after_barge),
        (f"leave {shown}", after_leave),
        (f"recordings {ref}", lambda: None),
    ]
    out: list[str] = []
    boss = ClientApi(app, token_for(app, "supervisor", "zhao_min"))
    assert run_supervisor(boss, typed(script), out.append, "zhao_min") == 0
    assert heard == {"listen": (False, False), "barge": (True, True)}
    assert f"call {shown}: listening, muted (a new call rings your phone)" in out
    assert f"call {shown}: heard by both (the mode changed, no new ring)" in out
    assert f"call {shown}: you left" in out and f"call {shown}: no recording" in out
    assert room.hears(call.call_sid, li_na.call_sid)  # the agent talks on

    out.clear()
    as_agent = ClientApi(app, token_for(app, "agent", "li_na"))
    assert run_supervisor(as_agent, lambda: None, out.append, "li_na") == 2
    assert "supervisor's token" in out[-1]


def test_monitoring_needs_a_live_call_in_a_room_and_a_supervisor(
    app: Flask,
    ringing: tuple[Call, OutboundCall],
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    call, _leg = ringing  # li_na's phone still rings
    ref = redis_conn.hget(keys.call(call.call_sid), "ref")
    api = Api(app)
    body = {"mode": "listen", "reach": "client:zhao_min"}
    refused = api.call(
        "POST", f"/api/supervisor/calls/{ref}/monitor", token_for(app, "supervisor", "zhao_min"), json=body
    )
    assert refused.status_code == 409 and "not a live conversation" in refused.get_json()["error"]
    forbidden = api.call(
        "POST", f"/api/supervisor/calls/{ref}/monitor", token_for(app, "agent", "li_na"), json=body
    )
    assert forbidden.status_code == 403
    unknown = api.call(
        "POST", "/api/supervisor/calls/1234/monitor", token_for(app, "supervisor", "zhao_min"), json=body
    )
    assert unknown.status_code == 404


# -- recording ---------------------------------------------------------------------------------------


@pytest.fixture
def recorded_app(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    """Connections through rooms, and payments records its conversations."""
    yield from hotline_app(app_settings, clock, hotline_variant(tmp_path, in_rooms("payments")))


def test_the_conversation_is_recorded_paused_for_a_card_number_and_listed_for_supervisors(
    recorded_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = recorded_app
    app.extensions["test_switchboard"] = switchboard
    caller = recorded_caller(app, switchboard)
    assert "本次通话可能会被录音" in caller.heard_text()  # the announcement every caller hears
    li_na, room = li_na_answers_in_the_room(app, switchboard, caller)
    [recording] = room.recordings  # from the room's start: the agent joined
    record = redis_conn.hgetall(keys.call(caller.call_sid))
    assert (record["recording"], record["recording_status"]) == (recording.sid, "in-progress")

    session = Session()

    def script() -> Iterator[str]:
        yield "rec-pause"
        assert "recording paused" in session.text()
        assert recording.status == "paused"
        yield "call"
        assert "recording paused" in session.text()
        yield "rec-resume"
        assert "recording in-progress" in session.text() and recording.status == "in-progress"
        yield "quit"

    assert session.run(ClientApi(app, token_for(app, "agent", "li_na")), script()) == 0
    li_na.hangup()  # the room ends: the recording is complete, its report stored on the call
    record = redis_conn.hgetall(keys.call(caller.call_sid))
    assert (record["recording_status"], record["recording_url"]) == ("completed", recording.url)
    ref = record["ref"]
    listed = Api(app).call(
        "GET", f"/api/supervisor/calls/{ref}/recordings", token_for(app, "supervisor", "zhao_min")
    )
    assert listed.status_code == 200
    [info] = listed.get_json()["recordings"]
    assert (info["sid"], info["status"], info["url"]) == (recording.sid, "completed", recording.url)
    assert info["duration_seconds"] == recording.duration
    refused = Api(app).call(
        "POST", "/api/agent/call/recording", token_for(app, "agent", "li_na"), json={"paused": True}
    )
    assert refused.status_code in (404, 409)  # the conversation is over
    assert switchboard.conferences.problems == []


def test_a_department_that_does_not_record_is_not_recorded(
    app: Flask,
    ringing: tuple[Call, OutboundCall],
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    call, leg = ringing
    answer(app, switchboard, leg)
    room = switchboard.conferences.find(f"call-{call.call_sid}")
    assert room is not None and room.recordings == []
    refused = Api(app).call(
        "POST", "/api/agent/call/recording", token_for(app, "agent", "li_na"), json={"paused": True}
    )
    assert refused.status_code == 409 and "not being recorded" in refused.get_json()["error"]


def test_recordings_past_the_retention_are_deleted_from_twilio_by_the_hourly_job(
    recorded_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    app = recorded_app
    hotline = services_of(app)
    days = hotline.config.file.hotline.recording_retention_days
    caller = recorded_caller(app, switchboard)
    li_na, room = li_na_answers_in_the_room(app, switchboard, caller)
    li_na.hangup()  # the room ends: its recording is complete
    [recording] = room.recordings
    assert redis_conn.zscore(keys.recordings_kept(), recording.sid) is not None

    clock.set(clock.now() + timedelta(days=days) - timedelta(minutes=1))
    assert periodic.delete_old_recordings() == 0  # within the retention: kept
    assert not recording.deleted
    clock.set(clock.now() + timedelta(minutes=2))
    assert periodic.delete_old_recordings() == 1  # past it: deleted through Twilio's REST API
    assert recording.deleted
    assert redis_conn.zcard(keys.recordings_kept()) == 0
    assert periodic.delete_old_recordings() == 0  # once


# -- erasure -----------------------------------------------------------------------------------------


def test_erasure_removes_everything_about_a_number_and_says_what(
    recorded_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """A recorded call and its language choice are erased for the number; another caller's stay."""
    app = recorded_app
    number = "+8613800138000"
    caller = recorded_caller(app, switchboard, number)
    transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    li_na, room = li_na_answers_in_the_room(app, switchboard, caller)
    li_na.hangup()
    caller.silence()  # no rating: the call ends
    [recording] = room.recordings
    other = switchboard.register(Call(transport, from_="+8613912345678", account_sid=ACCOUNT_SID))
    other.start()
    other.press("1")
    ref = redis_conn.hget(keys.call(caller.call_sid), "ref")
    assert redis_conn.exists(keys.language(number), keys.reference(ref), keys.calls_from(number)) == 3
    assert any(f.get("sid") == caller.call_sid for _, f in redis_conn.xrange(keys.events()))

    result = app.test_cli_runner().invoke(args=["erase", "--number", number])
    assert result.exit_code == 0, result.output
    assert f"erased number {number}:" in result.output
    assert "call records: 1" in result.output and "recordings deleted at Twilio: 1" in result.output
    assert "language choice: removed" in result.output
    assert not redis_conn.exists(keys.call(caller.call_sid), keys.reference(ref), keys.language(number))
    assert not redis_conn.exists(keys.calls_from(number))
    assert recording.deleted  # at Twilio (the stand-in)
    assert redis_conn.zscore(keys.recordings_kept(), recording.sid) is None
    assert not any(f.get("sid") == caller.call_sid for _, f in redis_conn.xrange(keys.events()))
    assert redis_conn.exists(keys.call(other.call_sid))  # another caller's data stays

    again = app.test_cli_runner().invoke(args=["erase", "--number", number])
    assert again.exit_code == 0 and "call records: 0" in again.output
    wrong = app.test_cli_runner().invoke(args=["erase", "--number", "13800138000"])
    assert wrong.exit_code != 0 and "E.164" in wrong.output


def test_a_recording_twilio_refuses_to_delete_is_deleted_when_the_erasure_is_run_again(
    recorded_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """Two recorded calls from the number; Twilio refuses the first deletion. The run erases all
    else and says to run it again; the second run deletes that recording, its call record gone."""
    app = recorded_app
    number = "+8613800138000"
    recordings, calls = [], []
    for _ in range(2):
        caller = recorded_caller(app, switchboard, number)
        li_na, room = li_na_answers_in_the_room(app, switchboard, caller)
        li_na.hangup()
        caller.silence()
        recordings += room.recordings
        calls.append(caller.call_sid)
    assert len(recordings) == 2
    switchboard.fail_recording_deletes(1)  # Twilio answers 503 once

    refused = app.test_cli_runner().invoke(args=["erase", "--number", number])
    assert refused.exit_code != 0 and "run the command again" in refused.output
    [kept] = [r for r in recordings if not r.deleted]
    assert "call records: 2" in refused.output and "recordings deleted at Twilio: 1" in refused.output
    assert f"NOT deleted (Twilio refused, run again): {kept.sid}" in refused.output
    assert "language choice: removed" in refused.output
    assert not redis_conn.exists(*(keys.call(sid) for sid in calls), keys.calls_from(number))

    again = app.test_cli_runner().invoke(args=["erase", "--number", number])
    assert again.exit_code == 0, again.output
    assert "call records: 0" in again.output and "recordings deleted at Twilio: 1" in again.output
    assert "NOT deleted" not in again.output
    assert kept.deleted  # at Twilio (the stand-in)
    assert redis_conn.zscore(keys.recordings_kept(), kept.sid) is None  # the retention job has none
    assert list(redis_conn.scan_iter(f"*{number}*")) == []  # nothing names the number now
    once = app.test_cli_runner().invoke(args=["erase", "--number", number])
    assert once.exit_code == 0 and "recordings deleted at Twilio: 0" in once.output
