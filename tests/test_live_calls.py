"""Live calls owned by the stand-in: placed and driven through its control API over HTTP.

The call runs the app's TwiML on its own thread in (scaled) real time; the matcher's REST
redirect cuts its hold music short; a console registered as client:<agent> is rung by the Dial,
answers and hangs up; an unanswered ring ends as no-answer; the clock speed shortens a Pause.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from hotline_tools.livephone import run_live
from ivr import keys
from standin.control import Control, add_control
from standin.live import LiveCalls
from standin.rest import Switchboard, create_rest_app, serve_in_thread
from standin.transport import FlaskTransport, Response
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DEMO_CALLER, PUBLIC_BASE_URL, client_of
from tests.test_api import Api, go_ready, token_for

HOTLINE = "+864001234567"
# Generous bounds for events that come at once: a hold Play lasts 60 s, a ring 20 s.
SOON = 5.0


@pytest.fixture
def live(app: Flask, switchboard: Switchboard) -> Iterator[tuple[LiveCalls, Control]]:
    """The live stand-in on a local port, calling the app; the control API's client."""
    calls = LiveCalls(
        switchboard, lambda: FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN), ACCOUNT_SID
    )
    server = create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN)
    add_control(server, calls)
    url, stop = serve_in_thread(server)
    yield calls, Control(url, ACCOUNT_SID, AUTH_TOKEN)
    # A call still playing its hold music would go on calling the app into the next test's data.
    assert calls.hang_up_all() == []
    stop()


def until(done: Callable[[], bool], what: str) -> None:
    """Wait for something the app does on another thread; fail if it has not happened soon."""
    deadline = time.monotonic() + SOON
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {SOON} s")
        time.sleep(0.02)


class Listener:
    """Reads a call's (or a console's) events as they come."""

    def __init__(self, read: Callable[[int, float], dict[str, Any]]) -> None:
        self.read, self.events = read, []  # type: ignore[var-annotated]

    def until(self, test: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The first new event that passes ``test``; fails when none comes soon."""
        while True:
            batch = self.read(len(self.events), SOON)["events"]
            if not batch:
                pytest.fail(f"no {what}; events so far: {self.events[-8:]}")
            for event in batch:
                self.events.append(event)
                if test(event):
                    return event

    def state(self, state: str) -> dict[str, Any]:
        return self.until(lambda e: e["kind"] == "state" and e["state"] == state, f"state {state}")

    def said(self, words: str) -> dict[str, Any]:
        return self.until(lambda e: e["kind"] == "say" and words in e["text"], repr(words))

    def kind(self, kind: str) -> dict[str, Any]:
        return self.until(lambda e: e["kind"] == kind, kind)


def queued_caller(control: Control) -> tuple[str, Listener]:
    """A Mandarin caller, verified by caller ID, on hold in payments (top-up, then an agent)."""
    sid = control.place(DEMO_CALLER, HOTLINE)
    phone = Listener(lambda after, wait: control.events(sid, after, wait))
    phone.said("普通话服务请按1")
    for keys_ in ("1", "6222000017", "1", "1", "1"):
        phone.state("gathering")
        control.act(sid, "keys", keys_)
    phone.state("gathering")  # the reference number, which may be repeated
    control.act(sid, "silence")
    phone.kind("play")  # the hold music
    return sid, phone


def test_a_call_hears_the_greeting_is_queued_and_a_redirect_cuts_the_music(
    app: Flask, live: tuple[LiveCalls, Control], redis_conn: redis.Redis
) -> None:
    calls, control = live
    sid, phone = queued_caller(control)
    assert redis_conn.hget(keys.call(sid), "status") == "queued"
    rest = client_of(app)  # twilio-python, to the stand-in
    assert sid in [c.sid for c in rest.calls.list(to=HOTLINE, status="in-progress")]
    assert sid not in [c.sid for c in rest.calls.list(status="completed")]
    assert phone.events[-1]["text"].endswith(".mp3")

    # A minute of music is playing; Twilio's REST API moves the call at once.
    rest.calls(sid).update(url=f"{PUBLIC_BASE_URL}/voice/hold?p=9", method="POST")
    phone.said("您的来电正在排队")  # the next turn of the hold loop, long before the music ends
    assert rest.calls(sid).fetch().status == "in-progress"
    control.act(sid, "hangup")
    phone.kind("ended")
    assert rest.calls(sid).fetch().status == "completed"
    assert redis_conn.hget(keys.call(sid), "status") != "queued"


def test_a_key_typed_during_the_hold_music_is_heard_at_once(live: tuple[LiveCalls, Control]) -> None:
    """The hold music plays inside the turn's Gather: a key stops it and asks for a callback."""
    calls, control = live
    sid, phone = queued_caller(control)  # a minute of music has just started
    turn = phone.until(lambda e: e["kind"] == "state", "the hold turn's stop")
    assert (turn["state"], turn["hold"]) == ("gathering", True)
    control.act(sid, "keys", "1")
    phone.said("我们将回电至")  # long before the music would have ended
    call = calls.call(sid)
    assert call is not None and "/voice/callback/offer?p=1&" in call.requests[-1][0]
    control.act(sid, "hangup")
    phone.kind("ended")


def test_a_console_is_rung_answers_and_both_legs_end(
    app: Flask, live: tuple[LiveCalls, Control], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    calls, control = live
    control.register("li_na")
    console = Listener(lambda after, wait: control.client_events("li_na", after, wait))
    sid, phone = queued_caller(control)
    api, token = Api(app), token_for(app, "agent", "li_na")
    go_ready(api, token, run_jobs)  # the matcher reserves li_na and redirects the caller

    ring = console.kind("ring")
    assert ring["call"] == sid and ring["caller"] == DEMO_CALLER
    phone.until(lambda e: e["kind"] == "dialling" and e["value"] == "li_na", "the dial")
    control.client_act("li_na", "answer")
    whisper = console.kind("whisper")
    assert "账户尾号0017，身份已验证" in whisper["text"]  # who is calling, before the bridge
    console.kind("connected")
    phone.kind("answered")
    assert api.get("/api/agent/me", token).get_json()["state"] == "on_call"

    control.client_act("li_na", "hangup")  # the agent hangs up: the Dial action, then the survey
    phone.kind("agent-hung-up")
    phone.said("请为本次服务评分")
    phone.state("gathering")
    control.act(sid, "keys", "5")
    phone.said("如需留言")  # a comment is optional: the caller hangs up instead
    control.act(sid, "hangup")
    phone.kind("ended")
    console.kind("call-ended")
    assert redis_conn.hget(keys.call(sid), "status") in ("served", "ended")
    assert api.get("/api/agent/me", token).get_json()["state"] == "wrap_up"
    paths = [url.split("?")[0].removeprefix(PUBLIC_BASE_URL) for url, _ in calls.call(sid).requests]
    assert "/voice/dial-result" in paths and paths[-1] == "/voice/status"
    day = redis_conn.hget(keys.call(sid), "day")
    assert redis_conn.hget(keys.survey_stats(day), "agent:li_na:sum") == "5"


def test_a_ring_nobody_answers_ends_as_no_answer_and_the_caller_goes_back(
    app: Flask, live: tuple[LiveCalls, Control], run_jobs: Callable[[], None]
) -> None:
    calls, control = live
    control.register("li_na")
    console = Listener(lambda after, wait: control.client_events("li_na", after, wait))
    sid, phone = queued_caller(control)
    api, token = Api(app), token_for(app, "agent", "li_na")
    calls.speed = 40.0  # the 20 s ring passes in half a second
    go_ready(api, token, run_jobs)

    console.kind("ring")
    console.kind("missed")
    phone.kind("state")  # back from the Dial
    sent = [params for url, params in calls.call(sid).requests if "/voice/dial-result" in url]
    assert sent and sent[0]["DialCallStatus"] == "no-answer"
    # The Dial's result is sent before the app has answered it: the agent's state follows.
    until(lambda: api.get("/api/agent/me", token).get_json()["state"] == "not_ready", "li_na not ready")
    control.act(sid, "hangup")
    phone.kind("ended")


class _Pauses:
    """An app that pauses ten minutes, then says so."""

    base_url = "https://pauses.example.com/"

    def request(self, method: str, url: str, params: dict[str, str]) -> Response:
        if url.endswith("/status"):
            return Response(204, "", "")
        body = '<Response><Pause length="600"/><Say>ten minutes later</Say></Response>'
        return Response(200, body, "text/xml")


def test_a_sped_up_clock_shortens_a_pause(switchboard: Switchboard) -> None:
    calls = LiveCalls(switchboard, _Pauses, ACCOUNT_SID, speed=1200.0)  # 600 s in half a second
    call = calls.place(DEMO_CALLER, HOTLINE, voice_url="/voice", status_callback="/status")
    phone = Listener(lambda after, wait: {"events": call.events.since(after, wait)})
    assert phone.kind("pause")["text"] == "600"
    phone.said("ten minutes later")
    phone.kind("ended")
    status = [params for url, params in call.requests if url.endswith("/status")][0]
    assert int(status["CallDuration"]) >= 600  # the call lasted ten simulated minutes


def test_the_terminal_phone_calls_live_through_the_stand_in(live: tuple[LiveCalls, Control]) -> None:
    """`make call` with a script on its input: each line waits for the stop it fits."""
    calls, control = live
    output: list[str] = []
    script = iter(["1", "6222000017", "1", "1", "1", ""])

    def read_line() -> str | None:
        line = next(script, None)
        if line is None:  # on hold: hang up once the music plays
            while not any("[music" in text for text in output):
                threading.Event().wait(0.05)
        return line

    code = run_live(control, DEMO_CALLER, HOTLINE, read_line, output.append, wait_for_turn=True)
    transcript = "\n".join(output)
    assert code == 0, transcript
    assert "[cmn-CN] 您好，欢迎致电OKPay客服热线" in transcript
    assert "-- gathering: keys (0-9 * #)" in transcript
    assert "[music: http" in transcript
    assert "-- on hold: keys (0-9 * #) heard at any time" in transcript
    assert "[you hung up]" in output
    sid = re.search(r"\(call (CA[0-9a-f]{32})\)", transcript)
    assert sid is not None and calls.call(sid.group(1)).state == "completed"  # type: ignore[union-attr]


def test_the_stand_in_can_lose_status_callbacks(switchboard: Switchboard) -> None:
    """`drop_status_share` plays a lost event: the call ends, its status callback never comes."""
    calls = LiveCalls(switchboard, _Pauses, ACCOUNT_SID, speed=1200.0, drop_status_share=1.0, seed=7)
    call = calls.place(DEMO_CALLER, HOTLINE, voice_url="/voice", status_callback="/status")
    phone = Listener(lambda after, wait: {"events": call.events.since(after, wait)})
    assert phone.kind("status-dropped")["url"] == "/status"
    phone.kind("ended")
    assert not [url for url, _ in call.requests if url.endswith("/status")]
    assert calls.calls() == [call]
