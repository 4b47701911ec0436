"""A simulated peak hour through the whole stack: the traffic generator against the real hotline.

About 180 callers (the 10:00 peak of the default profile) in two languages, with good, bad and
no account numbers and every issue of the menu, walk the real webhooks through the stand-in
for Twilio and wait in the real queues; ten agents log in, beat and go ready through the real
agent API; the real rq jobs match them. Impatient callers hang up. The hotline offers callbacks
early (from the 4th place): some callers take the offer and hang up keeping their place; when it
reaches an agent, the rq job calls them through the REST stand-in and most answer and press 1;
a few never answer, are retried after the backoff (rq's scheduler, in simulated time) and fail.
At the end every caller is accounted for, no agent held two calls at once, and the generator's
own totals are what the supervisor statistics say, callbacks included.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask

from bench.traffic import Simulation
from bench.traffic_model import (
    ABANDONED,
    CALLBACK_FAILED,
    CALLED_BACK,
    FORMS_OF_WORDS,
    SERVED,
    UNREACHED,
    Scenario,
    default_agents,
)
from ivr import create_app, keys
from ivr.api.auth import issue_token
from ivr.callcenter.queues import Queues
from ivr.clock import FixedClock
from ivr.services import services_of
from queue_worker import context
from standin.rest import Switchboard

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = Scenario(minutes=60, seed=7, agents=default_agents(60), callback_unreachable_share=0.2)


@pytest.fixture
def early_offer_app(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    """The shipped hotline, offering the callback from the 4th place or 3 minutes' wait."""
    data = yaml.safe_load((ROOT / "hotline.yaml").read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "dial"  # these calls are written for the Dial
    data["callbacks"].update(offer_from_position=4, offer_after_wait_seconds=180)
    (tmp_path / "demo_accounts.yaml").write_text((ROOT / "demo_accounts.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    application = create_app({**app_settings, "hotline_config": path}, clock=clock)
    context.install(services_of(application))
    yield application
    context.install(None)


def test_a_simulated_hour_accounts_for_every_caller(
    early_offer_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """Served + called back + abandoned + failed callbacks = offered, and the supervisor agrees."""
    app = early_offer_app
    simulation = Simulation(app, SCENARIO, switchboard)
    report = simulation.run()

    # Every caller is accounted for, once.
    callers = simulation.callers
    assert 120 <= len(callers) <= 240
    by_outcome = {o: [c for c in callers if c.outcome == o] for o in (SERVED, CALLED_BACK, ABANDONED)}
    by_outcome |= {o: [c for c in callers if c.outcome == o] for o in (CALLBACK_FAILED, UNREACHED)}
    assert sum(len(group) for group in by_outcome.values()) == len(callers)
    assert report.unreached == len(by_outcome[UNREACHED])
    assert report.offered == len(callers) - report.unreached
    assert report.answered == len(by_outcome[SERVED]) + len(by_outcome[CALLED_BACK])
    assert report.abandoned == len(by_outcome[ABANDONED])
    assert report.answered + report.abandoned + report.callbacks_failed == report.offered
    assert report.answered > report.abandoned > 0  # a busy hour, with impatient callers
    assert {c.language for c in callers} == {"zh-CN", "en-US"}
    assert {c.account for c in callers} == {"good", "bad", "none"}

    # Callbacks: asked for on hold, then connected to an agent or, never answered, failed.
    asked = [c for c in callers if c.callback_requested is not None]
    assert report.callbacks_requested == len(asked) > 0
    assert {c.outcome for c in asked} == {CALLED_BACK, CALLBACK_FAILED}
    assert report.callbacks_connected == len(by_outcome[CALLED_BACK]) > report.callbacks_failed > 0
    assert report.callbacks_connected + report.callbacks_failed == report.callbacks_requested
    assert all(c.unreachable for c in by_outcome[CALLBACK_FAILED])
    max_attempts = services_of(app).config.file.callbacks.max_attempts
    assert all(c.callback_attempts == max_attempts for c in by_outcome[CALLBACK_FAILED])
    assert all(c.callback_attempts == 1 and c.heard_offer for c in by_outcome[CALLED_BACK])
    assert report.offered_callback > report.callbacks_requested
    assert report.callback_wait_mean is not None and report.callback_wait_mean > 0
    assert simulation.owed == {}

    records = {c.call_sid: redis_conn.hgetall(keys.call(c.call_sid)) for c in callers}
    assert all(r["status"] not in ("queued", "connecting", "on_call", "callback") for r in records.values())
    outcomes: dict[str, set[str]] = {c.outcome: set() for c in callers}
    for c in callers:
        outcomes[c.outcome].add(records[c.call_sid]["outcome"])
    assert outcomes == {
        SERVED: {"served"},
        ABANDONED: {"abandoned_in_queue"},
        CALLED_BACK: {"callback_served"},
        CALLBACK_FAILED: {"callback_failed"},
    }
    placed = [
        p for p in switchboard.outbound_calls if any(f"call={c.call_sid}&" in (p.url or "") for c in asked)
    ]
    assert len(placed) == report.callback_calls == sum(c.callback_attempts for c in asked)
    queues = Queues(redis_conn, ["zh-CN", "en-US"])
    hotline = services_of(app)
    assert all(queues.waiting(d) == 0 for d in hotline.config.file.departments)

    # No agent on two calls at once: by the generator's log and by the hotline's call records.
    for agent in simulation.agents.values():
        spans = sorted(agent.calls)
        assert all(end <= nxt for (_, end, _), (nxt, _, _) in zip(spans, spans[1:], strict=False))
    by_agent: dict[str, list[tuple[datetime, datetime]]] = {}
    for c in callers:
        if c.outcome in (SERVED, CALLED_BACK):
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
    callbacks = {
        k: sum(row["callbacks"][k] for row in rows) for k in rows[0]["callbacks"] if k != "failed_reasons"
    }
    assert callbacks == {
        "callbacks_requested": report.callbacks_requested,
        "callbacks_connected": report.callbacks_connected,
        "callbacks_retried": report.callback_calls - report.callbacks_requested,
        "callbacks_failed": report.callbacks_failed,
        "callbacks_scheduled": 0,
        "returned": 0,
    }
    reasons = [row["callbacks"]["failed_reasons"] for row in rows if row["callbacks"]["failed_reasons"]]
    assert sum(r.get("no-answer", 0) for r in reasons) == report.callbacks_failed
    per_department = {
        row["department"]: (
            row["offered"],
            row["answered"],
            row["abandoned"],
            row["callbacks"]["callbacks_requested"],
            row["callbacks"]["callbacks_connected"],
            row["callbacks"]["callbacks_failed"],
        )
        for row in rows
    }
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
    # Every first figure heard is read back as one of the forms of words, and counted once.
    assert sum(count for count, _ in report.announce_by_kind.values()) == report.announced_count
    assert set(report.announce_by_kind) <= set(FORMS_OF_WORDS)
