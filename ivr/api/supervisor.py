"""The supervisor's API: queue statistics and agents, for a supervisor's token only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, abort, request

from ivr import keys, routes
from ivr.api.auth import principal, require
from ivr.api.errors import BadField, parse_body, query_int
from ivr.api.reports import Day, as_csv, day_events
from ivr.api.reports import agents as agent_days
from ivr.api.reports import intervals as interval_rows
from ivr.api.schemas import (
    API_STATE,
    AgentDayReport,
    AgentDayRow,
    AgentForced,
    AgentsReport,
    FollowupsReport,
    IntervalReport,
    IntervalRow,
    Monitored,
    MonitorRequest,
    QueuesReport,
    RecordingInfo,
    RecordingsReport,
    StateChange,
    TicketsReport,
)
from ivr.api.statistics import Statistics
from ivr.callcenter.agents import StateConflict
from ivr.callcenter.calls import CallRecord, recordings_of
from ivr.callcenter.events import EventLog
from ivr.callcenter.rooms import RoomRefused
from ivr.callcenter.supervision import Supervision
from ivr.clock import business_day
from ivr.digits import is_digits
from ivr.followup.tickets import MAX_LIST, Tickets
from ivr.redis_types import text_or_none
from ivr.services import Services, services
from ivr.urlstate import HOLD_AGAIN

bp = Blueprint("supervisor_api", __name__, url_prefix="/supervisor")


@bp.get("/queues")
@require("supervisor")
def queues() -> dict[str, Any]:
    """Per department: waiting, waits, agents by state, and today's offered/answered/abandoned."""
    hotline = services()
    report = statistics(hotline).queue_report(hotline.clock.now())
    return QueuesReport.model_validate(report).model_dump(mode="json")


@bp.get("/agents")
@require("supervisor")
def agents() -> dict[str, Any]:
    """Per agent: state and seconds in it, current or last call, calls answered today."""
    hotline = services()
    report = statistics(hotline).agent_report(hotline.clock.now())
    return AgentsReport.model_validate(report).model_dump(mode="json")


@bp.get("/followups")
@require("supervisor")
def followups() -> dict[str, Any]:
    """Today after the calls: survey results per agent and department, voicemails, messages."""
    hotline = services()
    report = statistics(hotline).followup_report(hotline.clock.now())
    return FollowupsReport.model_validate(report).model_dump(mode="json")


@bp.get("/tickets")
@require("supervisor")
def tickets() -> dict[str, Any]:
    """A department's newest voicemail tickets (`?department=payments&limit=20`)."""
    hotline = services()
    department = request.args.get("department", "")
    if department not in hotline.config.file.departments:
        known = ", ".join(hotline.config.file.departments)
        raise BadField("department", f"give one of {known}")
    limit = query_int("limit", 20, 1, MAX_LIST)
    rows = Tickets(hotline.stores.data).recent(department, limit)
    report = {
        "department": department,
        "tickets": [
            {
                **row,
                "caller": row.get("caller") or None,
                "recording_seconds": int(row.get("recording_seconds") or 0),
                "transcription": row.get("transcription"),
                "transcription_status": row.get("transcription_status"),
            }
            for row in rows
        ],
    }
    return TicketsReport.model_validate(report).model_dump(mode="json")


def statistics(hotline: Services) -> Statistics:
    """The supervisor's reports, from the services they read."""
    return Statistics(
        hotline.config.file,
        hotline.stores.data,
        agents=hotline.agents,
        queues=hotline.queues,
        limits=hotline.limits,
        jobs=hotline.jobs,
        clock=hotline.clock,
    )


def supervision(hotline: Services) -> Supervision:
    """Forcing agents' states, with the caller of a ringing agent sent back to the hold loop."""
    connector = hotline.connector
    return Supervision(
        hotline.stores.data,
        hotline.agents,
        hotline.calls,
        hotline.connections,
        hotline.callbacks,
        hotline.jobs,
        send_to_hold=lambda sid: connector.redirect(sid, routes.path("hold", HOLD_AGAIN)),
    )


@bp.put("/agents/<agent_id>/state")
@require("supervisor")
def force_state(agent_id: str) -> dict[str, Any]:
    """Set an agent's state (ready, not ready with a reason, offline) whatever it is now."""
    body = parse_body(StateChange)
    hotline = services()
    try:
        forced = supervision(hotline).force(
            agent_id, body.state, hotline.clock.now(), reason=body.reason, by=principal().subject
        )
    except LookupError:
        abort(404, description=f"no agent {agent_id!r}")
    except StateConflict as exc:
        abort(409, description=str(exc))
    ref = (
        text_or_none(hotline.stores.data.hget(keys.call(forced.call_sid), "ref")) if forced.call_sid else None
    )
    return AgentForced(
        id=forced.agent,
        state=API_STATE[forced.state],
        previous=API_STATE[forced.previous],
        since=forced.since,
        caller=forced.caller or None,
        call=ref if forced.caller else None,
    ).model_dump(mode="json")


def _report_day() -> Day:
    """The `day` query parameter (yymmdd, the hotline's today by default), if the event log keeps it."""
    hotline = services()
    settings = hotline.config.file.hotline
    now = hotline.clock.now()
    name = request.args.get("day") or business_day(now, settings.timezone)
    try:
        day = Day.of(name, settings.timezone) if len(name) == 6 and name.isdigit() else None
    except ValueError:
        day = None
    if day is None:
        raise BadField("day", f"a day as yymmdd, not {name[:20]!r}")
    if day.end < now - timedelta(days=settings.event_log_days) or day.start > now:
        abort(404, description=f"the event log keeps the last {settings.event_log_days} days, not {name}")
    return day


def _as_requested(report: dict[str, Any], rows: list[dict[str, Any]], columns: list[str], name: str) -> Any:
    """JSON, or CSV to download with `?format=csv`."""
    wanted = request.args.get("format", "json")
    if wanted not in ("json", "csv"):
        raise BadField("format", "json or csv")
    if wanted == "json":
        return report
    return Response(
        as_csv(rows, columns),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@bp.get("/reports/intervals")
@require("supervisor")
def interval_report() -> Any:
    """A day in 15-minute intervals per department: offered, answered, abandoned, service level."""
    hotline, day = services(), _report_day()
    events = day_events(EventLog(hotline.stores.data), hotline.clock, day.start, day.end)
    level = hotline.config.file.hotline.service_level_seconds
    rows = interval_rows(events, day, level, hotline.clock)
    report = IntervalReport.model_validate(
        {"day": day.name, "service_level_seconds": level, "intervals": rows}
    ).model_dump(mode="json")
    return _as_requested(report, rows, list(IntervalRow.model_fields), f"intervals-{day.name}")


@bp.get("/reports/agents")
@require("supervisor")
def agent_report() -> Any:
    """A day per agent: calls rung, answered, missed, and the time in each state."""
    hotline, day = services(), _report_day()
    # The day before too: the state each agent was in when the day began.
    events = day_events(EventLog(hotline.stores.data), hotline.clock, day.start - timedelta(days=1), day.end)
    rows = agent_days(events, day, hotline.clock.now(), hotline.clock)
    report = AgentDayReport.model_validate({"day": day.name, "agents": rows}).model_dump(mode="json")
    return _as_requested(report, rows, list(AgentDayRow.model_fields), f"agents-{day.name}")


def _call(ref: str) -> CallRecord:
    """The call with this reference number: 404 if there is none."""
    hotline = services()
    sid = text_or_none(hotline.stores.data.get(keys.reference(ref))) if is_digits(ref) else None
    record = hotline.calls.load(sid) if sid else None
    if record is None:
        abort(404, description=f"no call with reference {ref}")
    return record


@bp.post("/calls/<ref>/monitor")
@require("supervisor")
def monitor(ref: str) -> dict[str, Any]:
    """Listen, coach or barge on a live call (its room), from the supervisor's phone; logged."""
    body = parse_body(MonitorRequest)
    hotline = services()
    record = _call(ref)
    base = hotline.settings.public_base_url or request.host_url.rstrip("/")
    try:
        done = hotline.monitoring.join(record, principal().subject, body.mode, body.reach, base)
    except RoomRefused as exc:
        abort(409, description=str(exc))
    return Monitored(ref=done.ref, supervisor=done.supervisor, mode=done.mode).model_dump(mode="json")


@bp.delete("/calls/<ref>/monitor")
@require("supervisor")
def stop_monitoring(ref: str) -> dict[str, Any]:
    """The supervisor leaves the call; logged."""
    hotline = services()
    try:
        done = hotline.monitoring.leave(_call(ref), principal().subject)
    except RoomRefused as exc:
        abort(409, description=str(exc))
    return Monitored(ref=done.ref, supervisor=done.supervisor, mode=None).model_dump(mode="json")


@bp.get("/calls/<ref>/recordings")
@require("supervisor")
def call_recordings(ref: str) -> dict[str, Any]:
    """A call's recordings, as their status callbacks reported them."""
    record = _call(ref)
    found = [
        RecordingInfo(sid=r.sid, status=r.status, url=r.url, duration_seconds=r.seconds)
        for r in recordings_of(record)
    ]
    return RecordingsReport(ref=record.get("ref"), recordings=found).model_dump(mode="json")
