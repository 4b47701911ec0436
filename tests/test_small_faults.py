"""The smaller faults, as a caller, a supervisor or an operator meets them.

Digits from other scripts ('᧚' is a digit one, but int() refuses it), an out-of-range hour in a
signed callback URL, `limit=²`, tracebacks that quoted a caller's number, 405s without Allow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from xml.etree import ElementTree

import pytest
import redis
from flask import Flask

from ivr import keys, logs
from ivr.digits import whole_number
from ivr.voice.speech import spoken_digits
from standin.phone import Call
from tests.conftest import DEMO_ACCOUNT, DEMO_CALLER, PUBLIC_BASE_URL
from tests.followups import MANDARIN, at_reference, supervisor_get, talk_to

THAM_ONE = "᧚"  # NEW TAI LUE THAM DIGIT ONE: str.isdigit() says yes, int() says no


@pytest.mark.parametrize(
    ("text", "number"),
    [("7", 7), ("²", None), (THAM_ONE, None), ("١٢", None), (" 7", None), ("-3", None), ("1_0", None)],
)
def test_only_ascii_digits_make_a_number(text: str, number: int | None) -> None:
    assert whole_number(text) == number


def test_spoken_digits_of_any_script_come_out_in_ascii() -> None:
    assert spoken_digits(f"六二{THAM_ONE} ٣ ① six") == "62131" + "6"


def test_a_survey_score_said_in_another_script_is_kept(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "3")
    call.silence()
    talk_to(app, call, "li_na", run_jobs)
    call.speak(THAM_ONE)  # the recogniser wrote the digit one in Tai Tham
    assert "系统暂时繁忙" not in call.heard_text()  # not the overflow apology
    assert redis_conn.hget(keys.survey(call.call_sid), "score") == "1"


def test_an_account_number_said_in_other_scripts_is_understood(
    dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    call = dial(from_=DEMO_CALLER, max_redirects=2)
    call.press(MANDARIN)
    call.speak(f"٦٢٢٢٠٠٠٠{THAM_ONE}٧")  # 6222000017, Arabic-Indic digits and a Tai Tham one
    assert "六，二，二，二，零，零，零，零，一，七" in call.heard_text()  # read back in ASCII digits
    call.press("1")
    assert redis_conn.hget(keys.call(call.call_sid), "account") == DEMO_ACCOUNT


@pytest.mark.parametrize("slot", ["99999999999999999", "1", "0"])
def test_an_out_of_range_hour_in_a_signed_callback_url_is_no_slot_not_an_error(
    dial: Callable[..., Call], slot: str
) -> None:
    """Twilio replays what we signed; an hour we could never have offered is 'no time', never overflow."""
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "3")
    call.silence()
    assert call.on_hold
    call.press("2")  # a later hour
    call.press("1")  # the first one offered: the caller ID is read back
    _, params = call.requests[-1]
    url = (
        f"{PUBLIC_BASE_URL}/voice/callback/number?mode=later&phase=cid&try=1&department=payments&slot={slot}"
    )
    reply = call.transport.request("POST", url, {**params, "Digits": "1"})
    assert reply.status == 200 and reply.content_type.startswith("text/xml")
    said = " ".join(e.text or "" for e in ElementTree.fromstring(reply.body).iter("Say"))
    assert said == "抱歉，目前没有可以预约的回电时段。 您的排队位置保持不变。"  # still in the queue


@pytest.mark.parametrize("limit", ["²", THAM_ONE, "0", "201", "1e3", "-1", "", "١٠"])
def test_a_bad_number_in_a_query_is_400_naming_the_field(app: Flask, limit: str) -> None:
    status, body = supervisor_get(app, f"/api/supervisor/tickets?department=payments&limit={limit}")
    assert status == 400 and body["field"] == "limit" and "whole number from 1 to 200" in body["error"]
    status, body = supervisor_get(app, "/api/supervisor/tickets?department=payments&limit=5")
    assert status == 200 and body["tickets"] == []
    status, body = supervisor_get(app, "/api/supervisor/tickets?department=nowhere")
    assert status == 400 and body["field"] == "department"


def test_a_traceback_in_the_log_masks_numbers_and_accounts(
    app: Flask, dial: Callable[..., Call], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A webhook bug whose exception quotes the caller's number: the caller hears the overflow, the
    log shows the traceback, and neither the number nor the account is in it."""
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "3")

    def broken(*args: object) -> None:
        raise LookupError(f"no wait for {DEMO_CALLER} (account {DEMO_ACCOUNT})")

    monkeypatch.setattr("ivr.voice.waiting.wait_for_caller", broken)
    logs.configure()  # as at start: the masking filter on every handler, the test's capture included
    with caplog.at_level(logging.ERROR, logger="ivr.voice"):
        call.silence()  # the hold turn fails
    assert "Traceback (most recent call last)" in caplog.text and "LookupError" in caplog.text
    assert DEMO_CALLER not in caplog.text and DEMO_ACCOUNT not in caplog.text
    assert DEMO_CALLER[1:] not in caplog.text and "********00" in caplog.text


def test_a_405_says_which_methods_are_allowed(app: Flask) -> None:
    client = app.test_client()
    api = client.delete("/api/agent/me")
    assert api.status_code == 405 and api.get_json()["error"]
    assert set(api.headers["Allow"].split(", ")) >= {"GET"}
    webhook = client.get("/voice/hold")
    assert webhook.status_code == 405 and "POST" in webhook.headers["Allow"]
    tickets = client.post("/api/supervisor/tickets")
    assert tickets.status_code == 405 and "GET" in tickets.headers["Allow"]
