"""The hotline's clock, not the machine's, says what "today" and "since" are.

The app runs on a `FixedClock` at 17:30 UTC on a Tuesday: 01:30 on Wednesday in Shanghai, the
hotline's time zone, while the machine's clock reads some other day altogether. Payments is open
around the clock here, so that callers reach it at that hour. The supervisor's reports and the
wallboard cut the event log into the hotline's Wednesday; an agent loaded at start is offline
since the hotline clock's instant, and their time in state runs on that clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from ivr.clock import FixedClock
from standin.phone import Call
from standin.rest.switchboard import Switchboard
from tests.conftest import hotline_app, hotline_variant
from tests.test_api import Api, api, connect, later, payments_caller, token_for
from tests.test_desk_pages import sign_in

__all__ = ["api"]  # the fixture, shared with the API tests

NIGHT = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # Tue 17:30 UTC = Wed 01:30 in Shanghai
HOTLINE_DAY = "261125"
INTERVAL = "2026-11-25T01:30:00+08:00"
SOON = 15.0  # s: a bound for the live push's first snapshot on a loaded machine, not a timing


@pytest.fixture
def app(
    app_settings: dict[str, Any],
    redis_conn: redis.Redis,
    clock: FixedClock,
    tmp_path: Path,
    switchboard: Switchboard,
) -> Iterator[Flask]:
    """The hotline with payments open at night, its clock at `NIGHT` from its start."""
    clock.set(NIGHT)

    def always_open(data: dict[str, Any]) -> None:
        data["departments"]["payments"]["hours"] = "always"

    path = hotline_variant(tmp_path, always_open, source=app_settings["hotline_config"])
    yield from hotline_app(app_settings, clock, path, switchboard)


def calls_of_the_night(app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None]) -> None:
    """li_na serves one payments caller; another hangs up on hold."""
    served = payments_caller(dial)
    connect(api, token_for(app, "agent", "li_na"), served, run_jobs)
    payments_caller(dial, from_="+8613912345678").hangup()
    served.dial_result("completed", duration=60)


def first_board(app: Flask) -> dict[str, Any]:
    """The first figures `/live/wallboard` pushes to a signed-in supervisor's page."""
    client = app.test_client()
    sign_in(client, token_for(app, "supervisor", "zhang_min"), role="supervisor")
    resp = client.get("/live/wallboard", buffered=False)
    assert resp.status_code == 200
    try:
        for chunk in resp.response:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if text.startswith("event: board"):
                return dict(json.loads(text.split("data: ", 1)[1]))
    finally:
        resp.close()  # the stream ends: the hub drops the page
    raise AssertionError("the wallboard stream ended without figures")


def test_the_reports_today_is_the_hotline_clocks_day(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    calls_of_the_night(app, api, dial, run_jobs)
    supervisor = token_for(app, "supervisor", "zhang_min")

    intervals = api.get("/api/supervisor/reports/intervals", supervisor).get_json()  # today
    assert intervals["day"] == HOTLINE_DAY
    payments = [row for row in intervals["intervals"] if row["department"] == "payments"]
    assert [(r["start"], r["offered"], r["answered"], r["abandoned"]) for r in payments] == [
        (INTERVAL, 2, 1, 1)
    ]

    agents = api.get("/api/supervisor/reports/agents", supervisor).get_json()
    assert agents["day"] == HOTLINE_DAY
    li_na = next(row for row in agents["agents"] if row["agent"] == "li_na")
    assert (li_na["offered"], li_na["answered"], li_na["missed"]) == (1, 1, 0)

    # The UTC day of the same instant is the hotline's yesterday: none of tonight's calls are in it.
    utc_day = NIGHT.strftime("%y%m%d")
    assert (
        api.get(f"/api/supervisor/reports/intervals?day={utc_day}", supervisor).get_json()["intervals"] == []
    )


def test_the_wallboards_today_is_the_hotline_clocks_day(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    calls_of_the_night(app, api, dial, run_jobs)
    board = first_board(app)
    assert board["now"] == NIGHT.isoformat() and board["queues"]["day"] == HOTLINE_DAY
    assert [(r["start"], r["offered"], r["answered"], r["abandoned"]) for r in board["intervals"]] == [
        (INTERVAL, 2, 1, 1)
    ]


def test_an_agent_loaded_at_start_is_offline_since_the_hotline_clocks_instant(
    app: Flask, api: Api, clock: FixedClock
) -> None:
    """Not since the machine's time: a simulated clock's start showed "offline for 10 h"."""
    li_na = token_for(app, "agent", "li_na")
    me = api.get("/api/agent/me", li_na).get_json()
    assert (me["state"], datetime.fromisoformat(me["since"]), me["seconds_in_state"]) == ("offline", NIGHT, 0)
    later(clock, 600)
    assert api.get("/api/agent/me", li_na).get_json()["seconds_in_state"] == 600
    supervisor = token_for(app, "supervisor", "zhang_min")
    agents = api.get("/api/supervisor/agents", supervisor).get_json()["agents"]
    row = next(a for a in agents if a["id"] == "li_na")
    assert (datetime.fromisoformat(row["since"]), row["seconds_in_state"]) == (NIGHT, 600)
    assert NIGHT + timedelta(seconds=600) == clock.now()
