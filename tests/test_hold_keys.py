"""Keys on hold: a caller can ask for a callback at any moment of the wait, the music included.

Whole calls through the webhooks on the shipped hotline file (callbacks on, offered on their
own only from position 10 or a 10-minute wait): a caller early in the queue hears no offer, yet
a key pressed during any turn's music is heard. The stand-in checks every hold turn's TwiML as
Twilio would (Play inside Gather included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask

from ivr import create_app, keys
from ivr.clock import FixedClock
from ivr.services import services_of
from queue_worker import context
from standin.phone import Call
from standin.rest import Switchboard
from standin.transport import FlaskTransport
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DEMO_ACCOUNT,
    DEMO_CALLER,
    PUBLIC_BASE_URL,
    to_hold,
    waiting_in,
)

ROOT = Path(__file__).resolve().parent.parent
MANDARIN = "1"
HINT = "等待期间，您可以随时按1挂机并保留排队位置"
OFFER = "如需挂机并保留排队位置，轮到您时由我们回电，请按1"
NOT_AN_OPTION = "抱歉，该按键无效。您的排队位置保持不变。"
HOLD_MESSAGE = "您的来电正在排队，请不要挂机。"


def on_hold(dial: Callable[..., Call], from_: str = DEMO_CALLER) -> Call:
    """A Mandarin caller with a failed top-up, on hold in payments (verified, or unidentified)."""
    call = dial(from_=from_, max_redirects=2)
    to_hold(call, verified=from_ == DEMO_CALLER)
    assert call.on_hold and call.state == "gathering"
    return call


def music_in_the_gather(call: Call) -> bool:
    """Whether the Gather the call waits at holds the hold music (a key is heard during it)."""
    root = call.last_twiml
    assert root is not None
    gather = root.find("Gather")
    return gather is not None and any(verb.tag == "Play" for verb in gather)


def test_a_hold_turn_is_one_gather_with_the_music_then_the_next_turn(dial: Callable[..., Call]) -> None:
    call = on_hold(dial)
    root = call.last_twiml
    assert root is not None
    assert [verb.tag for verb in root] == ["Gather", "Redirect"]
    gather = root[0]
    assert gather.get("action", "").startswith(f"{PUBLIC_BASE_URL}/voice/callback/offer?p=1&t=")
    assert (gather.get("numDigits"), gather.get("input"), gather.get("finishOnKey")) == ("1", "dtmf", "")
    assert [verb.tag for verb in gather][-1] == "Play"  # the music last: keys heard all through it
    assert "/voice/hold?p=1&t=" in (root[1].text or "") and (root[1].text or "").endswith("&h=1&d=payments")


def test_early_in_the_queue_a_key_during_the_music_gets_a_callback_keeping_the_place(
    dial: Callable[..., Call], redis_conn: redis.Redis, clock: FixedClock
) -> None:
    first = on_hold(dial, "+8613900000001")
    asker = on_hold(dial)  # second in line: no offer is due
    assert OFFER not in asker.heard_text() and HINT in asker.heard_text()
    behind = on_hold(dial, "+8613900000003")
    clock.set(clock.now() + timedelta(seconds=30))
    asker.continue_loop()  # a quiet turn: the music again, nothing announced
    assert music_in_the_gather(asker) and OFFER not in asker.heard_text()
    asker.press("1")  # during the music
    assert "我们将回电至：一，三，八，零，零，一，三，八，零，零，零。" in asker.heard_text()
    asker.press("1")
    assert "您的排队位置已保留" in asker.heard_text() and asker.state == "completed"
    later = on_hold(dial, "+8613900000004")
    order = [first.call_sid, asker.call_sid, behind.call_sid, later.call_sid]
    assert waiting_in(redis_conn, "payments") == order
    assert redis_conn.hget(keys.call(asker.call_sid), "outcome") != "abandoned"


def test_two_during_the_music_offers_a_later_hour(dial: Callable[..., Call]) -> None:
    call = on_hold(dial)
    assert music_in_the_gather(call)
    call.press("2")
    assert "您可以预约回电时间" in call.heard_text()


def test_the_hint_is_said_once_a_call(dial: Callable[..., Call], clock: FixedClock, app: Flask) -> None:
    call = on_hold(dial)
    every = services_of(app).config.file.hotline.announce_every_seconds
    for _ in range(3):  # each turn announces position and wait again
        clock.set(clock.now() + timedelta(seconds=every))
        call.continue_loop()
    call.press("7")
    call.continue_loop(documents=2)
    said = call.heard_text()
    assert said.count(HINT) == 1 and said.count("您是下一位") == 4
    assert said.count(HOLD_MESSAGE) == 7  # every turn, the first and after the wrong key included


@pytest.mark.parametrize("key", ["5", "*", "#"])
def test_a_wrong_key_returns_to_the_same_place_with_nothing_repeated(
    dial: Callable[..., Call], redis_conn: redis.Redis, key: str
) -> None:
    first = on_hold(dial, "+8613900000001")
    call = on_hold(dial)
    assert "您前面还有1位客户。" in call.heard_text()
    mark = call.mark()
    call.press(key)
    again = call.heard_text(mark)
    assert again.startswith(NOT_AN_OPTION)
    assert "您前面还有" not in again and HINT not in again  # nothing announced again
    assert HOLD_MESSAGE in again and call.on_hold and music_in_the_gather(call)
    assert waiting_in(redis_conn, "payments") == [first.call_sid, call.call_sid]
    call.press("1")  # the keys still work on the next turn
    assert "我们将回电至" in call.heard_text(mark)


def test_the_offer_is_still_said_on_its_own_far_back_in_the_queue(
    dial: Callable[..., Call], app: Flask
) -> None:
    far = services_of(app).config.file.callbacks.offer_from_position
    for n in range(far - 1):
        on_hold(dial, f"+86139000001{n:02d}")
    call = on_hold(dial)
    said = call.heard_text()
    assert OFFER in said and HINT not in said  # the offer tells the keys already


# -- callbacks off -------------------------------------------------------------------------


@pytest.fixture
def no_callbacks(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    data = yaml.safe_load((ROOT / "hotline.yaml").read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "dial"  # these calls are written for the Dial
    data["callbacks"]["enabled"] = False
    (tmp_path / "demo_accounts.yaml").write_text((ROOT / "demo_accounts.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    application = create_app({**app_settings, "hotline_config": path}, clock=clock)
    context.install(services_of(application))
    yield application
    context.install(None)


def test_with_callbacks_off_the_loop_is_words_music_and_again(
    no_callbacks: Flask, switchboard: Switchboard
) -> None:
    call = Call(
        FlaskTransport(no_callbacks.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN),
        from_=DEMO_CALLER,
        account_sid=ACCOUNT_SID,
        max_redirects=2,
    )
    switchboard.register(call)
    call.start()
    for key in (MANDARIN, DEMO_ACCOUNT, "1", "1", "1"):
        call.press(key)
    call.silence()
    assert call.state == "looping" and call.on_hold
    root = call.last_twiml
    assert root is not None and [verb.tag for verb in root] == ["Say", "Play", "Redirect"]
    assert HINT not in call.heard_text() and OFFER not in call.heard_text()
