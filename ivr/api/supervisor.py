"""The supervisor's API: queue statistics and agents, for a supervisor's token only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from ivr.api.auth import require
from ivr.api.errors import BadField, query_int
from ivr.api.schemas import AgentsReport, FollowupsReport, QueuesReport, TicketsReport
from ivr.api.statistics import agent_report, followup_report, queue_report
from ivr.followup.tickets import MAX_LIST, Tickets

bp = Blueprint("supervisor_api", __name__, url_prefix="/supervisor")


@bp.get("/queues")
@require("supervisor")
def queues() -> dict[str, Any]:
    """Per department: waiting, waits, agents by state, and today's offered/answered/abandoned."""
    hotline = current_app.extensions["hotline"]
    report = queue_report(hotline, hotline.clock.now())
    return QueuesReport.model_validate(report).model_dump(mode="json")


@bp.get("/agents")
@require("supervisor")
def agents() -> dict[str, Any]:
    """Per agent: state and seconds in it, current or last call, calls answered today."""
    hotline = current_app.extensions["hotline"]
    report = agent_report(hotline, hotline.clock.now())
    return AgentsReport.model_validate(report).model_dump(mode="json")


@bp.get("/followups")
@require("supervisor")
def followups() -> dict[str, Any]:
    """Today after the calls: survey results per agent and department, voicemails, messages."""
    hotline = current_app.extensions["hotline"]
    report = followup_report(hotline, hotline.clock.now())
    return FollowupsReport.model_validate(report).model_dump(mode="json")


@bp.get("/tickets")
@require("supervisor")
def tickets() -> dict[str, Any]:
    """A department's newest voicemail tickets (`?department=payments&limit=20`)."""
    hotline = current_app.extensions["hotline"]
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
