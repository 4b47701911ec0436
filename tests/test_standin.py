"""The Twilio stand-in, tested against a tiny Flask app that answers like a real voice app.

The app validates ``X-Twilio-Signature`` over its public URL (403 otherwise), so every call that
gets anywhere also proves the stand-in signs like Twilio. The app records what it received, and
the assertions compare exact parameters and exact words heard.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, abort, request
from flask import Response as FlaskResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.serving import make_server

from standin import (
    ApplicationError,
    Call,
    CallStateError,
    FlaskTransport,
    HttpTransport,
    TwiMLError,
    check_twiml,
    sign,
    spoken_text,
)
from standin.errors import APPLICATION_ERROR_PROMPT
from standin.transport import signed_request

PUBLIC = "https://ivr.example.test"
TOKEN = "auth-token-for-tests-0123456789ab"
HOLD_MUSIC = "https://cdn.example.test/hold.mp3"

Seen = list[tuple[str, str, dict[str, str]]]  # (method, path?query, form) the app received


def _xml(response: VoiceResponse) -> FlaskResponse:
    return FlaskResponse(str(response), mimetype="text/xml")


def _echo(text: str) -> FlaskResponse:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return _xml(response)


def create_app(public_base_url: str = PUBLIC) -> Flask:
    """A voice app with one route per behaviour under test, served at ``public_base_url``."""
    app = Flask(__name__)
    validator = RequestValidator(TOKEN)
    seen: Seen = []
    app.extensions["seen"] = seen

    @app.before_request
    def check_signature() -> None:
        # The request arrives at http://localhost (as behind a tunnel); Twilio signed the
        # public URL, so rebuild it from configuration, never from request.url.
        query = request.query_string.decode()
        url = public_base_url + request.path + (f"?{query}" if query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(url, request.form, signature):
            abort(403)
        seen.append((request.method, request.full_path.rstrip("?"), request.form.to_dict()))

    @app.post("/voice/incoming")
    def incoming() -> FlaskResponse:
        response = VoiceResponse()
        response.say("Welcome to OKPay.", voice="Polly.Joanna", language="en-US")
        gather = response.gather(action="/voice/menu", num_digits=1, timeout=5)
        gather.say("欢迎致电，退款请按一。", voice="Polly.Zhiyu", language="cmn-CN")
        response.say("We did not hear a choice. Goodbye.", voice="Polly.Joanna", language="en-US")
        response.hangup()
        return _xml(response)

    @app.post("/voice/menu")
    def menu() -> FlaskResponse:
        return _echo(f"You chose {request.form['Digits']}.")

    @app.post("/voice/status")
    def status() -> tuple[str, int]:
        return "", 204

    def gather_then(text: str, fallback: str, **attributes: Any) -> FlaskResponse:
        response = VoiceResponse()
        response.gather(**attributes).say(text)
        response.say(fallback)
        response.hangup()
        return _xml(response)

    @app.post("/pin")
    def pin() -> FlaskResponse:
        return gather_then("Enter your PIN.", "No PIN.", action="pin/check", num_digits=4)

    @app.post("/account")
    def account() -> FlaskResponse:
        return gather_then("Account, then star.", "Nothing entered.", finish_on_key="*")

    @app.post("/dtmf-only")
    def dtmf_only() -> FlaskResponse:
        return gather_then("Press 1.", "No key pressed.", action="/echo", input="dtmf")

    @app.post("/speech")
    def speech() -> FlaskResponse:
        return gather_then(
            "请说出您的问题。", "No words.", action="/echo", input="speech", language="cmn-Hans-CN"
        )

    @app.post("/empty-ok")
    def empty_ok() -> FlaskResponse:
        response = VoiceResponse()
        response.gather(action="/echo", action_on_empty_result=True).say("Press or wait.")
        return _xml(response)

    @app.post("/echo")
    def echo() -> FlaskResponse:
        form = request.form
        return _echo(f"digits={form.get('Digits')} speech={form.get('SpeechResult')}")

    @app.post("/pin/check")
    def pin_check() -> FlaskResponse:
        return _echo(f"PIN {request.form['Digits']}.")

    @app.post("/dial/with-action")
    def dial_with_action() -> FlaskResponse:
        response = VoiceResponse()
        response.dial(action="/dial/done", timeout=20).number("+8613900000000")
        return _xml(response)

    @app.post("/dial/done")
    def dial_done() -> FlaskResponse:
        form = request.form
        return _echo(f"dial {form['DialCallStatus']} {form['DialCallDuration']}")

    @app.post("/dial/no-action")
    def dial_no_action() -> FlaskResponse:
        response = VoiceResponse()
        response.dial("+8613900000000")
        response.say("The agent has left the call.")
        response.hangup()
        return _xml(response)

    @app.post("/redirect/start")
    def redirect_start() -> FlaskResponse:
        response = VoiceResponse()
        response.say("Start.")
        response.redirect("next?step=2", method="GET")
        return _xml(response)

    @app.get("/redirect/next")
    def redirect_next() -> FlaskResponse:
        return _echo(f"Step {request.args['step']}.")

    @app.post("/hold")
    def hold() -> FlaskResponse:
        response = VoiceResponse()
        response.play(HOLD_MUSIC)
        response.redirect("/hold")
        return _xml(response)

    @app.post("/queue")
    def queue() -> FlaskResponse:
        response = VoiceResponse()
        response.enqueue("support", wait_url="/queue/wait", action="/queue/done")
        return _xml(response)

    @app.post("/queue/wait")
    def queue_wait() -> FlaskResponse:
        response = VoiceResponse()
        response.play(HOLD_MUSIC)
        return _xml(response)

    @app.post("/queue/done")
    def queue_done() -> FlaskResponse:
        return _echo(f"queue {request.form['QueueResult']}")

    @app.post("/reject")
    def reject() -> FlaskResponse:
        response = VoiceResponse()
        response.reject(reason="busy")
        return _xml(response)

    @app.post("/voicemail")
    def voicemail() -> FlaskResponse:
        response = VoiceResponse()
        response.say("Leave a message after the tone.")
        response.record(action="/voicemail/saved", max_length=60, finish_on_key="#")
        response.say("No message.")
        response.hangup()
        return _xml(response)

    @app.post("/voicemail/saved")
    def voicemail_saved() -> FlaskResponse:
        return _echo(f"saved {request.form['RecordingDuration']} {request.form['Digits']}")

    @app.post("/html")
    def html() -> str:
        return "<Response><Say>Hello</Say></Response>"  # Flask sends text/html

    @app.post("/silent-gather")
    def silent_gather() -> FlaskResponse:
        response = VoiceResponse()
        response.gather(action="/echo").say("Press something.")
        return _xml(response)

    return app


@pytest.fixture
def app() -> Flask:
    return create_app()


@pytest.fixture
def seen(app: Flask) -> Seen:
    return app.extensions["seen"]


@pytest.fixture
def make_call(app: Flask) -> Callable[..., Call]:
    """Build a call to the test app; keyword arguments go to ``Call``."""

    def make(token: str = TOKEN, **kwargs: Any) -> Call:
        return Call(FlaskTransport(app.test_client(), PUBLIC, token), **kwargs)

    return make


# -- signatures ------------------------------------------------------------------------------


def test_post_signature_validates_with_request_validator() -> None:
    url = f"{PUBLIC}/voice/incoming?lang=zh"
    params = {"CallSid": "CA" + "1" * 32, "Digits": "1", "From": "+8613800138000"}
    signature = sign(TOKEN, url, params)
    validator = RequestValidator(TOKEN)
    assert validator.validate(url, params, signature)
    assert not validator.validate(url, params | {"Digits": "2"}, signature)
    assert not validator.validate(f"{PUBLIC}/voice/incoming", params, signature)
    assert not RequestValidator("another-token").validate(url, params, signature)


def test_get_signature_covers_the_url_with_params_in_the_query() -> None:
    url, form, signature = signed_request(TOKEN, "GET", f"{PUBLIC}/a?b=1", {"CallSid": "CA1"})
    assert url == f"{PUBLIC}/a?b=1&CallSid=CA1"
    assert form == {}
    assert RequestValidator(TOKEN).validate(url, {}, signature)


def test_app_validates_the_signature_of_a_post_to_a_url_with_a_query(
    make_call: Callable[..., Call], seen: Seen
) -> None:
    call = make_call(voice_url="/voice/incoming?lang=zh")
    call.start()
    assert call.state == "gathering"
    method, path, form = seen[0]
    assert (method, path) == ("POST", "/voice/incoming?lang=zh")
    assert form["CallStatus"] == "ringing"
    assert form["FromCountry"] == "CN"


def test_wrong_token_gets_403_as_an_application_error(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(token="not-the-app-token")
    with pytest.raises(ApplicationError, match="HTTP 403"):
        call.start()
    assert seen == []
    assert call.state == "completed"
    assert call.heard_text() == APPLICATION_ERROR_PROMPT


@pytest.fixture
def server_url() -> Iterator[str]:
    """Serve a test app over real HTTP on a free port, its public URL being its own address."""
    apps: list[Flask] = []
    server = make_server("127.0.0.1", 0, lambda environ, start: apps[0](environ, start))
    url = f"http://127.0.0.1:{server.server_port}"
    apps.append(create_app(public_base_url=url))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_transport_places_a_call_on_a_running_server(server_url: str) -> None:
    call = Call(HttpTransport(server_url, TOKEN))
    call.start()
    call.press("1")
    assert call.heard_text(2) == "You chose 1."
    assert call.request_paths() == ["/voice/incoming", "/voice/menu", "/voice/status"]
    with pytest.raises(ApplicationError, match="HTTP 403"):
        Call(HttpTransport(server_url, "not-the-app-token")).start()


# -- check_twiml -----------------------------------------------------------------------------


def test_check_twiml_accepts_a_good_document() -> None:
    response = VoiceResponse()
    response.say("您好", voice="Polly.Zhiyu", language="cmn-CN")
    gather = response.gather(
        action="/menu", num_digits=1, input="dtmf speech", language="cmn-Hans-CN", timeout=5
    )
    gather.say("Press 1.", voice="Polly.Joanna", language="en-US")
    gather.pause(length=1)
    response.play(digits="ww12")
    response.dial(action="/after", timeout=20).client("agent-7")
    response.enqueue("support", wait_url="/wait")
    response.redirect("/menu", method="GET")
    root = check_twiml(str(response))
    assert [verb.tag for verb in root] == ["Say", "Gather", "Play", "Dial", "Enqueue", "Redirect"]
    assert spoken_text(root) == [("cmn-CN", "您好"), ("en-US", "Press 1.")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "the body is empty"),
        ("  \n", "the body is empty"),
        ("<Response><Say>Hi</Say>", "not well-formed XML"),
        ("<Reply><Say>Hi</Say></Reply>", "the root element is <Reply>"),
        ("<Response><Speak>Hi</Speak></Response>", "<Speak> is not a verb allowed"),
        ("<Response><Number>+1</Number></Response>", "<Number> is not a verb allowed"),
        (
            '<Response><Gather action="/a"><Dial>+1</Dial></Gather><Hangup/></Response>',
            "Response/Gather[1]/Dial[1]: <Gather> may contain only Say, Play and Pause",
        ),
        (
            '<Response><Say voice="Polly.Zhiyu" language="en-US">Hi</Say></Response>',
            "voice 'Polly.Zhiyu' does not speak language 'en-US'",
        ),
        (
            '<Response><Say>Menu</Say><Gather action="/a"><Say>Press</Say></Gather></Response>',
            "Response/Gather[2]: a Gather that ends the document",
        ),
        (
            '<Response><Gather numDigits="abc"/><Hangup/></Response>',
            "<Gather> attribute numDigits='abc' must be an integer >= 1",
        ),
        ("<Response><Redirect/></Response>", "Response/Redirect[1]: <Redirect> needs a URL"),
        ("<Response><Redirect>  </Redirect></Response>", "<Redirect> needs a URL"),
        (
            '<Response><Say colour="red">Hi</Say></Response>',
            "Response/Say[1]: <Say> has no attribute 'colour'",
        ),
        ("<Response><Say> </Say></Response>", "<Say> needs text to speak"),
        ("<Response><Play/></Response>", "<Play> needs an audio URL or a digits attribute"),
        (
            '<Response><Gather language="cmn-CN"/><Hangup/></Response>',
            "language='cmn-CN' is not a speech recognition language",
        ),
        (
            '<Response><Gather method="PUT"/><Hangup/></Response>',
            "method='PUT' must be GET or POST",
        ),
        (
            '<Response><Gather input="touch"/><Hangup/></Response>',
            "input='touch' must be dtmf, speech or dtmf speech",
        ),
        (
            '<Response><Gather finishOnKey="x"/><Hangup/></Response>',
            "finishOnKey='x' must be one of 0-9 * # or empty",
        ),
        (
            '<Response><Gather actionOnEmptyResult="yes"/></Response>',
            "actionOnEmptyResult='yes' must be true or false",
        ),
        (
            "<Response><Dial>+1<Number>+2</Number></Dial></Response>",
            "<Dial> mixes a number in text with nouns",
        ),
        ("<Response><Hangup>now</Hangup></Response>", "<Hangup> takes no content"),
        ('<Response><Reject reason="later"/></Response>', "reason='later' must be rejected"),
        ("<Response>hello<Hangup/></Response>", "<Response> must not contain text"),
    ],
)
def test_check_twiml_rejects(body: str, message: str) -> None:
    with pytest.raises(TwiMLError, match=re.escape(message)):
        check_twiml(body)


def test_a_trailing_gather_is_fine_in_a_wait_document_but_not_a_dial() -> None:
    check_twiml('<Response><Gather action="/a"/></Response>', wait_document=True)
    with pytest.raises(TwiMLError, match="not a verb allowed in a waitUrl document"):
        check_twiml("<Response><Dial>+1</Dial></Response>", wait_document=True)


# -- Gather ----------------------------------------------------------------------------------


def test_silence_falls_through_to_the_verb_after_the_gather(
    make_call: Callable[..., Call], seen: Seen
) -> None:
    call = make_call()
    call.start()
    assert call.state == "gathering"
    assert call.heard_text() == "Welcome to OKPay. 欢迎致电，退款请按一。"
    assert [(item.voice, item.language) for item in call.heard] == [
        ("Polly.Joanna", "en-US"),
        ("Polly.Zhiyu", "cmn-CN"),
    ]
    mark = call.mark()
    call.silence()
    assert call.heard_text(mark) == "We did not hear a choice. Goodbye."
    assert call.state == "completed"
    assert [path for _, path, _ in seen] == ["/voice/incoming", "/voice/status"]


def test_press_posts_digits_to_the_action(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call()
    call.start()
    call.press("1")
    method, path, form = seen[1]
    assert (method, path, form["Digits"], form["CallStatus"]) == (
        "POST",
        "/voice/menu",
        "1",
        "in-progress",
    )
    assert form["CallSid"] == call.call_sid
    assert call.heard[-1].text == "You chose 1."


def test_action_on_empty_result_posts_empty_digits(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/empty-ok")
    call.start()
    call.silence()
    _, path, form = seen[1]
    assert (path, form["Digits"]) == ("/echo", "")
    assert call.heard[-1].text == "digits= speech=None"


def test_num_digits_takes_only_the_first_keys_and_relative_action_resolves(
    make_call: Callable[..., Call], seen: Seen
) -> None:
    call = make_call(voice_url="/pin")
    call.start()
    call.press("123456")
    _, path, form = seen[1]
    assert (path, form["Digits"]) == ("/pin/check", "1234")
    assert call.heard[-1].text == "PIN 1234."


def test_finish_on_key_ends_input_and_is_not_sent(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/account")
    call.start()
    call.press("12*34")
    _, path, form = seen[1]
    # Without an action Twilio posts to the current document, which asks again.
    assert (path, form["Digits"], call.state) == ("/account", "12", "gathering")


def test_finish_on_key_alone_is_silence(make_call: Callable[..., Call]) -> None:
    call = make_call(voice_url="/account")
    call.start()
    mark = call.mark()
    call.press("*")
    assert call.heard_text(mark) == "Nothing entered."
    assert call.state == "completed"


def test_speech_on_a_dtmf_only_gather_is_ignored(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/dtmf-only")
    call.start()
    mark = call.mark()
    call.speak("one")
    assert call.heard_text(mark) == "No key pressed."
    assert "/echo" not in [path for _, path, _ in seen]


def test_speech_is_sent_with_its_confidence(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/speech")
    call.start()
    call.speak("退款", confidence=0.8)
    _, path, form = seen[1]
    assert (path, form["SpeechResult"], form["Confidence"]) == ("/echo", "退款", "0.8")
    assert "Digits" not in form


def test_a_gather_with_nowhere_to_go_is_an_application_error(
    make_call: Callable[..., Call],
) -> None:
    call = make_call(voice_url="/silent-gather")
    with pytest.raises(ApplicationError, match="hangs up on a silent caller"):
        call.start()


def test_html_content_type_is_an_application_error(make_call: Callable[..., Call]) -> None:
    call = make_call(voice_url="/html")
    with pytest.raises(ApplicationError, match="is not text/xml or application/xml"):
        call.start()


# -- Dial, Redirect, hold loops, queues ------------------------------------------------------


@pytest.mark.parametrize(("status", "duration"), [("completed", "42"), ("busy", "0")])
def test_dial_action_receives_the_dialled_call_status(
    make_call: Callable[..., Call], seen: Seen, status: str, duration: str
) -> None:
    call = make_call(voice_url="/dial/with-action")
    call.start()
    assert call.state == "dialing"
    assert call.dialed == [
        {
            "kind": "number",
            "value": "+8613900000000",
            "attributes": {},
            "dial": {"action": "/dial/done", "timeout": "20"},
        }
    ]
    call.dial_result(status, duration=42)
    _, path, form = seen[1]
    assert (path, form["DialCallStatus"], form["DialCallDuration"]) == (
        "/dial/done",
        status,
        duration,
    )
    assert re.fullmatch(r"CA[0-9a-f]{32}", form["DialCallSid"])
    assert call.heard[-1].text == f"dial {status} {duration}"


def test_dial_without_action_continues_with_the_next_verb(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/dial/no-action")
    call.start()
    assert call.dialed[0]["value"] == "+8613900000000"
    with pytest.raises(CallStateError):
        call.press("1")
    call.dial_result("completed", duration=10)
    assert call.heard_text() == "The agent has left the call."
    assert [path for _, path, _ in seen] == ["/dial/no-action", "/voice/status"]


def test_redirect_follows_a_relative_url_with_its_method(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/redirect/start")
    call.start()
    assert call.heard_text() == "Start. Step 2."
    method, path, form = seen[1]
    assert (method, path.split("&")[0], form) == ("GET", "/redirect/next?step=2", {})
    assert f"CallSid={call.call_sid}" in path
    assert call.request_paths() == ["/redirect/start", "/redirect/next?step=2", "/voice/status"]


def test_a_hold_loop_stops_looping_after_max_redirects(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/hold")
    call.start()
    assert call.state == "looping"
    assert len(seen) == 21  # the first document and 20 redirects
    assert [item.text for item in call.heard] == [HOLD_MUSIC] * 21
    call.continue_loop(documents=2)
    assert (call.state, len(seen), len(call.heard)) == ("looping", 23, 23)


def test_enqueue_plays_the_wait_url_until_dequeued(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/queue", max_redirects=3)
    call.start()
    assert (call.state, call.enqueued) == ("queued", ["support"])
    waits = [form for _, path, form in seen if path == "/queue/wait"]
    assert len(waits) == 3
    assert (waits[0]["QueuePosition"], waits[0]["CurrentQueueSize"]) == ("1", "1")
    call.dequeue("bridged")
    _, path, form = seen[-2]
    assert (path, form["QueueResult"], form["QueueSid"]) == ("/queue/done", "bridged", waits[0]["QueueSid"])
    assert call.heard_text() == "queue bridged"
    assert call.state == "completed"


def test_reject_as_first_verb_leaves_the_call_unanswered(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/reject")
    call.start()
    assert call.state == "rejected"
    _, path, form = seen[-1]
    assert (path, form["CallStatus"], form["CallDuration"]) == ("/voice/status", "busy", "0")


def test_record_posts_the_recording_to_the_action(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call(voice_url="/voicemail")
    call.start()
    assert call.state == "recording"
    call.record(duration=90)
    _, path, form = seen[1]
    assert (path, form["RecordingDuration"], form["Digits"]) == ("/voicemail/saved", "60", "#")
    assert re.fullmatch(rf".*/Accounts/{call.account_sid}/Recordings/RE[0-9a-f]{{32}}", form["RecordingUrl"])
    assert call.heard[-1].text == "saved 60 #"


def test_an_empty_recording_requests_no_action(make_call: Callable[..., Call]) -> None:
    call = make_call(voice_url="/voicemail")
    call.start()
    call.silence()
    assert call.heard_text() == "Leave a message after the tone. No message."
    assert call.request_paths() == ["/voicemail", "/voice/status"]


def test_hangup_sends_the_status_callback_once(make_call: Callable[..., Call], seen: Seen) -> None:
    call = make_call()
    call.start()
    call.hangup()
    assert call.state == "completed"
    method, path, form = seen[-1]
    assert (method, path, form["CallStatus"]) == ("POST", "/voice/status", "completed")
    assert form["CallDuration"].isdigit()
    with pytest.raises(CallStateError):
        call.hangup()
    assert [path for _, path, _ in seen].count("/voice/status") == 1
