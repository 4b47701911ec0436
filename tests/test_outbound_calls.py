"""The live stand-in runs the hotline's outbound calls as Twilio would: it rings, then runs them.

A call created through the REST API rings the phone registered under its `To` (the terminal
phone registers its caller ID); answered, it fetches its Url and runs; not answered, it ends as
no-answer after its Timeout. The status callback hears the events asked for, signed, with the
final status. Under `make run` the callback path thus completes: the customer's phone rings, or
the callback is retried, and the agent kept for it is never left ringing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from hotline_tools.livephone import run_live
from ivr import keys
from ivr.callcenter.agents import ON_CALL, RINGING, WRAP_UP
from ivr.clock import FixedClock
from ivr.services import services_of
from queue_worker import context
from standin.control import Control
from standin.live import LiveCalls, Message
from standin.outbound import Dialler
from standin.rest import Switchboard, create_rest_app
from standin.serve import serve_live_standin
from standin.transport import FlaskTransport
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DEMO_CALLER, PUBLIC_BASE_URL, client_of
from tests.test_callbacks import ask_callback, calls_to, hotline_file, make_app, on_hold, ready
from tests.test_live_calls import Listener

HOTLINE = "+864001234567"


@pytest.fixture
def cb_app(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    """The hotline, offering the callback to every waiting caller."""
    yield make_app({**app_settings, "hotline_config": hotline_file(tmp_path)}, clock)
    context.install(None)


@pytest.fixture
def stand_in(cb_app: Flask, switchboard: Switchboard) -> Iterator[tuple[LiveCalls, Control]]:
    """The live stand-in dialling the hotline's outbound calls, and its control API's client."""
    standin = serve_live_standin(
        lambda: FlaskTransport(cb_app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN),
        ACCOUNT_SID,
        AUTH_TOKEN,
        switchboard=switchboard,  # the switchboard serves the whole session: stop() unhooks it
    )
    yield standin.live, Control(standin.url, ACCOUNT_SID, AUTH_TOKEN)
    standin.stop()


def test_the_customers_phone_rings_answers_and_reaches_the_agent(
    cb_app: Flask, stand_in: tuple[LiveCalls, Control], switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    calls, control = stand_in
    hotline = services_of(cb_app)
    asker = on_hold(cb_app, switchboard)
    ask_callback(asker)  # the caller hung up, keeping the place; their phone stays on
    control.register(DEMO_CALLER)
    handset = Listener(lambda after, wait: control.client_events(DEMO_CALLER, after, wait))
    control.register("li_na")
    console = Listener(lambda after, wait: control.client_events("li_na", after, wait))

    ready(cb_app, "li_na")  # the callback's place reaches li_na: the hotline calls the customer
    ring = handset.kind("ring")
    (placed,) = calls_to(switchboard, asker)
    assert ring["call"] == placed.sid
    rest = client_of(cb_app)  # twilio-python, to the stand-in
    assert rest.calls(placed.sid).fetch().status == "ringing"
    control.client_act(DEMO_CALLER, "answer")

    back = Listener(lambda after, wait: control.events(placed.sid, after, wait))
    back.said("为您回电")  # the greeting of /voice/callback/answer, the call's Url
    back.state("gathering")
    control.act(placed.sid, "keys", "1")
    assert console.kind("ring")["call"] == placed.sid
    control.client_act("li_na", "answer")
    assert "账户尾号0017，身份已验证" in console.kind("whisper")["text"]
    back.kind("answered")
    assert hotline.agents.get("li_na").state == ON_CALL
    fetched = rest.calls(placed.sid).fetch()
    assert (fetched.status, fetched.direction) == ("in-progress", "outbound-api")

    control.client_act("li_na", "hangup")
    back.said("请为本次服务评分")  # the survey, on the hotline's call to the customer
    back.state("gathering")
    control.act(placed.sid, "keys", "5")
    back.kind("ended")
    assert rest.calls(placed.sid).fetch().status == "completed"
    assert hotline.agents.get("li_na").state == WRAP_UP
    assert redis_conn.hget(keys.call(asker.call_sid), "status") == "served"
    assert redis_conn.hget(keys.survey(asker.call_sid), "score") == "5"  # rated, on the original call
    sent = calls.call(placed.sid).requests  # type: ignore[union-attr]
    first = sent[0][1]
    assert (first["Direction"], first["CallStatus"], first["AnsweredBy"]) == (
        "outbound-api",
        "in-progress",
        "human",
    )
    assert "/voice/callback/status" in sent[-1][0] and sent[-1][1]["CallStatus"] == "completed"


def test_a_callback_nobody_answers_ends_as_no_answer_and_frees_the_agent(
    cb_app: Flask, stand_in: tuple[LiveCalls, Control], switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    calls, control = stand_in
    calls.speed = 60.0  # the 30 s ring passes in half a second
    hotline = services_of(cb_app)
    asker = on_hold(cb_app, switchboard)
    ask_callback(asker)  # and the phone was put away: nothing is registered under the number
    ready(cb_app, "li_na")
    (placed,) = calls_to(switchboard, asker)
    Listener(lambda after, wait: control.events(placed.sid, after, wait)).kind("ended")

    rest = client_of(cb_app)
    assert rest.calls(placed.sid).fetch().status == "no-answer"
    status = [params for url, params in calls.call(placed.sid).requests if "/callback/status" in url]  # type: ignore[union-attr]
    assert [(p["CallStatus"], p["CallDuration"]) for p in status] == [("no-answer", "0")]
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["cb_status"], record["cb_reason"]) == ("retry", "no-answer")
    assert hotline.agents.get("li_na").state != RINGING


# -- the stand-in alone: events, signatures, cancel ----------------------------------------


def recording_app(received: list[dict[str, Any]]) -> Flask:
    """An app that answers a call with a goodbye and keeps every status callback it is sent."""
    app = Flask("outbound-app")
    validator = RequestValidator(AUTH_TOKEN)

    @app.post("/answer")
    def answer() -> Response:
        return Response("<Response><Say>Hello, goodbye.</Say><Hangup/></Response>", content_type="text/xml")

    @app.post("/voicemail")
    def voicemail() -> Response:
        return Response(
            '<Response><Record maxLength="30" action="/recorded"/></Response>', content_type="text/xml"
        )

    @app.post("/recorded")
    def recorded() -> Response:
        received.append(request.form.to_dict())
        return Response("<Response><Say>Thank you.</Say><Hangup/></Response>", content_type="text/xml")

    @app.post("/status")
    def status() -> Response:
        signed = validator.validate(
            f"{PUBLIC_BASE_URL}/status", request.form.to_dict(), request.headers.get("X-Twilio-Signature", "")
        )
        received.append({**request.form.to_dict(), "signed": signed})
        return Response("", status=204)

    return app


@pytest.fixture
def board() -> Iterator[tuple[Switchboard, LiveCalls, Any, list[dict[str, Any]]]]:
    """A switchboard of its own, dialling through live calls to `recording_app`."""
    received: list[dict[str, Any]] = []
    app, switchboard = recording_app(received), Switchboard()
    calls = LiveCalls(
        switchboard, lambda: FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN), ACCOUNT_SID
    )
    switchboard.dialer = Dialler(calls)
    api = create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN).test_client()
    yield switchboard, calls, api, received


def create(api: Any, **fields: str) -> dict[str, Any]:
    """POST /Calls.json as twilio-python sends it."""
    form = {"To": DEMO_CALLER, "From": HOTLINE, "Url": f"{PUBLIC_BASE_URL}/answer",
            "StatusCallback": f"{PUBLIC_BASE_URL}/status", **fields}  # fmt: skip
    answer = api.post(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json", data=form, auth=(ACCOUNT_SID, AUTH_TOKEN)
    )
    assert answer.status_code == 201, answer.get_json()
    return dict(answer.get_json())


def test_every_progress_event_asked_for_is_sent_signed_in_order(board: Any) -> None:
    switchboard, calls, api, received = board
    handset = calls.register(DEMO_CALLER)
    created = create(
        api, StatusCallbackEvent="initiated ringing answered completed", MachineDetection="Enable"
    )
    assert created["status"] == "queued"
    ring = Listener(lambda after, wait: {"events": handset.events.since(after, wait)}).kind("ring")
    call = calls.call(created["sid"])
    assert call is not None and ring["call"] == call.call_sid
    handset.call.inbox.put(Message("answer", by=DEMO_CALLER))  # type: ignore[union-attr]
    Listener(lambda after, wait: {"events": call.events.since(after, wait)}).kind("ended")

    assert "Hello, goodbye." in call.heard_text()
    assert [(r["CallStatus"], r["SequenceNumber"], r["signed"]) for r in received] == [
        ("initiated", "0", True), ("ringing", "1", True),
        ("in-progress", "2", True), ("completed", "3", True),
    ]  # fmt: skip
    assert all(r["Direction"] == "outbound-api" for r in received)
    assert switchboard.outbound_call(created["sid"]).status == "completed"


def test_an_answered_call_can_record_the_person_who_answered(board: Any) -> None:
    switchboard, calls, api, received = board
    handset = calls.register(DEMO_CALLER)
    created = create(api, Url=f"{PUBLIC_BASE_URL}/voicemail")
    Listener(lambda after, wait: {"events": handset.events.since(after, wait)}).kind("ring")
    handset.call.inbox.put(Message("answer", by=DEMO_CALLER))  # type: ignore[union-attr]
    call = calls.call(created["sid"])
    assert call is not None
    events = Listener(lambda after, wait: {"events": call.events.since(after, wait)})
    events.state("recording")
    call.inbox.put(Message("record", "7"))
    events.kind("ended")

    assert "Thank you." in call.heard_text()
    (recording,) = [r for r in received if "RecordingDuration" in r]
    assert (recording["CallSid"], recording["RecordingDuration"]) == (created["sid"], "7")


def test_a_call_canceled_while_it_rings_ends_as_canceled(board: Any) -> None:
    switchboard, calls, api, received = board
    created = create(api, Timeout="60")
    call = calls.call(created["sid"])
    events = Listener(lambda after, wait: {"events": call.events.since(after, wait)})  # type: ignore[union-attr]
    events.kind("ringing")
    uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{created['sid']}.json"
    answer = api.post(uri, data={"Status": "canceled"}, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert answer.status_code == 200 and answer.get_json()["status"] == "canceled"
    events.kind("ended")
    assert [r["CallStatus"] for r in received] == ["canceled"]  # only `completed` was asked for
    assert call.requests and not any("/answer" in url for url, _ in call.requests)  # type: ignore[union-attr]


def test_a_busy_phone_refuses_a_call(board: Any) -> None:
    switchboard, calls, api, received = board
    handset = calls.register(DEMO_CALLER)
    created = create(api)
    Listener(lambda after, wait: {"events": handset.events.since(after, wait)}).kind("ring")
    handset.call.inbox.put(Message("busy", by=DEMO_CALLER))  # type: ignore[union-attr]
    Listener(lambda after, wait: {"events": calls.call(created["sid"]).events.since(after, wait)}).kind(
        "ended"
    )  # type: ignore[union-attr]
    assert [r["CallStatus"] for r in received] == ["busy"]
    assert switchboard.outbound_call(created["sid"]).status == "busy"


def test_the_terminal_phone_stays_on_and_answers_the_call_back(
    cb_app: Flask, stand_in: tuple[LiveCalls, Control]
) -> None:
    """`make call`: keep the place on hold, hang up, and the phone rings when the place comes up."""
    calls, control = stand_in
    control.register("li_na")
    console = Listener(lambda after, wait: control.client_events("li_na", after, wait))
    output: list[str] = []
    script = iter(["1", "6222000017", "1", "1", "1", "", "1", "1", "answer", "1"])

    def read_line() -> str | None:
        line = next(script, None)
        while line is None and not any("[the agent hung up]" in text for text in output):  # talk until then
            time.sleep(0.05)
        return line

    phone = threading.Thread(
        target=run_live,
        args=(control, DEMO_CALLER, HOTLINE, read_line, output.append),
        kwargs={"wait_for_turn": True, "stay_on": True},
    )
    phone.start()
    deadline = time.monotonic() + 30
    while not any("stays on" in text for text in output) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "[the call ended: completed]" in output, output

    ready(cb_app, "li_na")  # the kept place reaches li_na: the hotline calls the phone back
    console.kind("ring")
    control.client_act("li_na", "answer")
    console.kind("connected")
    control.client_act("li_na", "hangup")
    phone.join(timeout=30)
    transcript = "\n".join(output)
    assert f"[ringing: {HOTLINE} calls {DEMO_CALLER}: `answer`, or `busy` to refuse]" in transcript
    assert "为您回电" in transcript and "[answered: agent li_na; talking now]" in transcript
    assert "[the agent hung up]" in transcript and not phone.is_alive()
