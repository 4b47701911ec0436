"""The text message after a call: asked with the reference number, sent once by a worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask
from rq.job import Job
from rq.registry import FailedJobRegistry

from ivr import keys
from ivr.jobs.messages import send_call_summary
from ivr.services import services_of
from standin.phone import Call
from standin.rest import Switchboard
from tests.conftest import DEMO_ACCOUNT, DEMO_CALLER
from tests.followups import (
    ENGLISH,
    ENGLISH_ACCOUNT,
    ENGLISH_CALLER,
    MANDARIN,
    at_reference,
    retries_due,
    supervisor_get,
    talk_to,
)

OFFER_ZH = "如需在通话结束后通过短信接收参考号，请按1。"
OFFER_EN = "To get your reference number by text message after the call, press 1."


@pytest.fixture(autouse=True)
def fresh_switchboard(switchboard: Switchboard) -> Iterator[None]:
    """The stand-in for Twilio is shared by the session: start each test with no messages."""
    switchboard.clear()
    yield
    switchboard.clear()


def texts_to(switchboard: Switchboard, number: str) -> list[str]:
    """Bodies of the messages Twilio accepted for `number`."""
    return [m["body"] for m in switchboard.messages if m["to"] == number]


def refund_caller_who_wants_sms(dial: Callable[..., Call]) -> Call:
    """A verified Mandarin caller with a refund, who presses 1 for the SMS and waits in payments."""
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "3")
    assert OFFER_ZH in call.heard_text()
    call.press("1")
    assert "好的，通话结束后我们会把参考号发送到您的手机。" in call.heard_text()
    assert call.on_hold
    return call


def test_mandarin_summary_with_the_refund_link_after_hanging_up(
    dial: Callable[..., Call], run_jobs: Callable[[], None], switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """The caller hangs up on hold: one SMS with the reference, a summary and the refund page."""
    call = refund_caller_who_wants_sms(dial)
    ref = redis_conn.hget(keys.call(call.call_sid), "ref")
    run_jobs()
    assert texts_to(switchboard, DEMO_CALLER) == []  # nothing before the call ends
    call.hangup()
    run_jobs()
    assert texts_to(switchboard, DEMO_CALLER) == [
        f"【OKPay】您的来电参考号：{ref}。您关于退款的来电已记录，欢迎再次来电。"
        "自助服务：https://help.okpay.example/refunds"
    ]
    sent = switchboard.messages[-1]
    assert sent["from"] == "+862161234500"
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["sms"] == "sent" and record["sms_sid"] == sent["sid"]


def test_english_summary_after_an_agent_served_the_fees_question(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    """Served by an agent: the English message says so and links the fees page."""
    call = at_reference(dial, ENGLISH_CALLER, ENGLISH, ENGLISH_ACCOUNT, "7", "1")
    assert OFFER_EN in call.heard_text()
    call.press("1")
    assert "We will text your reference number to this phone after the call." in call.heard_text()
    talk_to(app, call, "emma_chen", run_jobs)
    call.silence()  # no rating: goodbye
    assert call.state == "completed"
    run_jobs()
    ref = redis_conn.hget(keys.call(call.call_sid), "ref")
    assert texts_to(switchboard, ENGLISH_CALLER) == [
        f"OKPay: your call reference is {ref}. Your call about fees was handled by an agent. "
        "Help online: https://help.okpay.example/fees"
    ]


def test_no_message_without_consent(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], switchboard: Switchboard
) -> None:
    """Silence at the offer is a no: the call ends without any job or message."""
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "3")
    assert OFFER_ZH in call.heard_text()
    call.silence()
    assert call.on_hold
    call.hangup()
    queue = services_of(app).jobs.queue
    assert not Job.exists(f"sms-{call.call_sid}", connection=queue.connection)
    run_jobs()
    assert switchboard.messages == []


@pytest.mark.parametrize("number", ["+19002345678", "+447911123456"], ids=["premium-rate", "foreign"])
def test_premium_and_foreign_numbers_are_not_offered_or_texted(
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    switchboard: Switchboard,
    redis_conn: redis.Redis,
    number: str,
) -> None:
    """No offer to a number the hotline may not text, and pressing 1 anyway changes nothing."""
    call = at_reference(dial, number, MANDARIN, DEMO_ACCOUNT, "3")
    assert "短信" not in call.heard_text()
    call.press("1")
    assert "短信" not in call.heard_text() and call.on_hold
    call.hangup()
    run_jobs()
    assert texts_to(switchboard, number) == []
    assert "sms" not in redis_conn.hgetall(keys.call(call.call_sid))


def test_number_checked_again_when_sending(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    """A yes kept on the record of a premium-rate number (say, a hotline file changed since) is refused."""
    call = at_reference(dial, "+19002345678", MANDARIN, DEMO_ACCOUNT, "3")
    redis_conn.hset(keys.call(call.call_sid), "sms", "wanted")
    call.hangup()
    run_jobs()
    assert switchboard.messages == []
    assert redis_conn.hget(keys.call(call.call_sid), "sms") == "refused:type"
    status, report = supervisor_get(app, "/api/supervisor/followups")
    assert status == 200 and report["messages"] == {"sent": 0, "failed": 0, "refused": 1}


def test_a_failed_send_is_retried_then_sent_once(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    """Twilio is down twice: the job waits out its retry intervals, then the message goes once."""
    call = refund_caller_who_wants_sms(dial)
    switchboard.fail_messages(2)
    call.hangup()
    run_jobs()
    assert texts_to(switchboard, DEMO_CALLER) == []
    assert retries_due(app) == 1
    run_jobs()
    assert texts_to(switchboard, DEMO_CALLER) == []
    assert retries_due(app) == 1
    run_jobs()
    assert len(texts_to(switchboard, DEMO_CALLER)) == 1
    assert retries_due(app) == 0
    queue = services_of(app).jobs.queue
    assert FailedJobRegistry(queue=queue).count == 0
    assert redis_conn.hget(keys.call(call.call_sid), "sms") == "sent"


def test_retries_run_out_and_the_failure_shows_in_the_statistics(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], switchboard: Switchboard
) -> None:
    """Every try fails: after the last retry the job is in rq's failed registry, and counted."""
    retries = len(services_of(app).config.file.messages.retry_seconds)
    call = refund_caller_who_wants_sms(dial)
    switchboard.fail_messages(retries + 1)
    call.hangup()
    run_jobs()
    while retries_due(app):
        run_jobs()
    assert texts_to(switchboard, DEMO_CALLER) == []
    status, report = supervisor_get(app, "/api/supervisor/followups")
    assert status == 200 and report["failed_jobs"] == 1
    assert report["messages"]["sent"] == 0


def test_a_repeated_status_callback_does_not_send_twice(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    """Twilio delivers the status callback again; a job run again; a send never recorded."""
    call = refund_caller_who_wants_sms(dial)
    call.hangup()
    status_callback = dict(call.requests[-1][1])
    call.transport.request("POST", "/voice/status", status_callback)  # before the worker ran
    run_jobs()
    call.transport.request("POST", "/voice/status", status_callback)  # and after
    run_jobs()
    assert len(texts_to(switchboard, DEMO_CALLER)) == 1
    # The job itself, run again, finds the message on the call record.
    assert send_call_summary(call.call_sid) == "already-sent"
    # A worker that died after Twilio took the message but before recording it: the next try
    # finds the message at Twilio and records it instead of sending again.
    first_sid = redis_conn.hget(keys.call(call.call_sid), "sms_sid")
    redis_conn.hdel(keys.call(call.call_sid), "sms_sid")
    redis_conn.hset(keys.call(call.call_sid), "sms", "wanted")
    assert send_call_summary(call.call_sid) == "already-sent"
    assert len(texts_to(switchboard, DEMO_CALLER)) == 1
    assert redis_conn.hget(keys.call(call.call_sid), "sms_sid") == first_sid


def test_the_per_number_limit_refuses_the_sixth_message_of_the_day(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    """Five messages a day to one number; the sixth is refused, logged and counted."""
    per_day = services_of(app).config.file.outbound.limits.messages_per_number_per_day
    calls = []
    for _ in range(per_day + 1):
        call = refund_caller_who_wants_sms(dial)
        call.hangup()
        run_jobs()
        calls.append(call)
    assert len(texts_to(switchboard, DEMO_CALLER)) == per_day
    last = redis_conn.hget(keys.call(calls[-1].call_sid), "sms")
    assert last == "limited:messages_per_number_per_day"
    status, report = supervisor_get(app, "/api/supervisor/followups")
    assert status == 200
    assert report["messages"] == {"sent": per_day, "failed": 0, "refused": 1}
    assert report["refusals"] == {"message:messages_per_number_per_day": 1}
