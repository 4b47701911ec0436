"""Faults a caller must never hear: Redis down or hanging, forged requests, repeats, lost state."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from flask import Flask

from ivr import create_app, keys, routes
from ivr.clock import FixedClock
from ivr.services import services_of
from standin.phone import Call
from standin.transport import FlaskTransport, sign
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, DEMO_ACCOUNT, DEMO_CALLER, PUBLIC_BASE_URL, waiting_in

OVERFLOW = "+862161234567"


def call_params(sid: str, **extra: str) -> dict[str, str]:
    """The fields Twilio sends with every voice webhook."""
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "From": DEMO_CALLER,
        "To": "+864001234567",
        "Caller": DEMO_CALLER,
        "Called": "+864001234567",
        **extra,
    }


def post_signed(app: Flask, path: str, params: dict[str, str]) -> Any:
    """POST as Twilio would, signed over the public URL."""
    signature = sign(AUTH_TOKEN, PUBLIC_BASE_URL + path, params)
    return app.test_client().post(path, data=params, headers={"X-Twilio-Signature": signature})


@pytest.fixture
def hanging_redis() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a Redis that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def closed_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("kind", ["down", "hanging"])
def test_redis_trouble_gets_apology_and_overflow_dial(
    kind: str,
    app_settings: dict[str, Any],
    clock: FixedClock,
    hanging_redis: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis refuses or hangs: the caller is kept on the line (one word of it, the request asked
    again) for the grace; past it, an apology in both languages and the overflow number."""
    url = hanging_redis if kind == "hanging" else f"redis://127.0.0.1:{closed_port()}/0"
    app = create_app({**app_settings, "redis_url": url}, clock=clock)
    transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    call = Call(transport, account_sid=ACCOUNT_SID, max_redirects=1)
    call.start()
    assert call.state == "looping" and call.dialed == []
    assert "请稍候" in call.heard_text() and "One moment please" in call.heard_text()
    clock.set(clock.now() + timedelta(seconds=services_of(app).config.file.hotline.redis_grace_seconds))
    call.continue_loop()
    assert call.state == "dialing"
    assert "非常抱歉，系统暂时繁忙" in call.heard_text()
    assert "We are sorry, our system is busy." in call.heard_text()
    assert [d["value"] for d in call.dialed] == [OVERFLOW]
    assert "redis unavailable on /voice/incoming" in caplog.text


def test_fallback_url_needs_no_redis(app: Flask) -> None:
    """The number's Fallback URL answers with the overflow, whatever state the app is in."""
    reply = post_signed(app, "/voice/fallback", call_params("CA" + "f" * 32))
    assert reply.status_code == 200 and reply.mimetype == "text/xml"
    assert f'<Dial timeout="30">{OVERFLOW}</Dial>' in reply.get_data(as_text=True)


def test_forged_request_is_refused_and_logged_without_body(
    app: Flask, caplog: pytest.LogCaptureFixture, redis_conn: redis.Redis
) -> None:
    """A wrong signature gets 403; the log names the path but not the caller's number."""
    params = call_params("CA" + "a" * 32)
    reply = app.test_client().post("/voice/incoming", data=params, headers={"X-Twilio-Signature": "forged"})
    assert reply.status_code == 403
    assert "bad X-Twilio-Signature" in caplog.text
    assert DEMO_CALLER not in caplog.text and "13800138000" not in caplog.text
    assert not redis_conn.exists(keys.call(params["CallSid"]))


def _webhook_paths() -> list[str]:
    """Every path Twilio requests (ivr/routes.py), `<args>` filled in."""
    return [
        routes.path(name, **dict.fromkeys(routes.PATH_ARG.findall(rule), "language"))
        for name, rule in routes.ROUTES.items()
    ]


def _redis_contents(app: Flask) -> dict[bytes, bytes | None]:
    """Every key of the test database with its serialised value, to see that nothing was written."""
    raw = services_of(app).stores.jobs  # the bytes client, on the same database as the data
    return {key: raw.dump(key) for key in raw.keys("*")}


@pytest.mark.parametrize("path", _webhook_paths())
def test_every_webhook_refuses_a_forged_request_and_writes_nothing(app: Flask, path: str) -> None:
    """Signed with another token, or not signed at all: 403, and Redis exactly as it was."""
    view = app.view_functions[app.url_map.bind("localhost").match(path, method="POST")[0]]
    assert view.__code__.co_qualname == "twilio_webhook.<locals>.wrapper", f"{path} is not a twilio_webhook"
    params = call_params("CA" + "d" * 32, CallStatus="completed", Digits="1", RecordingSid="RE" + "1" * 32)
    before = _redis_contents(app)
    assert before  # the seeded agents and accounts: a database to compare

    forged = sign("not-the-auth-token", PUBLIC_BASE_URL + path, params)
    for headers in ({"X-Twilio-Signature": forged}, {}):
        reply = app.test_client().post(path, data=params, headers=headers)
        assert reply.status_code == 403

    assert _redis_contents(app) == before
    assert post_signed(app, path, params).status_code == 200  # the same request, signed, is served


def test_signature_is_checked_against_the_public_url(app: Flask) -> None:
    """Behind a proxy the app sees http://localhost; Twilio signed https://hotline.example.com."""
    params = call_params("CA" + "b" * 32)
    inner = sign(AUTH_TOKEN, "http://localhost/voice/incoming", params)
    reply = app.test_client().post("/voice/incoming", data=params, headers={"X-Twilio-Signature": inner})
    assert reply.status_code == 403
    assert post_signed(app, "/voice/incoming", params).status_code == 200


def test_without_public_base_url_the_request_url_is_used(
    app_settings: dict[str, Any], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """With no proxy in front, the URL the app sees is the one Twilio signed."""
    app = create_app({**app_settings, "public_base_url": None}, clock=clock)
    params = call_params("CA" + "c" * 32)
    signature = sign(AUTH_TOKEN, "http://localhost/voice/incoming", params)
    reply = app.test_client().post("/voice/incoming", data=params, headers={"X-Twilio-Signature": signature})
    assert reply.status_code == 200
    assert "http://localhost/voice/step/language" in reply.get_data(as_text=True)


def test_repeated_delivery_makes_no_duplicate(app: Flask, redis_conn: redis.Redis) -> None:
    """The same request twice: the same TwiML, one call record, one reference, one queue entry."""
    sid = "CA" + "d" * 32
    first = post_signed(app, "/voice/incoming", call_params(sid)).get_data(as_text=True)
    again = post_signed(app, "/voice/incoming", call_params(sid)).get_data(as_text=True)
    assert first == again
    assert redis_conn.hget(keys.daily_stats(redis_conn.hget(keys.call(sid), "day")), "offered") == "1"
    post_signed(app, "/voice/step/language?phase=choose&try=1", call_params(sid, Digits="2"))
    post_signed(app, "/voice/step/issue_menu?phase=choose&try=1", call_params(sid, Digits="0"))
    twice = post_signed(app, "/voice/step/issue_menu?phase=choose&try=1", call_params(sid, Digits="0"))
    assert twice.status_code == 200
    assert waiting_in(redis_conn, "international") == [sid]
    assert len(redis_conn.keys(keys.reference("*"))) == 1


def test_unknown_callsid_on_a_step_is_greeted(app: Flask, redis_conn: redis.Redis) -> None:
    """A step for a call we never saw (state lost): start over rather than fail."""
    sid = "CA" + "e" * 32
    reply = post_signed(app, "/voice/step/issue_menu?phase=choose&try=2", call_params(sid, Digits="3"))
    body = reply.get_data(as_text=True)
    assert reply.status_code == 200 and "普通话服务请按1" in body
    assert redis_conn.hget(keys.call(sid), "ref")


def test_missing_callsid_still_gets_twiml(app: Flask) -> None:
    """A request without a usable CallSid gets the overflow rather than an error."""
    params = call_params("not-a-sid")
    reply = post_signed(app, "/voice/incoming", params)
    assert reply.status_code == 200 and OVERFLOW in reply.get_data(as_text=True)


def test_logs_mask_numbers_and_never_hold_keys(
    dial: Callable[..., Call], caplog: pytest.LogCaptureFixture, run_jobs: Callable[[], None]
) -> None:
    """A whole call's logs show neither the caller's number, nor the account, nor keys pressed."""
    caplog.set_level(logging.DEBUG)
    call = dial(max_redirects=1)
    call.press("2")
    call.press(DEMO_ACCOUNT)
    call.press("1")
    call.press("4")
    call.press("1")
    run_jobs()
    call.continue_loop()
    call.hangup()
    text = caplog.text
    assert "froze" in text  # the job logged, masked
    assert DEMO_ACCOUNT not in text and "13800138000" not in text
    assert "******0017" in text


class _Backend(BaseHTTPRequestHandler):
    """The wallet's account API, as the HTTP directory expects it."""

    accounts = {"6222000025": {"mobile": "139 1234 5678", "status": "active"}}
    frozen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        account = self.path.rsplit("/", 1)[-1]
        if account == "6222000033":
            threading.Event().wait(1.5)  # slower than the directory's timeout
        body = self.accounts.get(account)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {"error": "not found"}).encode())

    def do_POST(self) -> None:  # noqa: N802
        self.frozen.append(self.path.split("/")[-2])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def backend() -> Iterator[str]:
    """A local wallet backend on a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/accounts"
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_app(
    backend: str, tmp_path: Any, app_settings: dict[str, Any], clock: FixedClock, redis_conn: redis.Redis
) -> Flask:
    """The hotline with the HTTP account directory pointing at the local backend."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    data = yaml.safe_load((root / "hotline.yaml").read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "dial"  # these calls are written for the Dial
    data["directory"] = {"kind": "http", "url": backend, "timeout_seconds": 0.5}
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    app = create_app({**app_settings, "hotline_config": path}, clock=clock)
    from queue_worker import context

    context.install(services_of(app))
    return app


def _dial_http(app: Flask, from_: str) -> Call:
    call = Call(
        FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN), from_=from_, account_sid=ACCOUNT_SID
    )
    call.start()
    call.press("2")
    return call


def test_http_directory_verifies_against_the_backend(http_app: Flask, redis_conn: redis.Redis) -> None:
    """The backend's mobile (written loosely) matches the caller ID once both are E.164."""
    call = _dial_http(http_app, "+8613912345678")
    call.press("6222000025")
    call.press("1")
    assert "Thank you, your account is confirmed." in call.heard_text()
    assert redis_conn.hget(keys.call(call.call_sid), "verified") == "caller_id"


def test_http_directory_timeout_goes_on_unidentified(http_app: Flask, redis_conn: redis.Redis) -> None:
    """A backend slower than the timeout: the caller goes on, the agent checks later."""
    call = _dial_http(http_app, "+8613912345678")
    call.press("6222000033")
    call.press("1")
    assert "We could not identify your account." in call.heard_text()
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["account_state"] == "unavailable" and record["verified"] == "no"


def test_http_directory_freeze_posts_to_backend(http_app: Flask, redis_conn: redis.Redis) -> None:
    """The freeze job calls the backend's freeze endpoint."""
    from rq import SimpleWorker

    from ivr.jobs import QUEUE_NAME

    call = Call(
        FlaskTransport(http_app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN),
        from_="+8613912345678",
        account_sid=ACCOUNT_SID,
        max_redirects=1,
    )
    call.start()
    call.press("2")
    call.press("6222000025")
    call.press("1")
    call.press("4")
    call.press("1")
    SimpleWorker([QUEUE_NAME], connection=services_of(http_app).stores.jobs).work(burst=True)
    call.continue_loop()
    assert "Your account is now frozen" in call.heard_text()
    assert _Backend.frozen[-1] == "6222000025"
