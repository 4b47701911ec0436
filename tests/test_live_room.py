"""Rooms through the live stand-in, as `make run` serves them: the console is the agent's phone.

The caller waits in their room while the console rings; the console hears the whisper, talks,
holds and hangs up while a supervisor's softphone listens and barges; two consoles pass a caller
by warm transfer. The stand-in runs calls on threads of its own, so the tests wait (bounded) for
what it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from hotline_tools.console import run
from hotline_tools.livephone import _parties as parties_text
from hotline_tools.softphone import Softphone
from ivr import keys
from standin.rest import Switchboard
from tests.rooms import live_standin, wait_until
from tests.test_agent_console import ClientApi, Session
from tests.test_api import Api, go_ready, token_for
from tests.test_live_calls import Listener, queued_caller


@pytest.fixture
def app(rooms_app: Flask) -> Flask:
    """The hotline connecting through rooms, recording nothing."""
    return rooms_app


def test_live_the_console_answers_its_leg_hears_the_whisper_holds_and_hangs_up(
    app: Flask, switchboard: Switchboard, run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """Through the live stand-in, as `make run` serves it: the caller waits in their room, the
    console rings, shows the whisper, talks, holds the caller, and hangs up; the caller hears
    the survey."""
    with live_standin(app, switchboard) as control:
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
        phone.kind("play")  # the held caller's phone shows the hold music while it plays
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


def supervisor_shown(event: dict[str, Any], heard: bool) -> bool:
    """The caller's phone shows zhao_min in the room, hearing the caller, heard or not."""
    return any(
        (p["role"], p["who"], p["hears_you"], p["you_hear"]) == ("supervisor", "zhao_min", True, heard)
        for p in event["parties"]
    )


def test_live_a_warm_transfer_between_two_consoles(
    app: Flask, switchboard: Switchboard, run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """Through the live stand-in: li_na's console consults wang_wei's, completes, and leaves;
    wang_wei talks with the caller and hangs up; the caller hears the survey."""
    with live_standin(app, switchboard) as control:
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


def test_live_the_consulted_console_says_it_talks_with_the_agent_who_consults(
    app: Flask, switchboard: Switchboard, run_jobs: Callable[[], None]
) -> None:
    """wang_wei's console is his phone: li_na consults him, he answers, and his console says he
    talks with li_na (his leg comes from the hotline's number, but the caller is on hold)."""
    with live_standin(app, switchboard) as control:
        control.register("li_na")
        first = Listener(lambda after, wait: control.client_events("li_na", after, wait))
        sid, phone = queued_caller(control)
        api, li_na, wang_wei = Api(app), token_for(app, "agent", "li_na"), token_for(app, "agent", "wang_wei")
        go_ready(api, li_na, run_jobs)
        first.kind("ring")
        control.client_act("li_na", "answer")
        wait_until(lambda: api.get("/api/agent/me", li_na).get_json()["state"] == "on_call", "li_na talking")
        assert api.put("/api/agent/state", wang_wei, {"state": "ready"}).status_code == 200
        session = Session()

        def script() -> Iterator[str]:
            consult = api.call("POST", "/api/agent/call/consult", li_na, json={"agent": "wang_wei"})
            assert consult.status_code == 200, consult.get_json()
            wait_until(lambda: "PHONE RINGING" in session.text(), "wang_wei's console ringing")
            yield "answer"
            wait_until(lambda: "talking with" in session.text(), "wang_wei's console talking")
            [talking] = [line for line in session.out if "talking with" in line]
            assert "talking with li_na, who consults you (the caller is on hold)" in talking
            yield "quit"

        lines = script()
        console = ClientApi(app, wang_wei)
        softphone = Softphone(control)  # registers as client:wang_wei when the console starts
        assert run(console, lambda: next(lines, None), session.out.append, session.poll, phone=softphone) == 0
        control.act(sid, "hangup")
        phone.kind("ended")
