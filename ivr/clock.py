"""The one place the hotline reads the time from.

Business hours, reference numbers and statistics all ask this clock, so a simulated day (a
clock that runs faster than real time, see `ScaledClock`) moves every one of them together.

The event log is stamped in real time (the Redis server's clock, ivr/callcenter/events.py): a
clock also says what it read at a real instant (`reading`) and when, in real time, it read the
instants of a span (`real_span`), so that reports cut the log into the clock's days.
What concerns the machine rather than the hotline's day (a console's heartbeat) is measured in
real seconds whatever the clock's speed: `ago` says what the clock read that many real seconds ago,
and `real_seconds` how many real seconds a span of the clock's took.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# The bounds of the real time a log stamped in Unix milliseconds can hold.
EARLIEST = datetime.fromtimestamp(0, UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


class Clock(Protocol):
    """Anything that can tell the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant."""
        ...

    def reading(self, real: datetime) -> datetime:
        """What the clock read at the real instant `real`."""
        ...

    def real_span(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """The real instants at which the clock read from `start` up to (not including) `end`."""
        ...

    def ago(self, real_seconds: float) -> datetime:
        """What the clock read `real_seconds` of real time before now."""
        ...

    def real_seconds(self, span: timedelta) -> float:
        """How many real seconds pass while the clock runs `span`."""
        ...


def _within(real: datetime) -> datetime:
    """A real instant inside what the log can hold."""
    return min(max(real, EARLIEST), LATEST)


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        """The current instant, from the system."""
        return datetime.now(UTC)

    def reading(self, real: datetime) -> datetime:
        """The real instant itself."""
        return real.astimezone(UTC)

    def real_span(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """The span itself."""
        return _within(start), _within(end)

    def ago(self, real_seconds: float) -> datetime:
        """The instant `real_seconds` before now."""
        return self.now() - timedelta(seconds=real_seconds)

    def real_seconds(self, span: timedelta) -> float:
        """The span's own seconds."""
        return span.total_seconds()


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
        return self.reading(datetime.now(UTC))

    def reading(self, real: datetime) -> datetime:
        """The simulated instant at the real instant `real`."""
        elapsed = (real.timestamp() - self._origin) * self._speed
        return datetime.fromtimestamp(self._start.timestamp() + elapsed, UTC)

    def real_span(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """When, in real time, the simulated clock read from `start` up to `end`."""
        origin = datetime.fromtimestamp(self._origin, UTC)
        return (
            _within(origin + (start - self._start) / self._speed),
            _within(origin + (end - self._start) / self._speed),
        )

    def ago(self, real_seconds: float) -> datetime:
        """The simulated instant `real_seconds` of wall-clock time ago (`speed` times that here)."""
        return self.reading(datetime.now(UTC) - timedelta(seconds=real_seconds))

    def real_seconds(self, span: timedelta) -> float:
        """The wall-clock seconds in which the simulated clock runs `span` (a `speed`th of it)."""
        return span.total_seconds() / self._speed


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

    def reading(self, real: datetime) -> datetime:
        """Where the clock is set, whatever the real instant: it stays there."""
        return self.at

    def real_span(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """All of real time when the clock's instant lies in the span, else none of it."""
        return (EARLIEST, LATEST) if start <= self.at < end else (EARLIEST, EARLIEST)

    def ago(self, real_seconds: float) -> datetime:
        """`real_seconds` before the set instant: a test moves the clock as real time would pass."""
        return self.at - timedelta(seconds=real_seconds)

    def real_seconds(self, span: timedelta) -> float:
        """The span's own seconds, as `ago` counts them: a test moves the clock as real time would."""
        return span.total_seconds()


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
