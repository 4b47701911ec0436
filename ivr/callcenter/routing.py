"""Routing: which department queue and priority a caller gets, and the hand-off to that queue.

`route()` decides from the issue, the language and whether the caller is verified;
`hand_off()` is the one place the menu gives a caller to the queueing engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr.callcenter.calls import CallRecord, CallWriter
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.queues import Queues
from ivr.callcenter.returning import ReturningCallers
from ivr.hotline.hours import department_open
from ivr.hotline.schema import HotlineFile
from ivr.jobs import JobQueue


@dataclass(frozen=True)
class Route:
    """Where a caller goes."""

    department: str
    priority: str
    rank: int
    issue: str


def route(cfg: HotlineFile, call: CallRecord, when: datetime) -> Route | None:
    """The department and priority for this call, or None when nobody can take it now.

    The issue picks the department (per language when the file says so); a verified caller may
    get a higher class (security first); a closed department passes its callers on.
    """
    issue_name = call.get("issue", "other")
    issue = cfg.issues.get(issue_name) or cfg.issues["other"]
    department = issue.language_departments.get(call.get("lang"), issue.department)
    priority = issue.priority
    if call.verified and issue.verified_priority:
        priority = issue.verified_priority
    seen = set()
    while not department_open(cfg, department, when):
        seen.add(department)
        department = cfg.departments[department].when_closed or ""
        if not department or department in seen:
            return None
    return Route(department=department, priority=priority, rank=cfg.priorities[priority], issue=issue_name)


class QueueDoor:
    """The entrance to the department queues (the queueing engine owns what happens inside)."""

    def __init__(self, queues: Queues, jobs: JobQueue, returning: ReturningCallers | None = None) -> None:
        self.queues = queues
        self.jobs = jobs
        self.returning = returning

    def hand_off(
        self, writer: CallWriter, call: CallRecord, target: Route, capacity: int, when: datetime
    ) -> None:
        """Put the caller in the department queue, in the webhook's single write."""
        writer.set(
            department=target.department,
            priority=target.priority,
            issue=target.issue,
            queued_at=when.isoformat(),
        )
        writer.move(CallStatus.QUEUED, (CallStatus.MENU, CallStatus.CLOSED, CallStatus.QUEUED))
        day = call.day
        locale = call.get("lang") or self.queues.locales[0]
        if self.returning is not None:  # a caller who hung up waiting moments ago: their old place
            returning = self.returning
            writer.also(
                lambda pipe: returning.join(
                    pipe, call, target.department, locale, target.rank, when, capacity, day
                )
            )
        else:
            writer.also(
                lambda pipe: self.queues.join(
                    call.sid, target.department, locale, target.rank, when, capacity, day, pipe=pipe
                )
            )
        # The matcher looks for a ready agent at once, in a worker (it calls Twilio's REST API).
        writer.also(lambda pipe: self.jobs.match_department(pipe, target.department))
