"""After hours and on holidays: opening hours, then a callback or a voicemail that becomes a ticket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.clock import FixedClock
from ivr.services import services_of
from standin.phone import Call
from standin.rest import Switchboard
from tests.conftest import DEMO_ACCOUNT, DEMO_CALLER, SHANGHAI, waiting_in
from tests.followups import (
    ENGLISH,
    ENGLISH_ACCOUNT,
    ENGLISH_CALLER,
    MANDARIN,
    at_reference,
    supervisor_get,
)

TUESDAY_NIGHT = datetime(2026, 11, 24, 23, 0, tzinfo=SHANGHAI)
WEDNESDAY_3AM = datetime(2026, 11, 25, 3, 0, tzinfo=SHANGHAI)
NATIONAL_DAY = datetime(2026, 10, 1, 11, 0, tzinfo=SHANGHAI)  # a Thursday, a public holiday


@pytest.fixture(autouse=True)
def fresh_switchboard(switchboard: Switchboard) -> Iterator[None]:
    """No messages from earlier tests."""
    switchboard.clear()
    yield
    switchboard.clear()


def test_mandarin_voicemail_at_night_becomes_a_payments_ticket(
    app: Flask, dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """23:00: payments and general are closed; the caller hears the hours and leaves a message."""
    clock.set(TUESDAY_NIGHT)
    call = dial()
    call.press(MANDARIN)
    call.press(DEMO_ACCOUNT)
    call.press("1")
    call.press("3")  # a refund
    heard = call.heard_text()
    assert (
        "支付与充值目前不在服务时间内，服务时间为：周一至周五 09:00到21:00、周六至周日 10:00到18:00。"
        in heard
    )
    assert heard.endswith("预约回电，请按1。 留言，请按2。")
    call.press("2")
    assert call.heard_text().endswith("请在提示音后留言，说完请按井号键。")
    assert call.state == "recording"
    call.record(duration=14, transcript="我上周申请的退款还没有到账")
    ref = redis_conn.hget(keys.call(call.call_sid), "ref")
    assert f"您的留言已记录，参考号是：{call_spelled(app, ref, 'zh-CN')}。" in call.heard_text()
    call.silence()
    assert call.heard_text().endswith("感谢您的来电，再见。") and call.state == "completed"
    assert waiting_in(redis_conn, "payments") == []

    ticket = redis_conn.hgetall(keys.ticket(ref))
    assert ticket["department"] == "payments" and ticket["caller"] == DEMO_CALLER
    assert ticket["issue"] == "refund" and ticket["language"] == "zh-CN"
    assert ticket["recording_seconds"] == "14" and "transcription" not in ticket
    call.transcribe()  # Twilio's transcription arrives after the call
    status, listing = supervisor_get(app, "/api/supervisor/tickets?department=payments&limit=5")
    assert status == 200 and [t["ref"] for t in listing["tickets"]] == [ref]
    assert listing["tickets"][0]["transcription"] == "我上周申请的退款还没有到账"
    assert listing["tickets"][0]["transcription_status"] == "completed"
    status, report = supervisor_get(app, "/api/supervisor/followups")
    assert report["voicemails"]["payments"] == 1 and report["transcribed"] == 1
    assert sum(report["voicemails"].values()) == 1


def call_spelled(app: Flask, ref: str, locale: str) -> str:
    """The reference number as the caller hears it."""
    return services_of(app).config.languages[locale].spell(ref)


def test_english_voicemail_on_a_holiday_with_the_sms(
    app: Flask,
    dial: Callable[..., Call],
    clock: FixedClock,
    run_jobs: Callable[[], None],
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    """National Day: account services is closed all day; the message is a ticket there, and texted."""
    clock.set(NATIONAL_DAY)
    call = at_reference(dial, ENGLISH_CALLER, ENGLISH, ENGLISH_ACCOUNT, "5")  # sign-in tips
    call.press("1")  # an agent: nobody takes it on a holiday
    heard = call.heard_text()
    assert "Sorry, account services is closed now. Opening hours: Monday to Friday 09:00 to 18:00." in heard
    call.press("2")
    call.record(duration=20, transcript="I cannot sign in since yesterday")
    ref = redis_conn.hget(keys.call(call.call_sid), "ref")
    assert (
        f"We have your message. Your reference number is: {call_spelled(app, ref, 'en-US')}. "
        "We will deal with it during opening hours." in call.heard_text()
    )
    assert "To get your reference number by text message after the call, press 1." in call.heard_text()
    call.press("1")
    assert call.heard_text().endswith(
        "We will text your reference number to this phone after the call. Thank you for calling. Goodbye."
    )
    run_jobs()
    assert [m["body"] for m in switchboard.messages if m["to"] == ENGLISH_CALLER] == [
        f"OKPay: your call reference is {ref}. We have your voicemail about trouble signing in and "
        "will get back to you. Help online: https://help.okpay.example/sign-in"
    ]
    call.transcribe()
    ticket = redis_conn.hgetall(keys.ticket(ref))
    assert (
        ticket["department"] == "accounts" and ticket["transcription"] == "I cannot sign in since yesterday"
    )
    status, listing = supervisor_get(app, "/api/supervisor/tickets?department=accounts")
    assert status == 200 and listing["tickets"][0]["ref"] == ref


def test_security_answers_at_three_in_the_morning(
    dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """Everything else is closed; a stolen password still reaches the security queue."""
    clock.set(WEDNESDAY_3AM)
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "4")
    call.press("2")  # an agent
    call.silence()
    assert "正在为您转接账户安全" in call.heard_text()
    assert "不在服务时间内，服务时间为" not in call.heard_text()
    assert waiting_in(redis_conn, "security") == [call.call_sid]


def test_key_one_books_a_callback_at_a_quiet_hour_of_the_callers_department(
    app: Flask, dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """At night, key 1 offers the coming quietest open hours of payments; the caller books one."""
    clock.set(TUESDAY_NIGHT)
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT)
    call.press("3")
    assert call.heard_text().endswith("预约回电，请按1。 留言，请按2。")
    call.press("1")
    assert call.request_paths()[-1] == "/voice/callback/schedule?department=payments"
    heard = call.heard_text()
    assert "您可以预约回电时间。等候最短的时段排在前面。" in heard
    assert "11月25日周三" in heard and heard.endswith("请按3。")  # tomorrow first, three hours offered
    call.press("1")
    call.press("1")  # call back the caller ID
    assert "谢谢。我们将在" in call.heard_text() and call.state == "completed"
    record = redis_conn.hgetall(keys.call(call.call_sid))
    slot = datetime.fromisoformat(record["cb_slot"]).astimezone(SHANGHAI)
    assert record["status"] == "callback_scheduled" and record["department"] == "payments"
    assert slot.date() == datetime(2026, 11, 25).date() and 9 <= slot.hour < 21  # within opening hours
    assert waiting_in(redis_conn, "payments") == []  # queued only when that hour comes


def test_a_wrong_key_asks_again(dial: Callable[..., Call], clock: FixedClock) -> None:
    """7 is not on the after-hours menu: the caller is told and asked again."""
    clock.set(TUESDAY_NIGHT)
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT)
    call.press("3")
    mark = call.mark()
    call.press("7")
    assert call.heard_text(mark) == "抱歉，这不是有效的选项。 预约回电，请按1。 留言，请按2。"
    call.press("2")
    assert call.state == "recording"


def test_tickets_need_a_known_department(app: Flask) -> None:
    """The supervisor's ticket list names what is wrong with its query."""
    status, body = supervisor_get(app, "/api/supervisor/tickets?department=sales")
    assert status == 400 and body["error"].startswith("department: give one of general")
    status, body = supervisor_get(app, "/api/supervisor/tickets?department=general&limit=0")
    assert status == 400 and "limit" in body["error"]
