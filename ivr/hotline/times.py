"""The hotline file's times: opening hours by weekday, and planned staffing by quarter hour."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from pydantic import Field, model_validator

from ivr.hotline.fields import Strict

__all__ = [
    "STAFFING_STEP_MINUTES",
    "WEEKDAYS",
    "DayRange",
    "Schedule",
    "Staffing",
    "expand_days",
    "parse_range",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class DayRange(Strict):
    """Opening time and closing time on one day (closing may be 24:00)."""

    opens: time
    closes: time | None  # None means midnight at the end of the day


def parse_range(text: str) -> DayRange:
    """'09:00-21:00' -> DayRange; raises ValueError with the reason."""
    match = _RANGE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a range like 09:00-21:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} has an impossible time")
    opens = time(h1, m1)
    closes = None if h2 == 24 else time(h2, m2)
    if closes is not None and closes <= opens:
        raise ValueError(f"{text!r} closes before it opens")
    return DayRange(opens=opens, closes=closes)


class Schedule(Strict):
    """Opening hours per weekday; a day that is absent is closed.

    Written in the file as "24/7", or as a mapping of days ("mon", "mon-fri", "sat,sun") to
    ranges ("09:00-21:00").
    """

    always_open: bool = False
    days: dict[str, DayRange] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_file(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip() == "24/7":
                return {"always_open": True}
            raise ValueError(f'{value!r}: write "24/7" or a mapping of days to hours')
        if not isinstance(value, dict) or "days" in value or "always_open" in value:
            return value
        days: dict[str, DayRange] = {}
        for spec, hours in value.items():
            for day in expand_days(str(spec)):
                if day in days:
                    raise ValueError(f"{day} is given twice")
                days[day] = parse_range(str(hours))
        return {"days": days}


def expand_days(spec: str) -> list[str]:
    """'mon-fri' -> ['mon', ..., 'fri']; 'sat,sun' -> ['sat', 'sun']."""
    out: list[str] = []
    for part in spec.replace(" ", "").split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            if first not in WEEKDAYS or last not in WEEKDAYS:
                raise ValueError(f"{spec!r}: days are written mon..sun")
            i, j = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if j < i:
                raise ValueError(f"{spec!r}: the range runs backwards")
            out.extend(WEEKDAYS[i : j + 1])
        elif part in WEEKDAYS:
            out.append(part)
        else:
            raise ValueError(f"{spec!r}: days are written mon..sun")
    return out


STAFFING_STEP_MINUTES = 15  # planned staffing changes on the quarter hour at the finest
_STEPS_A_DAY = 24 * 60 // STAFFING_STEP_MINUTES


class Staffing(Strict):
    """Planned agents by quarter hour of the week: `agents[day][step]`, None where nothing is planned.

    Written in the file as a mapping of days ("mon-fri") to time ranges and head counts, the
    ranges on whole hours, half hours or quarter hours:
    `mon-fri: {"09:00-12:00": 8, "12:00-12:30": 10, "12:30-21:00": 12}`. The wait estimate reads
    when agents arrive or leave from it; a plan that lags demand by half an hour is written so.
    """

    agents: dict[str, list[int | None]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_file(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError('write a mapping of days to hours and agents: mon-fri: {"09:00-18:00": 10}')
        if "agents" in value:
            hourly = {  # an hour a slot (an earlier form): each hour is four quarter hours
                day: [count for count in steps for _ in range(4)] if len(steps) == 24 else steps
                for day, steps in dict(value["agents"]).items()
            }
            return {"agents": hourly}
        agents: dict[str, list[int | None]] = {}
        step = STAFFING_STEP_MINUTES
        for spec, ranges in value.items():
            if not isinstance(ranges, dict):
                raise ValueError(f'{spec}: write hours and agents: {{"09:00-18:00": 10}}')
            for day in expand_days(str(spec)):
                steps = agents.setdefault(day, [None] * _STEPS_A_DAY)
                for text, count in ranges.items():
                    span = parse_range(str(text))
                    opens = span.opens.hour * 60 + span.opens.minute
                    closes = 24 * 60 if span.closes is None else span.closes.hour * 60 + span.closes.minute
                    if opens % step or closes % step:
                        raise ValueError(f"{spec} {text!r}: planned staffing changes on the quarter hour")
                    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 10000:
                        raise ValueError(f"{spec} {text!r}: {count!r} is not a number of agents (0..10000)")
                    for slot in range(opens // step, closes // step):
                        if steps[slot] is not None:
                            minute = slot * step
                            raise ValueError(f"{day} {minute // 60:02d}:{minute % 60:02d} is planned twice")
                        steps[slot] = count
        return {"agents": agents}

    def at_minute(self, weekday: int, minute: int) -> int | None:
        """Planned agents on `weekday` (0 = Monday) at `minute` of the day, or None when nothing is."""
        steps = self.agents.get(WEEKDAYS[weekday])
        return steps[min(max(minute, 0), 24 * 60 - 1) // STAFFING_STEP_MINUTES] if steps else None

    def at(self, weekday: int, hour: int) -> int | None:
        """Planned agents on `weekday` at `hour`: the mean over its quarter hours (rounded), or None."""
        planned = [self.at_minute(weekday, hour * 60 + q * STAFFING_STEP_MINUTES) for q in range(4)]
        counts = [count for count in planned if count is not None]
        return round(sum(counts) / len(counts)) if counts else None
