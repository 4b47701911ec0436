"""The REST stand-in (``standin.rest``) through the real twilio-python client of ``ivr.twilio_rest``.

The API is served over real HTTP on a free port and the client is the one the app builds, so
every test also proves that ``BaseUrlHttpClient`` rewrites Twilio's URLs, that the stand-in
speaks the JSON twilio-python parses, and that its errors become ``TwilioRestException``. Live
calls are stand-in ``Call`` objects driven against a tiny voice app in this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask, abort, request
from flask import Response as FlaskResponse
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from ivr.twilio_rest import BaseUrlHttpClient, make_client
from standin.phone import Call
from standin.rest import Switchboard, create_rest_app, serve_in_thread
from standin.transport import FlaskTransport

ACCOUNT_SID = "AC" + "2" * 32
AUTH_TOKEN = "rest-token-0123456789abcdef"
PUBLIC = "https://ivr.example.test"
HOLD_MUSIC = "https://cdn.example.test/hold.mp3"
CALLER = "+8613800138000"

Seen = list[tuple[str, str, dict[str, str]]]  # (method, path, form) the voice app received


def _xml(response: VoiceResponse) -> FlaskResponse:
    return FlaskResponse(str(response), mimetype="text/xml")


def voice_app() -> Flask:
    """A voice app that validates signatures, with a hold loop, a queue and a page to go to."""
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

    @app.post("/hold")
    def hold() -> FlaskResponse:
        response = VoiceResponse()
        response.play(HOLD_MUSIC)
        response.redirect("/hold")
        return _xml(response)

    @app.post("/queue")
    def queue() -> FlaskResponse:
        response = VoiceResponse()
        response.enqueue("support", wait_url="/hold-music", action="/queue/done")
        return _xml(response)

    @app.post("/hold-music")
    def hold_music() -> FlaskResponse:
        response = VoiceResponse()
        response.play(HOLD_MUSIC)
        return _xml(response)

    @app.post("/queue/done")
    def queue_done() -> FlaskResponse:
        response = VoiceResponse()
        response.say(f"Queue result {request.form['QueueResult']}.")
        return _xml(response)

    @app.post("/agent-ready")
    def agent_ready() -> FlaskResponse:
        response = VoiceResponse()
        response.say("An agent is ready for you.")
        response.hangup()
        return _xml(response)

    @app.post("/transfer")
    def transfer() -> FlaskResponse:
        # Inside this call's own webhook, the app asks the REST API to move the call on.
        rest: Client = app.extensions["rest_client"]
        rest.calls(request.form["CallSid"]).update(url=f"{PUBLIC}/agent-ready", method="POST")
        return hold()

    @app.post("/voice/status")
    def status() -> tuple[str, int]:
        return "", 204

    return app


@pytest.fixture
def switchboard() -> Switchboard:
    return Switchboard()


@pytest.fixture
def api_url(switchboard: Switchboard) -> Iterator[str]:
    """The REST stand-in over HTTP on a free local port."""
    url, stop = serve_in_thread(create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN))
    yield url
    stop()


@pytest.fixture
def client(api_url: str) -> Client:
    return make_client(ACCOUNT_SID, AUTH_TOKEN, api_url, timeout=2)


@pytest.fixture
def app() -> Flask:
    return voice_app()


def live_call(app: Flask, switchboard: Switchboard, voice_url: str) -> Call:
    """A started stand-in call to the voice app, registered with the switchboard."""
    transport = FlaskTransport(app.test_client(), PUBLIC, AUTH_TOKEN)
    call = Call(transport, from_=CALLER, account_sid=ACCOUNT_SID, voice_url=voice_url, max_redirects=3)
    switchboard.register(call)
    call.start()
    return call


# -- the app-side client ---------------------------------------------------------------------


def test_base_url_client_swaps_scheme_and_host_and_adds_a_path_prefix() -> None:
    http = BaseUrlHttpClient("http://127.0.0.1:5050/twilio/")
    twilio_url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json?PageSize=5"
    assert http.rebase(twilio_url) == (
        f"http://127.0.0.1:5050/twilio/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json?PageSize=5"
    )
    regional = "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts.json"
    assert http.rebase(regional) == "http://127.0.0.1:5050/twilio/2010-04-01/Accounts.json"
    assert http.rebase("https://example.com/x") == "https://example.com/x"
    with pytest.raises(ValueError, match="API base URL"):
        BaseUrlHttpClient("127.0.0.1:5050")


def test_make_client_uses_the_stand_in_only_when_not_twilio() -> None:
    real = make_client(ACCOUNT_SID, AUTH_TOKEN, "https://api.twilio.com/", timeout=3)
    assert not isinstance(real.http_client, BaseUrlHttpClient)
    assert real.http_client.timeout == 3
    local = make_client(ACCOUNT_SID, AUTH_TOKEN, "http://127.0.0.1:5050")
    assert isinstance(local.http_client, BaseUrlHttpClient)
    assert local.http_client.timeout == 5.0


# -- calls and messages ----------------------------------------------------------------------


def test_creating_a_call_returns_it_queued_and_the_switchboard_holds_it(
    client: Client, switchboard: Switchboard
) -> None:
    call = client.calls.create(
        to="+8613900000000",
        from_="+864001234567",
        url=f"{PUBLIC}/callback/answer",
        status_callback=f"{PUBLIC}/voice/status",
        status_callback_event=["initiated", "completed"],
        timeout=20,
    )
    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid)
    assert (call.status, call.direction, call.account_sid) == ("queued", "outbound-api", ACCOUNT_SID)
    assert (call.to, call.from_formatted, call.api_version) == (
        "+8613900000000",
        "+864001234567",
        "2010-04-01",
    )
    assert call.date_created is not None  # twilio-python parsed the RFC 2822 date
    assert call.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call.sid}.json"
    [record] = switchboard.outbound_calls
    assert (record.sid, record.to, record.url, record.method) == (
        call.sid,
        "+8613900000000",
        f"{PUBLIC}/callback/answer",
        "POST",
    )
    assert (record.status_callback, record.status_callback_event, record.timeout) == (
        f"{PUBLIC}/voice/status",
        ["initiated", "completed"],
        20,
    )
    assert client.calls(call.sid).fetch().status == "queued"
    assert client.calls(call.sid).update(status="canceled").status == "canceled"


@pytest.mark.parametrize("to", ["client:agent_7", "sip:agent@pbx.example.test"])
def test_a_call_can_go_to_a_client_or_a_sip_address(client: Client, to: str) -> None:
    assert client.calls.create(to=to, from_="+864001234567", twiml="<Response/>").to == to


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "+86123", "url": f"{PUBLIC}/a"}, 21211),
        ({"to": "8613900000000", "url": f"{PUBLIC}/a"}, 21211),
        ({"to": "+8613900000000"}, 21205),
        ({"to": "+8613900000000", "url": f"{PUBLIC}/a", "twiml": "<Response/>"}, 21205),
        ({"to": "+8613900000000", "url": "/relative"}, 21205),
    ],
)
def test_a_call_twilio_would_refuse_is_a_400(client: Client, kwargs: dict[str, str], code: int) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.calls.create(from_="+864001234567", **kwargs)
    assert (caught.value.status, caught.value.code) == (400, code)


def test_sending_a_message_returns_its_sid_and_the_switchboard_holds_it(
    client: Client, switchboard: Switchboard
) -> None:
    message = client.messages.create(to=CALLER, from_="+864001234567", body="Your reference: 2611240000")
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.status, message.to, message.body) == ("queued", CALLER, "Your reference: 2611240000")
    [held] = switchboard.messages
    assert held["sid"] == message.sid
    assert (held["to"], held["from"], held["body"], held["status"]) == (
        CALLER,
        "+864001234567",
        "Your reference: 2611240000",
        "queued",
    )
    assert [listed.sid for listed in client.messages.list(to=CALLER)] == [message.sid]


def test_a_message_to_an_invalid_number_is_error_21211(client: Client, switchboard: Switchboard) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to="13800138000", from_="+864001234567", body="hi")
    assert (caught.value.status, caught.value.code) == (400, 21211)
    assert "The 'To' number 13800138000 is not a valid phone number." in caught.value.msg
    assert switchboard.messages == []


def test_wrong_credentials_are_a_401_with_code_20003(api_url: str, switchboard: Switchboard) -> None:
    wrong = make_client(ACCOUNT_SID, "not-the-token", api_url)
    with pytest.raises(TwilioRestException) as caught:
        wrong.messages.create(to=CALLER, from_="+864001234567", body="hi")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert switchboard.messages == []


def test_another_accounts_resources_are_refused(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.api.v2010.accounts("AC" + "9" * 32).calls("CA" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (403, 20003)


def test_updating_an_unknown_call_is_a_404_with_code_20404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.calls("CA" + "0" * 32).update(url=f"{PUBLIC}/agent-ready")
    assert (caught.value.status, caught.value.code) == (404, 20404)


# -- live calls ------------------------------------------------------------------------------


def test_a_redirect_takes_a_live_call_out_of_its_hold_loop_at_its_next_step(
    client: Client, switchboard: Switchboard, app: Flask
) -> None:
    seen: Seen = app.extensions["seen"]
    call = live_call(app, switchboard, "/hold")
    assert call.state == "looping"
    assert client.calls(call.call_sid).fetch().status == "in-progress"

    updated = client.calls(call.call_sid).update(url=f"{PUBLIC}/agent-ready", method="POST")
    assert (updated.sid, updated.status, updated.direction) == (call.call_sid, "in-progress", "inbound")
    # The REST request did not call back into the voice app: the call takes it at its next step.
    assert "/agent-ready" not in [path for _, path, _ in seen]
    mark = call.mark()
    call.continue_loop()
    assert [path for _, path, _ in seen][-2:] == ["/agent-ready", "/voice/status"]
    assert seen[-2][2]["CallSid"] == call.call_sid
    assert call.heard_text(mark) == "An agent is ready for you."
    assert HOLD_MUSIC not in [item.text for item in call.heard[mark:]]
    assert call.state == "completed"


def test_a_redirect_out_of_a_queue_tells_the_enqueue_action(
    client: Client, switchboard: Switchboard, app: Flask
) -> None:
    seen: Seen = app.extensions["seen"]
    call = live_call(app, switchboard, "/queue")
    assert call.state == "queued"
    client.calls(call.call_sid).update(twiml="<Response><Say>Moved.</Say></Response>")
    mark = call.mark()
    assert call.take_pending() is True
    done = [form for _, path, form in seen if path == "/queue/done"]
    assert [form["QueueResult"] for form in done] == ["redirected"]
    # The action's answer is not run: the caller hears the TwiML of the update.
    assert call.heard_text(mark) == "Moved."
    assert call.take_pending() is False


def test_status_completed_ends_a_live_call_and_sends_its_status_callback(
    client: Client, switchboard: Switchboard, app: Flask
) -> None:
    seen: Seen = app.extensions["seen"]
    call = live_call(app, switchboard, "/hold")
    assert client.calls(call.call_sid).update(status="completed").status == "completed"
    assert call.state == "looping"  # recorded, not yet taken
    assert call.take_pending() is True
    assert call.state == "completed"
    method, path, form = seen[-1]
    assert (method, path, form["CallStatus"], form["CallSid"]) == (
        "POST",
        "/voice/status",
        "completed",
        call.call_sid,
    )
    with pytest.raises(TwilioRestException) as caught:
        client.calls(call.call_sid).update(url=f"{PUBLIC}/agent-ready")
    assert (caught.value.status, caught.value.code) == (400, 21220)


def test_a_caller_action_takes_the_pending_redirect_first(
    client: Client, switchboard: Switchboard, app: Flask
) -> None:
    call = live_call(app, switchboard, "/hold")
    client.calls(call.call_sid).update(url=f"{PUBLIC}/agent-ready")
    call.hangup()  # the redirect ran (and hung up) before the caller put the phone down
    assert call.heard_text() == "An agent is ready for you."
    assert call.state == "completed"


def test_a_redirect_asked_for_inside_the_calls_own_webhook_is_taken_after_it(
    client: Client, switchboard: Switchboard, app: Flask
) -> None:
    app.extensions["rest_client"] = client
    seen: Seen = app.extensions["seen"]
    call = live_call(app, switchboard, "/transfer")
    # The webhook's answer (hold music) ran; the REST request did not re-enter the voice app.
    assert call.state == "looping"
    assert call.pending_update is not None and call.pending_update.url == f"{PUBLIC}/agent-ready"
    assert "/agent-ready" not in [path for _, path, _ in seen]
    call.continue_loop()
    assert call.heard_text() == "An agent is ready for you."
