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
from ivr.callcenter.queues import Queues
from ivr.hotline.schema import HotlineFile

log = logging.getLogger(__name__)

ANSWERED = ("completed", "answered")
NOT_REACHED = ("no-answer", "busy", "failed")
# A caller going back to their own place is never refused for a full queue: they had the place.
REQUEUE_CAPACITY = 10**9


class Connections:
    """Connection events of one hotline."""

    def __init__(self, cfg: HotlineFile, conn: redis.Redis, agents: Agents, queues: Queues) -> None:
        self.cfg, self.conn, self.agents, self.queues = cfg, conn, agents, queues

    def _stats(self, call: CallRecord) -> str:
        return keys.department_stats(call.get("department"), call.get("day") or "000000")

    def answered(self, call: CallRecord, agent_id: str, now: datetime) -> bool:
        """The agent picked up (their whisper is being played). False for a stale or repeated event."""
        if call.get("status") != "connecting" or call.get("agent") != agent_id:
            return False
        try:
            self.agents.answered(agent_id, now)
        except StateConflict:
            return False
        queued_at = datetime.fromisoformat(call.get("queued_at") or now.isoformat())
        waited_ms = max(int((now - queued_at).total_seconds() * 1000), 0)
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(keys.call(call.sid), mapping={"status": "on_call", "answered_at": now.isoformat()})
        stats = self._stats(call)
        pipe.hincrby(stats, "answered", 1)
        pipe.hincrby(stats, "answered_wait_ms", waited_ms)
        if waited_ms <= self.cfg.hotline.service_level_seconds * 1000:
            pipe.hincrby(stats, "answered_in_sl", 1)
        pipe.expire(stats, keys.STATS_TTL_SECONDS)
        day_calls = keys.agent_calls(call.get("day") or "000000")
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
        if status == "connecting" and dial_status in ANSWERED and duration <= 0:
            dial_status = "canceled"  # ended before the bridge: the caller hung up while it rang
        if dial_status in ANSWERED and status in ("on_call", "connecting", "served"):
            if status != "served":
                self._finish(call, agent_id, duration, now)
            return "done"
        if dial_status in NOT_REACHED and status == "connecting":
            try:
                self.agents.missed(agent_id, now, reason=dial_status)
            except StateConflict:
                pass  # the agent changed state meanwhile; the caller is requeued all the same
            self.requeue(call, now)
            return "requeued"
        if status == "connecting":  # canceled: the caller hung up while the agent's phone rang
            self._free(agent_id, now)
            return "gone"
        return "done" if status in ("served", "ended") else "gone"

    def requeue(self, call: CallRecord, now: datetime) -> None:
        """Back at the caller's own place: same department, class and arrival."""
        department = call.get("department")
        score = int(call.get("queue_score") or 0) or None
        rank = self.cfg.priorities.get(call.get("priority"), 0)
        locale = call.get("lang") or self.queues.locales[0]
        self.conn.hset(keys.call(call.sid), mapping={"status": "queued", "agent": ""})
        self.queues.join(
            call.sid,
            department,
            locale,
            rank,
            now,
            REQUEUE_CAPACITY,
            call.get("day"),
            score=score,
            offer=False,
        )

    def caller_hung_up(self, call: CallRecord, now: datetime, status: str) -> None:
        """The caller's call ended (status callback) while `status` (connecting or talking)."""
        agent_id = call.get("agent")
        if not agent_id:
            return
        if status == "connecting":
            self._free(agent_id, now)
        elif status == "on_call":
            answered = datetime.fromisoformat(call.get("answered_at") or now.isoformat())
            self._finish(call, agent_id, int((now - answered).total_seconds()), now)

    def _free(self, agent_id: str, now: datetime) -> None:
        try:
            self.agents.caller_gone(agent_id, now)
        except StateConflict:
            pass

    def _finish(self, call: CallRecord, agent_id: str, duration: int, now: datetime) -> None:
        wrap = self.cfg.departments[call.get("department")].wrap_up_seconds
        try:
            self.agents.finished(agent_id, now, wrap)
        except StateConflict:
            return  # already finished by the other report of the same hang-up
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(keys.call(call.sid), mapping={"status": "served", "served_at": now.isoformat()})
        stats = self._stats(call)
        pipe.hincrby(stats, "handled", 1)
        pipe.hincrby(stats, "handle_ms", max(duration, 0) * 1000)
        pipe.execute()
