"""How a call ends: told by Twilio's status callback, or found out by asking Twilio (the reaper).

Both paths run `call_ended`, so a hang-up whose notice was lost ends the call exactly as the notice
would have: the record closed (once: the closing script is idempotent), a waiting caller taken out
of the queue and counted as abandoned, a ringing agent freed, a talking agent sent to wrap-up.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from ivr.callcenter.calls import CallRecord
from ivr.callcenter.lifecycle import CallStatus
from ivr.followup.sms import WANTED

if TYPE_CHECKING:
    from ivr.app import Hotline

log = logging.getLogger(__name__)


def call_ended(hotline: Hotline, record: CallRecord, now: datetime, call_status: str, duration: int) -> str:
    """Close the call; the status it had when it closed ('' when it was already closed)."""
    sid = record.sid
    pipe = hotline.stores.data.pipeline(transaction=False)
    hotline.calls.close(pipe, record, now, call_status[:20], duration)
    department = record.get("department")
    if record.get("status") == CallStatus.QUEUED and department in hotline.config.file.departments:
        queued_at = datetime.fromisoformat(record.get("queued_at") or now.isoformat())
        waited_ms = int((now - queued_at).total_seconds() * 1000)
        hotline.returning.remember(pipe, record, department)  # for a call back within minutes
        hotline.queues.leave(
            sid, department, record.get("day"), abandoned=True, waited_ms=waited_ms, pipe=pipe
        )
    closed = pipe.execute()[0]
    if not closed:
        return ""
    closed_status = str(closed)
    messages = hotline.config.file.messages
    if record.get("sms") == WANTED and messages is not None:
        # The caller asked for their reference number by SMS: a worker sends it, once.
        hotline.jobs.send_call_summary(sid, messages.retry_seconds)
    if closed_status in (CallStatus.CONNECTING, CallStatus.ON_CALL):
        # Read again: the agent may have been assigned after `record` was read.
        fresh = hotline.calls.load(sid) or record
        hotline.connections.caller_hung_up(fresh, now, closed_status)
        agent_id = fresh.get("agent")
        if closed_status == CallStatus.CONNECTING and agent_id:
            hotline.jobs.match_agent(None, agent_id)  # free again: the next caller, if any
    return closed_status
