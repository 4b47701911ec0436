"""Conferences in the stand-in for Twilio, checked against what Twilio documents.

A tiny voice app (signatures checked on every request, status callbacks kept) puts a caller in
a room with ``<Dial><Conference>``; the real twilio-python client adds, holds, mutes, coaches,
removes participants and ends the room through the REST stand-in. What the tests read is what
a caller, an agent or a supervisor would notice: the music heard, who hears whom, where the call
goes after the room, and the status callbacks the app receives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, abort, request
from flask import Response as FlaskResponse
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

from ivr.twilio_rest import make_client
from standin.conference import DEFAULT_WAIT_MUSIC
from standin.errors import CallbackError
from standin.live import LiveCalls, Message
from standin.outbound import Dialler
from standin.phone import Call
from standin.rest import Switchboard, create_rest_app, serve_in_thread
from standin.transport import FlaskTransport
from standin.twiml_check import TwiMLError, check_twiml

ACCOUNT_SID = "AC" + "3" * 32
AUTH_TOKEN = "conference-token-0123456789"
PUBLIC = "https://ivr.example.test"
WAIT_MUSIC = "https://cdn.example.test/wait.mp3"
HOLD_MUSIC = "https://cdn.example.test/hold.mp3"
CALLER = "+8613800138000"
HOTLINE = "+864001234567"
ROOM = "call-CA1"

Seen = list[tuple[str, str, dict[str, str]]]


def _xml(response: VoiceResponse) -> FlaskResponse:
    return FlaskResponse(str(response), mimetype="text/xml")


def voice_app() -> Flask:
    """Puts the caller in ROOM (waiting for a moderator) and keeps every request it gets."""
    app = Flask(__name__)
    validator = RequestValidator(AUTH_TOKEN)
    seen: Seen = []
    app.extensions["seen"] = seen

    @app.before_request
    def check_signature() -> None:
        query = request.query_string.decode()
        url = PUBLIC + request.path + (f"?{query}" if query else "")
        if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
            abort(403)
        seen.append((request.method, request.full_path.rstrip("?"), request.form.to_dict()))

    @app.post("/join")
    def join() -> FlaskResponse:
        response = VoiceResponse()
        dial = Dial(action="/after")
        dial.conference(
            ROOM,
            start_conference_on_enter=request.args.get("start", "false") == "true",
            end_conference_on_exit=request.args.get("end", "false") == "true",
            wait_url=request.args.get("wait", "/wait"),
            status_callback="/room-events",
            status_callback_event="start end join leave mute hold modify announcement",
            **(
                {
                    "record": "record-from-start",
                    "recording_status_callback": "/recordings",
                    "recording_status_callback_event": "in-progress completed",
                }
                if request.args.get("record")
                else {}
            ),
        )
        response.append(dial)
        return _xml(response)

    @app.post("/wait")
    def wait() -> FlaskResponse:
        response = VoiceResponse()
        response.play(WAIT_MUSIC)
        return _xml(response)

    @app.post("/bad-wait")
    def bad_wait() -> FlaskResponse:
        response = VoiceResponse()
        response.say("Press 1.")
        response.hangup()
        return _xml(response)

    @app.get("/hold")
    def hold() -> FlaskResponse:
        response = VoiceResponse()
        response.play(HOLD_MUSIC)
        return _xml(response)

    @app.post("/announce")
    def announce() -> FlaskResponse:
        response = VoiceResponse()
        response.say("A customer about a refund.")
        return _xml(response)

    @app.post("/after")
    def after() -> FlaskResponse:
        response = VoiceResponse()
        response.say("The conversation has ended.")
        return _xml(response)

    @app.post("/elsewhere")
    def elsewhere() -> FlaskResponse:
        response = VoiceResponse()
        response.say("You are being moved.")
        return _xml(response)

    @app.post("/recordings")
    @app.post("/room-events")
    @app.post("/agent-status")
    @app.post("/voice/status")
    def events() -> tuple[str, int]:
        return "", 204

    return app


@pytest.fixture
def switchboard() -> Switchboard:
    return Switchboard()


@pytest.fixture
def client(switchboard: Switchboard) -> Iterator[Client]:
    url, stop = serve_in_thread(create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN))
    yield make_client(ACCOUNT_SID, AUTH_TOKEN, url, timeout=2)
    stop()


@pytest.fixture
def app() -> Flask:
    return voice_app()


def caller(app: Flask, switchboard: Switchboard, voice_url: str = "/join") -> Call:
    transport = FlaskTransport(app.test_client(), PUBLIC, AUTH_TOKEN)
    call = switchboard.register(Call(transport, from_=CALLER, account_sid=ACCOUNT_SID, voice_url=voice_url))
    call.start()
    return call


def room_events(app: Flask) -> list[dict[str, str]]:
    return [form for _, path, form in app.extensions["seen"] if path == "/room-events"]


def events_of(app: Flask) -> list[str]:
    return [form["StatusCallbackEvent"] for form in room_events(app)]


def room_sid(client: Client) -> str:
    """The sid of the room named ROOM now (the REST API names a room by sid, but to add to it)."""
    return str(client.conferences.list(friendly_name=ROOM)[0].sid)


def add_agent(client: Client, switchboard: Switchboard, **extra: object) -> str:
    """The REST API dials an agent into ROOM; the agent answers. Returns the agent's CallSid."""
    options: dict[str, object] = {
        "label": "agent",
        "end_conference_on_exit": True,
        "status_callback": f"{PUBLIC}/agent-status",
        "status_callback_event": ["answered", "completed"],
    }
    participant = client.conferences(ROOM).participants.create(
        from_=HOTLINE, to="client:li_na", **(options | extra)
    )
    assert participant.status in ("queued", "ringing")
    switchboard.conferences.answered(participant.call_sid)
    return str(participant.call_sid)


# -- waiting -----------------------------------------------------------------------------------


def test_a_caller_alone_waits_in_the_room_hearing_its_wait_url_again_and_again(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    assert call.state == "conference"
    assert [item.text for item in call.heard] == [WAIT_MUSIC]
    call.continue_loop(2)
    assert [item.text for item in call.heard] == [WAIT_MUSIC] * 3
    # The waitUrl is requested with POST (waitMethod's default), signed, about this call.
    waits = [(method, form) for method, path, form in app.extensions["seen"] if path == "/wait"]
    assert len(waits) == 3
    assert {method for method, _ in waits} == {"POST"}
    assert waits[0][1]["CallSid"] == call.call_sid
    [room] = client.conferences.list(friendly_name=ROOM)
    assert (room.status, room.friendly_name) == ("init", ROOM)
    assert events_of(app) == ["participant-join"]
    first = room_events(app)[0]
    assert (first["ConferenceSid"], first["FriendlyName"], first["SequenceNumber"]) == (room.sid, ROOM, "1")
    assert (first["CallSid"], first["StartConferenceOnEnter"], first["Muted"]) == (
        call.call_sid,
        "false",
        "false",
    )


def test_without_a_wait_url_the_caller_hears_twilios_music_and_with_an_empty_one_silence(
    app: Flask, switchboard: Switchboard
) -> None:
    assert check_twiml('<Response><Dial><Conference waitUrl="">r</Conference></Dial></Response>') is not None
    default = caller(app, switchboard, "/join?wait=")
    assert default.state == "conference"
    assert default.heard == []  # waitUrl="": nothing plays
    other = Switchboard()
    call = caller(voice_app_without_wait(), other)
    assert [item.text for item in call.heard] == [DEFAULT_WAIT_MUSIC]


def voice_app_without_wait() -> Flask:
    app = voice_app()

    @app.post("/plain")
    def plain() -> FlaskResponse:
        response = VoiceResponse()
        dial = Dial()
        dial.conference(ROOM)
        response.append(dial)
        return _xml(response)

    app.view_functions["join"] = plain
    return app


def test_a_wait_url_document_with_verbs_twilio_refuses_there_is_reported(
    app: Flask, switchboard: Switchboard
) -> None:
    with pytest.raises(CallbackError, match="13238"):
        caller(app, switchboard, "/join?wait=/bad-wait")
    [(call, _)] = switchboard.live_calls()
    assert call.state == "conference"
    assert call.heard == []  # Twilio plays nothing of a document it refuses
    [problem] = switchboard.conferences.problems
    assert "13238" in problem and "Hangup" in problem


@pytest.mark.parametrize(
    ("twiml", "complaint"),
    [
        ('<Conference statusCallbackEvent="start finish" statusCallback="/e">r</Conference>', "finish"),
        ('<Conference statusCallbackEvent="start">r</Conference>', "statusCallback"),
        ('<Conference beep="loud">r</Conference>', "beep"),
        ('<Conference maxParticipants="1">r</Conference>', "maxParticipants"),
        ('<Conference endConferenceOnExit="yes">r</Conference>', "endConferenceOnExit"),
        ("<Conference>r</Conference><Number>+8613800138000</Number>", "nothing else"),
        ("<Conference/>", "name"),
    ],
)
def test_conference_twiml_twilio_would_refuse_is_refused(twiml: str, complaint: str) -> None:
    with pytest.raises(TwiMLError, match=complaint):
        check_twiml(f"<Response><Dial>{twiml}</Dial></Response>")


# -- the agent arrives ---------------------------------------------------------------------------


def test_an_agent_dialled_into_the_room_starts_it_and_the_music_stops(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    participant = client.conferences(ROOM).participants.create(
        from_=HOTLINE, to="client:li_na", label="agent", status_callback=f"{PUBLIC}/agent-status",
        status_callback_event=["answered", "completed"],
    )  # fmt: skip
    room = client.conferences.list(friendly_name=ROOM)[0]
    assert participant.conference_sid == room.sid
    assert client.calls(participant.call_sid).fetch().status == "queued"
    # Ringing: the caller still waits.
    assert client.conferences(room.sid).participants(participant.call_sid).fetch().status == "ringing"
    ringing = switchboard.conferences.find(room.sid)
    assert ringing is not None and not ringing.hears(call.call_sid, participant.call_sid)

    switchboard.conferences.answered(participant.call_sid)
    live = switchboard.conferences.find(room.sid)
    assert live is not None and live.status == "in-progress"
    assert live.hears(call.call_sid, "agent") and live.hears("agent", call.call_sid)
    assert client.calls(participant.call_sid).fetch().status == "in-progress"
    assert events_of(app) == ["participant-join", "participant-join", "conference-start"]
    assert [form["SequenceNumber"] for form in room_events(app)] == ["1", "2", "3"]
    assert room_events(app)[1]["ParticipantLabel"] == "agent"
    progress = [form for _, path, form in app.extensions["seen"] if path == "/agent-status"]
    assert [(f["CallStatus"], f["CallSid"]) for f in progress] == [("in-progress", participant.call_sid)]
    heard = len(call.heard)
    call.continue_loop()
    assert len(call.heard) == heard  # talking: no more music
    assert {p.label for p in client.conferences(room.sid).participants.list()} == {None, "agent"}


def test_an_agent_who_does_not_answer_leaves_the_caller_waiting(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    participant = client.conferences(ROOM).participants.create(from_=HOTLINE, to="client:li_na", timeout=20)
    switchboard.conferences.not_answered(participant.call_sid, "no-answer")
    assert events_of(app) == ["participant-join", "participant-leave"]
    assert room_events(app)[-1]["ParticipantCallStatus"] == "no-answer"
    assert client.calls(participant.call_sid).fetch().status == "no-answer"
    assert call.state == "conference"
    call.continue_loop()
    assert [item.text for item in call.heard] == [WAIT_MUSIC, WAIT_MUSIC]
    assert client.conferences.list(friendly_name=ROOM)[0].status == "init"


def test_the_agent_hanging_up_ends_the_room_and_the_caller_goes_on_with_the_dial_action(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    agent = add_agent(client, switchboard)
    mark = call.mark()
    switchboard.conferences.hang_up(agent)  # the agent hangs up
    assert call.state == "completed"
    assert call.heard_text(mark) == "The conversation has ended."
    assert events_of(app)[-3:] == ["participant-leave", "participant-leave", "conference-end"]
    end = room_events(app)[-1]
    assert (end["ReasonConferenceEnded"], end["CallSidEndingConference"]) == (
        "participant-with-end-conference-on-exit-left",
        agent,
    )
    room = client.conferences.list(friendly_name=ROOM)[0]
    assert (room.status, room.reason_conference_ended) == (
        "completed",
        "participant-with-end-conference-on-exit-left",
    )
    assert client.calls(agent).fetch().status == "completed"
    with pytest.raises(TwilioRestException) as caught:
        client.conferences(room.sid).participants(agent).update(muted=True)
    assert caught.value.status == 404


def test_the_caller_hanging_up_leaves_the_agent_alone_in_the_room(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    agent = add_agent(client, switchboard, end_conference_on_exit=False)
    call.hangup()
    leave = room_events(app)[-1]
    assert (leave["StatusCallbackEvent"], leave["CallSid"]) == ("participant-leave", call.call_sid)
    # The Dial's action hears of the end (its answer ignored), then the status callback.
    paths = [path for _, path, _ in app.extensions["seen"]]
    assert paths[-3:] == ["/room-events", "/after", "/voice/status"]
    room = client.conferences.list(friendly_name=ROOM)[0]
    assert room.status == "in-progress"
    assert [p.call_sid for p in client.conferences(room.sid).participants.list()] == [agent]
    switchboard.conferences.hang_up(agent)
    assert client.conferences(room.sid).fetch().reason_conference_ended == "last-participant-left"


# -- hold, mute, coach -----------------------------------------------------------------------------


def test_holding_the_caller_plays_the_hold_url_and_nobody_hears_them(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    agent = add_agent(client, switchboard)
    mark = call.mark()
    held = (
        client.conferences(room_sid(client))
        .participants(call.call_sid)
        .update(hold=True, hold_url=f"{PUBLIC}/hold")
    )
    assert held.hold is True
    room = switchboard.conferences.find(ROOM)
    assert room is not None
    assert not room.hears(agent, call.call_sid) and not room.hears(call.call_sid, agent)
    # Nothing reached the app from inside the REST request; the next safe point delivers.
    assert switchboard.conferences.pending == 2
    call.continue_loop()
    assert [item.text for item in call.heard[mark:]] == [HOLD_MUSIC, HOLD_MUSIC]
    holds = [(m, p) for m, p, _ in app.extensions["seen"] if p.startswith("/hold?")]
    assert holds[0][0] == "GET"  # holdMethod defaults to GET
    assert f"CallSid={call.call_sid}" in holds[0][1]
    assert events_of(app)[-1] == "participant-hold" and room_events(app)[-1]["Hold"] == "true"

    client.conferences(room_sid(client)).participants(call.call_sid).update(hold=False)
    switchboard.conferences.deliver()
    assert events_of(app)[-1] == "participant-unhold"
    assert room.hears(agent, call.call_sid) and room.hears(call.call_sid, agent)
    mark = call.mark()
    call.continue_loop()
    assert call.heard[mark:] == []


def test_listen_coach_and_barge_decide_who_hears_the_supervisor(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    agent = add_agent(client, switchboard)
    supervisor = client.conferences(ROOM).participants.create(
        from_=HOTLINE, to="client:wang_wei", label="supervisor", muted=True, start_conference_on_enter=False
    )
    switchboard.conferences.answered(supervisor.call_sid)
    room = switchboard.conferences.find(ROOM)
    assert room is not None
    # Listen: the supervisor hears both, neither hears the supervisor.
    assert room.hears("supervisor", agent) and room.hears("supervisor", call.call_sid)
    assert not room.hears(agent, "supervisor") and not room.hears(call.call_sid, "supervisor")

    # Coach: unmuted, heard by the agent only.
    client.conferences(room_sid(client)).participants("supervisor").update(
        muted=False, coaching=True, call_sid_to_coach=agent
    )
    assert room.hears(agent, "supervisor") and not room.hears(call.call_sid, "supervisor")
    assert room.hears(call.call_sid, agent)

    # Barge: heard by both.
    updated = client.conferences(room_sid(client)).participants("supervisor").update(coaching=False)
    assert updated.coaching is False
    assert room.hears(agent, "supervisor") and room.hears(call.call_sid, "supervisor")
    switchboard.conferences.deliver()
    assert events_of(app)[-4:] == [
        "participant-join",
        "participant-unmute",
        "participant-modify",
        "participant-modify",
    ]
    coached = [form for form in room_events(app) if form["StatusCallbackEvent"] == "participant-modify"][0]
    assert (coached["Coaching"], coached["CallSidToCoach"]) == ("true", agent)


def test_coaching_without_a_call_to_coach_is_refused(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    caller(app, switchboard)
    with pytest.raises(TwilioRestException) as caught:
        client.conferences(ROOM).participants.create(from_=HOTLINE, to="client:wang_wei", coaching=True)
    assert (caught.value.status, caught.value.code) == (400, 20001)


def test_an_announcement_is_heard_by_its_participant_only(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    agent = add_agent(client, switchboard)
    mark = call.mark()
    client.conferences(room_sid(client)).participants(agent).update(announce_url=f"{PUBLIC}/announce")
    switchboard.conferences.deliver()
    room = switchboard.conferences.find(ROOM)
    assert room is not None
    assert [item.text for item in room.participants[agent].heard] == ["A customer about a refund."]
    assert call.heard_text(mark) == ""
    assert events_of(app)[-1] == "announcement-end"


# -- leaving through the API ---------------------------------------------------------------------


def test_removing_the_caller_sends_them_on_after_the_dial(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    agent = add_agent(client, switchboard, end_conference_on_exit=False)
    client.conferences(room_sid(client)).participants(call.call_sid).delete()
    assert call.state == "conference"  # taken at the call's next safe point
    mark = call.mark()
    call.continue_loop()
    assert call.heard_text(mark) == "The conversation has ended."
    assert call.state == "completed"
    room = client.conferences.list(friendly_name=ROOM)[0]
    assert room.status == "in-progress"  # the agent is still there
    client.conferences(room_sid(client)).participants(agent).delete()
    switchboard.conferences.deliver()
    assert client.conferences(room.sid).fetch().reason_conference_ended == "last-participant-kicked"


def test_ending_the_room_through_the_api_lets_everyone_go(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    agent = add_agent(client, switchboard)
    room = client.conferences.list(friendly_name=ROOM)[0]
    assert client.conferences(room.sid).update(status="completed").status == "completed"
    switchboard.conferences.deliver()
    assert call.heard_text() == "The conversation has ended."
    assert client.calls(agent).fetch().status == "completed"
    end = room_events(app)[-1]
    assert (end["StatusCallbackEvent"], end["ReasonConferenceEnded"]) == (
        "conference-end",
        "conference-ended-via-api",
    )
    assert "CallSidEndingConference" not in end
    assert client.conferences.list(friendly_name=ROOM, status="in-progress") == []
    # The name is free again: a new call to it opens a new room.
    again = caller(app, switchboard)
    assert again.state == "conference"
    assert len(client.conferences.list(friendly_name=ROOM)) == 2


def test_a_rest_redirect_takes_the_caller_out_of_the_room(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard)
    add_agent(client, switchboard, end_conference_on_exit=False)
    client.calls(call.call_sid).update(url=f"{PUBLIC}/elsewhere")
    mark = call.mark()
    call.continue_loop()
    assert call.heard_text(mark) == "You are being moved."
    leave = room_events(app)[-1]
    assert (leave["StatusCallbackEvent"], leave["CallSid"]) == ("participant-leave", call.call_sid)
    assert "/after" not in [path for _, path, _ in app.extensions["seen"]]  # no Dial action on a redirect


def test_unknown_rooms_and_participants_are_404(app: Flask, switchboard: Switchboard, client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.conferences("CF" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)
    caller(app, switchboard)
    with pytest.raises(TwilioRestException) as caught:
        client.conferences(room_sid(client)).participants("CA" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


# -- the live stand-in -----------------------------------------------------------------------------


def test_live_a_console_dialled_into_the_room_talks_until_it_hangs_up(app: Flask) -> None:
    """The live stand-in rings the console, starts the room on its answer, and lets the caller
    go on with the Dial's action when the agent (endConferenceOnExit) hangs up."""
    switchboard = Switchboard()
    calls = LiveCalls(
        switchboard, lambda: FlaskTransport(app.test_client(), PUBLIC, AUTH_TOKEN), ACCOUNT_SID, speed=50.0
    )
    switchboard.dialer = Dialler(calls)
    url, stop = serve_in_thread(create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN))
    try:
        client = make_client(ACCOUNT_SID, AUTH_TOKEN, url, timeout=2)
        console = calls.register("li_na")
        call = calls.place(CALLER, HOTLINE, voice_url="/join")
        wait_for(lambda: call.state == "conference", "the caller in the room")
        participant = client.conferences(ROOM).participants.create(
            from_=HOTLINE, to="client:li_na", end_conference_on_exit=True
        )
        ring = wait_for(
            lambda: next((e for e in console.events.since(0) if e["kind"] == "ring"), None), "a ring"
        )
        assert ring["call"] == participant.call_sid
        leg = calls.call(participant.call_sid)
        assert leg is not None
        leg.inbox.put(Message("answer", by="li_na"))
        wait_for(lambda: "conference-start" in events_of(app), "the room's start")
        room = switchboard.conferences.find(str(participant.conference_sid))
        assert room is not None and room.hears(call.call_sid, participant.call_sid)
        leg.inbox.put(Message("end", by="caller"))  # the console hangs up its leg
        wait_for(lambda: call.state == "completed", "the caller's call to end")
        assert "The conversation has ended." in call.heard_text()
        assert client.conferences(room.sid).fetch().reason_conference_ended == (
            "participant-with-end-conference-on-exit-left"
        )
        assert switchboard.conferences.problems == []
    finally:
        stop()


def wait_for(found: Callable[[], Any], what: str, seconds: float = 5.0) -> Any:
    """What ``found`` returns once it is truthy; fails after ``seconds`` (a bound, not a timing)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"no {what} within {seconds} s")


# -- recordings --------------------------------------------------------------------------------------


def test_a_recorded_room_records_from_its_start_pauses_resumes_and_reports_its_end(
    app: Flask, switchboard: Switchboard, client: Client
) -> None:
    call = caller(app, switchboard, "/join?record=1")
    sid = room_sid(client)
    assert client.conferences(sid).recordings.list() == []  # not started: nothing recorded yet
    agent = add_agent(client, switchboard)
    [recording] = client.conferences(sid).recordings.list()
    assert (recording.status, recording.duration) == ("in-progress", "-1")
    paused = client.conferences(sid).recordings("Twilio.CURRENT").update(status="paused")
    assert (paused.sid, paused.status) == (recording.sid, "paused")
    resumed = client.conferences(sid).recordings(recording.sid).update(status="in-progress")
    assert resumed.status == "in-progress"
    with pytest.raises(TwilioRestException) as caught:
        client.recordings(recording.sid).delete()  # not while it records
    assert caught.value.status == 400
    switchboard.conferences.hang_up(agent)  # the room ends: the recording is complete
    assert call.state == "completed"
    reports = [form for _, path, form in app.extensions["seen"] if path == "/recordings"]
    assert [form["RecordingStatus"] for form in reports] == ["in-progress", "completed"]
    done = reports[-1]
    assert (done["RecordingSid"], done["ConferenceSid"]) == (recording.sid, sid)
    assert (
        done["RecordingUrl"].endswith(f"/Recordings/{recording.sid}") and done["RecordingDuration"].isdigit()
    )
    assert client.recordings(recording.sid).fetch().status == "completed"
    assert [r.sid for r in client.recordings.list(conference_sid=sid)] == [recording.sid]
    client.recordings(recording.sid).delete()
    assert client.recordings.list(conference_sid=sid) == []
    with pytest.raises(TwilioRestException) as caught:
        client.recordings(recording.sid).fetch()
    assert caught.value.status == 404


def test_a_paused_stretch_is_left_out_of_the_duration(
    switchboard: Switchboard, app: Flask, client: Client
) -> None:
    """The recording's clock: 30 s recorded, 20 s paused, 10 s more: 40 s."""
    now = [1000.0]
    switchboard.conferences.ticks = lambda: now[0]
    caller(app, switchboard, "/join?record=1")
    agent = add_agent(client, switchboard)
    room = room_sid(client)
    now[0] += 30
    client.conferences(room).recordings("Twilio.CURRENT").update(status="paused")
    now[0] += 20
    client.conferences(room).recordings("Twilio.CURRENT").update(status="in-progress")
    now[0] += 10
    switchboard.conferences.hang_up(agent)
    done = [form for _, path, form in app.extensions["seen"] if path == "/recordings"][-1]
    assert done["RecordingDuration"] == "40"
