"""The hour-of-week profile of each department: how busy each hour of the week is.

What is kept (`hl:profile:{dept}`, fields '{hour of week}:{name}', hour of week 0 = Monday
00:00-01:00 in the hotline's time zone): how long the hour has been observed (`exposure`),
staffed agent-seconds seen in it (`agent_s`), and what the department's daily counters gained
meanwhile (callers offered, answered and their waits, abandoned and their waits, calls handled,
their handle time and its squares). The rollup job (`rollup`, run every few minutes by the worker) adds the
counters' growth since its last run to the hours that run covered, so the profile learns from
the calls themselves without a single extra write in a webhook.

From these totals each hour has an outlook: arrivals per hour, handle time, agents (the planned
staffing of the hotline file when given, else the agents seen), offered load and the Erlang C
wait of a new caller. A new hotline, before it has observed an hour, assumes the stated
default shape `DEFAULT_CALLS_PER_HOUR`. Peak hours are the top quartile of load among the open
hours of the week; the quietest slots are the open hours with the shortest expected wait.

The rollup also stores a small summary (`summary` field: peak hours, and the open hours of each
weekday from quietest to busiest) so the hold loop learns "is this a peak hour, and when is it
quiet tomorrow" from one field in the pipeline it already sends.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis

from ivr import keys
from ivr.digits import is_digits
from ivr.hotline.hours import department_open
from ivr.hotline.schema import WEEKDAYS, HotlineFile
from ivr.redis_types import hash_fields, text_hash
from ivr.waits.erlang import erlang_c_wait

HOURS_OF_WEEK = 168
# Until an hour of the week has been observed this long, its arrivals come from the default shape.
MIN_EXPOSURE_SECONDS = 900.0
# The stated default for a new hotline: calls per hour by hour of the day (busiest in the
# afternoon and early evening, quieter on weekday mornings, as callers of payment wallets report).
DEFAULT_CALLS_PER_HOUR = (
    2, 1, 1, 1, 1, 2, 3, 6, 10, 14, 18, 22, 20, 24, 30, 30, 28, 26, 24, 26, 22, 12, 6, 3,
)  # fmt: skip
DEFAULT_HANDLE_SECONDS = 180.0
# The department's daily counters the rollup follows, and the profile field each one feeds.
ROLLED_UP = {
    "offered": "arrivals",
    "answered": "answered",
    "answered_wait_ms": "answered_wait_ms",
    "abandoned": "abandoned",
    "abandoned_wait_ms": "abandoned_wait_ms",
    "handled": "handled",
    "handle_ms": "handle_ms",
    "handle_sq": "handle_sq",  # the sum of squared talk times (s^2): their spread
}
# A rollup that comes after a longer gap (the worker was down) does not know when the counters
# grew, so it only takes note of them and starts over.
MAX_GAP_SECONDS = 3600.0
PEAK_QUANTILE = 0.75
# The talk times' spread is read from the profile once this many calls were counted.
MIN_SPREAD_CALLS = 20


def hour_of_week(when: datetime, tz: str) -> int:
    """0 = Monday 00:00-01:00 in the hotline's time zone, up to 167."""
    local = when.astimezone(ZoneInfo(tz))
    return local.weekday() * 24 + local.hour


@dataclass(frozen=True)
class HourOutlook:
    """What an hour of the week usually looks like for a department."""

    hour_of_week: int
    arrivals_per_hour: float
    handle_seconds: float
    agents: float | None  # planned, else seen; None when neither is known
    patience_seconds: float | None  # None: nobody abandoned (or nothing seen yet)
    learned: bool  # arrivals from observation, not the default shape

    @property
    def offered_load(self) -> float:
        """Erlangs: arrivals per second times handle time."""
        return self.arrivals_per_hour / 3600 * self.handle_seconds

    @property
    def load(self) -> float:
        """Offered load per agent (occupancy if all calls were served); the load alone without agents."""
        if self.agents:
            return self.offered_load / self.agents
        return self.offered_load

    @property
    def expected_wait_seconds(self) -> float:
        """A new caller's mean wait by Erlang C (infinite when the agents cannot keep up)."""
        if not self.agents:
            return math.inf
        return erlang_c_wait(self.agents, self.offered_load, self.handle_seconds)


class DepartmentProfile:
    """A department's profile as read from Redis, with the hotline file's planned staffing."""

    def __init__(self, cfg: HotlineFile, department: str, fields: dict[str, str]) -> None:
        self.cfg, self.department = cfg, department
        self.totals: list[dict[str, float]] = [{} for _ in range(HOURS_OF_WEEK)]
        for field, raw in fields.items():
            how, _, name = field.partition(":")
            if is_digits(how) and int(how) < HOURS_OF_WEEK:
                self.totals[int(how)][name] = float(raw)
        everything: dict[str, float] = {}
        for hour in self.totals:
            for name, value in hour.items():
                everything[name] = everything.get(name, 0.0) + value
        self.overall = everything

    @classmethod
    def load(cls, conn: redis.Redis, cfg: HotlineFile, department: str) -> DepartmentProfile:
        """Read the department's profile (one HGETALL)."""
        return cls(cfg, department, text_hash(conn.hgetall(keys.profile(department))))

    def planned(self, how: int) -> int | None:
        """Agents planned in the hotline file for this hour of the week."""
        staffing = self.cfg.departments[self.department].staffing
        return staffing.at(how // 24, how % 24) if staffing else None

    def handle_seconds(self, how: int | None = None) -> float:
        """Mean handle time in the hour (if enough calls were seen there), else overall, else the default."""
        for totals in ([self.totals[how]] if how is not None else []) + [self.overall]:
            if totals.get("handled", 0) >= 5:
                return totals["handle_ms"] / 1000 / totals["handled"]
        return DEFAULT_HANDLE_SECONDS

    def talk_cv(self) -> float | None:
        """The spread of talk times seen (sd / mean), once MIN_SPREAD_CALLS calls were counted
        with their squares; None before (profiles rolled up before squares were kept)."""
        handled, total, squares = (self.overall.get(n, 0.0) for n in ("handled", "handle_ms", "handle_sq"))
        if handled < MIN_SPREAD_CALLS or total <= 0 or squares <= 0:
            return None
        mean = total / 1000 / handled
        return math.sqrt(max(squares / handled - mean * mean, 0.0)) / mean

    def patience_seconds(self, how: int | None = None) -> float | None:
        """Mean patience: total waiting time of callers whose wait ended / those who abandoned."""
        for totals in ([self.totals[how]] if how is not None else []) + [self.overall]:
            if totals.get("abandoned", 0) >= 5:
                waited = (totals.get("answered_wait_ms", 0) + totals.get("abandoned_wait_ms", 0)) / 1000
                return waited / totals["abandoned"]
        return None

    def outlook(self, how: int) -> HourOutlook:
        """The hour's usual arrivals, handle time, agents and patience."""
        totals = self.totals[how]
        exposure = totals.get("exposure", 0.0)
        learned = exposure >= MIN_EXPOSURE_SECONDS
        arrivals: float = DEFAULT_CALLS_PER_HOUR[how % 24]
        if learned:
            arrivals = totals.get("arrivals", 0.0) / exposure * 3600
        agents: float | None = self.planned(how)
        if agents is None and learned and totals.get("agent_s", 0) > 0:
            agents = totals["agent_s"] / exposure
        return HourOutlook(
            hour_of_week=how,
            arrivals_per_hour=arrivals,
            handle_seconds=self.handle_seconds(how),
            agents=agents,
            patience_seconds=self.patience_seconds(how),
            learned=learned,
        )

    def open_hours(self) -> list[int]:
        """Hours of the week in which the department takes calls (by its weekly hours)."""
        schedule = self.cfg.hours[self.cfg.departments[self.department].hours]
        if schedule.always_open:
            return list(range(HOURS_OF_WEEK))
        hours = []
        for how in range(HOURS_OF_WEEK):
            day = schedule.days.get(WEEKDAYS[how // 24])
            if day is None:
                continue
            start = how % 24
            closes = 24 if day.closes is None else day.closes.hour + (day.closes.minute > 0)
            if day.opens.hour <= start < closes:
                hours.append(how)
        return hours

    def quietness(self, how: int) -> tuple[float, float]:
        """Sort key: expected wait of a new caller, then load per agent (lower is quieter)."""
        outlook = self.outlook(how)
        return (outlook.expected_wait_seconds, outlook.load)

    def peak_hours(self) -> list[int]:
        """Open hours whose load is in the top quartile of the open hours (none if all alike)."""
        loads = {how: self.outlook(how).load for how in self.open_hours()}
        if not loads:
            return []
        ordered = sorted(loads.values())
        threshold = ordered[min(len(ordered) - 1, int(PEAK_QUANTILE * len(ordered)))]
        if threshold <= ordered[0]:
            return []
        return sorted(how for how, load in loads.items() if load >= threshold)

    def summary(self) -> dict[str, Any]:
        """What the hold loop needs from the profile, small enough to read on every turn."""
        open_hours = self.open_hours()
        outlooks = [self.outlook(how) for how in range(HOURS_OF_WEEK)]
        quiet_by_day = {
            str(day): [h % 24 for h in sorted((h for h in open_hours if h // 24 == day), key=self.quietness)]
            for day in range(7)
        }
        return {
            "peak": self.peak_hours(),
            "quiet": quiet_by_day,
            "handle": round(self.handle_seconds(), 1),
            "talk_cv": None if (cv := self.talk_cv()) is None else round(cv, 3),
            "patience": None if self.patience_seconds() is None else round(self.patience_seconds() or 0, 1),
            # By hour of week, for the live estimate: agents (planned, else seen; None if neither)
            # and handle time (that hour's, once enough calls were seen there, else overall).
            "agents": [None if o.agents is None else round(o.agents, 2) for o in outlooks],
            "handle_by_hour": [round(o.handle_seconds, 1) for o in outlooks],
        }


def _hour_starts(start: datetime, hours: int) -> list[datetime]:
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    return [first + timedelta(hours=i) for i in range(hours)]


def quietest_slots(
    cfg: HotlineFile, conn: redis.Redis, department: str, start: datetime, count: int
) -> list[datetime]:
    """The `count` quietest whole hours the department is open in the week from `start`, quietest first.

    Quietness is the profile's expected wait for a new caller in that hour of the week (then its
    load); equally quiet hours come in time order. Each slot is the hour's start (aware, UTC).
    """
    profile = DepartmentProfile.load(conn, cfg, department)
    tz = cfg.hotline.timezone
    candidates = [
        slot for slot in _hour_starts(start, HOURS_OF_WEEK) if department_open(cfg, department, slot)
    ]
    ranked = sorted(candidates, key=lambda slot: (*profile.quietness(hour_of_week(slot, tz)), slot))
    return ranked[: max(count, 0)]


def quietest_on_next_open_day(
    cfg: HotlineFile, department: str, summary: dict[str, Any], now: datetime
) -> datetime | None:
    """The quietest open hour of the next day (after today) the department opens, from the summary."""
    local = now.astimezone(ZoneInfo(cfg.hotline.timezone))
    for ahead in range(1, 8):
        day = (local + timedelta(days=ahead)).replace(minute=0, second=0, microsecond=0)
        for hour in summary.get("quiet", {}).get(str(day.weekday()), []):
            slot = day.replace(hour=hour)
            if department_open(cfg, department, slot):
                return slot
    return None


def rollup(
    conn: redis.Redis, cfg: HotlineFile, department: str, now: datetime, day: str, yesterday: str
) -> bool:
    """Add what the department's counters gained since the last run to the hours it covered.

    `day` and `yesterday` are the statistics days (yymmdd) of `now` and of the day before, so a
    run just after midnight still collects the end of the old day. False on the first run (or
    after a long gap): the counters are noted and nothing is added.
    """
    names = list(ROLLED_UP)
    pipe = conn.pipeline(transaction=False)
    pipe.hgetall(keys.profile_mark(department))
    pipe.hmget(keys.department_stats(department, day), names)
    pipe.hmget(keys.department_stats(department, yesterday), names)
    pipe.zcard(keys.staffed_agents(department))
    mark, today_values, yesterday_values, staffed = pipe.execute()
    seen = {  # counters are whole numbers but for the squares (HINCRBYFLOAT)
        day: [float(v or 0) for v in today_values],
        yesterday: [float(v or 0) for v in yesterday_values],
    }
    new_mark: dict[str, str] = {"at": repr(now.timestamp()), "staffed": str(staffed)}
    for d, values in seen.items():
        new_mark.update({f"{d}:{name}": repr(v) for name, v in zip(names, values, strict=True)})
    last_at = float(mark["at"]) if mark.get("at") else None
    gap = now.timestamp() - last_at if last_at is not None else None
    pipe = conn.pipeline(transaction=True)
    pipe.delete(keys.profile_mark(department))
    pipe.hset(keys.profile_mark(department), mapping=hash_fields(new_mark))
    added = gap is not None and 0 < gap <= MAX_GAP_SECONDS
    if added:
        assert last_at is not None and gap is not None
        grown = {name: 0.0 for name in names}
        for d, values in seen.items():
            for name, value in zip(names, values, strict=True):
                # A day the mark does not know started after the last run: all of it is new.
                grown[name] += max(value - float(mark.get(f"{d}:{name}", 0)), 0.0)
        # Agents are sampled at both ends of the interval; the counters are spread over it by time.
        agents = (int(mark.get("staffed", staffed)) + staffed) / 2
        tz = cfg.hotline.timezone
        t = last_at
        while t < now.timestamp():
            moment = datetime.fromtimestamp(t, now.tzinfo)
            hour_end = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            end = min(hour_end.timestamp(), now.timestamp())
            share = (end - t) / gap
            how = hour_of_week(moment, tz)
            profile_key = keys.profile(department)
            pipe.hincrbyfloat(profile_key, f"{how}:exposure", end - t)
            pipe.hincrbyfloat(profile_key, f"{how}:agent_s", agents * (end - t))
            for name, field in ROLLED_UP.items():
                if grown[name]:
                    pipe.hincrbyfloat(profile_key, f"{how}:{field}", grown[name] * share)
            t = end
    pipe.execute()
    if added:
        profile = DepartmentProfile.load(conn, cfg, department)
        conn.hset(keys.profile(department), "summary", json.dumps(profile.summary(), separators=(",", ":")))
    return added


def ensure_summary(conn: redis.Redis, cfg: HotlineFile, department: str) -> None:
    """Write the summary of a department that has none (a new hotline: planned staffing, default shape)."""
    if not conn.hexists(keys.profile(department), "summary"):
        profile = DepartmentProfile.load(conn, cfg, department)
        conn.hset(keys.profile(department), "summary", json.dumps(profile.summary(), separators=(",", ":")))
