"""Whole calls through the webhooks: from hello to the right queue, in both languages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from ivr import keys
from ivr.callcenter.identifiers import luhn_valid
from standin.phone import Call
from tests.conftest import DEMO_ACCOUNT, waiting_in

ENGLISH, MANDARIN = "2", "1"
OTHER_CALLER = "+8613355556666"  # not the registered mobile of any demo account
EMILY = "6222000033"  # registered mobile +14155550123


def call_record(conn: redis.Redis, call: Call) -> dict[str, str]:
    """The call record as an agent's screen pop will read it."""
    return conn.hgetall(keys.call(call.call_sid))


def identify(call: Call, account: str = DEMO_ACCOUNT) -> None:
    """Key in the account number and confirm it."""
    call.press(account)
    call.press("1")


def to_hold(call: Call) -> None:
    """Let the reference number play out (a short Gather) and go on hold."""
    assert call.state == "gathering"
    call.silence()
    assert call.on_hold


def queue_of(conn: redis.Redis, department: str) -> list[str]:
    """CallSids waiting in a department queue, in serving order."""
    return waiting_in(conn, department)


def test_mandarin_security_caller_freezes_account_and_goes_first(
    dial: Callable[..., Call], redis_conn: redis.Redis, run_jobs: Callable[[], None]
) -> None:
    """A verified caller with a stolen password freezes the account and waits in security, urgent."""
    call = dial(max_redirects=1)  # stop after each wait document, so the job runs meanwhile
    assert "普通话服务请按1" in call.heard_text() and "For English, press 2" in call.heard_text()
    call.press(MANDARIN)
    assert "欢迎致电OKPay客服热线" in call.heard_text()
    assert "请输入您的十位账户号码" in call.heard_text()
    mark = call.mark()
    call.press(DEMO_ACCOUNT)
    assert "六，二，二，二，零，零，零，零，一，七" in call.heard_text(mark)
    call.press("1")
    assert "已确认您的账户" in call.heard_text()
    call.press("4")
    assert "立即冻结账户，请按1" in call.heard_text()
    mark = call.mark()
    call.press("1")
    assert "正在冻结您的账户" in call.heard_text(mark)
    run_jobs()  # the worker freezes the account while the caller hears the pause
    call.continue_loop()
    to_hold(call)
    heard = call.heard_text(mark)
    assert "您的账户已冻结" in heard
    assert "服务参考号" in heard and "正在为您转接账户安全" in heard
    assert redis_conn.hget(keys.account(DEMO_ACCOUNT), "status") == "frozen"
    record = call_record(redis_conn, call)
    assert record["verified"] == "caller_id"
    assert record["priority"] == "urgent" and record["department"] == "security"
    assert queue_of(redis_conn, "security") == [call.call_sid]


def test_english_caller_by_voice_gets_fee_answer_then_agent(
    dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    """Speech all the way: spoken account digits, a spoken issue, the self-service answer."""
    call = dial(from_="+14155550123")
    call.press(ENGLISH)
    mark = call.mark()
    call.speak("six two two two zero zero zero zero three three")
    assert "You entered: six, two, two, two, zero, zero, zero, zero, three, three." in call.heard_text(mark)
    call.press("1")
    call.speak("how much are the fees")
    assert "Transfers between accounts are free" in call.heard_text()
    mark = call.mark()
    call.press("1")
    to_hold(call)
    heard = call.heard_text(mark)
    ref = call_record(redis_conn, call)["ref"]
    assert (
        ", ".join("zero one two three four five six seven eight nine".split()[int(d)] for d in ref) in heard
    )
    assert "Connecting you to general enquiries" in heard
    assert call.on_hold  # on hold: music and reassurance
    assert any(h.kind == "play" for h in call.heard)
    record = call_record(redis_conn, call)
    assert record["issue"] == "fees" and record["verified"] == "caller_id"


def test_reference_number_is_made_on_arrival_valid_and_repeatable(
    dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    """Every call gets a reference at once; it is stored, findable, and repeated on '*'."""
    call = dial()
    ref = call_record(redis_conn, call)["ref"]
    assert len(ref) == 12 and luhn_valid(ref)
    assert redis_conn.get(keys.reference(ref)) == call.call_sid
    call.press(ENGLISH)
    identify(call)
    call.press("0")  # an agent, right away
    spoken = ", ".join("zero one two three four five six seven eight nine".split()[int(d)] for d in ref)
    assert call.heard_text().count(spoken) == 1
    call.press("*")  # the reference is said inside a short Gather: '*' says it again
    assert call.heard_text().count(spoken) == 2
    to_hold(call)
    assert queue_of(redis_conn, "international") == [call.call_sid]
    second = dial(from_=OTHER_CALLER)
    assert call_record(redis_conn, second)["ref"] != ref


@pytest.mark.parametrize(
    ("digit", "issue", "department", "heard_department"),
    [
        ("1", "topup_failed", "payments", "payments and top-ups"),
        ("2", "reverse_transaction", "payments", "payments and top-ups"),
        ("3", "refund", "payments", "payments and top-ups"),
        ("5", "login", "accounts", "account services"),
        ("6", "transfer_delayed", "payments", "payments and top-ups"),
        ("7", "fees", "general", "general enquiries"),
        ("9", "other", "international", "international service"),
    ],
)
def test_every_issue_reaches_its_department(
    dial: Callable[..., Call],
    redis_conn: redis.Redis,
    digit: str,
    issue: str,
    department: str,
    heard_department: str,
) -> None:
    """The issue menu routes each issue type to its department queue (self-service first)."""
    call = dial()
    call.press(ENGLISH)
    identify(call)
    call.press(digit)
    if "For an agent, press 1" in call.heard_text():
        call.press("1")  # the self-service answer offers an agent
    to_hold(call)
    assert f"Connecting you to {heard_department}" in call.heard_text()
    record = call_record(redis_conn, call)
    assert record["issue"] == issue and record["department"] == department
    assert queue_of(redis_conn, department) == [call.call_sid]


def test_mandarin_other_issue_stays_with_general(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """Language decides the queue where the file says so: English 'other' goes international."""
    call = dial()
    call.press(MANDARIN)
    identify(call)
    call.press("9")
    to_hold(call)
    assert "正在为您转接综合服务" in call.heard_text()
    assert queue_of(redis_conn, "general") == [call.call_sid]


def test_security_outranks_earlier_normal_callers(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """Priority classes order the queue: a verified security caller is served before others."""
    calls = []
    for _ in range(2):
        call = dial(from_=OTHER_CALLER)
        call.press(ENGLISH)
        call.press("0")  # straight to an agent: issue 'other', international, normal
        calls.append(call)
    # Same department for the comparison: route a security caller, then compare ranks in security.
    first = dial(from_=OTHER_CALLER)
    first.press(ENGLISH)
    identify(first, EMILY)  # not verified: caller ID differs, so security is 'high'
    first.press("4")
    first.press("0000")  # wrong second factor ...
    first.press("0")  # ... then ask for an agent
    urgent = dial()
    urgent.press(ENGLISH)
    identify(urgent)
    urgent.press("4")
    urgent.press("2")  # verified, no freeze: an agent
    assert queue_of(redis_conn, "security") == [urgent.call_sid, first.call_sid]
    assert call_record(redis_conn, urgent)["priority"] == "urgent"
    assert call_record(redis_conn, first)["priority"] == "high"


def test_language_is_remembered_for_the_callers_number(dial: Callable[..., Call]) -> None:
    """The second call from the same number skips the language menu."""
    first = dial()
    first.press(ENGLISH)
    first.hangup()
    second = dial()
    assert "For English, press 2" not in second.heard_text()
    assert second.heard_text().startswith("Welcome to the OKPay customer hotline")
