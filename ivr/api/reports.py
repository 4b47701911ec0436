"""Reports of any day the event log keeps: 15-minute intervals and per-agent tables.

Read from the event log (ivr/callcenter/events.py), not from the live counters, so a report of
a past day is what happened that day, as Asterisk's queue_log reports are. The entries are
stamped in real time (the Redis server's clock); a report reads each stamp on the hotline's
clock (`Clock.reading`: a demo's simulated clock moves them with everything else) and cuts them
into days and intervals in the hotline's time zone. "Today" is the hotline clock's day.

- **Intervals** (per department and interval): `offered` (callers who joined the queue, a
  transfer into it included), `answered`, `abandoned` (hung up in the queue or while an agent's
  phone rang), `answered_within` (of the answered, those who waited at most the service level
  since they joined), `service_level` = answered_within / (answered + abandoned), as the
  supervisor statistics count it.
- **Agents**: calls offered to (rung), answered, missed (a ring that went to not-ready), and the
  seconds spent in each state during the day (ready, on a call, in wrap-up, not ready).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ivr.callcenter.events import Event, EventLog
from ivr.clock import Clock

SLOT = timedelta(minutes=15)
QUEUE_ABANDONS = ("abandoned_in_queue", "abandoned_while_ringing")
ARRIVALS = ("join", "transfer")  # a transfer to a department arrives in its queue
TIMED_STATES = ("ready", "on_call", "wrap_up", "not_ready")


@dataclass(frozen=True)
class Day:
    """One business day in the hotline's time zone."""

    name: str  # yymmdd
    start: datetime
    end: datetime

    @classmethod
    def of(cls, name: str, timezone: str) -> Day:
        """The day named yymmdd (ValueError when it is no date)."""
        start = datetime.strptime(name, "%y%m%d").replace(tzinfo=ZoneInfo(timezone))
        return cls(name, start, start + timedelta(days=1))


def day_events(log: EventLog, clock: Clock, start: datetime, end: datetime) -> list[Event]:
    """The entries written while the hotline's clock read from `start` up to `end`."""
    first, last = clock.real_span(start, end)
    return log.between(first, last) if first < last else []


def _slot(day: Day, when: datetime) -> datetime:
    return day.start + SLOT * int((when - day.start) / SLOT)


def intervals(
    events: list[Event], day: Day, service_level_seconds: int, clock: Clock
) -> list[dict[str, Any]]:
    """Per department and 15-minute interval of `day`, the intervals in which anything happened."""
    joined: dict[str, datetime] = {}  # sid -> when they last arrived in a queue (this day)
    rows: dict[tuple[str, datetime], dict[str, int]] = defaultdict(
        lambda: {"offered": 0, "answered": 0, "abandoned": 0, "answered_within": 0}
    )
    for event in events:
        dept, sid, at = event.fields.get("dept", ""), event.fields.get("sid", ""), clock.reading(event.at)
        if not dept or not (day.start <= at < day.end):
            continue
        row = rows[(dept, _slot(day, at))]
        if event.name in ARRIVALS and event.fields.get("to") == "queued":
            joined[sid] = at
            row["offered"] += 1
        elif event.name == "answer":
            row["answered"] += 1
            arrived = joined.get(sid)
            if arrived is not None and (at - arrived).total_seconds() <= service_level_seconds:
                row["answered_within"] += 1
        elif event.name == "abandon" and event.fields.get("outcome") in QUEUE_ABANDONS:
            row["abandoned"] += 1
    out = []
    for (dept, start), counts in sorted(rows.items(), key=lambda item: (item[0][1], item[0][0])):
        settled = counts["answered"] + counts["abandoned"]
        out.append(
            {
                "department": dept,
                "start": start.isoformat(),
                **counts,
                "service_level": round(counts["answered_within"] / settled, 4) if settled else None,
            }
        )
    return out


def agents(events: list[Event], day: Day, until: datetime, clock: Clock) -> list[dict[str, Any]]:
    """Per agent who did anything on `day` up to `until`: calls rung, answered, missed, seconds in
    each state (`until` and the day read on the hotline's clock)."""
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"offered": 0, "answered": 0, "missed": 0, **{f"{s}_seconds": 0.0 for s in TIMED_STATES}}
    )
    current: dict[str, tuple[str, datetime]] = {}  # agent -> (state, since)
    end = min(day.end, until)
    for event in events:
        if event.name != "agent" or not event.agent:
            continue
        agent, at, to = event.agent, clock.reading(event.at), event.fields.get("to", "")
        if at >= day.end or at > until:  # (a change at `until` itself has happened by then)
            break
        was = current.get(agent)
        if was is not None and was[0] in TIMED_STATES:
            since = max(was[1], day.start)
            if at > since:
                rows[agent][f"{was[0]}_seconds"] += (at - since).total_seconds()
        current[agent] = (to, at)
        if at < day.start:
            continue
        row = rows[agent]
        if to == "ringing":
            row["offered"] += 1
        elif to == "on_call" and event.fields.get("from") == "ringing":
            row["answered"] += 1
        elif to == "not_ready" and event.fields.get("from") == "ringing":
            row["missed"] += 1
    for agent, (state, since) in current.items():  # the state they are still in
        start = max(since, day.start)
        if state in TIMED_STATES and end > start:
            rows[agent][f"{state}_seconds"] += (end - start).total_seconds()
    return [
        {"agent": agent, **{k: round(v) if isinstance(v, float) else v for k, v in row.items()}}
        for agent, row in sorted(rows.items())
    ]


def as_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """The rows as CSV with a header line (empty cells for None)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
