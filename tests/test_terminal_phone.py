"""The terminal phone (`make call`): scripted keyboard lines in, the caller's transcript out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from flask import Flask

from hotline_tools.terminal import run
from ivr.clock import FixedClock
from standin.phone import Call
from standin.transport import FlaskTransport, HttpTransport, Response
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DEMO_CALLER, PUBLIC_BASE_URL


def _phone(call: Call, lines: list[str]) -> tuple[int, list[str], list[str]]:
    """Run the terminal phone on ``call`` typing ``lines``; return (exit code, output, unread)."""
    script: Iterator[str] = iter(lines)
    output: list[str] = []

    def read_line() -> str | None:
        line = next(script, None)
        output.append(f"> {line}")
        return line

    code = run(call, read_line, output.append)
    return code, output, list(script)


def _call(app: Flask) -> Call:
    transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    return Call(transport, from_=DEMO_CALLER, account_sid=ACCOUNT_SID)


def test_an_english_caller_hears_the_fees_and_hangs_up(app: Flask) -> None:
    code, output, unread = _phone(_call(app), ["2", "6222000017", "1", "7", "hangup"])
    transcript = "\n".join(output)

    assert code == 0, transcript
    assert unread == []
    assert "Welcome to the OKPay customer hotline" in transcript
    assert "six, two, two, two" in transcript
    assert "Transfers between accounts are free" in transcript
    assert "[en-US]" in transcript
    assert "-- gathering:" in transcript  # the caller was told what they can do
    assert output[-2:] == ["> hangup", "[you hung up]"]


def test_a_mandarin_caller_hears_chinese(app: Flask) -> None:
    code, output, _ = _phone(_call(app), ["1", "6222000017", "hangup"])
    transcript = "\n".join(output)

    assert code == 0, transcript
    assert "[cmn-CN] 您好，欢迎致电OKPay客服热线" in transcript
    assert "六，二，二，二" in transcript


def test_typing_something_impossible_is_explained_and_the_call_goes_on(app: Flask) -> None:
    code, output, _ = _phone(_call(app), ["answer", "help", "2", "hangup"])
    transcript = "\n".join(output)

    assert code == 0, transcript
    assert "`answer` is not possible now" in transcript
    assert "what you can type now" in transcript
    assert "Welcome to the OKPay customer hotline" in transcript


def test_the_end_of_input_hangs_up(app: Flask) -> None:
    call = _call(app)
    code, output, _ = _phone(call, ["2"])

    assert code == 0
    assert call.state == "completed"
    assert output[-1] == "[you hung up]"


class _BrokenAfter(FlaskTransport):
    """Answers the first request as the app does, then an HTML page Twilio cannot run."""

    def request(self, method: str, url: str, params: dict[str, str]) -> Response:
        answer = super().request(method, url, params)
        self.answers = getattr(self, "answers", 0) + 1
        return answer if self.answers == 1 else Response(200, "<html></html>", "text/html")


def test_an_answer_twilio_would_refuse_is_shown_and_exits_1(app: Flask) -> None:
    transport = _BrokenAfter(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    call = Call(transport, from_=DEMO_CALLER, account_sid=ACCOUNT_SID)
    code, output, _ = _phone(call, ["2"])
    transcript = "\n".join(output)

    assert code == 1
    assert "an application error has occurred" in transcript
    assert "APPLICATION ERROR" in transcript
    assert "is not text/xml or application/xml" in transcript


def test_an_unreachable_hotline_exits_2_and_says_how_to_start_it() -> None:
    call = Call(HttpTransport("http://127.0.0.1:9", AUTH_TOKEN, timeout=2), from_=DEMO_CALLER)
    code, output, unread = _phone(call, ["1"])

    assert code == 2
    assert output[-1] == "the hotline does not answer at http://127.0.0.1:9: start it with `make run`"
    assert unread == ["1"]  # nothing was asked of the caller


def test_a_caller_held_too_long_is_dialled_through_to_the_overflow_line(
    app: Flask, clock: FixedClock
) -> None:
    lines = ["2", "6222000017", "1", "7", "1", ""]
    call = _call(app)
    script = iter(lines)

    def read_line() -> str | None:
        line = next(script, None)
        if line is None:  # the caller has been on hold: half an hour passes, then a busy line
            clock.set(clock.now() + timedelta(minutes=31))
            return "" if call.on_hold else "busy"
        return line

    output: list[str] = []
    code = run(call, read_line, output.append)
    transcript = "\n".join(output)

    assert code == 0, transcript
    assert "Please stay on the line." in transcript
    assert "-- on hold: keys (0-9 * #) heard at any time" in transcript  # a key works during the music
    assert "[dialling +862161234567]" in transcript
    assert "-- dialing:" in transcript
    assert output[-1] == "[the call ended: completed]"
