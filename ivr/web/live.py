"""The pages' live streams (server-sent events) and what they carry.

`GET /live/agent` streams the signed-in agent's desk (state, since, reason, the screen pop of
their current call) each time an event names them; `GET /live/wallboard` streams the supervisor's
figures each time the process's hub computes them (ivr/web/push.py). Both send a keep-alive
comment every `KEEPALIVE_SECONDS` (a page that went away is noticed at the next write, and
its thread freed) and end after `STREAM_SECONDS`: the browser's EventSource
reconnects by itself (`retry:`), and a session that ended meanwhile is then refused (401).
A process already streaming to `push_streams` pages answers 503 with Retry-After: the page tries
again later, and the threads Twilio's webhooks need are never all taken by pages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, stream_with_context

from ivr.api.reports import Day, day_events, intervals
from ivr.api.schemas import AgentsReport, QueuesReport, ScreenPop
from ivr.api.sessions import session_principal
from ivr.api.supervisor import statistics
from ivr.callcenter.agents import ON_CALL, RINGING, WRAP_UP
from ivr.callcenter.events import EventLog
from ivr.callcenter.screenpop import screen_pop
from ivr.clock import business_day
from ivr.followup.surveys import Surveys
from ivr.services import Services, services, services_of
from ivr.store import listener
from ivr.waits.profile import HOURS_OF_WEEK, DepartmentProfile
from ivr.web.push import BLOCK_SECONDS, Hub, Subscriber

bp = Blueprint("live", __name__)

EXTENSION = "hotline.push"
KEEPALIVE_SECONDS = 5.0  # also how soon a closed page frees its thread (the next write fails)
STREAM_SECONDS = 300.0
INTERVALS_EVERY_SECONDS = 60.0
WITH_CALL = (RINGING, ON_CALL, WRAP_UP)


def desk_state(hotline: Services, agent_id: str) -> dict[str, Any]:
    """What the agent desktop shows: the agent's state and their current call's screen pop."""
    agent, now = hotline.agents.get(agent_id), hotline.clock.now()
    if agent is None:
        return {"agent": None, "call": None, "now": now.isoformat()}
    call = None
    record = hotline.calls.load(agent.call_sid) if agent.call_sid and agent.state in WITH_CALL else None
    if record is not None:
        pop = screen_pop(hotline.stores.data, record, now)
        call = ScreenPop.model_validate(pop).model_dump(mode="json")
    return {
        "agent": {
            "id": agent.id,
            "name": agent.name,
            "state": agent.state,
            "since": agent.state_since.isoformat(),
            "reason": agent.reason,
            "departments": sorted(agent.departments),
        },
        "call": call,
        "now": now.isoformat(),
    }


class TodayIntervals:
    """Today's 15-minute intervals (all departments), read from the event log at most once a minute.

    The read grows with the day's events, not with the boards: the hub's snapshot carries it.
    """

    def __init__(self, hotline: Services, every: float = INTERVALS_EVERY_SECONDS) -> None:
        self.hotline, self.every = hotline, every
        self._read_at = float("-inf")
        self._rows: list[dict[str, Any]] = []

    def rows(self) -> list[dict[str, Any]]:
        """Per interval of today: offered, answered, abandoned, answered within the service level."""
        if time.monotonic() - self._read_at >= self.every:
            settings, clock = self.hotline.config.file.hotline, self.hotline.clock
            day = Day.of(business_day(clock.now(), settings.timezone), settings.timezone)
            events = day_events(EventLog(self.hotline.stores.data), clock, day.start, day.end)
            totals: dict[str, dict[str, Any]] = {}
            for row in intervals(events, day, settings.service_level_seconds, clock):
                total = totals.setdefault(
                    row["start"],
                    {"start": row["start"], "offered": 0, "answered": 0, "abandoned": 0, "within": 0},
                )
                for name in ("offered", "answered", "abandoned"):
                    total[name] += row[name]
                total["within"] += row["answered_within"]
            self._rows, self._read_at = [totals[k] for k in sorted(totals)], time.monotonic()
        return self._rows


class WeekLoad:
    """Each department's hour-of-week profile (expected calls an hour), read once a minute.

    The profile changes when the rollup job runs (every 5 minutes): one HGETALL per department.
    """

    def __init__(self, hotline: Services, every: float = INTERVALS_EVERY_SECONDS) -> None:
        self.hotline, self.every = hotline, every
        self._read_at = float("-inf")
        self._load: dict[str, dict[str, Any]] = {}

    def by_department(self) -> dict[str, dict[str, Any]]:
        """Per department: `calls`, 168 expected calls an hour, Monday 00:00 first (the peak hours
        come with the queue report, as the supervisor API names them)."""
        if time.monotonic() - self._read_at >= self.every:
            cfg, conn = self.hotline.config.file, self.hotline.stores.data
            load = {}
            for dept in cfg.departments:
                profile = DepartmentProfile.load(conn, cfg, dept)
                calls = [round(profile.outlook(how).arrivals_per_hour, 1) for how in range(HOURS_OF_WEEK)]
                load[dept] = {"calls": calls}
            self._load, self._read_at = load, time.monotonic()
        return self._load


def board_state(
    hotline: Services, today: TodayIntervals | None = None, week: WeekLoad | None = None
) -> dict[str, Any]:
    """What every wallboard shows: the supervisor API's queue and agent reports, and the marks."""
    stats, now = statistics(hotline), hotline.clock.now()
    board = hotline.config.file.wallboard
    day = business_day(now, hotline.config.file.hotline.timezone)
    return {
        "intervals": today.rows() if today is not None else [],
        "week": week.by_department() if week is not None else {},
        "surveys": Surveys(hotline.stores.data).results(day),  # one HGETALL
        "queues": QueuesReport.model_validate(stats.queue_report(now)).model_dump(mode="json"),
        "agents": AgentsReport.model_validate(stats.agent_report(now)).model_dump(mode="json"),
        "thresholds": {
            "service_level_target": board.service_level_target,
            "longest_wait_alert_seconds": board.longest_wait_alert_seconds,
            "abandonment_alert": board.abandonment_alert,
        },
        "now": now.isoformat(),
    }


def install_hub(app: Flask) -> Hub:
    """The app's hub (one per process: its thread starts with the first page, after any fork)."""
    hotline = services_of(app)
    today, week = TodayIntervals(hotline), WeekLoad(hotline)
    hub = Hub(
        lambda: listener(hotline.stores.url, BLOCK_SECONDS),
        lambda: board_state(hotline, today, week),
        limit=hotline.settings.push_streams,
    )
    app.extensions[EXTENSION] = hub
    return hub


def hub_of(app: Flask) -> Hub:
    """The app's hub."""
    hub = app.extensions[EXTENSION]
    if not isinstance(hub, Hub):
        raise TypeError(f"app.extensions[{EXTENSION!r}] holds {type(hub).__name__}, not Hub")
    return hub


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream(sub: Subscriber, hub: Hub, render: Callable[[Any], dict[str, Any] | None], name: str) -> Response:
    """An event stream of `render(item)` for each item the subscriber gets (None: the first)."""

    def events() -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"
            first = render(None)
            if first is not None:
                yield _sse(name, first)
            ends = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < ends:
                item = sub.wait(KEEPALIVE_SECONDS)
                if hub.closing.is_set():
                    return  # the process stops: the page reconnects (`retry:`) to one that runs
                if item is None:
                    yield ": keep-alive\n\n"
                    continue
                data = render(item)
                if data is not None:
                    yield _sse(name, data)
        finally:
            hub.unsubscribe(sub)

    return Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _busy() -> Response:
    return Response("too many live pages on this process; retrying", 503, headers={"Retry-After": "5"})


@bp.get("/live/agent")
def live_agent() -> Response:
    """The signed-in agent's desk, pushed whenever an event names them."""
    hotline = services()
    who = session_principal(hotline.stores.data)
    if who is None or who.role != "agent":
        abort(401, description="sign in as an agent")
    hub = hub_of_current()
    sub = hub.subscribe(who.subject)
    if sub is None:
        return _busy()
    return _stream(sub, hub, lambda _item: desk_state(hotline, who.subject), "desk")


@bp.get("/live/wallboard")
def live_wallboard() -> Response:
    """The wallboard's figures, pushed when the process's hub computes them (shared by all boards)."""
    hotline = services()
    who = session_principal(hotline.stores.data)
    if who is None or who.role != "supervisor":
        abort(401, description="sign in as a supervisor")
    hub = hub_of_current()
    sub = hub.subscribe()
    if sub is None:
        return _busy()
    # The first snapshot comes from the hub (shared); a board opened before any is computed waits
    # for the hub's next one, at most a moment.
    return _stream(sub, hub, lambda item: item if isinstance(item, dict) else None, "board")


def hub_of_current() -> Hub:
    """The hub of the app serving this request."""
    return hub_of(current_app)
