"""What happens around a connection: the agent answers, the Dial ends, someone hangs up.

The caller's call record says where the call is: `queued` (waiting), `connecting` (an agent's
phone rings), `on_call` (talking), `served` (the agent hung up), `ended`. Each event below is
safe to receive twice (Twilio retries; the Dial action and the status callback both report a
hang-up): a repeat finds the state already moved and changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis

from ivr import keys
from ivr.callcenter.agents import Agents, StateConflict
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.lifecycle import CallLife, CallStatus
from ivr.callcenter.queues import Queues
from ivr.hotline.schema import HotlineFile
from ivr.waits.learned import wait_counts

log = logging.getLogger(__name__)

ANSWERED = ("completed", "answered")
NOT_REACHED = ("no-answer", "busy", "failed")
# A caller going back to their own place is never refused for a full queue: they had the place.
REQUEUE_CAPACITY = 10**9


class Connections:
    """Connection events of one hotline."""

    def __init__(self, cfg: HotlineFile, conn: redis.Redis, agents: Agents, queues: Queues) -> None:
        self.cfg, self.conn, self.agents, self.queues = cfg, conn, agents, queues
        self.life = CallLife(conn)

    def _stats(self, call: CallRecord) -> str:
        return keys.department_stats(call.get("department"), call.day)

    def answered(self, call: CallRecord, agent_id: str, now: datetime) -> bool:
        """The agent picked up (their whisper is being played). False for a stale or repeated event."""
        if call.get("status") != CallStatus.CONNECTING or call.get("agent") != agent_id:
            return False
        try:
            self.agents.answered(agent_id, now, call.get("department"))
        except StateConflict:
            return False
        moved = self.life.move(
            call.sid, CallStatus.ON_CALL, expect={"agent": agent_id}, answered_at=now.isoformat()
        )
        if moved is None:  # the caller hung up as the agent answered: nothing to bridge
            self._finish_leg(agent_id, now, 0)
            return False
        queued_at = datetime.fromisoformat(call.get("queued_at") or now.isoformat())
        waited_ms = max(int((now - queued_at).total_seconds() * 1000), 0)
        pipe = self.conn.pipeline(transaction=True)
        stats = self._stats(call)
        pipe.hincrby(stats, "answered", 1)
        pipe.hincrby(stats, "answered_wait_ms", waited_ms)
        for field, n in wait_counts(waited_ms, abandoned=False).items():  # patience's exposure
            pipe.hincrby(stats, field, n)
        if waited_ms <= self.cfg.hotline.service_level_seconds * 1000:
            pipe.hincrby(stats, "answered_in_sl", 1)
        pipe.expire(stats, keys.STATS_TTL_SECONDS)
        day_calls = keys.agent_calls(call.day)
        pipe.hincrby(day_calls, agent_id, 1)
        pipe.expire(day_calls, keys.STATS_TTL_SECONDS)
        pipe.execute()
        return True

    def dial_ended(
        self, call: CallRecord, agent_id: str, dial_status: str, duration: int, now: datetime
    ) -> str:
        """The agent's leg ended. Returns what the caller does next: 'done', 'requeued' or 'gone'.

        Or 'transferred': the leg of an agent who transferred the caller, reported after the
        transfer moved the caller on (see transfers.py); nothing about the call changes.
        """
        if call.get("transferred_by") == agent_id and call.get("agent") != agent_id:
            return "transferred"
        status = call.get("status")
        if status == CallStatus.CONNECTING and dial_status in ANSWERED and duration <= 0:
            dial_status = "canceled"  # ended before the bridge: the caller hung up while it rang
        if dial_status in ANSWERED and status in (
            CallStatus.ON_CALL,
            CallStatus.CONNECTING,
            CallStatus.SERVED,
        ):
            if status != CallStatus.SERVED:
                self._finish(call, agent_id, duration, now)
            return "done"
        if dial_status in NOT_REACHED and status == CallStatus.CONNECTING:
            try:
                self.agents.missed(agent_id, now, reason=dial_status)
            except StateConflict:
                pass  # the agent changed state meanwhile; the caller is requeued all the same
            self.requeue(call, now)
            return "requeued"
        if status == CallStatus.CONNECTING:  # canceled: the caller hung up while the agent's phone rang
            self._free(agent_id, now)
            return "gone"
        if status == CallStatus.QUEUED and not call.get("ended_at"):
            return "requeued"  # the match was undone meanwhile (its lease expired): back on hold
        return "done" if status in (CallStatus.SERVED, CallStatus.ENDED) else "gone"

    def requeue(self, call: CallRecord, now: datetime) -> bool:
        """Back at the caller's own place: same department, class and arrival. False if not connecting."""
        department = call.get("department")
        score = int(call.get("queue_score") or 0) or None
        rank = self.cfg.priorities.get(call.get("priority"), 0)
        locale = call.get("lang") or self.queues.locales[0]
        # The agent's leg of a room is forgotten with the agent: the next match places its own.
        if (
            self.life.move(call.sid, CallStatus.QUEUED, (CallStatus.CONNECTING,), agent="", agent_leg="")
            is None
        ):
            return False
        self.queues.join(
            call.sid,
            department,
            locale,
            rank,
            now,
            REQUEUE_CAPACITY,
            call.day,
            score=score,
            offer=False,
            on_line=not call.get("cb_call"),  # a customer's leg is not the call the reaper can ask about
        )
        return True

    def caller_hung_up(self, call: CallRecord, now: datetime, status: str) -> None:
        """The caller's call ended (its record just closed) while `status` (connecting or talking).

        A caller who gave up while the agent's phone rang is an abandoned call of the department,
        counted here once: only the closing of the record (idempotent) leads here.
        """
        agent_id = call.get("agent")
        if status == CallStatus.CONNECTING and call.get("department") in self.cfg.departments:
            queued_at = datetime.fromisoformat(call.get("queued_at") or now.isoformat())
            self.queues.count_abandoned(call.get("department"), call.day, now - queued_at)
        if not agent_id:
            return
        if status == CallStatus.CONNECTING:
            self._free(agent_id, now)
        elif status == CallStatus.ON_CALL:
            answered = datetime.fromisoformat(call.get("answered_at") or now.isoformat())
            self._finish(call, agent_id, int((now - answered).total_seconds()), now)

    def _free(self, agent_id: str, now: datetime) -> None:
        try:
            self.agents.caller_gone(agent_id, now)
        except StateConflict:
            pass

    def _finish_leg(self, agent_id: str, now: datetime, wrap: int) -> bool:
        try:
            self.agents.finished(agent_id, now, wrap)
        except StateConflict:
            return False  # already finished by the other report of the same hang-up
        return True

    def _finish(self, call: CallRecord, agent_id: str, duration: int, now: datetime) -> None:
        department = self.cfg.departments.get(call.get("department"))
        if not self._finish_leg(agent_id, now, department.wrap_up_seconds if department else 30):
            return
        # Served unless the caller's hang-up closed the record first (then it stays ended).
        self.life.move(call.sid, CallStatus.SERVED, served_at=now.isoformat())
        pipe = self.conn.pipeline(transaction=True)
        stats = self._stats(call)
        pipe.hincrby(stats, "handled", 1)
        pipe.hincrby(stats, "handle_ms", max(duration, 0) * 1000)
        pipe.hincrbyfloat(stats, "handle_sq", float(max(duration, 0)) ** 2)  # their spread, for waits
        pipe.execute()
