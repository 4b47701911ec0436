"""Callbacks that keep the caller's place: requested on hold, placed when the place reaches an agent.

A caller who asks for a callback hangs up but stays in the queue: same score (priority class,
then arrival), same lane. Their call record says `status: callback` and carries the callback's
own fields (`cb_*`):

    cb_number    the number to call (E.164, checked)      cb_status  where the callback is
    cb_attempt   dials made so far (the idempotency key's n)  cb_fails   customer not reached
    cb_call      the outbound CallSid of the current attempt  cb_reason  why the last one failed
    cb_dialled_at  when that call was placed (hotline clock, ISO): how long the customer's phone rang

cb_status: waiting (in the queue) -> dialling (matched to an agent, the job runs) -> calling
(the customer's phone rings) -> answered (pressed 1, the agent is dialled) -> connected (or
transferred: their agent handed them on, and their leg is now the call, as an inbound one; its
end sets `cb_ended_at`); or
retry (waiting out the backoff, back in the queue after it) / failed; `scheduled` until a later
slot. Every move is a compare-and-set script on the record, so a repeated webhook or job run
finds the state already moved and changes nothing.

Exactly once: before dialling, the job takes `hl:cbclaim:{sid}:{n}` with SET NX. A second run
of the same attempt (the worker died after dialling, an rq retry) finds the claim: with a
CallSid in it, the call exists; still 'pending', it asks Twilio for calls to the number since the
claim and adopts the one it finds instead of dialling again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

from ivr import faultpoints, keys, routes
from ivr.callcenter.agents import RING_MARGIN_SECONDS, Agents, StateConflict
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.connections import REQUEUE_CAPACITY
from ivr.callcenter.events import CALL_EVENT_LUA
from ivr.callcenter.lifecycle import CallLife, CallStatus, allowed_from
from ivr.callcenter.queues import Popped, Queues
from ivr.clock import Clock, business_day
from ivr.hotline.schema import HotlineFile
from ivr.jobs import JobQueue
from ivr.outbound.limits import OutboundLimits
from ivr.phones import mask_phone
from ivr.redis_types import text_hash, text_or_none
from ivr.scripts import Script
from ivr.twilio_rest import TwilioApi, TwilioError
from ivr.urlstate import Attempt

log = logging.getLogger(__name__)

CLAIM_TTL_SECONDS = 2 * 24 * 3600
# The agent's lease while a callback is placed, step by step, so a dead worker costs seconds: the
# job must start within JOB_START_SECONDS of the match (else the reaper queues it once more, and
# gives that copy REQUEUED_START_SECONDS: a busy queue, not a dead worker, may be why) ...
# A queued job starts in milliseconds when a worker is free, and a copy queued beside a slow
# original is harmless (the attempt's claim key lets one call out), so the first wait is short:
# an agent kept for a matcher that died is free to work again within one reaper period.
JOB_START_SECONDS = 5
REQUEUED_START_SECONDS = 10
# ... and place the call within PLACING_SECONDS of its claim (else the reaper asks Twilio) ...
PLACING_SECONDS = 20
# ... then, while the customer's phone rings, they hear the greeting and the agent's phone rings,
# the agent is kept CHECK_SECONDS at a time: each time that runs out the reaper asks Twilio how the
# customer's call goes and keeps the agent only while it is up. A status callback lost in a Redis
# outage (or by Twilio) then costs seconds, not the length of a whole callback; the price is one
# REST read per CHECK_SECONDS for each agent kept for a callback. A call still unanswered past the
# ring timeout plus RING_MARGIN_SECONDS is canceled and counts as not answered.
CHECK_SECONDS = 6
# Calls created this long before the claim still count as this attempt's (clock skew with Twilio).
ADOPT_SLACK_SECONDS = 5

# The matcher popped this place for an agent (`callback`, `queued`, `connecting`, `connecting_from`:
# statuses from lifecycle.py, the last as ',statuses connecting may come from,').
# A callback that waits becomes 'dialling' with its next attempt number (returned); a caller on
# hold becomes connecting (-1); a call that ended meanwhile (the caller hung up as the place was
# taken) is left alone (0), so no agent rings for nobody. Checked and written in one step.
_CLAIM = Script(
    CALL_EVENT_LUA
    + """
local f = redis.call('HMGET', KEYS[1], 'status', 'cb_status', 'ended_at')
-- 'answered' + queued: the agent missed a customer who was on the line, and the place was just
-- put back (the customer is gone from the line by now): still a callback.
if (f[1] == ARGV[5] and f[2] == 'waiting') or (f[1] == ARGV[6] and f[2] == 'answered') then
  local attempt = redis.call('HINCRBY', KEYS[1], 'cb_attempt', 1)
  redis.call('HSET', KEYS[1], 'status', ARGV[5], 'cb_status', 'dialling', 'agent', ARGV[1],
    'department', ARGV[2],
    'queue_score', ARGV[3], 'matched_at', ARGV[4], 'cb_call', '')
  log_call_event(KEYS[2], KEYS[1], 'callback_waiting', 'offer', 'attempt', attempt)
  return attempt
end
-- A customer their agent transferred waits on the hotline's call (their leg): connected like a
-- caller on hold, but through that leg (-2); gone if that leg has ended.
if f[2] == 'transferred' and f[1] == ARGV[6] then
  if redis.call('HEXISTS', KEYS[1], 'cb_ended_at') == 1 then return 0 end
  redis.call('HSET', KEYS[1], 'status', ARGV[7], 'agent', ARGV[1], 'department', ARGV[2],
    'queue_score', ARGV[3], 'matched_at', ARGV[4])
  redis.call('HDEL', KEYS[1], 'redirect', 'dialled_at')
  log_call_event(KEYS[2], KEYS[1], f[1], ARGV[7], 'by', 'match')
  return -2
end
if f[3] or not string.find(ARGV[8], ',' .. (f[1] or '') .. ',', 1, true) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[7], 'agent', ARGV[1], 'department', ARGV[2],
  'queue_score', ARGV[3], 'matched_at', ARGV[4])
-- A new match: what an earlier one of this caller left (a failed redirect, a dial) is not its.
redis.call('HDEL', KEYS[1], 'redirect', 'dialled_at')
log_call_event(KEYS[2], KEYS[1], f[1] or '', ARGV[7], 'by', 'match')
return -1
""",
    keys=("call", "events"),
    args=(
        "agent",
        "department",
        "score",
        "matched_at",
        "callback",
        "queued",
        "connecting",
        "connecting_from",
    ),
)

# Compare-and-set a callback: `attempt` ('' for any), `allowed` (',cb_status,list,'), the new
# `cb_status`, the new call `status` ('' to leave it) from `status_from` (',statuses,', lifecycle.py),
# then field/value `pairs` to set.
_MOVE = Script(
    CALL_EVENT_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local f = redis.call('HMGET', KEYS[1], 'cb_attempt', 'cb_status', 'status')
if ARGV[1] ~= '' and f[1] ~= ARGV[1] then return 0 end
if not string.find(ARGV[2], ',' .. (f[2] or '') .. ',', 1, true) then return 0 end
if ARGV[4] ~= '' then
  if not string.find(ARGV[5], ',' .. (f[3] or '') .. ',', 1, true) then return 0 end
  redis.call('HSET', KEYS[1], 'status', ARGV[4])
end
redis.call('HSET', KEYS[1], 'cb_status', ARGV[3])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[4] ~= '' then log_call_event(KEYS[2], KEYS[1], f[3] or '', ARGV[4], 'cb_status', ARGV[3]) end
return 1
""",
    keys=("call", "events"),
    args=("attempt", "allowed", "cb_status", "status", "status_from", "pairs*"),
)

# The customer was not reached (or left while the agent's phone rang); statuses from lifecycle.py:
# `failed_status` (from `failed_from`, ',statuses,') or back to `callback`. Returns 'retry:n' (n
# failures so far), 'failed', or '' when this attempt's outcome was already recorded.
_NOT_REACHED = Script(
    CALL_EVENT_LUA
    + """
local f = redis.call('HMGET', KEYS[1], 'cb_attempt', 'cb_status', 'status')
if f[1] ~= ARGV[1] or (f[2] ~= 'dialling' and f[2] ~= 'calling' and f[2] ~= 'answered') then
  return ''
end
if not string.find(ARGV[5], ',' .. (f[3] or '') .. ',', 1, true) then return '' end
local fails = redis.call('HINCRBY', KEYS[1], 'cb_fails', 1)
if fails >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'cb_status', 'failed', 'cb_reason', ARGV[3], 'status', ARGV[4],
    'outcome', 'callback_failed', 'agent', '')
  log_call_event(KEYS[2], KEYS[1], f[3] or '', ARGV[4], 'reason', ARGV[3])
  return 'failed'
end
redis.call('HSET', KEYS[1], 'cb_status', 'retry', 'cb_reason', ARGV[3], 'agent', '', 'status', ARGV[6])
log_call_event(KEYS[2], KEYS[1], f[3] or '', ARGV[6], 'reason', ARGV[3])
return 'retry:' .. fails
""",
    keys=("call", "events"),
    args=("attempt", "max_attempts", "reason", "failed_status", "failed_from", "callback"),
)


@dataclass(frozen=True)
class Placed:
    """What one run of the callback job did: 'dialled', 'adopted', 'already', 'stale' or 'refused'."""

    outcome: str
    call_sid: str | None = None


class Callbacks:
    """The callbacks of one hotline."""

    def __init__(
        self,
        cfg: HotlineFile,
        conn: redis.Redis,
        queues: Queues,
        agents: Agents,
        jobs: JobQueue,
        limits: OutboundLimits,
        clock: Clock,
        twilio: TwilioApi,
        public_base_url: str | None,
    ) -> None:
        self.cfg, self.conn, self.queues, self.agents, self.jobs = cfg, conn, queues, agents, jobs
        self.limits, self.clock, self.twilio, self.base_url = limits, clock, twilio, public_base_url
        self.settings = cfg.callbacks
        self.life = CallLife(conn)

    # -- the record -----------------------------------------------------------------------

    def load(self, sid: str) -> CallRecord | None:
        """The call record of a callback's original call."""
        fields = text_hash(self.conn.hgetall(keys.call(sid))) if sid.startswith("CA") else {}
        return CallRecord(sid, fields) if fields else None

    def move(
        self,
        sid: str,
        attempt: int | None,
        allowed: tuple[str, ...],
        to: str,
        status: CallStatus | None = None,
        **fields: str,
    ) -> bool:
        """Compare-and-set the callback's status (and the call's status, fields); False if it moved on."""
        pairs: list[str] = []
        for name, value in fields.items():
            pairs += [name, value]
        moved = _MOVE(
            self.conn,
            call=keys.call(sid),
            events=keys.events(),
            attempt=attempt,
            allowed="," + ",".join(allowed) + ",",
            cb_status=to,
            status="" if status is None else str(status),
            status_from="" if status is None else allowed_from(status),
            pairs=pairs,
        )
        return bool(moved)

    def count(self, record: CallRecord, *names: str) -> None:
        """Add one to the department's counters of the record's day."""
        stats = keys.department_stats(record.get("department"), record.day)
        pipe = self.conn.pipeline(transaction=False)
        for name in names:
            pipe.hincrby(stats, name, 1)
        pipe.expire(stats, keys.STATS_TTL_SECONDS)
        pipe.execute()

    # -- asked for on hold ---------------------------------------------------------------

    def keep_place(self, record: CallRecord, number: str, now: datetime) -> bool:
        """The caller hangs up and keeps their place; the matcher will call them back.

        False when the caller was matched meanwhile (no longer queued): they stay on the line.
        """
        moved = self.life.move(
            record.sid,
            CallStatus.CALLBACK,
            (CallStatus.QUEUED,),
            cb_status="waiting",
            cb_number=number,
            cb_requested_at=now.isoformat(),
            cb_attempt="0",
            cb_fails="0",
        )
        if moved is None:
            return False
        self.count(record, "callbacks_requested")
        log.info("callback requested for call %s to %s", record.sid, mask_phone(number))
        return True

    # -- the matcher's side ----------------------------------------------------------------

    def claim(
        self, found: Popped, agent_id: str, department: str, now: datetime, matched_at: datetime
    ) -> str:
        """A popped place for this agent: 'callback' (the job calls them), 'caller', 'customer'
        (a transferred customer on the hotline's call: `connect_customer`) or 'gone'.
        `matched_at`: when the pop took the place, on the hotline's clock."""
        claimed = _CLAIM(
            self.conn,
            call=keys.call(found.sid),
            events=keys.events(),
            agent=agent_id,
            department=department,
            score=str(found.score),
            matched_at=matched_at.isoformat(),
            callback=CallStatus.CALLBACK,
            queued=CallStatus.QUEUED,
            connecting=CallStatus.CONNECTING,
            connecting_from=allowed_from(CallStatus.CONNECTING, (CallStatus.QUEUED,)),
        )
        attempt = int(claimed)
        if attempt == -2:
            return "customer"
        if attempt > 0:
            self.agents.renew_hold(agent_id, now + timedelta(seconds=JOB_START_SECONDS))
            faultpoints.reached("callback.claimed")  # no job yet: the reaper queues it once more
            self.jobs.place_callback(None, found.sid, agent_id, attempt)
            return "callback"
        return "caller" if attempt < 0 else "gone"

    def connect_customer(self, sid: str) -> str:
        """Move a transferred customer's leg to their connection document: 'done' or 'failed'.

        A failed redirect is no loss: the customer's waiting turns connect them (`redirect`).
        """
        record = self.load(sid)
        leg = record.get("cb_call") if record is not None else ""
        if record is None or not leg or not self.base_url:
            return "failed"
        state = Attempt(sid, int(record.get("cb_attempt") or 0))
        try:
            self.twilio.redirect(leg, routes.url(self.base_url, "customer_connect", state))
        except TwilioError as exc:
            log.warning("customer %s of %s not redirected: %s", leg, sid, exc)
            return "failed"
        return "done"

    # -- the job ---------------------------------------------------------------------------

    def place(self, sid: str, agent_id: str, attempt: int) -> Placed:
        """Call the customer for this attempt, at most once however often the job runs."""
        record = self.load(sid)
        if record is None or record.get("cb_attempt") != str(attempt) or record.get("agent") != agent_id:
            return Placed("stale")
        if record.get("cb_status") not in ("dialling", "calling"):
            return Placed("stale")
        number = record.get("cb_number")
        claim = keys.callback_claim(sid, attempt)
        claimed_at = time.time()
        if not self.conn.set(claim, f"pending:{claimed_at:.3f}", nx=True, ex=CLAIM_TTL_SECONDS):
            held = text_or_none(self.conn.get(claim)) or ""
            if held.startswith("CA"):
                return Placed("already", held)
            since = float(held.removeprefix("pending:") or 0)
            adopted = self.created_since(number, since)
            if adopted:
                self._dialled(sid, attempt, claim, adopted)
                log.info("callback %s attempt %d: adopted call %s", sid, attempt, adopted)
                return Placed("adopted", adopted)
        now = self.clock.now()
        self.agents.renew_hold(agent_id, now + timedelta(seconds=PLACING_SECONDS))
        faultpoints.reached("callback.pending")  # claimed, not dialled: the reaper asks Twilio
        refused = self.limits.allow("call", number, now)
        if refused:
            self.not_reached(sid, attempt, f"limit_{refused}", now)
            return Placed("refused")
        state = Attempt(sid, attempt)
        created = self.twilio.place_call(
            to=number,
            from_=self.settings.caller_id or record.get("to") or self.cfg.hotline.overflow_number,
            url=routes.url(self.base_url, "callback_answer", state),
            status_callback=routes.url(self.base_url, "callback_status", state),
            ring_seconds=self.settings.ring_timeout_seconds,
            detect_machine=True,
        )
        faultpoints.reached("callback.dialled")  # placed, not recorded: adopted from the claim or Twilio
        self._dialled(sid, attempt, claim, created)
        # The agent is kept while the customer's phone rings and they hear the greeting.
        self.agents.renew_hold(agent_id, self.clock.now() + timedelta(seconds=CHECK_SECONDS))
        log.info("callback %s attempt %d: calling %s (%s)", sid, attempt, mask_phone(number), created)
        return Placed("dialled", created)

    def adopt(self, sid: str, attempt: int, call_sid: str) -> None:
        """The attempt's call exists (a dead job placed it): the callback is calling it."""
        self._dialled(sid, attempt, keys.callback_claim(sid, attempt), call_sid)

    def check_seconds(self) -> int:
        """How long an agent is kept for a callback's placed call before the reaper asks how it goes."""
        return CHECK_SECONDS

    def ring_overdue(self, record: CallRecord, now: datetime) -> bool:
        """Whether the customer's phone has rung past its ring timeout (plus a margin for Twilio)."""
        dialled = record.get("cb_dialled_at")
        if not dialled:
            return True  # a record from before the time was kept: as the long lease did
        limit = self.settings.ring_timeout_seconds + RING_MARGIN_SECONDS
        return (now - datetime.fromisoformat(dialled)).total_seconds() > limit

    def start_lease_seconds(self, requeued: bool = False) -> int:
        """How long an agent is kept for a callback job that was queued but has not run yet."""
        return REQUEUED_START_SECONDS if requeued else JOB_START_SECONDS

    def _dialled(self, sid: str, attempt: int, claim: str, call_sid: str) -> None:
        self.conn.set(claim, call_sid, ex=CLAIM_TTL_SECONDS)
        now = self.clock.now().isoformat()
        self.move(sid, attempt, ("dialling",), "calling", cb_call=call_sid, cb_dialled_at=now)

    def created_since(self, number: str, since: float) -> str | None:
        """An outbound call to `number` created since `since` (wall clock): a dead run's call."""
        for call in self.twilio.calls_to(number, limit=20):
            if (
                call.direction == "outbound-api"
                and call.created
                and call.created.timestamp() >= since - ADOPT_SLACK_SECONDS
            ):
                return call.sid
        return None

    # -- outcomes --------------------------------------------------------------------------

    def not_reached(self, sid: str, attempt: int, reason: str, now: datetime) -> str:
        """No answer, busy, voicemail...: the agent is freed; retry after the backoff, or fail."""
        record = self.load(sid)
        if record is None:
            return ""
        agent_id = record.get("agent")
        outcome = str(
            _NOT_REACHED(
                self.conn,
                call=keys.call(sid),
                events=keys.events(),
                attempt=attempt,
                max_attempts=self.settings.max_attempts,
                reason=reason,
                failed_status=CallStatus.CALLBACK_FAILED,
                failed_from=allowed_from(CallStatus.CALLBACK_FAILED),
                callback=CallStatus.CALLBACK,
            )
        )
        if not outcome:
            return ""
        self._free(agent_id, now)
        if outcome == "failed":
            self.count(record, "callbacks_failed", f"callbacks_failed:{reason}")
            log.info("callback %s failed after %s attempts: %s", sid, record.get("cb_fails") or "?", reason)
            return outcome
        fails = int(outcome.split(":")[1])
        backoff = self.settings.retry_backoff_seconds
        delay = backoff[min(fails - 1, len(backoff) - 1)]
        self.count(record, "callbacks_retried")
        self.jobs.callback_due(sid, fails, self._wall_delay(timedelta(seconds=delay)))
        return outcome

    def _free(self, agent_id: str, now: datetime) -> None:
        if not agent_id:
            return
        try:
            self.agents.caller_gone(agent_id, now)
        except StateConflict:
            return
        self.jobs.match_agent(None, agent_id)

    def _wall_delay(self, simulated: timedelta) -> timedelta:
        """How long rq's scheduler (wall clock) waits for `simulated` time of the hotline's clock."""
        speed = float(getattr(self.clock, "speed", 1.0) or 1.0)
        return max(simulated / speed, timedelta(0))

    def due(self, sid: str) -> bool:
        """The backoff passed: the place goes back in the queue (same score) for the next agent."""
        record = self.load(sid)
        if record is None or not self.move(sid, None, ("retry",), "waiting", CallStatus.CALLBACK):
            return False
        self._rejoin(record, score=int(record.get("queue_score") or 0) or None, offer=False)
        return True

    def agent_missed(self, record: CallRecord) -> None:
        """The agent did not pick up while the customer waited: the customer is called again soon."""
        self.move(record.sid, None, ("answered",), "waiting", CallStatus.CALLBACK)
        self.jobs.match_department(None, record.get("department"))

    def agent_taken_back(self, record: CallRecord) -> bool:
        """A supervisor freed the agent kept for this callback before the customer came on the line:
        the place goes back to the queue (same score); an answer that still comes finds it moved on."""
        if not self.move(record.sid, None, ("dialling", "calling"), "waiting", CallStatus.CALLBACK, agent=""):
            return False
        self._rejoin(record, score=int(record.get("queue_score") or 0) or None, offer=False)
        return True

    def _rejoin(self, record: CallRecord, *, score: int | None, offer: bool) -> None:
        department = record.get("department")
        rank = self.cfg.priorities.get(record.get("priority"), max(self.cfg.priorities.values()))
        now = self.clock.now()
        self.queues.join(
            record.sid,
            department,
            record.get("lang") or self.queues.locales[0],
            rank,
            now,
            REQUEUE_CAPACITY,
            record.day,
            score=score,
            offer=offer,
            on_line=False,
        )
        self.jobs.match_department(None, department)

    # -- scheduled callbacks ---------------------------------------------------------------

    def schedule(
        self, record: CallRecord, department: str, number: str, slot: datetime, now: datetime
    ) -> bool:
        """Call back at `slot`, when rq's scheduler queues the caller (False: matched meanwhile)."""
        was = self.life.move(
            record.sid,
            CallStatus.CALLBACK_SCHEDULED,
            cb_status="scheduled",
            cb_number=number,
            cb_slot=slot.isoformat(),
            cb_requested_at=now.isoformat(),
            cb_attempt="0",
            cb_fails="0",
            department=department,
        )
        if was is None:
            return False
        if was == CallStatus.QUEUED and record.get("department"):
            self.queues.leave(record.sid, record.get("department"), record.day, abandoned=False)
        ttl = int((slot - now).total_seconds()) + keys.CALL_TTL_SECONDS
        self.conn.expire(keys.call(record.sid), max(ttl, keys.CALL_TTL_SECONDS))
        self.count(CallRecord(record.sid, {**record.fields, "department": department}), "callbacks_scheduled")
        self.jobs.scheduled_callback(record.sid, self._wall_delay(slot - now))
        log.info("callback for call %s scheduled at %s", record.sid, slot.isoformat())
        return True

    def start_scheduled(self, sid: str) -> bool:
        """The slot came: the caller joins the queue now as a callback place."""
        record = self.load(sid)
        now = self.clock.now()
        day = business_day(now, self.cfg.hotline.timezone)
        if record is None or not self.move(
            sid, None, ("scheduled",), "waiting", CallStatus.CALLBACK, day=day, queued_at=now.isoformat()
        ):
            return False
        record = self.load(sid)
        assert record is not None
        self._rejoin(record, score=None, offer=True)
        return True
