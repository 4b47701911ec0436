"""The event log: whole calls through the webhooks leave their story in the stream, in order.

A served call: join, offer, answer, end, with the agent's ringing, talking and wrap-up beside
them; a caller who hangs up on hold: join, abandon; a transfer; the trim keeps the days it is told.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis
from flask import Flask

from ivr import keys
from ivr.callcenter.events import EventLog
from ivr.services import services_of
from standin.phone import Call
from tests.test_api import Api, api, connect, payments_caller, token_for

__all__ = ["api"]  # the fixture, shared with the API tests


def story(conn: redis.Redis, sid: str) -> list[str]:
    """The events of one call, by name."""
    return [e.name for e in EventLog(conn).after("0-0") if e.fields.get("sid") == sid and e.name != "agent"]


def agent_moves(conn: redis.Redis, agent: str) -> list[tuple[str, str]]:
    """An agent's state changes, (from, to)."""
    return [
        (e.fields["from"], e.fields["to"])
        for e in EventLog(conn).after("0-0")
        if e.name == "agent" and e.agent == agent
    ]


def test_a_served_call_and_an_abandoned_one_are_told_in_order(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """Join, offer, answer, end for the served caller; join, abandon for the one who hung up."""
    li_na = token_for(app, "agent", "li_na")
    served = payments_caller(dial)
    connect(api, li_na, served, run_jobs)
    gone = payments_caller(dial, from_="+8613912345678")
    gone.hangup()
    served.dial_result("completed", duration=120)
    served.hangup()
    assert story(redis_conn, served.call_sid) == ["join", "offer", "answer", "served", "end"]
    assert story(redis_conn, gone.call_sid) == ["join", "abandon"]
    events = EventLog(redis_conn).after("0-0")
    offer = next(e for e in events if e.name == "offer")
    ref = redis_conn.hget(keys.call(served.call_sid), "ref")
    assert offer.fields["dept"] == "payments" and offer.agent == "li_na" and offer.fields["ref"] == ref
    abandon = next(e for e in events if e.name == "abandon")
    assert abandon.fields["outcome"] == "abandoned_in_queue" and abandon.fields["from"] == "queued"
    assert agent_moves(redis_conn, "li_na") == [
        ("offline", "ready"),
        ("ready", "reserved"),
        ("reserved", "ringing"),
        ("ringing", "on_call"),
        ("on_call", "wrap_up"),
    ]
    ringing = next(e for e in events if e.name == "agent" and e.fields["to"] == "ringing")
    assert ringing.fields["sid"] == served.call_sid
    assert [e.id for e in events] == sorted(
        events_ids := [e.id for e in events], key=lambda i: tuple(map(int, i.split("-")))
    )
    assert len(set(events_ids)) == len(events_ids)


def test_a_transfer_to_a_department_is_logged(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """The agent sends the caller to security: a transfer event naming the new department."""
    li_na = token_for(app, "agent", "li_na")
    caller = payments_caller(dial)
    connect(api, li_na, caller, run_jobs)
    resp = api.post("/api/agent/call/transfer", li_na, {"department": "security", "notes": "card"})
    assert resp.status_code == 200
    transfer = [e for e in EventLog(redis_conn).after("0-0") if e.name == "transfer"]
    assert len(transfer) == 1 and transfer[0].fields["dept"] == "security"
    assert (transfer[0].fields["from"], transfer[0].fields["to"]) == ("on_call", "queued")


def test_the_trim_keeps_the_days_it_is_told(app: Flask, redis_conn: redis.Redis) -> None:
    """Entries older than the horizon go; newer stay (the upkeep calls this every pass)."""
    now = datetime.now(UTC)
    old_ms = int((now - timedelta(days=10)).timestamp() * 1000)
    for i in range(300):  # enough for whole stream nodes to fall behind the horizon
        redis_conn.xadd(keys.events(), {"e": "agent", "agent": "old"}, id=f"{old_ms}-{i}")
    redis_conn.xadd(keys.events(), {"e": "agent", "agent": "new"})
    log = EventLog(redis_conn)
    assert log.trim(8, now) > 0
    left = log.after("0-0")
    assert left[-1].agent == "new" and len(left) < 301
    assert log.trim(services_of(app).config.file.hotline.event_log_days, now + timedelta(days=9)) >= 0
