"""The hour-of-week profile: quiet and peak hours, from planned staffing and from real calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from ivr import keys
from ivr.services import services_of
from ivr.waits.profile import DepartmentProfile, hour_of_week, quietest_slots

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _learn(app: Flask, department: str, how_load: dict[int, float]) -> None:
    """Write a profile as the rollup would have after observing an hour per hour of week."""
    conn = services_of(app).stores.data
    for how, per_hour in how_load.items():
        conn.hset(
            keys.profile(department),
            mapping={
                f"{how}:exposure": 3600,
                f"{how}:arrivals": per_hour,
                f"{how}:agent_s": 5 * 3600,
                f"{how}:handled": per_hour,
                f"{how}:handle_ms": per_hour * 180_000,
            },
        )


def test_quietest_slots_are_open_hours_with_the_lowest_expected_wait(app: Flask) -> None:
    hotline = services_of(app)
    monday_9 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # general is open 09-21 on weekdays
    loads = {hour_of_week(monday_9, "Asia/Shanghai") + h: 60.0 for h in range(12)}
    tuesday_10 = hour_of_week(monday_9 + timedelta(days=1, hours=1), "Asia/Shanghai")
    loads[tuesday_10] = 5.0
    _learn(app, "general", loads)
    start = monday_9 + timedelta(minutes=30)
    slots = quietest_slots(hotline.config.file, hotline.stores.data, "general", start, 3)
    assert slots[0] == (monday_9 + timedelta(days=1, hours=1)).astimezone(UTC)
    assert len(slots) == 3
    for slot in slots:  # never a closed hour, never in the past, always on the hour
        local = slot.astimezone(SHANGHAI)
        assert slot > start and local.minute == 0
        assert 9 <= local.hour < 21 if local.weekday() < 5 else 10 <= local.hour < 18


def test_a_new_hotline_ranks_hours_by_the_stated_default(app: Flask) -> None:
    hotline = services_of(app)
    start = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)
    slots = quietest_slots(hotline.config.file, hotline.stores.data, "general", start, 2)
    # With nothing observed, mornings are the quiet part of the default shape.
    assert [s.astimezone(SHANGHAI).hour for s in slots] == [9, 9]
    profile = DepartmentProfile.load(hotline.stores.data, hotline.config.file, "general")
    peaks = {how % 24 for how in profile.peak_hours()}
    assert peaks and all(14 <= h <= 19 for h in peaks)
