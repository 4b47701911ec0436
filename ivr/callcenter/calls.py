"""Call records in Redis: opened once per CallSid, read by every webhook, closed at the end.

A webhook reads its call with one round trip (`load`, an HGETALL; or, for the call's first
webhook, the script `open`, which also creates the record the first time a CallSid is seen) and
writes with one pipeline (`CallWriter`): the two Redis round trips a menu step is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import redis

from ivr import keys
from ivr.callcenter.events import CALL_EVENT_LUA
from ivr.callcenter.lifecycle import CallStatus, close_table, queue_move
from ivr.redis_types import hash_fields, text_hash
from ivr.scripts import Script

# The call's record, created the first time its CallSid is seen. The reference number is yymmdd +
# 5-digit daily sequence + Luhn check digit, made here and only here (the one implementation of its
# check digit; tests/test_scripts.py pins it): e.g. day 261122, sequence 42 -> 261122000423.
# `language` and `calls_from` are the caller's keys (a dummy's when the caller ID is withheld).
_OPEN_CALL = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGETALL', KEYS[1])
end
local seq = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[7])
local body = ARGV[2] .. string.format('%05d', seq)
local total = 0
local n = string.len(body)
for i = n, 1, -1 do
  local d = tonumber(string.sub(body, i, i))
  if (n - i) % 2 == 0 then
    d = d * 2
    if d > 9 then d = d - 9 end
  end
  total = total + d
end
local ref = body .. tostring((10 - total % 10) % 10)
local remembered = ''
if ARGV[3] ~= '' then
  remembered = redis.call('GET', KEYS[3]) or ''
end
redis.call('HSET', KEYS[1], 'sid', ARGV[11], 'created_at', ARGV[1], 'day', ARGV[2],
  'caller', ARGV[3], 'from', ARGV[4], 'to', ARGV[5], 'ref', ref, 'status', ARGV[15],
  'remembered_lang', remembered)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SET', ARGV[9] .. ref, ARGV[11], 'EX', ARGV[8])
redis.call('HINCRBY', KEYS[4], 'offered', 1)
redis.call('EXPIRE', KEYS[4], ARGV[10])
if ARGV[3] ~= '' then
  -- For the agent's screen pop (repeat callers). Trimmed here too, so a number that calls often
  -- without ever reaching an agent (nothing reads its list) does not grow it without bound.
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. (tonumber(ARGV[12]) - tonumber(ARGV[14])))
  redis.call('ZADD', KEYS[5], ARGV[12], ARGV[11])
  redis.call('EXPIRE', KEYS[5], ARGV[13])
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 'is_new')
table.insert(out, '1')
return out
""",
    keys=("call", "refseq", "language", "stats", "calls_from"),
    args=(
        "now",
        "day",
        "caller",
        "caller_raw",
        "to",
        "call_ttl",
        "refseq_ttl",
        "ref_ttl",
        "ref_prefix",
        "stats_ttl",
        "sid",
        "now_ms",
        "calls_from_ttl",
        "calls_from_keep_ms",
        "first_status",
    ),
)

# `stats`: the daily stats of the call's day; `twilio_status`, `duration`: from Twilio; `table`:
# lifecycle.close_table() (the ended status, ',statuses that live on,', then (status, outcome,
# daily counter) triples). Idempotent: a repeated status callback finds `ended_at` and changes nothing.
_CLOSE_CALL = Script(
    CALL_EVENT_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'ended_at') == 1 then
  return 0
end
local status = redis.call('HGET', KEYS[1], 'status')
local outcome = 'completed'
for i = 7, #ARGV, 3 do
  if ARGV[i] == status then
    outcome = ARGV[i + 1]
    if ARGV[i + 2] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[i + 2], 1) end
  end
end
if outcome == 'abandoned_in_menu' then
  redis.call('HINCRBY', KEYS[2], 'abandoned_at:' .. (redis.call('HGET', KEYS[1], 'node') or 'start'), 1)
end
-- A caller waiting for a callback (or a later slot) hung up on purpose: the record lives on.
local after = ARGV[5]
if status and string.find(ARGV[6], ',' .. status .. ',', 1, true) then
  outcome, after = status, status
end
redis.call('HSET', KEYS[1], 'ended_at', ARGV[1], 'final_status', ARGV[2],
  'duration', ARGV[3], 'outcome', outcome, 'status', after)
redis.call('EXPIRE', KEYS[2], ARGV[4])
local gone = 'end'
if string.sub(outcome, 1, 9) == 'abandoned' then gone = 'abandon' end
log_call_event(KEYS[3], KEYS[1], status or '', gone, 'outcome', outcome)
return status or '-'
""",
    keys=("call", "stats", "events"),
    args=("now", "twilio_status", "duration", "stats_ttl", "table*"),
)


# How a caller counts as verified: the caller ID is the registered mobile, or the second factor.
VERIFIED = ("caller_id", "second_factor")


# The day of a record that lost its own: its counts go to a day no report reads.
NO_DAY = "000000"


@dataclass
class CallRecord:
    """What the hotline knows about one call (all values are strings, as Redis keeps them)."""

    sid: str
    fields: dict[str, str]
    is_new: bool = False

    def get(self, name: str, default: str = "") -> str:
        """A field, or `default` when it is not set."""
        return self.fields.get(name, default) or default

    @property
    def day(self) -> str:
        """The hotline's day the call began (yymmdd, `clock.business_day`): its counters' day."""
        return self.get("day", NO_DAY)

    @property
    def verified(self) -> bool:
        """The caller proved they hold the account."""
        return self.get("verified") in VERIFIED


# The conference events the call record keeps (the latest of them, with the room's sid).
ROOM_EVENTS = frozenset(
    {"conference-start", "conference-end", "participant-join", "participant-leave"}
    | {"participant-hold", "participant-unhold"}
)
_NOTE_ROOM = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'room', ARGV[1], 'room_event', ARGV[2])
if ARGV[3] ~= '-' then redis.call('HSET', KEYS[1], 'on_hold', ARGV[3]) end
return 1
""",
    keys=("call",),
    args=("room", "event", "held"),
)


# Recording statuses Twilio reports to a recording status callback.
RECORDING_STATUSES = frozenset({"in-progress", "completed", "absent", "failed"})
# A call recorded in more than one room (a cold transfer starts a new one) keeps the rooms before
# the current one in `recordings_before`: a JSON list of {sid, status, url, seconds}.
SHELVE_RECORDING_LUA = """
local function shelve_recording(key)
  local cur = redis.call('HMGET', key, 'recording', 'recording_status', 'recording_url', 'recording_seconds')
  if not cur[1] or cur[1] == '' then return end
  local before = cjson.decode(redis.call('HGET', key, 'recordings_before') or '[]')
  table.insert(before, {sid = cur[1], status = cur[2] or '', url = cur[3] or '', seconds = cur[4] or '0'})
  redis.call('HSET', key, 'recordings_before', cjson.encode(before))
  redis.call('HDEL', key, 'recording', 'recording_status', 'recording_url', 'recording_seconds')
end
"""
_NOTE_RECORDING = Script(
    SHELVE_RECORDING_LUA
    + """
if ARGV[2] == 'completed' then redis.call('ZADD', KEYS[2], 'NX', ARGV[5], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
-- A recording of an earlier room (its report came after the caller moved on): updated there.
local before = cjson.decode(redis.call('HGET', KEYS[1], 'recordings_before') or '[]')
for _, r in ipairs(before) do
  if r.sid == ARGV[1] then
    r.status, r.url, r.seconds = ARGV[2], ARGV[3], ARGV[4]
    redis.call('HSET', KEYS[1], 'recordings_before', cjson.encode(before))
    return 1
  end
end
local cur = redis.call('HGET', KEYS[1], 'recording') or ''
if cur ~= '' and cur ~= ARGV[1] then
  if ARGV[2] ~= 'in-progress' then  -- an earlier room's, never seen before: kept with those
    table.insert(before, {sid = ARGV[1], status = ARGV[2], url = ARGV[3], seconds = ARGV[4]})
    redis.call('HSET', KEYS[1], 'recordings_before', cjson.encode(before))
    return 1
  end
  shelve_recording(KEYS[1])  -- a new room's recording started: the current one goes before it
end
local was = redis.call('HGET', KEYS[1], 'recording_status')
if ARGV[2] == 'in-progress' and was == 'paused' then return 0 end
redis.call('HSET', KEYS[1], 'recording', ARGV[1], 'recording_status', ARGV[2], 'recording_url', ARGV[3],
  'recording_seconds', ARGV[4])
return 1
""",
    keys=("call", "kept"),
    args=("recording", "status", "url", "duration", "now"),
)


@dataclass(frozen=True)
class Recording:
    """One recording of a call, as its status callback reported it."""

    sid: str
    status: str
    url: str
    seconds: int


def recordings_of(record: CallRecord) -> list[Recording]:
    """The call's recordings, oldest first: those of earlier rooms, then the current one."""
    found: list[Recording] = []
    try:
        before = json.loads(record.get("recordings_before") or "[]")
    except ValueError:
        before = []
    for item in before if isinstance(before, list) else []:
        if isinstance(item, dict) and str(item.get("sid", "")).startswith("RE"):
            seconds = str(item.get("seconds") or "0")
            found.append(
                Recording(
                    str(item["sid"]),
                    str(item.get("status", "")),
                    str(item.get("url", "")),
                    int(seconds) if seconds.isdigit() else 0,
                )
            )
    if record.get("recording").startswith("RE"):
        seconds = record.get("recording_seconds") or "0"
        found.append(
            Recording(
                record.get("recording"),
                record.get("recording_status"),
                record.get("recording_url"),
                int(seconds) if seconds.isdigit() else 0,
            )
        )
    return found


class CallStore:
    """Reads and writes call records."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def open(
        self, sid: str, now: datetime, day: str, caller: str | None, raw_from: str, to: str
    ) -> CallRecord:
        """The call's record, created (with its reference number) if this CallSid is new."""
        lang_key = keys.language(caller) if caller else keys.language("-")
        from_key = keys.calls_from(caller) if caller else keys.calls_from("-")
        flat = _OPEN_CALL(
            self.conn,
            call=keys.call(sid),
            refseq=keys.reference_sequence(day),
            language=lang_key,
            stats=keys.daily_stats(day),
            calls_from=from_key,
            now=now.isoformat(),
            day=day,
            caller=caller or "",
            caller_raw=raw_from[:64],
            to=to[:64],
            call_ttl=keys.CALL_TTL_SECONDS,
            refseq_ttl=keys.REFSEQ_TTL_SECONDS,
            ref_ttl=keys.REF_TTL_SECONDS,
            ref_prefix=keys.reference(""),
            stats_ttl=keys.STATS_TTL_SECONDS,
            sid=sid,
            now_ms=int(now.timestamp() * 1000),
            calls_from_ttl=keys.CALLS_FROM_TTL_SECONDS,
            calls_from_keep_ms=keys.CALLS_FROM_KEEP_SECONDS * 1000,
            first_status=str(CallStatus.MENU),
        )
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        is_new = fields.pop("is_new", "") == "1"
        return CallRecord(sid=sid, fields=fields, is_new=is_new)

    def load(self, sid: str) -> CallRecord | None:
        """The call's record if there is one (the status callback must not create calls)."""
        fields = text_hash(self.conn.hgetall(keys.call(sid)))
        return CallRecord(sid=sid, fields=fields) if fields else None

    def note_room(self, sid: str, event: str, conference_sid: str, held: str | None = None) -> None:
        """A room event of the call's conference: its sid and the latest event, on the record;
        `held` ('1' or ''), the caller's hold as the room reports it.

        Written only on a record that exists (a late event never makes one up).
        """
        if event not in ROOM_EVENTS or not conference_sid.startswith("CF"):
            return
        hold = "-" if held is None else held
        _NOTE_ROOM(self.conn, call=keys.call(sid), room=conference_sid[:40], event=event, held=hold)

    def note_recording(
        self, sid: str, *, recording: str, status: str, url: str, duration: int, now: datetime
    ) -> None:
        """The room's recording as Twilio reports it (sid, status, URL, seconds), on the record.

        A paused recording stays paused until the agent resumes it; its report of `in-progress`
        (the start) never overwrites `paused`. Written only on a record that exists; a completed
        recording is indexed for the retention job (ivr/callcenter/recordings.py) either way.
        """
        if not recording.startswith("RE") or status not in RECORDING_STATUSES:
            return
        _NOTE_RECORDING(
            self.conn,
            call=keys.call(sid),
            kept=keys.recordings_kept(),
            now=int(now.timestamp()),
            recording=recording[:40],
            status=status,
            url=url[:300],
            duration=max(duration, 0),
        )

    def close(
        self, pipe: redis.client.Pipeline, record: CallRecord, now: datetime, status: str, duration: int
    ) -> None:
        """Queue the closing of the record (idempotent).

        Its reply is 0 when already closed, else the status the call had when it closed, read in
        the same script: a matcher may have given the caller to an agent since `record` was read.
        """
        day = record.day
        _CLOSE_CALL.queue(
            pipe,
            call=keys.call(record.sid),
            stats=keys.daily_stats(day),
            events=keys.events(),
            now=now.isoformat(),
            twilio_status=status[:20],
            duration=duration,
            stats_ttl=keys.STATS_TTL_SECONDS,
            table=close_table(),
        )


@dataclass
class CallWriter:
    """The one write of a webhook: field updates plus any extra commands, in one pipeline."""

    sid: str
    updates: dict[str, str] = field(default_factory=dict)
    extra: list[Callable[[redis.client.Pipeline], object]] = field(default_factory=list)
    status_to: CallStatus | None = None  # the status this write moves the call to, if any

    def set(self, **values: str) -> None:
        """Fields to write on the call record (never its status: see `move`)."""
        if "status" in values:
            raise ValueError("a call's status moves through CallWriter.move (ivr/callcenter/lifecycle.py)")
        self.updates.update(values)

    def move(self, to: CallStatus, among: tuple[CallStatus, ...] | None = None) -> None:
        """Move the call's status in the same round trip, after the field updates (lifecycle.py)."""
        self.status_to = to
        self.also(lambda pipe: queue_move(pipe, self.sid, to, among))

    def also(self, command: Callable[[redis.client.Pipeline], object]) -> None:
        """A command to send in the same round trip (what it returns is not used)."""
        self.extra.append(command)

    def flush(self, conn: redis.Redis) -> list[object]:
        """Send everything in one round trip; the replies of the extra commands."""
        if not self.updates and not self.extra:
            return []
        # One MULTI/EXEC: the step's writes land together. Opening it before any command also
        # lets rq add a job to it (rq insists on starting the transaction itself otherwise).
        pipe = conn.pipeline(transaction=True)
        pipe.multi()
        if self.updates:
            pipe.hset(keys.call(self.sid), mapping=hash_fields(self.updates))
            pipe.expire(keys.call(self.sid), keys.CALL_TTL_SECONDS)
        for command in self.extra:
            command(pipe)
        replies = pipe.execute()
        return replies[2:] if self.updates else replies
