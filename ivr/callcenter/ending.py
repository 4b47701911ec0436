"""How a call ends: told by Twilio's status callback, or found out by asking Twilio (the reaper).

Both paths run `call_ended`, so a hang-up whose notice was lost ends the call exactly as the notice
would have: the record closed (once: the closing script is idempotent), a waiting caller taken out
of the queue and counted as abandoned, a ringing agent freed, a talking agent sent to wrap-up.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis

from ivr.callcenter.calls import CallRecord, CallStore
from ivr.callcenter.connections import Connections
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.queues import Queues
from ivr.callcenter.returning import ReturningCallers
from ivr.callcenter.rooms import Rooms
from ivr.followup.sms import WANTED
from ivr.hotline.schema import HotlineFile
from ivr.jobs import JobQueue

log = logging.getLogger(__name__)


class CallEnding:
    """Ends calls: closes the record, takes a waiting caller out, frees or wraps up the agent."""

    def __init__(
        self,
        cfg: HotlineFile,
        conn: redis.Redis,
        calls: CallStore,
        queues: Queues,
        returning: ReturningCallers,
        connections: Connections,
        jobs: JobQueue,
        rooms: Rooms | None = None,
    ) -> None:
        self.cfg, self.conn, self.calls, self.queues = cfg, conn, calls, queues
        self.returning, self.connections, self.jobs = returning, connections, jobs
        self.rooms = rooms

    def call_ended(self, record: CallRecord, now: datetime, call_status: str, duration: int) -> str:
        """Close the call; the status it had when it closed ('' when it was already closed)."""
        sid = record.sid
        pipe = self.conn.pipeline(transaction=False)
        self.calls.close(pipe, record, now, call_status[:20], duration)
        department = record.get("department")
        if record.get("status") == CallStatus.QUEUED and department in self.cfg.departments:
            queued_at = datetime.fromisoformat(record.get("queued_at") or now.isoformat())
            waited_ms = int((now - queued_at).total_seconds() * 1000)
            self.returning.remember(pipe, record, department)  # for a call back within minutes
            self.queues.leave(sid, department, record.day, abandoned=True, waited_ms=waited_ms, pipe=pipe)
        closed = pipe.execute()[0]
        if not closed:
            return ""
        closed_status = str(closed)
        messages = self.cfg.messages
        if record.get("sms") == WANTED and messages is not None:
            # The caller asked for their reference number by SMS: a worker sends it, once.
            self.jobs.send_call_summary(sid, messages.retry_seconds)
        if closed_status in (CallStatus.CONNECTING, CallStatus.ON_CALL):
            # Read again: the agent may have been assigned after `record` was read.
            fresh = self.calls.load(sid) or record
            self.connections.caller_hung_up(fresh, now, closed_status)
            agent_id = fresh.get("agent")
            if closed_status == CallStatus.CONNECTING and agent_id:
                self.jobs.match_agent(None, agent_id)  # free again: the next caller, if any
                if self.rooms is not None:
                    self.rooms.end_agent_leg(fresh)  # a room's agent leg rings on its own
        return closed_status
