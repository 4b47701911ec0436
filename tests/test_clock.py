"""What each clock read at a real instant, and when in real time it read a span.

The event log is stamped in real time; the reports read those stamps on the hotline's clock
(tests/test_hotline_day.py goes through the endpoints). A simulated clock maps real time both
ways; a fixed clock reads its instant whenever it is asked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivr.clock import EARLIEST, LATEST, FixedClock, ScaledClock, SystemClock

START = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)
ORIGIN = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # the real instant the simulated clock read START
HOUR = timedelta(hours=1)


def test_a_simulated_clock_maps_real_time_both_ways() -> None:
    clock = ScaledClock(START, speed=60, origin=ORIGIN.timestamp())
    assert clock.reading(ORIGIN) == START
    assert clock.reading(ORIGIN + timedelta(minutes=1)) == START + HOUR  # 60 times as fast
    assert clock.real_span(START, START + HOUR) == (ORIGIN, ORIGIN + timedelta(minutes=1))
    first, last = clock.real_span(START - HOUR, START + 24 * HOUR)
    assert (clock.reading(first), clock.reading(last)) == (START - HOUR, START + 24 * HOUR)


def test_a_span_before_the_log_can_hold_starts_at_its_beginning() -> None:
    clock = ScaledClock(START, speed=1, origin=10.0)  # read START ten seconds past 1970
    assert clock.real_span(START - HOUR, START) == (EARLIEST, datetime.fromtimestamp(10.0, UTC))


def test_the_system_clock_is_real_time() -> None:
    assert SystemClock().reading(ORIGIN) == ORIGIN
    assert SystemClock().real_span(START, START + HOUR) == (START, START + HOUR)


def test_a_fixed_clock_reads_its_instant_at_any_real_time() -> None:
    clock = FixedClock(START)
    assert clock.reading(ORIGIN) == clock.reading(EARLIEST) == START
    assert clock.real_span(START, START + HOUR) == (EARLIEST, LATEST)  # all of it
    empty = clock.real_span(START + timedelta(seconds=1), START + HOUR)
    assert empty[0] >= empty[1]  # none of it
    clock.set(START + HOUR)
    assert clock.reading(ORIGIN) == START + HOUR
