"""Transfers: an agent hands their caller to another department, or to an outside number.

To a department, the caller keeps their place: they rejoin the target department's queue with
the score they had (priority class, then original arrival; see queues.py), so they are served
before everyone who called after them. The agent's notes go on the call record, where the next
agent's screen pop shows them. The caller's live call is then moved by a REST redirect to
`/voice/transfer`, which tells them what is happening and puts them on hold (or dials out).

Order of the steps, and why:
1. the agent moves on_call -> wrap_up (one script on the agent's key: the lock that stops two
   transfers, or a transfer and the hang-up's own `finished`, from both going through);
2. the call record is claimed (one script: still on a call with this agent, not ended) and
   rewritten with the target, the transfer marks and the note;
3. the caller joins the target queue, and the leg is counted as handled in the source department;
4. the REST redirect, then the match job for the target.
A customer the hotline called back is moved the same way: their record keeps their place and
notes, and the REST redirect goes to their own leg (`cb_call`), to `/voice/customer/transfer`
(ivr/voice/customer.py), whose URL carries the original call.
Redirecting the caller ends the agent's Dial leg; Twilio may then request the Dial's action for
that leg. `transferred_by` on the record lets `Connections.dial_ended` tell that late report
from the end of a conversation, so it cannot undo the transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import redis

from ivr import keys, routes
from ivr.callcenter.agents import ON_CALL, Agents, StateConflict
from ivr.callcenter.calls import SHELVE_RECORDING_LUA, CallRecord, CallStore
from ivr.callcenter.connections import REQUEUE_CAPACITY
from ivr.callcenter.events import CALL_EVENT_LUA
from ivr.callcenter.lifecycle import CallStatus, allowed_from
from ivr.callcenter.notes import append_note_lua, note
from ivr.callcenter.queues import Queues
from ivr.hotline.hours import department_open
from ivr.hotline.schema import HotlineFile
from ivr.jobs import JobQueue
from ivr.phones import is_valid_e164
from ivr.scripts import Script
from ivr.urlstate import Attempt, CustomerMove, Transfer

# `note`: JSON, or '' for none; `allowed_from`: ',statuses the new one may come from,' (lifecycle.py,
# narrowed to on_call); `pairs`: field/value pairs to set (the new status among them).
_CLAIM = Script(
    CALL_EVENT_LUA
    + SHELVE_RECORDING_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('no such call') end
local customer = redis.call('HGET', KEYS[1], 'cb_call') or ''
if customer ~= '' then
  -- A called-back customer: the original call ended long ago; their own leg is what counts.
  if redis.call('HEXISTS', KEYS[1], 'cb_ended_at') == 1 then
    return redis.error_reply('the customer has hung up')
  end
elseif redis.call('HEXISTS', KEYS[1], 'ended_at') == 1 then
  return redis.error_reply('the caller has hung up')
end
local status = redis.call('HGET', KEYS[1], 'status')
if not string.find(ARGV[3], ',' .. (status or '') .. ',', 1, true)
    or redis.call('HGET', KEYS[1], 'agent') ~= ARGV[1] then
  return redis.error_reply('the call is ' .. (status or 'gone') .. ', not on a call with this agent')
end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if customer ~= '' then
  -- From now on the customer's leg is the call, as an inbound caller's would be: its end closes
  -- the record again (abandoned while waiting, served...) through the ordinary closing script.
  redis.call('HSET', KEYS[1], 'cb_status', 'transferred')
  redis.call('HDEL', KEYS[1], 'ended_at', 'final_status', 'outcome', 'duration')
end
redis.call('HINCRBY', KEYS[1], 'transfers', 1)
-- The old agent's leg of a room is theirs: the next match places its own (rooms.py); the old
-- room's recording is kept among the call's earlier ones (a new room records afresh, or not).
redis.call('HDEL', KEYS[1], 'agent_leg')
shelve_recording(KEYS[1])
if ARGV[2] ~= '' then
"""
    + append_note_lua("ARGV[2]")
    + """
end
log_call_event(KEYS[2], KEYS[1], status, redis.call('HGET', KEYS[1], 'status') or '', 'by', ARGV[1])
return 1
""",
    keys=("call", "events"),
    args=("agent", "note", "allowed_from", "pairs*"),
)


class Redirector(Protocol):
    """Moves a live call to one of the hotline's voice documents (Twilio's REST API)."""

    def redirect(self, call_sid: str, path: str) -> bool:
        """Run the document at `path` on the call now; False when that failed."""
        ...


class TransferRefused(Exception):
    """The transfer cannot be made now (the message says why)."""


@dataclass(frozen=True)
class Transferred:
    """A transfer that was made."""

    call_sid: str
    ref: str
    department: str = ""
    number: str = ""
    redirected: bool = False  # False: the caller moves when the agent hangs up (the Dial action)


def transfer_path(*, department: str = "", number: str = "") -> str:
    """The voice document a transferred caller is sent to: to a department, or to a number."""
    return routes.path("transfer", Transfer(number=number) if number else Transfer(to=department))


def transfer_path_of(record: CallRecord) -> str:
    """Where this transferred caller's call goes (for a late Dial action of the old leg)."""
    if record.get("status") == CallStatus.TRANSFERRED:
        return transfer_path(number=record.get("transfer_number"))
    return transfer_path(department=record.get("department"))


def customer_wait_path(record: CallRecord) -> str:
    """The waiting turns of a transferred called-back customer (ivr/voice/customer.py)."""
    return routes.path("customer_wait", Attempt(record.sid, int(record.get("cb_attempt") or 0)))


def customer_transfer_path(record: CallRecord) -> str:
    """Where a transferred called-back customer's leg goes (also for a late Dial action)."""
    attempt = int(record.get("cb_attempt") or 0)
    if record.get("status") == CallStatus.TRANSFERRED:
        return routes.path(
            "customer_transfer", CustomerMove(record.sid, attempt, number=record.get("transfer_number"))
        )
    return routes.path("customer_transfer", CustomerMove(record.sid, attempt, to=record.get("department")))


class Transfers:
    """Transfers of one hotline."""

    def __init__(
        self,
        cfg: HotlineFile,
        calls: CallStore,
        agents: Agents,
        queues: Queues,
        jobs: JobQueue,
        redirector: Redirector,
    ) -> None:
        self.cfg, self.calls, self.agents, self.queues = cfg, calls, agents, queues
        self.jobs, self.redirector = jobs, redirector

    def to_department(self, agent_id: str, department: str, text: str, now: datetime) -> Transferred:
        """The caller rejoins `department`'s queue at their own place; the agent goes to wrap-up."""
        if department not in self.cfg.departments:
            raise ValueError(f"no department {department!r}")
        if not department_open(self.cfg, department, now):
            raise TransferRefused(f"{department} is closed now")
        record = self._hand_over(
            agent_id,
            now,
            note(agent_id, "transfer", text, now, to=department) if text else "",
            status=CallStatus.QUEUED,
            department=department,
            queued_at=now.isoformat(),  # the wait in the new queue (service level, hold limit)
        )
        score = int(record.get("queue_score") or 0) or None
        customer = record.get("cb_call")
        pipe = self.calls.conn.pipeline(transaction=False)
        self._count_leg(pipe, record, now)
        self.queues.join(
            record.sid,
            department,
            record.get("lang") or self.queues.locales[0],
            self.cfg.priorities.get(record.get("priority"), 0),
            now,
            REQUEUE_CAPACITY,  # the caller had a place: a full queue does not refuse them
            record.day,
            score=score,
            # A customer waits on the hotline's own call, whose turns the reaper cannot ask
            # Twilio about by the original CallSid: their leg's status callback ends the wait.
            on_line=not customer,
            pipe=pipe,
        )
        pipe.hexists(keys.call(record.sid), "cb_ended_at" if customer else "ended_at")
        if pipe.execute()[-1]:  # hung up while being moved: the status callback missed the queue
            self.queues.leave(record.sid, department, record.day, abandoned=True)
        redirected = self.redirector.redirect(*self._moved(record, department=department))
        self.jobs.match_department(None, department)
        return Transferred(record.sid, record.get("ref"), department=department, redirected=redirected)

    def to_number(self, agent_id: str, number: str, text: str, now: datetime) -> Transferred:
        """The caller is dialled through to an outside number (a specialist line)."""
        if not is_valid_e164(number):
            raise ValueError(f"{number!r} is not a valid phone number in E.164 (+86...)")
        if number not in self.cfg.specialist_lines.values():
            raise TransferRefused(f"{number} is not one of the hotline's specialist lines (hotline.yaml)")
        record = self._hand_over(
            agent_id,
            now,
            note(agent_id, "transfer", text, now, to=number) if text else "",
            status=CallStatus.TRANSFERRED,
            transfer_number=number,
        )
        pipe = self.calls.conn.pipeline(transaction=False)
        self._count_leg(pipe, record, now)
        pipe.execute()
        redirected = self.redirector.redirect(*self._moved(record, number=number))
        return Transferred(record.sid, record.get("ref"), number=number, redirected=redirected)

    def _moved(self, record: CallRecord, *, department: str = "", number: str = "") -> tuple[str, str]:
        """The live call to redirect and where: the caller's own, or a called-back customer's leg
        (whose documents carry the original call, as the callback's own do)."""
        customer = record.get("cb_call")
        if not customer:
            return record.sid, transfer_path(department=department, number=number)
        state = CustomerMove(record.sid, int(record.get("cb_attempt") or 0), to=department, number=number)
        return customer, routes.path("customer_transfer", state)

    def _hand_over(self, agent_id: str, now: datetime, entry: str, **fields: str) -> CallRecord:
        """Steps 1 and 2: the agent to wrap-up, the call record claimed and rewritten."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state != ON_CALL or not agent.call_sid:
            raise TransferRefused(f"agent is {agent.state if agent else 'unknown'}: no call to transfer")
        record = self.calls.load(agent.call_sid)
        if record is None or record.get("status") != CallStatus.ON_CALL or record.get("agent") != agent_id:
            raise TransferRefused("the caller is no longer connected to this agent")
        source = self.cfg.departments.get(record.get("department"))
        try:
            self.agents.finished(agent_id, now, source.wrap_up_seconds if source else 30)
        except StateConflict as exc:
            raise TransferRefused(str(exc)) from None
        marks = {"agent": "", "transferred_by": agent_id, "transferred_at": now.isoformat(), **fields}
        to = CallStatus(fields["status"])
        pairs: list[str] = []
        for name, value in marks.items():
            pairs += [name, value]
        try:
            _CLAIM(
                self.calls.conn,
                call=keys.call(record.sid),
                events=keys.events(),
                agent=agent_id,
                note=entry,
                allowed_from=allowed_from(to, (CallStatus.ON_CALL,)),
                pairs=pairs,
            )
        except redis.ResponseError as exc:
            raise TransferRefused(str(exc)) from None
        return record

    def _count_leg(self, pipe: redis.client.Pipeline, record: CallRecord, now: datetime) -> None:
        """Step 3: the agent's part of the call is handled work of the source department."""
        answered = datetime.fromisoformat(record.get("answered_at") or now.isoformat())
        stats = keys.department_stats(record.get("department"), record.day)
        pipe.hincrby(stats, "handled", 1)
        pipe.hincrby(stats, "handle_ms", max(int((now - answered).total_seconds() * 1000), 0))
        pipe.hincrbyfloat(stats, "handle_sq", max((now - answered).total_seconds(), 0.0) ** 2)
        pipe.hincrby(stats, "transferred_out", 1)
        if record.get("cb_status") == "answered":  # the callback reached its agent: counted once
            pipe.hincrby(stats, "callbacks_connected", 1)
        pipe.expire(stats, keys.STATS_TTL_SECONDS)
