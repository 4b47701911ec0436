"""The one place the hotline reads the time from.

Business hours, reference numbers and statistics all ask this clock, so a simulated day (a
clock that runs faster than real time, see `ScaledClock`) moves every one of them together.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Anything that can tell the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        """The current instant, from the system."""
        return datetime.now(UTC)


class ScaledClock:
    """Time that starts at `start` and runs `speed` times faster than the wall clock."""

    def __init__(self, start: datetime, speed: float = 1.0, origin: float | None = None) -> None:
        """``origin``: the wall-clock instant (Unix seconds) at which the clock reads ``start``.

        Processes given the same origin (web workers, rq workers, the stand-in for Twilio) read
        the same simulated time; without one, the clock starts now, in this process.
        """
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._origin = time.time() if origin is None else origin

    @property
    def speed(self) -> float:
        """How many simulated seconds pass per wall-clock second (rq's scheduler runs on the wall clock)."""
        return self._speed

    def now(self) -> datetime:
        """The simulated instant."""
        elapsed = (time.time() - self._origin) * self._speed
        return datetime.fromtimestamp(self._start.timestamp() + elapsed, UTC)


class FixedClock:
    """A clock that stays where it is set: for tests that need a given hour or day."""

    def __init__(self, at: datetime) -> None:
        self.at = at.astimezone(UTC)

    def now(self) -> datetime:
        """The instant the clock was set to."""
        return self.at

    def set(self, at: datetime) -> None:
        """Move the clock."""
        self.at = at.astimezone(UTC)


def clock_from_env(start: str | None, speed: str | None, origin: str | None = None) -> Clock:
    """`HOTLINE_CLOCK_START` (ISO 8601) and `HOTLINE_CLOCK_SPEED` select a simulated clock.

    `HOTLINE_CLOCK_ORIGIN` (Unix seconds, set by `make run` for its processes) is the real
    instant at which the simulated clock read its start, so that every process agrees.
    A bad value raises ValueError naming its variable, so the process stops at start saying which.
    """
    if not start and not speed:
        return SystemClock()
    begin = start_from_env(start) if start else datetime.now(UTC)
    return ScaledClock(begin, speed_from_env(speed), origin_from_env(origin))


def start_from_env(start: str) -> datetime:
    """The instant of `HOTLINE_CLOCK_START` (ISO 8601, UTC when it names no offset)."""
    try:
        begin = datetime.fromisoformat(start)
    except ValueError:
        raise ValueError(
            f"HOTLINE_CLOCK_START must be an ISO 8601 time such as 2026-03-02T08:55+08:00, not {start!r}"
        ) from None
    return begin if begin.tzinfo is not None else begin.replace(tzinfo=UTC)


def origin_from_env(origin: str | None) -> float | None:
    """The Unix seconds of `HOTLINE_CLOCK_ORIGIN` (None when unset: the clock starts now)."""
    if not origin:
        return None
    try:
        seconds = float(origin)
    except ValueError:
        raise ValueError(f"HOTLINE_CLOCK_ORIGIN must be Unix seconds, not {origin!r}") from None
    if not math.isfinite(seconds):
        raise ValueError(f"HOTLINE_CLOCK_ORIGIN must be Unix seconds, not {origin!r}")
    return seconds


def speed_from_env(speed: str | None) -> float:
    """The factor of `HOTLINE_CLOCK_SPEED` (1 when unset); a bad value names the variable."""
    try:
        factor = float(speed) if speed else 1.0
    except ValueError:
        raise ValueError(f"HOTLINE_CLOCK_SPEED must be a number, not {speed!r}") from None
    if not factor > 0 or not math.isfinite(factor):
        raise ValueError(f"HOTLINE_CLOCK_SPEED must be a positive number, not {speed!r}")
    return factor


def business_day(now: datetime, timezone: str) -> str:
    """The hotline's day (yymmdd in its time zone): reference numbers, counters, daily keys."""
    return now.astimezone(ZoneInfo(timezone)).strftime("%y%m%d")
