"""What really happened in a scenario: the stand-in's calls, the agents' states, and the row.

`Monitor` samples every agent twice a second: the state the hotline keeps (Redis) against the
stand-in's softphones (is a call ringing or bridged to `client:<id>`?). `account` joins the
callers' choices with the calls the stand-in really ran and the calls the hotline placed, and
returns a `Row` (the columns are defined in `bench.faults`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from bench.faults.people import CallerLog, Dialled
from ivr import keys
from ivr.redis_types import text_or_none
from standin.interpreter import ENDED
from standin.live import LiveCalls

HOLDS = ("reserved", "ringing")  # holds on an agent that only a live call justifies ...
BUSY = ("reserved", "ringing", "on_call")  # ... and the states that need one
SAMPLE_SECONDS = 0.5


@dataclass(eq=False)  # a thread: hashed by identity
class Monitor(threading.Thread):
    """Samples the agents until `stop` is set (a thread: call `start()`)."""

    connect: Callable[[], redis.Redis]
    live: LiveCalls
    agent_ids: list[str]
    hold_limit: float  # ring timeout + reaper period, seconds
    held: set[tuple[str, str]] = field(default_factory=set)  # (agent, since) held past hold_limit
    held_notes: dict[tuple[str, str], str] = field(default_factory=dict)  # what each held hold was
    longest: float = 0.0  # seconds
    longest_of: str = ""
    samples: int = 0
    failed_samples: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _open: dict[str, tuple[float, str, str]] = field(default_factory=dict)  # agent -> (since, why, hold)
    _engaged: bool = True  # at the last sample, an agent was held, busy, or unavailable for no reason
    # (agent, since) -> (seconds excused: kept for a callback whose call is up, time of last sample)
    _excused: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    _conn: redis.Redis | None = None

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, name="monitor", daemon=True)

    def halt(self) -> None:
        """Stop sampling and wait (up to 10 s) for the last stretches to close."""
        self.stop.set()
        self.join(10)

    def run(self) -> None:
        """Sample until stopped, then close the open stretches."""
        while not self.stop.wait(SAMPLE_SECONDS):
            self.sample()
        self.sample()
        now = time.monotonic()
        for agent, (since, why, _) in self._open.items():
            self._stretch(agent, now - since, why)

    def _agents(self) -> list[dict[str, str]] | None:
        try:
            if self._conn is None:
                self._conn = self.connect()
            pipe = self._conn.pipeline(transaction=False)
            for agent in self.agent_ids:
                pipe.hgetall(keys.agent(agent))
            return pipe.execute()
        except (redis.RedisError, OSError):
            self._conn = None
            return None

    def sample(self) -> None:
        """One look at every agent; a Redis that does not answer leaves stretches open."""
        agents = self._agents()
        if agents is None:
            self.failed_samples += 1
            return
        self.samples += 1
        now, wall = time.monotonic(), datetime.now(UTC)
        self._engaged = any(fields.get("state") in (*BUSY, "wrap_up") for fields in agents)
        for agent_id, fields in zip(self.agent_ids, agents, strict=True):
            state = fields.get("state", "")
            since = fields.get("state_since", "")
            age = (wall - datetime.fromisoformat(since)).total_seconds() if since else 0.0
            callback_up = state == "ringing" and self._callback_up(fields.get("call_sid", ""))
            if state in HOLDS:
                self._hold_sampled(agent_id, state, since, age, callback_up, now)
            client = self.live.registered(agent_id)
            why = ""
            if state in BUSY and (client is None or client.call is None):
                why = f"{state} with no call on their phone"
            if why and callback_up:
                why = ""  # kept for a callback: the hotline's call to the customer is up
            wrap = fields.get("wrap_until")
            if state == "wrap_up" and wrap and wall > datetime.fromisoformat(wrap):
                why = "in wrap-up past its end"
            # A stretch is one state the hotline put the agent in (state and its start): an agent
            # released and then reserved again by a new match (a worker that died at each of
            # several matches in a row) has a reason each time, and each hold is timed alone.
            hold = f"{state}@{since}"
            opened = self._open.get(agent_id)
            if opened is not None and (not why or opened[2] != hold):
                began, was, _ = self._open.pop(agent_id)
                self._stretch(agent_id, now - began, was)
            if why and agent_id not in self._open:
                self._open[agent_id] = (now, why, hold)

    def _hold_sampled(
        self, agent_id: str, state: str, since: str, age: float, callback_up: bool, now: float
    ) -> None:
        """Time a hold on an agent; past `hold_limit`, less the time it was kept for a callback
        whose call to the customer rang or was up (the customer's ring and greeting are the
        hold's reason, as for the unavailable column), it is held."""
        hold = (agent_id, since)
        excused, last = self._excused.get(hold, (0.0, now))
        if callback_up:
            excused += now - last
        self._excused[hold] = (excused, now)
        if age - excused > self.hold_limit and hold not in self.held:
            self.held.add(hold)
            kept = f", {excused:.0f} s of it for a callback" if excused else ""
            self.held_notes[hold] = f"{agent_id} {state} since {since} ({age:.0f} s{kept})"

    def _callback_up(self, sid: str) -> bool:
        """Whether the hotline's call back to the customer of call `sid` rings or is up now."""
        if not sid or self._conn is None:
            return False
        try:
            cb_call = text_or_none(self._conn.hget(keys.call(sid), "cb_call"))
        except (redis.RedisError, OSError):
            return False
        call = self.live.call(cb_call) if cb_call else None
        return call is not None and call.state not in ENDED

    def quiet(self) -> bool:
        """Whether, at the last sample that answered, no agent was held, busy or wrapping up."""
        return not self._engaged and not self._open

    def _stretch(self, agent: str, seconds: float, why: str) -> None:
        if seconds > self.longest:
            self.longest, self.longest_of = seconds, f"{agent}: {why}"


@dataclass
class Row:
    """One scenario's figures (see the columns in `bench.faults`)."""

    name: str
    faults: int = 0
    offered: int = 0
    served: int = 0
    abandoned: int = 0
    lost: int = 0
    served_twice: int = 0
    held: int = 0
    dialled_twice: int = 0
    unavailable: float = 0.0
    seconds: float = 0.0
    lost_why: Counter[str] = field(default_factory=Counter)
    lost_sids: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def losses(self) -> int:
        """The loss columns added up: zero is the target."""
        return self.lost + self.served_twice + self.held + self.dialled_twice


def _bridges(live: LiveCalls, dialled: list[Dialled]) -> Counter[str]:
    """Agent legs bridged per caller (by the CallSid of their first call), from the stand-in."""
    callback_of = {d.sid: d.for_call for d in dialled}
    bridged: Counter[str] = Counter()
    for call in live.calls():
        for event in call.events.since(0):
            if event["kind"] == "answered" and event.get("by") not in (None, "caller"):
                bridged[callback_of.get(call.call_sid, call.call_sid)] += 1
    return bridged


def _errors(live: LiveCalls, dialled: list[Dialled]) -> set[str]:
    """Callers (first CallSid) on whose calls the stand-in met an answer Twilio would refuse."""
    callback_of = {d.sid: d.for_call for d in dialled}
    return {
        callback_of.get(call.call_sid, call.call_sid)
        for call in live.calls()
        if any(e["kind"] == "error" for e in call.events.since(0))
    }


def _dialled_twice(dialled: list[Dialled], bridged_at: dict[str, float]) -> int:
    """Callbacks with a call placed while an earlier one for it was live, or after a bridge."""
    by_caller: dict[str, list[Dialled]] = {}
    for d in dialled:
        by_caller.setdefault(d.for_call, []).append(d)
    doubled = 0
    for sid, calls in by_caller.items():
        calls.sort(key=lambda d: d.seen)
        for i, later in enumerate(calls[1:], start=1):
            overlap = any(
                not e.canceled and e.answered is not None and (e.ended is None or e.ended > later.seen)
                for e in calls[:i]
            )
            if overlap or bridged_at.get(sid, float("inf")) < later.seen:
                doubled += 1
                break
    return doubled


def account(
    name: str, callers: list[CallerLog], live: LiveCalls, dialled: list[Dialled], monitor: Monitor
) -> Row:
    """The row of one scenario, after it settled."""
    bridged = _bridges(live, dialled)
    errors = _errors(live, dialled)
    bridged_at: dict[str, float] = {}
    for d in dialled:
        if d.bridged is not None:
            bridged_at[d.for_call] = min(bridged_at.get(d.for_call, d.bridged), d.bridged)
    for c in callers:
        if c.bridged is not None:
            bridged_at[c.sid] = min(bridged_at.get(c.sid, c.bridged), c.bridged)
    row = Row(name)
    for c in callers:
        row.offered += 1
        if bridged[c.sid]:
            row.served += 1
            row.served_twice += bridged[c.sid] > 1
        elif c.gave_up is not None:
            row.abandoned += 1
        else:
            row.lost += 1
            row.lost_sids.add(c.sid)
            row.lost_why[_why_lost(c, live, errors, dialled)] += 1
    row.held = len(monitor.held)
    row.notes.extend(f"held: {note}" for note in monitor.held_notes.values())
    row.dialled_twice = _dialled_twice(dialled, bridged_at)
    row.unavailable = monitor.longest
    if monitor.longest_of:
        row.notes.append(f"longest unavailable: {monitor.longest_of} ({monitor.longest:.1f} s)")
    return row


def _why_lost(c: CallerLog, live: LiveCalls, errors: set[str], dialled: list[Dialled]) -> str:
    """In a few words, how a caller who was neither served nor gave up ended."""
    if c.sid in errors:
        return "application error"
    call = live.call(c.sid)
    if call is not None and any(t["kind"] == "number" for t in call.dialed):
        return "sent to the overflow number"
    if c.asked_callback is not None:
        mine = [d for d in dialled if d.for_call == c.sid]
        return "callback dialled, never bridged" if mine else "callback never dialled"
    if c.ended is None:
        return "still on the line at the end"
    if c.on_hold is None:
        return "ended before reaching a queue"
    return "ended by the hotline while waiting"
