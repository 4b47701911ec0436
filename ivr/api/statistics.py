"""The supervisor's statistics, read from counters the call events keep up to date.

Nothing here looks at waiting callers one by one: a department's waiting count is a ZCARD, the
longest wait the head of `hl:since:{dept}`, today's totals one hash (`hl:dstats:{dept}:{day}`,
counted by the queue scripts and the connection events as they happen). Reading the
statistics costs the same with ten callers waiting as with a hundred thousand; it grows only
with the number of departments and agents.

Definitions (also in the OpenAPI document):
- abandonment rate: abandoned / offered;
- service level: answered within `service_level_seconds` / (answered + abandoned), i.e. among
  the callers whose wait ended today (those still waiting are not judged yet);
- average wait: of answered callers (the average speed of answer); average handle time: per
  handled call (a transfer ends the transferring agent's part of the call).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import redis
from rq.registry import FailedJobRegistry

from ivr import keys
from ivr.callcenter.agents import STATES, Agents
from ivr.callcenter.queues import Queues, arrival_at
from ivr.clock import Clock, business_day
from ivr.followup.surveys import Surveys
from ivr.hotline.schema import HotlineFile
from ivr.jobs import JobQueue
from ivr.outbound.limits import OutboundLimits
from ivr.redis_types import scored, text_hash
from ivr.waits.estimate import Estimate
from ivr.waits.live import LiveQueues, waits_for_new_callers

COUNTERS = (
    "offered", "answered", "answered_in_sl", "answered_wait_ms", "abandoned", "abandoned_wait_ms",
    "handled", "handle_ms", "queue_full", "transferred_out", "overflowed",
)  # fmt: skip
# Callbacks (see callcenter/callbacks.py): asked for, connected, retried, failed, scheduled, and
# callers who called again and got their kept place back.
CALLBACK_COUNTERS = (
    "callbacks_requested", "callbacks_connected", "callbacks_retried", "callbacks_failed",
    "callbacks_scheduled", "returned",
)  # fmt: skip
FAILED_PREFIX = "callbacks_failed:"


def callback_report(stats: dict[str, str]) -> dict[str, Any]:
    """A department's callbacks of the day, with the reasons of the failed ones, from its counters."""
    report: dict[str, Any] = {name: int(stats.get(name, 0)) for name in CALLBACK_COUNTERS}
    report["failed_reasons"] = {
        name.removeprefix(FAILED_PREFIX): int(value)
        for name, value in sorted(stats.items())
        if name.startswith(FAILED_PREFIX)
    }
    return report


def _spoken(estimate: Estimate | None) -> dict[str, object] | None:
    """The words a caller joining now hears (`Estimate.spoken`), for the wallboard to show."""
    if estimate is None:
        return None
    said = estimate.spoken()
    top = 0 if said.kind == "long" else round(said.seconds()[1])
    return {"kind": said.kind, "low_minutes": said.low, "high_minutes": said.high, "high_seconds": top}


def _ratio(part: int, whole: int, scale: float = 1.0) -> float | None:
    """part / whole (scaled), or None when there is nothing to divide by yet."""
    return round(part / whole * scale, 4) if whole else None


class Statistics:
    """The supervisor's reports, read from the data Redis."""

    def __init__(
        self,
        cfg: HotlineFile,
        conn: redis.Redis,
        *,
        agents: Agents,
        queues: Queues,
        limits: OutboundLimits,
        jobs: JobQueue,
        clock: Clock,
    ) -> None:
        self.cfg, self.conn, self.agents, self.queues = cfg, conn, agents, queues
        self.limits, self.jobs, self.clock = limits, jobs, clock

    def queue_report(self, now: datetime) -> dict[str, Any]:
        """Per department: callers waiting, longest and estimated wait, agents by state, today's totals.

        One pipeline reads every department's counters, waiting count, longest waiter and profile;
        the agents take two round trips, every department's estimate one (`waits_for_new_callers`).
        """
        cfg = self.cfg
        day = business_day(now, cfg.hotline.timezone)
        live = LiveQueues(cfg, self.conn, self.queues)
        departments = list(cfg.departments)
        pipe = self.conn.pipeline(transaction=False)
        for dept in departments:
            pipe.hgetall(keys.department_stats(dept, day))
            pipe.zcard(keys.queue_since(dept))
            pipe.zrange(keys.queue_since(dept), 0, 0, withscores=True)
            pipe.hget(keys.profile(dept), "summary")
        pipe.hgetall(keys.outbound_refusals(day))
        *rows, refused = pipe.execute()
        agents = self.agents.all()
        waits = waits_for_new_callers(live, departments, now, day)
        queues = []
        for i, dept in enumerate(departments):
            stats, waiting, head, summary = rows[4 * i : 4 * i + 4]
            stats = text_hash(stats)
            c = {name: int(stats.get(name, 0)) for name in COUNTERS}
            oldest = arrival_at(scored(head)[0][1]) if head else None
            # A new caller has everyone waiting ahead of them: the hold loop's estimate, one place on.
            by_state = Counter(a.state for a in agents if dept in a.departments)
            wait = waits[i]
            estimate = wait.estimate
            ended = c["answered"] + c["abandoned"]
            queues.append(
                {
                    "department": dept,
                    "waiting": int(waiting),
                    "longest_wait_seconds": max(int((now - oldest).total_seconds()), 0) if oldest else 0,
                    "estimated_wait_seconds": int(estimate.seconds) if estimate else None,
                    "agents": {state: by_state.get(state, 0) for state in STATES},
                    "offered": c["offered"],
                    "answered": c["answered"],
                    "abandoned": c["abandoned"],
                    "answered_within_service_level": c["answered_in_sl"],
                    "abandonment_rate": _ratio(c["abandoned"], c["offered"]),
                    "service_level": _ratio(c["answered_in_sl"], ended),
                    "average_wait_seconds": _ratio(c["answered_wait_ms"], c["answered"], 0.001),
                    "average_abandon_wait_seconds": _ratio(c["abandoned_wait_ms"], c["abandoned"], 0.001),
                    "average_handle_seconds": _ratio(c["handle_ms"], c["handled"], 0.001),
                    "handled": c["handled"],
                    "transferred_out": c["transferred_out"],
                    "queue_full": c["queue_full"],
                    "overflowed": c["overflowed"],
                    "estimated_wait_range": [int(estimate.low), math.ceil(estimate.high)]
                    if estimate
                    else None,
                    "estimated_wait_spoken": _spoken(estimate),
                    "peak_hour_now": wait.peak,
                    # The profile's summary, as `ivr.waits.live.peak_hours` reads it.
                    "peak_hours": list(json.loads(summary).get("peak") or []) if summary else [],
                    "callbacks": callback_report(stats),
                }
            )
        return {
            "as_of": now,
            "day": day,
            "service_level_seconds": cfg.hotline.service_level_seconds,
            "queues": queues,
            "outbound_refused": {k: int(v) for k, v in text_hash(refused).items()},
        }

    def agent_report(self, now: datetime) -> dict[str, Any]:
        """Per agent: state and time in it, current or last call, calls answered today, last heartbeat."""
        conn = self.conn
        agents = self.agents.all()
        ids = [a.id for a in agents]
        pipe = conn.pipeline(transaction=False)
        pipe.hgetall(keys.agent_calls(business_day(now, self.cfg.hotline.timezone)))
        if ids:
            pipe.zmscore(keys.agent_heartbeats(), ids)
        for agent in agents:  # the reference of each one's current or last call ('' for none)
            if agent.call_sid:
                pipe.hget(keys.call(agent.call_sid), "ref")
            else:
                pipe.echo("")
        replies = pipe.execute()
        answered, beats = replies[0], (replies[1] if ids else [])
        refs = replies[2:] if ids else []
        rows = []
        for agent, beat, ref in zip(agents, beats, refs, strict=True):
            rows.append(
                {
                    "id": agent.id,
                    "name": agent.name,
                    "state": agent.state,
                    "since": agent.state_since,
                    "seconds_in_state": max(int((now - agent.state_since).total_seconds()), 0),
                    "reason": agent.reason,
                    "departments": agent.departments,
                    "languages": agent.languages,
                    "call": ref or None,
                    "answered_today": int(answered.get(agent.id, 0)),
                    # Real seconds, as the heartbeat timeout counts them: a console beats in real
                    # time whatever the hotline's clock (15 s, not 450, at 30 times speed).
                    "seconds_since_heartbeat": max(
                        int(self.clock.real_seconds(timedelta(seconds=now.timestamp() - beat))), 0
                    )
                    if beat is not None
                    else None,
                }
            )
        return {"as_of": now, "agents": rows}

    # -- after the call: surveys, voicemails, messages, refusals, failed jobs -------------------

    def followup_report(self, now: datetime) -> dict[str, Any]:
        """Today's survey results per agent and department, voicemails, messages and failed jobs."""
        cfg = self.cfg
        day = business_day(now, self.cfg.hotline.timezone)
        counters = {k: int(v) for k, v in self.conn.hgetall(keys.followups(day)).items()}
        failed = FailedJobRegistry(queue=self.jobs.queue)
        return {
            "as_of": now,
            "day": day,
            "surveys": Surveys(self.conn).results(day),
            "voicemails": {dept: counters.get(f"voicemails:{dept}", 0) for dept in cfg.departments},
            "transcribed": counters.get("transcribed", 0),
            "messages": {
                "sent": counters.get("messages_sent", 0),
                "failed": counters.get("messages_failed", 0),
                "refused": counters.get("messages_refused", 0),
            },
            "refusals": self.limits.refusals(day),
            "failed_jobs": failed.count,
        }
