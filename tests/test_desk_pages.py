"""The agent desktop's and the wallboard's sign-in, session and CSRF rules, and the live push's hub.

What a browser does, through Flask's test client: the sign-in form takes the token once and
gives a session cookie (HttpOnly, SameSite=Strict) that never contains the token; the API then
answers the cookie, but a state change without the session's CSRF token is refused; signing
out, revoking the token or the session's end all sign the person out. The hub (ivr/web/push.py)
wakes an agent's page only for events naming the agent and shares one snapshot among boards.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient

from ivr import create_app
from ivr.api.auth import revoke
from ivr.clock import FixedClock
from ivr.services import services_of
from ivr.store import listener
from ivr.web.labels import LABELS, LOCALES
from ivr.web.live import TodayIntervals, WeekLoad, board_state, hub_of
from ivr.web.push import Hub
from standin.phone import Call
from standin.rest.app import serve_in_thread
from standin.transport import sign
from tests.conftest import AUTH_TOKEN, PUBLIC_BASE_URL
from tests.test_api import Api, connect, payments_caller, token_for
from tests.test_faults import call_params

SOON = 15.0  # s: a bound for what comes at once on a loaded machine, not a timing


def csrf_of(page: str) -> str:
    """The CSRF token a page carries (its forms' hidden field)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, token: str, role: str = "agent") -> str:
    """Open the page, post the token with the form's CSRF token; the signed-in page's HTML."""
    page = client.get("/agent" if role == "agent" else "/wallboard").get_data(as_text=True)
    resp = client.post("/signin", data={"token": token, "role": role, "csrf_token": csrf_of(page)})
    assert resp.status_code == 303
    return client.get(resp.headers["Location"]).get_data(as_text=True)


def test_every_locale_has_every_label() -> None:
    assert set(LOCALES) == set(LABELS)
    keys = [set(labels) for labels in LABELS.values()]
    assert all(k == keys[0] for k in keys)


def test_the_browsers_icon_request_is_no_error(app: Flask) -> None:
    resp = app.test_client().get("/favicon.ico")
    assert resp.status_code == 204 and resp.get_data() == b""


def test_the_token_buys_a_cookie_that_never_holds_it(app: Flask) -> None:
    """The sign-in form, then a page that shows the agent; the cookie is HttpOnly and SameSite."""
    client, token = app.test_client(), token_for(app, "agent", "li_na")
    first = client.get("/agent").get_data(as_text=True)
    assert 'id="token"' in first and 'type="password"' in first
    resp = client.post("/signin", data={"token": token, "role": "agent", "csrf_token": csrf_of(first)})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and token not in cookie
    page = client.get("/agent").get_data(as_text=True)
    assert "李娜" in page and 'id="go-ready"' in page and token not in page
    assert client.get("/api/agent/me").get_json()["id"] == "li_na"


def test_a_wrong_token_or_another_roles_is_refused_in_words(app: Flask) -> None:
    client = app.test_client()
    page = sign_in(client, "hl_not-a-token")
    assert "令牌无效或已被撤销" in page and 'id="go-ready"' not in page
    page = sign_in(client, token_for(app, "supervisor", "zhang_min"))
    assert "此页面需要其他角色的令牌" in page and 'id="go-ready"' not in page
    assert client.get("/api/agent/me").status_code == 403


def test_a_sign_in_without_the_forms_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    client.get("/agent")
    resp = client.post("/signin", data={"token": token_for(app, "agent", "li_na"), "role": "agent"})
    assert resp.status_code == 403
    assert client.get("/api/agent/me").status_code == 401


def test_state_changes_need_the_sessions_csrf_token(app: Flask) -> None:
    """Without the header: 403 and nothing changes; with it: the agent is ready."""
    client = app.test_client()
    page = sign_in(client, token_for(app, "agent", "li_na"))
    csrf = re.search(r'"csrf": "([^"]+)"', page)
    assert csrf
    resp = client.put("/api/agent/state", json={"state": "ready"})
    assert resp.status_code == 403 and "CSRF" in resp.get_json()["error"]
    assert (
        client.put("/api/agent/state", json={"state": "ready"}, headers={"X-CSRF-Token": "wrong"}).status_code
        == 403
    )
    assert client.get("/api/agent/me").get_json()["state"] == "offline"
    ok = client.put("/api/agent/state", json={"state": "ready"}, headers={"X-CSRF-Token": csrf.group(1)})
    assert ok.status_code == 200 and client.get("/api/agent/me").get_json()["state"] == "ready"
    assert client.post("/agent/phone", json={"kind": "answer"}).status_code == 403


def test_sign_out_revoke_and_expiry_end_the_session(app: Flask, redis_conn: redis.Redis) -> None:
    client, token = app.test_client(), token_for(app, "agent", "li_na")
    page = sign_in(client, token)
    client.post("/signout", data={"csrf_token": csrf_of(page), "role": "agent"})
    assert client.get("/api/agent/me").status_code == 401
    sign_in(client, token)
    assert client.get("/api/agent/me").status_code == 200
    revoke(redis_conn, token)
    assert client.get("/api/agent/me").status_code == 401
    assert client.get("/live/agent").status_code == 401
    sign_in(client, token := token_for(app, "agent", "li_na"))
    with client.session_transaction() as session:
        session["expires"] = int(time.time()) - 1
    assert client.get("/api/agent/me").status_code == 401
    assert 'id="token"' in client.get("/agent").get_data(as_text=True)


def test_the_hub_wakes_only_the_agent_named_and_shares_one_board_snapshot(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """A caller reaching li_na wakes li_na's page, not emma_chen's; every board gets the same figures."""
    hotline = services_of(app)
    hub = Hub(
        lambda: listener(hotline.stores.url, 0.2), lambda: board_state(hotline), limit=8, block_seconds=0.2
    )
    li_na, emma = hub.subscribe("li_na"), hub.subscribe("emma_chen")
    boards = [hub.subscribe() for _ in range(5)]
    assert li_na and emma and all(boards)
    extra = hub.subscribe()
    assert extra is not None and hub.subscribe() is None  # the process's limit: 8 pages
    hub.unsubscribe(extra)
    assert [b.wait(SOON)["queues"]["day"] for b in boards if b] == ["261124"] * 5  # type: ignore[index]
    time.sleep(0.3)  # the hub reads from the log's end: let it start before the events come
    connect(api, token_for(app, "agent", "li_na"), payments_caller(dial), run_jobs)
    assert li_na.wait(SOON) == "changed"
    assert emma.wait(0.5) is None
    snapshots = [b.wait(SOON) for b in boards if b]
    assert all(s is snapshots[0] for s in snapshots)  # one snapshot, shared
    payments = next(q for q in snapshots[0]["queues"]["queues"] if q["department"] == "payments")
    assert payments["answered"] == 1
    slow = board_state(hotline, TodayIntervals(hotline, every=0), WeekLoad(hotline, every=0))
    today = slow["intervals"]  # (the hub's: once a minute)
    assert len(slow["week"]["payments"]["calls"]) == 168
    assert slow["surveys"] == {"agents": [], "departments": []}  # nobody rated a call yet
    assert sum(r["offered"] for r in today) == 1 and sum(r["answered"] for r in today) == 1
    assert hub.snapshots < 10  # not one per board
    for sub in [li_na, emma, *boards]:
        if sub:
            hub.unsubscribe(sub)
    assert hub.open_streams() == 0


def test_the_app_has_one_hub_bounded_by_the_setting(app: Flask) -> None:
    assert hub_of(app).limit == services_of(app).settings.push_streams


def test_a_page_past_the_push_streams_gets_503_while_webhooks_are_answered(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """Over HTTP, each stream on a thread of its own: HOTLINE_PUSH_STREAMS live pages stream, the
    next gets 503 with Retry-After (its page retries), and a webhook is still answered."""
    app = create_app({**app_settings, "push_streams": 2}, clock=clock)
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    board, desk = app.test_client(), app.test_client()
    sign_in(board, token_for(app, "supervisor", "duty_lead"), role="supervisor")
    sign_in(desk, token_for(app, "agent", "li_na"))
    pages = {"/live/wallboard": board, "/live/agent": desk}
    cookies = {}
    for path, client in pages.items():
        cookie = client.get_cookie(cookie_name)
        assert cookie is not None
        cookies[path] = f"{cookie_name}={cookie.value}"
    base, stop = serve_in_thread(app)
    host, port = base.removeprefix("http://").split(":")
    hub = hub_of(app)
    opened: list[http.client.HTTPConnection | http.client.HTTPResponse] = []

    def open_page(path: str) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        opened.append(conn)
        conn.request("GET", path, headers={"Cookie": cookies[path]})
        response = conn.getresponse()  # the server says Connection: close: the response owns the socket
        opened.append(response)
        return response

    try:
        # Each live page is kept open: a response dropped here would close its socket, and the
        # stream would end (freeing its place) at the next write to it, the hub's first snapshot.
        live = {path: open_page(path) for path in pages}
        for stream in live.values():
            assert stream.status == 200 and stream.readline() == b"retry: 2000\n"
        assert hub.open_streams() == 2
        # The board's first snapshot is written to its open page, and it still streams.
        board_lines = iter(live["/live/wallboard"].readline, b"")
        assert next(line for line in board_lines if line.strip()) == b"event: board\n"
        assert hub.open_streams() == 2
        for path in pages:
            refused = open_page(path)
            assert refused.status == 503 and refused.getheader("Retry-After") == "5"
        params = call_params("CA" + "e" * 32)
        webhook = requests.post(
            base + "/voice/incoming",
            data=params,
            headers={"X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_BASE_URL + "/voice/incoming", params)},
            timeout=30,
        )
        assert webhook.status_code == 200 and "<Gather" in webhook.text
    finally:
        hub.close()
        for conn in opened:
            conn.close()
        stop()


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app)


def test_a_failing_snapshot_does_not_silence_the_agents_pages(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the board's figures is logged; the hub goes on waking agents and tries the board again."""
    hotline, calls = services_of(app), []

    def snapshot() -> dict[str, object]:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("a bug")
        return {"ok": True}

    hub = Hub(lambda: listener(hotline.stores.url, 0.2), snapshot, limit=4, block_seconds=0.2)
    board, li_na = hub.subscribe(), hub.subscribe("li_na")
    assert board and li_na
    assert board.wait(SOON) == {"ok": True}  # the second try, after the gap
    hotline.agents.choose("li_na", "ready", hotline.clock.now())
    assert li_na.wait(SOON) == "changed"
    assert "computing the wallboard figures failed" in caplog.text
    hub.unsubscribe(board)
    hub.unsubscribe(li_na)
