"""Callers who press nothing, press the wrong thing, or mistype: a shorter prompt, then an agent."""

from __future__ import annotations

from collections.abc import Callable

import redis

from ivr import keys
from standin.phone import Call
from tests.conftest import DEMO_ACCOUNT, waiting_in

ENGLISH = "2"
OTHER_CALLER = "+8613355556666"


def record(conn: redis.Redis, call: Call) -> dict[str, str]:
    """The call's record."""
    return conn.hgetall(keys.call(call.call_sid))


def english_menu(dial: Callable[..., Call], from_: str = "+8613800138000", **kwargs: object) -> Call:
    """A verified English caller at the issue menu."""
    call = dial(from_=from_, **kwargs)
    call.press(ENGLISH)
    call.press(DEMO_ACCOUNT)
    call.press("1")
    return call


def test_silence_at_language_menu_goes_on_in_mandarin(dial: Callable[..., Call]) -> None:
    """A caller who never presses a key is not hung up on: after three tries, the default language."""
    call = dial()
    for _ in range(3):
        assert call.state == "gathering"
        call.silence()
    assert "欢迎致电OKPay客服热线" in call.heard_text()
    assert call.state == "gathering"  # now at the account prompt


def test_silence_then_wrong_keys_at_issue_menu_reach_an_agent(
    dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    """No input: 'we did not receive' and a shorter menu; the third failure goes to an agent."""
    call = english_menu(dial)
    mark = call.mark()
    call.silence()
    retry = call.heard_text(mark)
    assert retry.startswith("Sorry, we did not receive your input.")
    assert "Please press 1 to 9 to choose a topic." in retry
    assert "Please tell us why you are calling" not in retry  # the short prompt, not the long one
    mark = call.mark()
    call.speak("mumble mumble")
    assert call.heard_text(mark).startswith("Sorry, that is not a valid choice.")
    call.press("#")
    assert "Connecting you to an agent." in call.heard_text()
    call.silence()
    assert call.on_hold
    assert record(redis_conn, call)["issue"] == "other"


def test_star_repeats_and_zero_reaches_agent(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """'*' repeats the whole menu; '0' from any menu goes to the queue."""
    call = english_menu(dial)
    mark = call.mark()
    call.press("*")
    assert "Please tell us why you are calling" in call.heard_text(mark)
    call.press("7")  # fees: a self-service answer, itself a menu
    mark = call.mark()
    call.press("0")
    assert "Connecting you to an agent." in call.heard_text(mark)
    call.silence()
    assert record(redis_conn, call)["issue"] == "fees"
    assert waiting_in(redis_conn, "general")[:1] == [call.call_sid]


def test_bad_check_digit_is_caught_before_lookup(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """A typo fails the check digit: the caller hears so and is asked again, shorter."""
    call = dial()
    call.press(ENGLISH)
    mark = call.mark()
    call.press("6222000018")  # last digit wrong
    heard = call.heard_text(mark)
    assert "That is not a valid account number." in heard
    assert "Please enter your ten-digit account number." in heard
    assert "You entered" not in heard
    assert "pending_account" not in record(redis_conn, call)


def test_three_bad_numbers_go_on_unidentified(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """Three failed tries: on to the menu as unidentified; the agent checks later."""
    call = dial()
    call.press(ENGLISH)
    call.press("123#")
    call.silence()
    call.press("6222000018")
    heard = call.heard_text()
    assert "We could not identify your account" in heard
    assert "Please tell us why you are calling" in heard
    assert record(redis_conn, call)["account_state"] == "unidentified"


def test_reenter_and_not_found(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """'2' at the read-back re-enters; a well-formed number no account has is 'not found'."""
    call = dial()
    call.press(ENGLISH)
    call.press("6222000017")
    call.press("2")
    mark = call.mark()
    call.press("1234567897")  # passes the check digit, but no such account
    assert "You entered: one, two, three" in call.heard_text(mark)
    call.press("1")
    assert "We could not find that account." in call.heard_text(mark)
    call.press(DEMO_ACCOUNT)
    call.press("1")
    assert "Thank you, your account is confirmed." in call.heard_text(mark)
    assert record(redis_conn, call)["account"] == DEMO_ACCOUNT


def test_unverified_caller_needs_second_factor_to_freeze(
    dial: Callable[..., Call], redis_conn: redis.Redis, run_jobs: Callable[[], None]
) -> None:
    """Caller ID differs from the registered mobile: the last four digits are asked first."""
    # The phone stops after each wait document, so the job can run while the caller waits.
    call = english_menu(dial, from_=OTHER_CALLER, max_redirects=1)
    assert record(redis_conn, call)["verified"] == "no"
    call.press("4")
    assert "last four digits of your registered mobile" in call.heard_text()
    call.press("1234")
    assert "Sorry, that is not a valid choice." in call.heard_text()
    mark = call.mark()
    call.press("8000")  # +8613800138000
    assert "Thank you, you are verified." in call.heard_text(mark)
    call.press("1")
    run_jobs()
    call.continue_loop()
    assert "Your account is now frozen" in call.heard_text(mark)
    assert record(redis_conn, call)["verified"] == "second_factor"


def test_failed_second_factor_goes_to_agent_without_freeze(
    dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    """Three wrong second factors: no freeze, an agent in security checks the caller."""
    call = english_menu(dial, from_=OTHER_CALLER)
    call.press("8")  # close the account: needs verification too
    for _ in range(3):
        call.press("1111")
    assert "We could not verify you." in call.heard_text()
    call.silence()
    rec = record(redis_conn, call)
    assert rec["verified"] == "failed" and rec["department"] == "accounts"
    assert redis_conn.hget(keys.account(DEMO_ACCOUNT), "status") == "active"


def test_unidentified_caller_cannot_freeze(dial: Callable[..., Call], redis_conn: redis.Redis) -> None:
    """Without an account, security goes straight to a specialist; no freeze is attempted."""
    call = dial()
    call.press(ENGLISH)
    for _ in range(3):
        call.silence()
    call.press("4")
    assert "freeze your account now" in call.heard_text()
    call.press("1")
    assert "we cannot freeze the account automatically" in call.heard_text()
    call.silence()
    assert waiting_in(redis_conn, "security")[:1] == [call.call_sid]


def test_freeze_that_fails_is_said_and_left_to_the_specialist(
    dial: Callable[..., Call], redis_conn: redis.Redis, run_jobs: Callable[[], None]
) -> None:
    """The directory refuses the freeze: the caller hears so and still goes to security."""
    call = english_menu(dial, max_redirects=1)
    call.press("4")
    redis_conn.delete(keys.account(DEMO_ACCOUNT))  # the directory no longer knows the account
    call.press("1")
    run_jobs()
    call.continue_loop()
    assert "We could not freeze your account automatically." in call.heard_text()
    assert record(redis_conn, call)["freeze"] == "failed"


def test_freeze_without_a_worker_does_not_hold_the_caller_forever(dial: Callable[..., Call]) -> None:
    """No worker picks the job up: after a few checks the caller moves on to the specialist."""
    call = english_menu(dial)
    call.press("4")
    call.press("1")
    assert "We could not freeze your account automatically." in call.heard_text()
    call.silence()
    assert "Connecting you to account security" in call.heard_text()
    assert call.on_hold


def test_garbled_fields_still_get_twiml(dial: Callable[..., Call]) -> None:
    """Odd Digits and speech are just invalid input, never an error."""
    call = english_menu(dial)
    call.speak("")
    call.speak("🙂" * 300)
    assert call.state in ("gathering", "looping")
