"""A Redis that restarts, stalls or refuses for a moment: callers keep their place.

Each test runs the hotline on a Redis server of its own (AOF on, as the README asks), which it
kills and restarts, stops and resumes, or reaches through a proxy that drops connections.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from ivr import create_app, keys
from ivr.clock import FixedClock
from ivr.services import services_of
from ivr.store import WEBHOOK_CONNECT_WINDOW, WEBHOOK_SENTINEL_TIMEOUT, WEBHOOK_TIMEOUTS
from queue_worker import context
from standin.phone import Call
from standin.rest import Switchboard
from standin.transport import FlaskTransport
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DEMO_CALLER,
    PUBLIC_BASE_URL,
    hotline_variant,
    in_rooms,
    waiting_in,
)
from tests.redis_servers import Server, data_server
from tests.test_api import CHOOSE_LANGUAGE, Api, go_ready, later, payments_caller, token_for

OVERFLOW = "+862161234567"
SORRY = ("We are sorry, our system is busy.", "非常抱歉，系统暂时繁忙")
OTHER_CALLER = "+8613900000001"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Server]:
    """A Redis server of this test's own, with AOF."""
    server = data_server(tmp_path / "redis").start()
    yield server
    server.kill()


def hotline_on(url: str, app_settings: dict[str, Any], clock: FixedClock) -> Flask:
    """The hotline app on the Redis at `url`, its jobs run in this process."""
    app = create_app({**app_settings, "redis_url": url}, clock=clock)
    context.install(services_of(app))
    return app


def dialer(app: Flask, switchboard: Switchboard) -> Callable[..., Call]:
    """`dial(from_=...)` for `app`, as the `dial` fixture does for the suite's app."""

    def _dial(from_: str = DEMO_CALLER, **kwargs: Any) -> Call:
        transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
        call = switchboard.register(Call(transport, from_=from_, account_sid=ACCOUNT_SID, **kwargs))
        call.start()
        return call

    return _dial


def jobs_runner(app: Flask) -> Callable[[], None]:
    """Run the queued rq jobs of `app` now, in this process."""
    from rq import SimpleWorker

    from ivr.jobs import QUEUE_NAME

    return lambda: SimpleWorker([QUEUE_NAME], connection=services_of(app).stores.jobs).work(burst=True)


def next_turn(call: Call) -> str:
    """The URL of the hold turn the call's last document redirects to."""
    return " ".join(r.text or "" for r in call.last_twiml.iter("Redirect"))


def sorry_heard(call: Call, since: int) -> bool:
    """The caller heard the apology that goes with the overflow."""
    return any(text in call.heard_text(since) for text in SORRY)


def test_hold_rides_out_a_redis_restart_and_keeps_the_place(
    own_redis: Server,
    app_settings: dict[str, Any],
    clock: FixedClock,
    switchboard: Switchboard,
) -> None:
    """Redis killed while two callers hold: music and the next turn; restarted, the same queue.

    The first turn that cannot reach Redis starts the grace in its URL (`g`); the first that
    can drops it. The agent who then goes ready gets the caller who was first before the outage.
    """
    app = hotline_on(own_redis.url, app_settings, clock)
    dial = dialer(app, switchboard)
    first, second = payments_caller(dial), payments_caller(dial, from_=OTHER_CALLER)
    conn = own_redis.client()
    assert waiting_in(conn, "payments") == [first.call_sid, second.call_sid]

    own_redis.kill()
    mark = first.mark()
    first.continue_loop(documents=2)
    assert first.on_hold and first.dialed == [] and not sorry_heard(first, mark)
    assert [h.kind for h in first.heard[mark:]].count("play") >= 2  # music, turn after turn
    assert "g=" in first.current_url and "g=" in next_turn(first)

    own_redis.start()  # the same files: the append-only file brings every key back
    first.continue_loop()
    second.continue_loop()
    assert first.on_hold and "g=" not in next_turn(first)  # the next turns are ordinary again
    assert first.dialed == [] and not sorry_heard(first, mark)
    assert waiting_in(own_redis.client(), "payments") == [first.call_sid, second.call_sid]

    api = Api(app)
    go_ready(api, token_for(app, "agent", "li_na"), jobs_runner(app))
    first.continue_loop()  # the matcher's redirect
    assert first.state == "dialing" and first.dialed and first.dialed[0]["value"] != OVERFLOW
    context.install(None)


def test_a_stalled_redis_keeps_the_caller_on_hold(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """SIGSTOP: the turn's read times out; the caller hears music, then their place again."""
    app = hotline_on(own_redis.url, app_settings, clock)
    call = payments_caller(dialer(app, switchboard))
    own_redis.pause()
    try:
        mark = call.mark()
        call.continue_loop()
        assert call.on_hold and call.dialed == [] and not sorry_heard(call, mark)
    finally:
        own_redis.resume()
    call.continue_loop()
    assert call.on_hold and "g=" not in next_turn(call)
    assert waiting_in(own_redis.client(), "payments") == [call.call_sid]
    context.install(None)


def test_a_key_pressed_on_hold_during_an_outage_goes_back_to_the_music(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """The callback offer cannot be made without Redis: the caller is back on hold, not sent away."""
    app = hotline_on(own_redis.url, app_settings, clock)
    call = payments_caller(dialer(app, switchboard))
    assert call.state == "gathering"  # keys are heard during the turn
    own_redis.kill()
    mark = call.mark()
    call.press("1")
    assert call.on_hold and call.dialed == [] and not sorry_heard(call, mark)
    own_redis.start()
    call.continue_loop()
    assert call.on_hold and "g=" not in next_turn(call)
    assert waiting_in(own_redis.client(), "payments") == [call.call_sid]
    context.install(None)


def test_keys_are_heard_during_the_outage_music_once_redis_is_back(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """The music of a turn that missed Redis still hears keys: once Redis is back, 1 asks for a callback.

    That music plays a whole turn (a minute or more) after an outage of a few seconds; a caller
    whose key went unheard all that time would think the offer was gone.
    """
    app = hotline_on(own_redis.url, app_settings, clock)
    call = payments_caller(dialer(app, switchboard))
    own_redis.kill()
    call.continue_loop()  # the next turn cannot reach Redis: the outage's music
    assert call.on_hold and "g=" in next_turn(call)
    assert call.state == "gathering", "the outage's music does not hear keys"
    own_redis.start()
    mark = call.mark()
    call.press("1")  # during that music, Redis back
    assert "我们将回电至：一，三，八，零，零，一，三，八，零，零，零。" in call.heard_text(mark)
    assert waiting_in(own_redis.client(), "payments") == [call.call_sid]
    context.install(None)


def test_a_key_pressed_during_the_outage_music_while_redis_is_out_keeps_the_grace(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """A key pressed while Redis is still out: the music again, the grace counted from the first miss."""
    app = hotline_on(own_redis.url, app_settings, clock)
    call = payments_caller(dialer(app, switchboard))
    own_redis.kill()
    call.continue_loop()
    first_miss = next_turn(call)
    later(clock, 10)
    mark = call.mark()
    call.press("1")
    assert call.on_hold and call.dialed == [] and not sorry_heard(call, mark)
    assert next_turn(call) == first_miss  # the same turn, the same `g`
    own_redis.start()
    context.install(None)


def test_past_the_grace_the_caller_goes_to_the_overflow_number(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """The grace counts from the first failed turn, not the last: past it, the overflow."""
    app = hotline_on(own_redis.url, app_settings, clock)
    grace = services_of(app).config.file.hotline.redis_grace_seconds
    assert grace > 2
    call = payments_caller(dialer(app, switchboard))
    own_redis.kill()
    call.continue_loop()
    later(clock, grace - 1)
    call.continue_loop()
    assert call.on_hold and call.dialed == []
    later(clock, 2)
    mark = call.mark()
    call.continue_loop()
    assert [d["value"] for d in call.dialed] == [OVERFLOW]
    assert sorry_heard(call, mark)
    context.install(None)


class DroppingProxy:
    """A TCP proxy to a Redis that closes the first `drop` connections it accepts."""

    def __init__(self, target: tuple[str, int], drop: int) -> None:
        self.target, self.drop, self.accepted = target, drop, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            if self.accepted <= self.drop:
                client.close()  # a Redis that is not there yet (restarting, failing over)
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        """Stop accepting."""
        self.server.close()


def test_a_refused_connect_is_retried_within_the_webhook(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """The first connections are dropped: the webhook connects again and the caller hears the menu."""
    proxy = DroppingProxy(own_redis.address, drop=3)
    try:
        app = hotline_on(f"redis://127.0.0.1:{proxy.port}/0", app_settings, clock)
        call = dialer(app, switchboard)(from_=OTHER_CALLER)
        assert call.dialed == [] and "For English, press 2" in call.heard_text()
        assert proxy.accepted > 3
    finally:
        proxy.close()
        context.install(None)


def test_connect_retries_stop_when_the_requests_budget_is_spent(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """Every connection dropped: a few tries with backoff, then the caller is kept on the line
    (the request asked again); past the grace, the apology and the overflow."""
    proxy = DroppingProxy(own_redis.address, drop=10_000)
    try:
        app = hotline_on(f"redis://127.0.0.1:{proxy.port}/0", app_settings, clock)
        before = proxy.accepted
        call = dialer(app, switchboard)(from_=OTHER_CALLER, max_redirects=1)
        assert call.state == "looping" and call.dialed == [] and not sorry_heard(call, 0)
        assert 1 < proxy.accepted - before < 20  # retried, with backoff, and gave up
        later(clock, services_of(app).config.file.hotline.redis_grace_seconds)
        call.continue_loop()
        assert [d["value"] for d in call.dialed] == [OVERFLOW] and sorry_heard(call, 0)
    finally:
        proxy.close()
        context.install(None)


def test_webhook_worst_case_stays_well_inside_twilios_fifteen_seconds() -> None:
    """Connect retries share one window per request; the attempt begun just before it closes
    may take its full time (asking three hung sentinels first, on Sentinel); then two round
    trips that time out. About 4 s, 5 s on Sentinel: well inside Twilio's 15."""
    attempt = WEBHOOK_TIMEOUTS["socket_connect_timeout"] + WEBHOOK_TIMEOUTS["socket_timeout"]
    round_trips = 2 * WEBHOOK_TIMEOUTS["socket_timeout"]
    plain = WEBHOOK_CONNECT_WINDOW + attempt + round_trips
    on_sentinel = plain + 3 * 2 * WEBHOOK_SENTINEL_TIMEOUT
    assert plain < 4.0 and on_sentinel < 5.5 < 15.0


def test_a_redis_error_that_is_no_outage_is_not_ridden_out(
    dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    """A command Redis refuses (here a call record of the wrong type) is no outage: waiting out
    the grace would not mend it, so the caller goes to the overflow number at once."""
    call = payments_caller(dial)
    redis_conn.delete(keys.call(call.call_sid))
    redis_conn.set(keys.call(call.call_sid), "not a hash")
    mark = call.mark()
    call.continue_loop()
    assert [d["value"] for d in call.dialed] == [OVERFLOW] and sorry_heard(call, mark)


MOMENT = ("One moment please", "请稍候")


def moment_heard(call: Call, since: int) -> int:
    """How often the caller heard the outage's short apology (in any language) since `since`."""
    text = call.heard_text(since)
    return sum(text.count(each) for each in MOMENT) // len(MOMENT)


def test_a_menu_key_pressed_during_an_outage_is_heard_when_redis_is_back(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """A key pressed in the menu while Redis is down: one short apology, the line kept, and the
    same key handled once Redis is back (it rides in the signed retry URL), no overflow."""
    app = hotline_on(own_redis.url, app_settings, clock)
    call = dialer(app, switchboard)(from_=OTHER_CALLER)
    assert CHOOSE_LANGUAGE in call.heard_text() and call.state == "gathering"
    own_redis.kill()
    call.max_redirects = 3
    mark = call.mark()
    call.press("2")  # English
    assert call.state == "looping" and call.dialed == [] and not sorry_heard(call, mark)
    assert moment_heard(call, mark) == 1  # said once, in both languages, however many retries
    assert "in_Digits=2" in call.request_paths()[-1] and "rg=" in call.request_paths()[-1]
    own_redis.start()
    call.continue_loop(documents=1)
    assert call.state == "gathering" and call.dialed == []
    assert own_redis.client().hget(keys.call(call.call_sid), "lang") == "en-US"
    assert "Welcome" in call.heard_text(mark) or "press" in call.heard_text(mark).lower()
    context.install(None)


def test_an_agent_not_answering_during_an_outage_puts_the_caller_back_after_it(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """The Dial ends unanswered while Redis is down: the caller stays on the line, and when Redis
    is back the dial result is handled as it was sent: back at their place, the agent not ready."""
    app = hotline_on(own_redis.url, app_settings, clock)
    call = payments_caller(dialer(app, switchboard))
    api = Api(app)
    go_ready(api, token_for(app, "agent", "li_na"), jobs_runner(app))
    call.continue_loop()  # the matcher's redirect: li_na's phone rings
    assert call.state == "dialing" and call.dialed[0]["value"] != OVERFLOW
    own_redis.kill()
    call.max_redirects = 3
    mark = call.mark()
    call.dial_result("no-answer")
    assert call.state == "looping" and not sorry_heard(call, mark) and len(call.dialed) == 1
    assert "in_DialCallStatus=no-answer" in call.request_paths()[-1]
    own_redis.start()
    call.continue_loop(documents=2)
    conn = own_redis.client()
    assert call.on_hold and len(call.dialed) == 1 and not sorry_heard(call, mark)
    assert waiting_in(conn, "payments") == [call.call_sid]
    assert conn.hget(keys.agent("li_na"), "state") == "not_ready"
    context.install(None)


def test_a_status_callback_during_an_outage_answers_without_a_dial(
    own_redis: Server, app_settings: dict[str, Any], clock: FixedClock, switchboard: Switchboard
) -> None:
    """No caller waits on a status callback: during an outage it answers an empty document
    (never the overflow's Dial), and reconciliation with Twilio recovers what it would have done."""
    app = hotline_on(own_redis.url, app_settings, clock)
    call = payments_caller(dialer(app, switchboard))
    own_redis.kill()
    transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    reply = transport.request(
        "POST",
        f"{PUBLIC_BASE_URL}/voice/status",
        {"CallSid": call.call_sid, "AccountSid": ACCOUNT_SID, "CallStatus": "completed", "CallDuration": "9"},
    )
    assert reply.status == 200 and "<Dial" not in reply.body and "<Redirect" not in reply.body
    own_redis.start()
    context.install(None)


def test_an_agent_who_picks_up_their_room_leg_during_an_outage_is_kept_on_the_line(
    own_redis: Server,
    app_settings: dict[str, Any],
    clock: FixedClock,
    switchboard: Switchboard,
    tmp_path: Path,
) -> None:
    """Connecting through rooms: the agent answers the leg into the caller's room while Redis is
    down. Hung up on, their phone would be free while the hotline still thinks it rings (the
    leg's report meets the outage too); instead they are kept on the line, and once Redis is
    back they hear the whisper and join the caller."""
    from tests.rooms import agent_legs, answer

    app = hotline_on(
        own_redis.url, {**app_settings, "hotline_config": hotline_variant(tmp_path, in_rooms())}, clock
    )
    call = payments_caller(dialer(app, switchboard))
    go_ready(Api(app), token_for(app, "agent", "li_na"), jobs_runner(app))
    call.continue_loop()  # the matcher's redirect: into the room, li_na's leg placed
    assert call.state == "conference"
    [leg] = agent_legs(switchboard, call)
    own_redis.kill()
    phone = answer(app, switchboard, leg)
    assert phone.state == "looping" and "rg=" in phone.request_paths()[-1]  # kept on the line
    own_redis.start()
    phone.continue_loop()
    assert phone.state == "conference" and "支付与充值来电" in phone.heard_text()
    assert own_redis.client().hget(keys.agent("li_na"), "state") == "on_call"
    room = switchboard.conferences.find(f"call-{call.call_sid}")
    assert room is not None and room.hears(call.call_sid, leg.sid)
    context.install(None)
