"""The supervisor's API: queue statistics and agents, for a supervisor's token only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from ivr.api.auth import require
from ivr.api.schemas import AgentsReport, QueuesReport
from ivr.api.statistics import agent_report, queue_report

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
