"""A caller who declines the recording by key is never recorded; one who does not, is.

The operator turns the choice on with `decline_recording_key` on the announce node that says
the recording notice (hotline.yaml). Whole calls through the webhooks, a room per call and the
conference stand-in, which records a room only when the hotline asks it to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import READY
from ivr.callcenter.events import EventLog
from ivr.clock import FixedClock
from ivr.services import services_of
from standin.phone import Call
from standin.rest import Switchboard
from standin.transport import FlaskTransport
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    hotline_app,
    hotline_variant,
    in_rooms,
    run_jobs_of,
)
from tests.rooms import agent_legs, answer, li_na_answers_in_the_room, room_of
from tests.test_agent_console import ClientApi, Session
from tests.test_api import Api, token_for

OFFER_ZH = "如果您不希望本次通话被录音，请按9。"
DECLINED_ZH = "好的，本次通话将不会录音。"


def _consent_hotline(*recorded: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        in_rooms(*recorded)(data)
        data["flow"]["nodes"]["welcome"]["decline_recording_key"] = "9"

    return edit


@pytest.fixture
def consent_app(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    """Rooms, payments records, and the notice lets a caller decline with 9."""

    yield from hotline_app(app_settings, clock, hotline_variant(tmp_path, _consent_hotline("payments")))


@pytest.fixture
def two_recorded_app(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    """As `consent_app`, and security records too: a cold transfer moves the caller to a second
    recorded room."""
    path = hotline_variant(tmp_path, _consent_hotline("payments", "security"))
    yield from hotline_app(app_settings, clock, path)


def caller_on_hold(app: Flask, switchboard: Switchboard, *, decline: bool, number: str) -> Call:
    """A verified Mandarin top-up caller who hears the notice, declines (9) or not, and waits."""
    app.extensions["test_switchboard"] = switchboard
    transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    caller = switchboard.register(Call(transport, from_=number, account_sid=ACCOUNT_SID, max_redirects=2))
    caller.start()
    caller.press("1")  # Mandarin
    assert "本次通话可能会被录音" in caller.heard_text() and OFFER_ZH in caller.heard_text()
    if decline:
        caller.press("9")
        assert DECLINED_ZH in caller.heard_text()
    else:
        caller.silence()  # the notice passes: the account is asked for next
        assert DECLINED_ZH not in caller.heard_text()
    for keys_ in ("6222000017", "1", "1", "1"):
        caller.press(keys_)
    caller.silence()
    assert caller.on_hold
    return caller


def test_a_caller_who_declines_by_key_is_not_recorded_and_the_agent_sees_it(
    consent_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = consent_app
    caller = caller_on_hold(app, switchboard, decline=True, number="+8613800138000")
    assert redis_conn.hget(keys.call(caller.call_sid), "recording_declined") == "1"
    li_na, room = li_na_answers_in_the_room(app, switchboard, caller)
    assert room.recordings == []  # payments records, but not this caller
    api, token = Api(app), token_for(app, "agent", "li_na")
    pop = api.get("/api/agent/call", token).get_json()
    assert pop["recording_declined"] is True and pop["recording"] is None
    refused = api.call("POST", "/api/agent/call/recording", token, json={"paused": False})
    assert refused.status_code == 409 and "not being recorded" in refused.get_json()["error"]
    session = Session()

    def script() -> Iterator[str]:
        yield "call"
        assert "NOT RECORDED: the caller declined the recording" in session.text()
        yield "quit"

    assert session.run(ClientApi(app, token), script()) == 0
    events = [e for e in EventLog(redis_conn).after("0") if e.name == "recording_declined"]
    assert [e.fields["sid"] for e in events] == [caller.call_sid]
    li_na.hangup()
    assert switchboard.conferences.problems == []


def test_a_caller_who_lets_the_notice_pass_is_recorded(
    consent_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    app = consent_app
    caller = caller_on_hold(app, switchboard, decline=False, number="+8613800138000")
    assert not redis_conn.hget(keys.call(caller.call_sid), "recording_declined")
    li_na, room = li_na_answers_in_the_room(app, switchboard, caller)
    [recording] = room.recordings
    pop = Api(app).get("/api/agent/call", token_for(app, "agent", "li_na")).get_json()
    assert pop["recording_declined"] is False and pop["recording"] == "in-progress"
    li_na.hangup()
    assert redis_conn.hget(keys.call(caller.call_sid), "recording_status") == "completed"
    assert recording.status == "completed"


def test_an_english_caller_hears_the_offer_in_english(
    consent_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    transport = FlaskTransport(consent_app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    caller = switchboard.register(Call(transport, from_="+8613911112222", account_sid=ACCOUNT_SID))
    caller.start()
    caller.press("2")  # English
    assert "If you do not want this call recorded, press 9." in caller.heard_text()
    caller.press("9")
    assert "This call will not be recorded." in caller.heard_text()
    assert redis_conn.hget(keys.call(caller.call_sid), "recording_declined") == "1"


def test_without_the_setting_there_is_no_offer_and_no_key_to_press(
    app: Flask, dial: Any, redis_conn: redis.Redis
) -> None:
    caller = dial()
    caller.press("1")
    assert "本次通话可能会被录音" in caller.heard_text() and OFFER_ZH not in caller.heard_text()
    assert "请输入您的十位账户号码" in caller.heard_text()  # straight on to the account
    assert json.dumps(redis_conn.hgetall(keys.call(caller.call_sid))).find("recording_declined") == -1


@pytest.mark.parametrize("decline", [True, False], ids=["declined", "let-pass"])
def test_the_choice_holds_in_the_room_a_cold_transfer_moves_the_caller_to(
    two_recorded_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis, decline: bool
) -> None:
    """li_na sends the caller to security, which records too: wang_wei's room records the caller
    who let the notice pass, and not the one who pressed 9, whose first room did not either."""
    app = two_recorded_app
    caller = caller_on_hold(app, switchboard, decline=decline, number="+8613800138000")
    li_na, first_room = li_na_answers_in_the_room(app, switchboard, caller)
    assert len(first_room.recordings) == (0 if decline else 1)
    moved = Api(app).post(
        "/api/agent/call/transfer", token_for(app, "agent", "li_na"), {"department": "security"}
    )
    assert moved.status_code == 200, moved.get_json()
    caller.take_pending()  # Twilio runs the REST redirect: the caller waits for security
    assert redis_conn.hget(keys.call(caller.call_sid), "department") == "security"
    hotline = services_of(app)
    hotline.agents.choose("wang_wei", READY, hotline.clock.now())
    hotline.jobs.match_agent(None, "wang_wei")
    run_jobs_of(app)
    caller.continue_loop()  # the matcher's REST redirect: into a room of their own again
    assert caller.state == "conference"
    wang_wei = answer(app, switchboard, agent_legs(switchboard, caller)[-1])
    second_room = room_of(switchboard, caller)
    assert second_room is not first_room
    assert len(second_room.recordings) == (0 if decline else 1)
    pop = Api(app).get("/api/agent/call", token_for(app, "agent", "wang_wei")).get_json()
    assert pop["recording_declined"] is decline
    assert pop["recording"] == (None if decline else "in-progress")
    wang_wei.hangup()
    assert switchboard.conferences.problems == []
