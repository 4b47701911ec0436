"""Business hours: is a department open now, and how its hours are said to a caller."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ivr.hotline.schema import HotlineFile
from ivr.hotline.times import WEEKDAYS, Schedule
from ivr.prompts import Language


def is_open(schedule: Schedule, holidays: list[date], when: datetime, tz: str) -> bool:
    """True when `schedule` is open at `when` (a holiday closes all but round-the-clock hours)."""
    if schedule.always_open:
        return True
    local = when.astimezone(ZoneInfo(tz))
    if local.date() in holidays:
        return False
    day = schedule.days.get(WEEKDAYS[local.weekday()])
    if day is None:
        return False
    now = local.time()
    return day.opens <= now and (day.closes is None or now < day.closes)


def department_open(cfg: HotlineFile, department: str, when: datetime) -> bool:
    """True when the department takes calls at `when`."""
    schedule = cfg.hours[cfg.departments[department].hours]
    return is_open(schedule, cfg.holidays, when, cfg.hotline.timezone)


def closed_departments(cfg: HotlineFile, when: datetime) -> list[str]:
    """Departments closed at `when`, in file order."""
    return [name for name in cfg.departments if not department_open(cfg, name, when)]


def describe(schedule: Schedule, lang: Language) -> str:
    """'Monday to Friday 09:00 to 21:00, Saturday to Sunday 10:00 to 18:00' in the caller's language."""
    if schedule.always_open:
        return "24/7"
    groups: list[tuple[int, int, str]] = []  # first day, last day, range text
    for i, day in enumerate(WEEKDAYS):
        hours = schedule.days.get(day)
        if hours is None:
            continue
        closes = "24:00" if hours.closes is None else hours.closes.strftime("%H:%M")
        text = lang.voice.time_range.format(opens=hours.opens.strftime("%H:%M"), closes=closes)
        if groups and groups[-1][1] == i - 1 and groups[-1][2] == text:
            groups[-1] = (groups[-1][0], i, text)
        else:
            groups.append((i, i, text))
    parts = []
    for first, last, text in groups:
        days = (
            lang.voice.days[first]
            if first == last
            else lang.voice.day_range.format(first=lang.voice.days[first], last=lang.voice.days[last])
        )
        parts.append(f"{days} {text}")
    return lang.voice.list_separator.join(parts)
