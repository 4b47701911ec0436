"""What the room tests share (`hotline.connect_via: conference`): the agent's leg the hotline
places and the agent's phone that answers it (conftest's `not_reached`: it was not), a caller
talking with li_na, a consultation started from the API, and the live stand-in serving consoles.

A room test module's `app` is conftest's `rooms_app` (or a variant of it); conftest's `ringing`
and `talking` are the caller ringing li_na and talking with her.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import READY, RINGING
from ivr.callcenter.events import EventLog
from ivr.services import services_of
from standin.conference import Conference
from standin.control import Control, add_control
from standin.live import LiveCalls
from standin.outbound import Dialler
from standin.phone import Call
from standin.rest import OutboundCall, Switchboard, create_rest_app, serve_in_thread
from standin.transport import FlaskTransport
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, picked_up, run_jobs_of
from tests.test_api import Api, token_for
from tests.test_connecting import ready, state_of, topup_caller

SURVEY_ASK = "请为本次服务评分，1分表示很不满意，5分表示非常满意。"  # prompts/zh-CN.yaml: survey_ask
Talking = tuple[Call, Call, Conference]  # a caller, li_na's phone, the caller's room
WHISPER = "支付与充值来电：充值失败。账户尾号0017，身份已验证。"  # what li_na hears of a top-up caller


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
    [leg] = agent_legs(app.extensions["test_switchboard"], call)
    return call, leg


def answer(app: Flask, switchboard: Switchboard, leg: OutboundCall) -> Call:
    """The agent's phone picks up the leg the hotline placed: the whisper, then the room."""
    return picked_up(app, switchboard, leg)


def room_of(switchboard: Switchboard, call: Call) -> Conference:
    """The caller's room."""
    room = switchboard.conferences.find(f"call-{call.call_sid}")
    assert room is not None
    return room


def recorded_caller(app: Flask, switchboard: Switchboard, number: str = "+8613800138000") -> Call:
    """A verified Mandarin top-up caller, on hold for payments (a recorded department)."""
    transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    caller = switchboard.register(Call(transport, from_=number, account_sid=ACCOUNT_SID, max_redirects=2))
    caller.start()
    for keys_ in ("1", "6222000017", "1", "1", "1"):
        caller.press(keys_)
    caller.silence()
    return caller


def li_na_answers_in_the_room(app: Flask, switchboard: Switchboard, caller: Call) -> tuple[Call, Conference]:
    """li_na goes ready, is matched with the caller and answers: both in the caller's room."""
    hotline = services_of(app)
    hotline.agents.choose("li_na", READY, hotline.clock.now())
    hotline.jobs.match_agent(None, "li_na")
    run_jobs_of(app)
    caller.continue_loop()
    assert caller.state == "conference"
    [leg] = agent_legs(switchboard, caller)
    li_na = answer(app, switchboard, leg)
    return li_na, room_of(switchboard, caller)


def talking_with_li_na(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    switchboard: Switchboard,
    also_ready: tuple[str, ...] = ("wang_wei",),
) -> Talking:
    """A caller talking with li_na in their room (the caller, li_na's phone, the room), the
    agents `also_ready` ready (wang_wei: security, Mandarin)."""
    call, leg = in_the_room(app, dial, run_jobs)
    phone = answer(app, switchboard, leg)
    hotline = services_of(app)
    for agent in also_ready:
        hotline.agents.choose(agent, READY, hotline.clock.now())
    return call, phone, room_of(switchboard, call)


def consult_leg(redis_conn: redis.Redis, call: Call) -> str:
    """The consulted party's leg, as the call record has it."""
    return str(redis_conn.hget(keys.call(call.call_sid), "consult_leg"))


def consulting(
    app: Flask, switchboard: Switchboard, call: Call, whom: dict[str, str], *, picks_up: bool
) -> tuple[str, dict[str, Any]]:
    """li_na consults `whom` (`{"agent": ...}`, `{"department": ...}` or `{"line": ...}`) through
    the API: the caller's hold reaches the app, and the consulted leg rings, or is answered when
    `picks_up`. The leg's CallSid, and what the API answered."""
    api, token = Api(app), token_for(app, "agent", "li_na")
    started = api.call("POST", "/api/agent/call/consult", token, json=whom)
    assert started.status_code == 200, started.get_json()
    leg = consult_leg(services_of(app).stores.data, call)
    switchboard.conferences.deliver()
    if picks_up:
        switchboard.conferences.answered(leg)
    return leg, started.get_json()


def room_events(conn: redis.Redis, sid: str, *names: str) -> list[dict[str, str]]:
    """The event log's entries of these kinds about this call, oldest first."""
    return [e.fields for e in EventLog(conn).after("0-0") if e.name in names and e.fields["sid"] == sid]


def wait_until(test: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    """Wait for something the live stand-in does on its own threads (a bound, not a timing)."""
    deadline = time.monotonic() + seconds
    while not test():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s")
        time.sleep(0.02)


@contextmanager
def live_standin(app: Flask, switchboard: Switchboard) -> Iterator[Control]:
    """The live stand-in over the hotline, as `make run` serves it: calls ring and run on threads
    of their own, and its control API places callers and plays the consoles' phones."""
    calls = LiveCalls(
        switchboard, lambda: FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN), ACCOUNT_SID
    )
    switchboard.dialer = Dialler(calls)
    server = create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN)
    add_control(server, calls)
    url, stop = serve_in_thread(server)
    try:
        yield Control(url, ACCOUNT_SID, AUTH_TOKEN)
    finally:
        calls.hang_up_all()  # nobody left calling the app into the next test's data
        stop()
        switchboard.dialer = None  # the switchboard outlives the test
        switchboard.conferences.on_pending = None
