"""The estimator fed through the live path: the counters the hotline keeps, read by `ivr.waits.live`.

The idealised run hands the estimator what the simulation knows (every department's callers as
classes of one pool, the exact plan, thousands of prior calls). The hotline knows less: its Redis
holds per department the agents staffed and ready, which departments each agent takes first, the
callers waiting, the day's counters (offered by class, answered, handled, abandoned, time waited)
and an hour-of-week profile. `LiveFeed` keeps those same figures as the simulated day unfolds and
hands them, in the order `Reads.queue` reads them, to `Reads.parse`, the code that turns them
into a `QueueState` on the real hotline. Only the Redis round trip is left out.

Learned statistics start empty each day; `profile=True` gives each department a profile summary
from past weeks (the handle time and patience the idealised run's priors have), as a hotline that
has been running a while has. The staffing plan is the scenario's, written in the hotline file's
schema (quarter-hour steps), on a Monday from midnight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from bench.waits.scenarios import Scenario
from ivr.callcenter.queues import arrival_ms
from ivr.hotline.loader import load_hotline
from ivr.hotline.schema import Department, HotlineFile, Staffing
from ivr.waits.arrivals import counted_arrival, kept_arrivals, recent_counts
from ivr.waits.estimate import QueueState
from ivr.waits.learned import wait_counts
from ivr.waits.live import LiveQueues, Reads
from ivr.waits.read_script import Recent

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 00:00: the simulated day's time 0
HOTLINE_FILE = Path(__file__).resolve().parents[2] / "hotline.yaml"


def _ms(seconds: float) -> int:
    """The simulated moment as the queues score arrivals (milliseconds since the queue epoch)."""
    return arrival_ms(EPOCH + timedelta(seconds=seconds))


def _staffing(sc: Scenario) -> Staffing | None:
    """The scenario's plan as the hotline file would give it: Monday, by quarter hour."""
    if not sc.staffing_plan:
        return None
    ranges: dict[str, int] = {}
    start, agents = 0.0, sc.agents
    for when, then in sorted(sc.staffing_plan) + [(24 * 3600.0, 0)]:
        minute_from, minute_to = int(start // 60), int(min(when, 24 * 3600.0) // 60)
        if minute_to > minute_from:
            ranges[
                f"{minute_from // 60:02d}:{minute_from % 60:02d}-{minute_to // 60:02d}:{minute_to % 60:02d}"
            ] = agents
        start, agents = when, then
    return Staffing.model_validate({"mon": ranges})


def hotline_file(sc: Scenario) -> HotlineFile:
    """The shipped hotline file with the scenario's departments (no wrap-up, always open, UTC)."""
    shipped = load_hotline(HOTLINE_FILE).file
    model = next(iter(shipped.departments.values()))
    departments = {
        name: Department(names=model.names, hours=model.hours, wrap_up_seconds=0, staffing=_staffing(sc))
        for name in queue_names(sc)
    }
    settings = shipped.hotline.model_copy(update={"timezone": "UTC"})
    return shipped.model_copy(update={"departments": departments, "hotline": settings})


def queue_names(sc: Scenario) -> list[str]:
    """The hotline's departments: each scenario department's queue, in the order of their classes."""
    names: list[str] = []
    for d in sorted(sc.departments, key=lambda d: d.priority):
        if (d.queue or d.name) not in names:
            names.append(d.queue or d.name)
    return names


@dataclass
class Counters:
    """One department's day counters, as `hl:dstats:{dept}:{day}` holds them."""

    handled: int = 0
    handle_ms: float = 0.0
    handle_sq: float = 0.0
    abandoned: int = 0
    abandoned_wait_ms: float = 0.0
    answered_wait_ms: float = 0.0
    answered: int = 0
    first_offer_ms: int | None = None
    offered: dict[int, int] = field(default_factory=dict)  # by class (rank)
    recent: dict[int, tuple[float, tuple[float, ...]]] = field(default_factory=dict)  # by class
    times: dict[int, str] = field(default_factory=dict)  # by class: the last arrivals (kept_arrivals)
    spans: dict[str, int] = field(default_factory=dict)  # waits by span (learned.wait_counts)


class LiveFeed:
    """The hotline's live figures for one replication, and the QueueState live.py makes of them."""

    def __init__(self, sc: Scenario, profiles: list[dict[str, Any]] | None) -> None:
        self.sc = sc
        self.cfg = hotline_file(sc)
        self.live = LiveQueues(cfg=self.cfg, conn=cast(Any, None), queues=cast(Any, None))
        # Each scenario department is a class of a hotline department's queue: its own, or the
        # one it shares (`Department.queue`), ranked by priority there.
        self.names = queue_names(sc)
        self.queue = [self.names.index(d.queue or d.name) for d in sc.departments]
        self.rank = [
            sorted(e.priority for e in sc.departments if (e.queue or e.name) == (d.queue or d.name)).index(
                d.priority
            )
            for d in sc.departments
        ]
        self.counters = [Counters() for _ in self.names]
        by_queue = {self.queue[d]: p for d, p in reversed(list(enumerate(profiles or [])))}
        self.summaries = [json.dumps(by_queue[q]) if q in by_queue else None for q in range(len(self.names))]

    # -- what the hotline counts, as it happens -------------------------------------------------

    def offered(self, dept: int, now: float) -> None:
        c = self.counters[self.queue[dept]]
        rank = self.rank[dept]
        c.offered[rank] = c.offered.get(rank, 0) + 1
        c.recent[rank] = counted_arrival(c.recent.get(rank), _ms(now))  # as the join script does
        c.times[rank] = kept_arrivals(c.times.get(rank), _ms(now))
        if c.first_offer_ms is None:
            c.first_offer_ms = _ms(now)

    def answered(self, dept: int, waited: float) -> None:
        c = self.counters[self.queue[dept]]
        c.answered += 1
        c.answered_wait_ms += waited * 1000
        for f, n in wait_counts(waited * 1000, abandoned=False).items():
            c.spans[f] = c.spans.get(f, 0) + n

    def abandoned(self, dept: int, waited: float) -> None:
        c = self.counters[self.queue[dept]]
        c.abandoned += 1
        c.abandoned_wait_ms += waited * 1000
        for f, n in wait_counts(waited * 1000, abandoned=True).items():
            c.spans[f] = c.spans.get(f, 0) + n

    def handled(self, dept: int, seconds: float) -> None:
        c = self.counters[self.queue[dept]]
        c.handled += 1
        c.handle_ms += seconds * 1000
        c.handle_sq += seconds * seconds

    # -- the read -------------------------------------------------------------------------------

    def state(
        self,
        dept: int,
        now: float,
        ahead: int,
        waited: float,
        staffed: int,
        ready: int,
        order: list[int],
        waiting_since: list[list[float]],
    ) -> QueueState:
        """The QueueState live.py builds for a caller of `dept` with `ahead` in front in its queue.

        order: departments in the order every agent takes them; waiting_since: per department, the
        arrival times of callers waiting, longest first.
        """
        q, rank = self.queue[dept], self.rank[dept]
        name = self.names[q]
        reads = Reads(self.live, name, rank, EPOCH + timedelta(seconds=now), "day")
        # The queue's callers: its classes together; those of higher classes are ahead.
        classes = [d for d in range(len(self.queue)) if self.queue[d] == q]
        ahead += sum(len(waiting_since[d]) for d in classes if self.rank[d] < rank)
        since = sorted(t for d in classes for t in waiting_since[d])
        first_classes = order[: order.index(dept)]  # taken first by every agent: other queues' ones
        first = [
            o for o in range(len(self.names)) if any(self.queue[d] == o for d in first_classes) and o != q
        ]
        above = {f"agent{i}": ",".join(self.names[o] for o in first) for i in range(staffed)} if first else {}
        c = self.counters[q]
        now_ms = float(_ms(now))
        recent = [  # as the read script gives them
            Recent(recent_counts(c.recent.get(r), now_ms), c.times.get(r, "")) for r in range(rank)
        ]
        values = {
            "handled": c.handled,
            "handle_ms": c.handle_ms,
            "handle_sq": c.handle_sq,
            "abandoned": c.abandoned,
            "abandoned_wait_ms": c.abandoned_wait_ms,
            "answered_wait_ms": c.answered_wait_ms,
            "first_offer_ms": c.first_offer_ms,
            "answered": c.answered,
            **c.spans,
        }
        stats = [values.get(f, c.offered.get(int(f.split(":")[1]), 0) if f.startswith("offered:") else None)
                 for f in reads.stat_fields]  # fmt: skip
        longest = [float(_ms(t)) for t in since[:64]]  # the arrivals of the longest waiting
        summary = self.summaries[q]
        # One language: every agent takes every caller (no reply of the caller's language).
        replies: list[Any] = [staffed, above, ready, stats, summary, len(since), longest, recent, False]
        for other in reads.others:
            o = self.names.index(other)
            theirs = self.counters[o]
            counters: dict[str, Any] = {
                "answered": theirs.answered,
                "handled": theirs.handled,
                "handle_ms": theirs.handle_ms,
                "first_offer_ms": theirs.first_offer_ms,
                "offered": sum(theirs.offered.values()),
                **{f"offered:{r}": n for r, n in theirs.offered.items()},
                **theirs.spans,  # their waits by span: the patience prior of a department without a profile
            }
            fields = [counters.get(f, 0) for f in reads.other_fields]
            waiting = sum(len(waiting_since[d]) for d in range(len(self.queue)) if self.queue[d] == o)
            # Every agent serves every department, in the order `order` gives their classes.
            ours_first = staffed if o not in first else 0
            # Without their times, as the read script gives them (`Reads._shared` reads counts).
            arrivals = [Recent(recent_counts(theirs.recent.get(r), now_ms)) for r in range(reads.classes)]
            replies += [waiting, fields, staffed, ours_first, arrivals]
        state, _ = reads.parse(replies, ahead, waited)
        return state
