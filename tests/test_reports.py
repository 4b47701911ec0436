"""Reports of a day from the event log: intervals and agents, as JSON and as a CSV download.

Whole calls through the webhooks (a served caller, one who hangs up on hold), then the
supervisor's reports of today: the interval the calls fell in, and li_na's day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

from flask import Flask

from ivr.clock import business_day
from ivr.services import services_of
from standin.phone import Call
from tests.test_api import Api, api, connect, payments_caller, token_for

__all__ = ["api"]  # the fixture, shared with the API tests


def today(app: Flask) -> str:
    """The hotline clock's day, in the hotline's time zone."""
    hotline = services_of(app)
    return business_day(hotline.clock.now(), hotline.config.file.hotline.timezone)


def test_intervals_and_agents_of_today_as_json_and_csv(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    supervisor, li_na = token_for(app, "supervisor", "zhang_min"), token_for(app, "agent", "li_na")
    served = payments_caller(dial)
    connect(api, li_na, served, run_jobs)
    payments_caller(dial, from_="+8613912345678").hangup()
    served.dial_result("completed", duration=60)

    resp = api.get(f"/api/supervisor/reports/intervals?day={today(app)}", supervisor)
    assert resp.status_code == 200
    report = resp.get_json()
    assert report["day"] == today(app) and report["service_level_seconds"] == 20
    payments = [row for row in report["intervals"] if row["department"] == "payments"]
    assert sum(r["offered"] for r in payments) == 2 and sum(r["answered"] for r in payments) == 1
    assert sum(r["abandoned"] for r in payments) == 1 and sum(r["answered_within"] for r in payments) == 1
    # The hotline's clock stands at 10:30: every entry is read at that instant, in that interval.
    assert [(r["start"], r["service_level"]) for r in payments] == [("2026-11-24T10:30:00+08:00", 0.5)]

    download = api.get(f"/api/supervisor/reports/intervals?day={today(app)}&format=csv", supervisor)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert f'filename="intervals-{today(app)}.csv"' in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert [r["department"] for r in rows] == [r["department"] for r in report["intervals"]]
    assert sum(int(r["offered"]) for r in rows if r["department"] == "payments") == 2

    agents = api.get("/api/supervisor/reports/agents", supervisor).get_json()  # today by default
    row = next(a for a in agents["agents"] if a["agent"] == "li_na")
    assert (row["offered"], row["answered"], row["missed"]) == (1, 1, 0)
    assert row["wrap_up_seconds"] >= 0 and row["on_call_seconds"] >= 0
    download = api.get("/api/supervisor/reports/agents?format=csv", supervisor)
    header = download.get_data(as_text=True).splitlines()[0]
    assert (
        header
        == "agent,offered,answered,missed,ready_seconds,on_call_seconds,wrap_up_seconds,not_ready_seconds"
    )


def test_a_day_not_kept_or_not_a_day_is_refused(app: Flask, api: Api) -> None:
    supervisor = token_for(app, "supervisor", "zhang_min")
    old = (services_of(app).clock.now() - timedelta(days=30)).strftime("%y%m%d")
    resp = api.get(f"/api/supervisor/reports/intervals?day={old}", supervisor)
    assert resp.status_code == 404 and "keeps the last 8 days" in resp.get_json()["error"]
    for bad in ("261340", "yesterday", "2611240"):
        resp = api.get(f"/api/supervisor/reports/agents?day={bad}", supervisor)
        assert resp.status_code == 400 and resp.get_json()["field"] == "day"
    resp = api.get("/api/supervisor/reports/agents?format=xml", supervisor)
    assert resp.status_code == 400 and resp.get_json()["field"] == "format"
    assert api.get("/api/supervisor/reports/agents", token_for(app, "agent", "li_na")).status_code == 403
