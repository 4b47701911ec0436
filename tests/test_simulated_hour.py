"""A simulated peak hour through the whole stack: the traffic generator against the real hotline.

About 180 callers (the 10:00 peak of the default profile) in two languages, with good, bad and
no account numbers and every issue of the menu, walk the real webhooks through the stand-in
for Twilio and wait in the real queues; ten agents log in, beat and go ready through the real
agent API; the real rq jobs match them. Impatient callers hang up. At the end every caller is
accounted for, no agent held two calls at once, and the generator's own totals are what the
supervisor statistics say.
"""

from __future__ import annotations

import time
from datetime import datetime

import redis
from flask import Flask

from ivr import keys
from ivr.api.auth import issue_token
from ivr.callcenter.queues import Queues
from standin.rest import Switchboard
from standin.traffic import Simulation
from standin.traffic_model import ABANDONED, SERVED, Scenario, default_agents

SCENARIO = Scenario(minutes=60, seed=7, agents=default_agents(60))
WALL_SECONDS = 60


def test_a_simulated_hour_accounts_for_every_caller(
    app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """Served + abandoned = offered, nobody left behind, and the supervisor sees the same day."""
    started = time.monotonic()
    simulation = Simulation(app, SCENARIO, switchboard)
    report = simulation.run()
    assert time.monotonic() - started < WALL_SECONDS

    # Every caller is accounted for: queued, then served or abandoned (callbacks are not built).
    callers = simulation.callers
    assert 120 <= len(callers) <= 240
    assert {c.outcome for c in callers} <= {SERVED, ABANDONED}
    assert report.offered == len(callers) and report.unreached == 0
    assert report.answered + report.abandoned == report.offered
    assert report.answered > report.abandoned > 0  # a busy hour, with impatient callers
    assert {c.language for c in callers} == {"zh-CN", "en-US"}
    assert {c.account for c in callers} == {"good", "bad", "none"}
    records = {c.call_sid: redis_conn.hgetall(keys.call(c.call_sid)) for c in callers}
    assert all(r["status"] not in ("queued", "connecting", "on_call") for r in records.values())
    outcomes = {c.outcome: set() for c in callers}
    for c in callers:
        outcomes[c.outcome].add(records[c.call_sid]["outcome"])
    assert outcomes == {SERVED: {"served"}, ABANDONED: {"abandoned_in_queue"}}
    queues = Queues(redis_conn, ["zh-CN", "en-US"])
    hotline = app.extensions["hotline"]
    assert all(queues.waiting(d) == 0 for d in hotline.config.file.departments)

    # No agent on two calls at once: by the generator's log and by the hotline's call records.
    for agent in simulation.agents.values():
        spans = sorted(agent.calls)
        assert all(end <= nxt for (_, end, _), (nxt, _, _) in zip(spans, spans[1:], strict=False))
    by_agent: dict[str, list[tuple[datetime, datetime]]] = {}
    for c in callers:
        if c.outcome == SERVED:
            r = records[c.call_sid]
            assert r["agent"] == c.agent
            by_agent.setdefault(c.agent, []).append(
                (datetime.fromisoformat(r["matched_at"]), datetime.fromisoformat(r["served_at"]))
            )
    for spans in by_agent.values():
        spans.sort()
        assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:], strict=False))

    # The generator's totals are the supervisor's statistics.
    token = issue_token(redis_conn, "supervisor", "duty_lead")
    reply = app.test_client().get("/api/supervisor/queues", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    rows = reply.get_json()["queues"]
    total = {k: sum(row[k] for row in rows) for k in ("offered", "answered", "abandoned", "waiting")}
    assert total == {
        "offered": report.offered,
        "answered": report.answered,
        "abandoned": report.abandoned,
        "waiting": 0,
    }
    per_department = {row["department"]: (row["offered"], row["answered"], row["abandoned"]) for row in rows}
    assert {d: v for d, v in per_department.items() if v[0]} == report.by_department
    in_sl = sum(row["answered_within_service_level"] for row in rows)
    assert in_sl == report.answered_in_sl
    assert report.service_level == in_sl / (total["answered"] + total["abandoned"])
    assert reply.get_json()["service_level_seconds"] == report.service_level_seconds
    answered_wait = sum((row["average_wait_seconds"] or 0) * row["answered"] for row in rows)
    assert report.wait_mean is not None
    assert abs(answered_wait / total["answered"] - report.wait_mean) < 0.01
    abandon_wait = sum((row["average_abandon_wait_seconds"] or 0) * row["abandoned"] for row in rows)
    assert report.abandon_wait_mean is not None
    assert abs(abandon_wait / total["abandoned"] - report.abandon_wait_mean) < 0.01
    assert 0 < (report.occupancy_all or 0) <= 1
    assert report.announced_count > 0
