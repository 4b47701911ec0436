"""Transfers through the agent API: to a department at the caller's own place, or to a number."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask
from rq import SimpleWorker

from ivr import create_app, keys
from ivr.callcenter.agents import ON_CALL, WRAP_UP
from ivr.callcenter.queues import Queues
from ivr.clock import FixedClock
from ivr.jobs import QUEUE_NAME
from ivr.services import services_of
from queue_worker import context
from standin.phone import Call
from standin.transport import FlaskTransport
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, OPEN_HOURS, PUBLIC_BASE_URL, waiting_in
from tests.test_api import Api, connect, later, payments_caller, token_for

REVERSE = "2"  # reverse a transaction: payments, priority "high" like unverified security callers
SPECIALIST = "+862150001234"


@pytest.fixture
def api(app: Flask) -> Api:
    """The API, each answer checked against the OpenAPI document."""
    return Api(app)


def security_caller(app: Flask, sid: str, clock: FixedClock, rank_name: str = "high") -> None:
    """A caller waiting in security since now (put in through the queue's own join)."""
    hotline = services_of(app)
    cfg = hotline.config.file
    queues: Queues = hotline.queues
    rank = cfg.priorities[rank_name]
    assert queues.join(sid, "security", "zh-CN", rank, clock.now(), 300, "261124") > 0


def state_of(app: Flask, agent_id: str) -> str:
    """The agent's state."""
    return services_of(app).agents.get(agent_id).state


def test_transfer_keeps_the_callers_place_and_the_notes_travel(
    app: Flask,
    api: Api,
    dial: Callable[..., Call],
    clock: FixedClock,
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
) -> None:
    """Payments -> security: behind who called earlier, ahead of who called later; notes go along."""
    security_caller(app, "CAearlier", clock)
    later(clock, 5)
    caller = payments_caller(dial, REVERSE)
    later(clock, 60)
    li_na = token_for(app, "agent", "li_na")
    connect(api, li_na, caller, run_jobs)
    later(clock, 30)
    security_caller(app, "CAlater", clock)
    security_caller(app, "CAurgent", clock, "urgent")  # a higher class still goes first
    later(clock, 120)
    resp = api.post(
        "/api/agent/call/transfer", li_na, {"department": "security", "notes": "疑似盗刷，客户已确认"}
    )
    assert resp.status_code == 200
    assert resp.get_json()["redirected"] is True and resp.get_json()["agent_state"] == WRAP_UP
    assert waiting_in(redis_conn, "security") == ["CAurgent", "CAearlier", caller.call_sid, "CAlater"]
    mark = caller.mark()
    caller.take_pending()  # Twilio runs the REST redirect: the agent's leg ends
    assert "请稍候，正在为您转接账户安全。" in caller.heard_text(mark)
    assert caller.on_hold
    assert "您前面还有2位客户。" in caller.heard_text(mark)  # the hold loop, at their place in security
    day = redis_conn.hget(keys.call(caller.call_sid), "day")
    payments = redis_conn.hgetall(keys.department_stats("payments", day))
    assert (payments["handled"], payments["handle_ms"], payments["transferred_out"]) == (
        "1",
        "150000",
        "1",
    )  # answered 150 s before
    assert redis_conn.hget(keys.department_stats("security", day), "offered") == "4"  # 3 + the transfer

    wang_wei = token_for(app, "agent", "wang_wei")
    for sid in ("CAurgent", "CAearlier"):  # served first, as their places say (no live calls)
        hotline = services_of(app)
        assert hotline.queues.pop_for("security", ["zh-CN"]).sid == sid
    later(clock, 45)
    connect(api, wang_wei, caller, run_jobs)
    assert "账户安全来电" in " ".join(h.text for h in caller.agent_heard)
    pop = api.get("/api/agent/call", wang_wei).get_json()
    assert pop["department"] == "security" and pop["transfers"] == 1
    assert pop["waited_seconds"] == 45  # the wait in the security queue
    [note] = pop["notes"]
    assert (note["agent"], note["kind"], note["text"], note["to"]) == (
        "li_na",
        "transfer",
        "疑似盗刷，客户已确认",
        "security",
    )
    assert api.get(f"/api/agent/calls/{pop['ref']}", li_na).status_code == 200  # still her last call
    assert api.get("/api/agent/call", li_na).get_json()["ref"] == pop["ref"]  # she is wrapping it up


def test_the_old_legs_late_dial_action_does_not_undo_the_transfer(
    app: Flask,
    api: Api,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
) -> None:
    """Twilio reports the transferring agent's Dial as completed: the caller stays in the queue."""
    caller = payments_caller(dial)
    li_na = token_for(app, "agent", "li_na")
    connect(api, li_na, caller, run_jobs)
    assert api.post("/api/agent/call/transfer", li_na, {"department": "security"}).status_code == 200
    caller.take_pending()
    transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
    late = transport.request(
        "POST",
        f"{PUBLIC_BASE_URL}/voice/dial-result?agent=li_na",
        {
            "CallSid": caller.call_sid,
            "AccountSid": ACCOUNT_SID,
            "From": caller.from_,
            "CallStatus": "in-progress",
            "DialCallStatus": "completed",
            "DialCallDuration": "75",
        },
    )
    assert late.status == 200
    assert "<Hangup" not in late.body and "/voice/transfer?to=security" in late.body
    record = redis_conn.hgetall(keys.call(caller.call_sid))
    assert (record["status"], record["department"]) == ("queued", "security")
    assert waiting_in(redis_conn, "security") == [caller.call_sid]
    assert state_of(app, "li_na") == WRAP_UP


def test_transfer_to_an_outside_number(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """The caller hears they are being transferred, and their phone dials the specialist line."""
    caller = payments_caller(dial)
    li_na = token_for(app, "agent", "li_na")
    connect(api, li_na, caller, run_jobs)
    for body, field in [
        ({"number": "+86123"}, "number"),
        ({"number": "+862161239999"}, "number"),  # valid, but not a specialist line: no toll calls
        ({"number": SPECIALIST, "department": "security"}, "department"),
        ({}, "department"),
        ({"department": "marketing"}, "department"),
    ]:
        resp = api.post("/api/agent/call/transfer", li_na, body)
        assert resp.status_code == 400 and resp.get_json()["field"] == field, body
    assert state_of(app, "li_na") == ON_CALL
    resp = api.post("/api/agent/call/transfer", li_na, {"number": SPECIALIST, "notes": "跨境退款专线"})
    assert resp.status_code == 200 and resp.get_json()["number"] == SPECIALIST
    mark = caller.mark()
    caller.take_pending()
    assert "请稍候，正在为您转接专线。" in caller.heard_text(mark)
    assert caller.state == "dialing"
    assert (caller.dialed[-1]["kind"], caller.dialed[-1]["value"]) == ("number", SPECIALIST)
    record = redis_conn.hgetall(keys.call(caller.call_sid))
    assert (record["status"], record["transfer_number"]) == ("transferred", SPECIALIST)
    assert json.loads(record["notes"])[0]["to"] == SPECIALIST
    assert state_of(app, "li_na") == WRAP_UP


def test_refused_transfers_change_nothing(
    app: Flask,
    api: Api,
    dial: Callable[..., Call],
    clock: FixedClock,
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
) -> None:
    """No call to transfer, or a closed department: 409, and the agent stays on the call."""
    li_na = token_for(app, "agent", "li_na")
    resp = api.post("/api/agent/call/transfer", li_na, {"department": "security"})
    assert resp.status_code == 409 and "no call to transfer" in resp.get_json()["error"]
    caller = payments_caller(dial)
    connect(api, li_na, caller, run_jobs)
    clock.set(OPEN_HOURS.replace(hour=19))  # account services close at 18:00
    resp = api.post("/api/agent/call/transfer", li_na, {"department": "accounts"})
    assert resp.status_code == 409 and resp.get_json()["error"] == "accounts is closed now"
    assert state_of(app, "li_na") == ON_CALL
    assert redis_conn.hget(keys.call(caller.call_sid), "department") == "payments"
    assert caller.pending_update is None


def test_a_failed_redirect_moves_the_caller_when_the_agent_hangs_up(
    app_settings: dict[str, Any], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """Twilio's API does not answer: the transfer stands, and the Dial's action moves the caller."""
    app = create_app({**app_settings, "twilio_api_base_url": "http://127.0.0.1:9"}, clock=clock)

    def run_jobs() -> None:
        """Run this app's queued jobs."""
        SimpleWorker([QUEUE_NAME], connection=services_of(app).stores.jobs).work(burst=True)

    def dial(from_: str, max_redirects: int) -> Call:
        """Place a call to this app."""
        transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
        call = Call(transport, from_=from_, account_sid=ACCOUNT_SID, max_redirects=max_redirects)
        call.start()
        return call

    context.install(services_of(app))
    try:
        api = Api(app)
        caller = payments_caller(dial)
        li_na = token_for(app, "agent", "li_na")
        connect(api, li_na, caller, run_jobs)  # the hold loop delivers the match itself
        resp = api.post("/api/agent/call/transfer", li_na, {"department": "security"})
        assert resp.status_code == 200 and resp.get_json()["redirected"] is False
        assert caller.state == "dialing"  # still talking to li_na
        mark = caller.mark()
        caller.dial_result("completed", duration=90)  # li_na hangs up
        assert "请稍候，正在为您转接账户安全。" in caller.heard_text(mark)
        assert "再见" not in caller.heard_text(mark) and caller.on_hold
        assert waiting_in(redis_conn, "security") == [caller.call_sid]
    finally:
        context.install(None)
