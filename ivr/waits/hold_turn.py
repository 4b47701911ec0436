"""A hold turn after the first in one Redis round trip: the call's record, the turn taken, the
caller's position and the live state, in one script (`TURN`, run by `turn_wait`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ivr import keys
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.queues import POSITION_LUA, arrival_ms
from ivr.scripts import Script
from ivr.waits.queue_state import LiveQueues, Reads, Wait, caller_wait, rank_of
from ivr.waits.read_script import READS, READS_LUA, lua_function

# A hold turn in one round trip: the call's record and, when the caller still waits in the
# department and day the turn's URL names (`status`, `department`, `day`), the turn taken (the
# reaper's watch, only if still watched), the position (the queue's own script) and `READS`
# (read for the lowest class: `turn_wait` keeps the caller's). Any other record comes back
# alone and the turn reads on from it as the first turn does. Replies: {record} or
# {record, position, reads}, the record as HGETALL gives it.
TURN_LUA = (
    lua_function("position", POSITION_LUA)
    + lua_function("reads", READS_LUA)
    + """
local record, fields = redis.call('HGETALL', KEYS[1]), {}
for i = 1, #record, 2 do fields[record[i]] = record[i + 1] end
if fields['status'] ~= ARGV[2] or fields['department'] ~= ARGV[3] or fields['day'] ~= ARGV[4] then
  return {record}
end
redis.call('ZADD', KEYS[2], 'XX', ARGV[5], ARGV[1])
local lanes = tonumber(ARGV[6])
local place = position({unpack(KEYS, 3, 3 + lanes)}, {ARGV[1]})
return {record, place, reads({unpack(KEYS, 4 + lanes)}, {unpack(ARGV, 7)})}
"""
)
TURN = Script(
    TURN_LUA,
    keys=("call", "turns", "queue*"),  # queue: the waiting hash, the lanes, then `READS`'s keys
    args=("sid", "status", "department", "day", "turn_at", "lane_count", "reads*"),
)


def turn_wait(
    live: LiveQueues, sid: str, department: str, day: str, now: datetime
) -> tuple[CallRecord | None, Wait | None]:
    """A hold turn's call record and wait in one round trip (`TURN`), for a caller whose turn's
    URL says they wait in `department` since `day`: (None, None) without a record, (the record,
    None) when it says otherwise (the turn goes on from the record), else both."""
    script_keys, script_args = _turn_call(live, department, day, now)
    script_keys[0], script_args[0], script_args[4] = keys.call(sid), sid, now.timestamp()
    script_args[TURN_NOW_MS], script_args[TURN_SID] = arrival_ms(now), sid
    reply = TURN.run(live.conn, script_keys, script_args)
    flat = iter(reply[0])
    fields = dict(zip(flat, flat, strict=True))
    if not fields:
        return None, None
    record = CallRecord(sid, fields)
    if len(reply) == 1:
        return record, None
    lowest = Reads(live, department, rank_of(live, None), now, day)
    reads = Reads(live, department, rank_of(live, record.get("priority")), now, day)
    replies = Reads.replies(reply[2])
    # Read for the lowest class: the caller's own class counts only the classes above it (its
    # counters by name, the recent arrivals of the classes above it).
    read = dict(zip(lowest.stat_fields, replies[3], strict=True))
    replies[3] = [read[name] for name in reads.stat_fields]
    replies[7] = replies[7][: reads.rank]
    return record, caller_wait(live, reads, record, int(reply[1]), replies, now)


# Where the reads' `now_ms` sits in the turn's ARGV (after the turn's own six arguments).
TURN_NOW_MS = len(TURN.args) - 1 + READS.args.index("now_ms")
TURN_SID = len(TURN.args) - 1 + READS.args.index("sid")
# The turn script's KEYS and ARGV are kept by (department, day), all but the call's own values:
# the same forty-odd keys, field names and figures every turn (binding them each time was a
# tenth of a turn). Kept for the current days only: at most this many.
TURN_CALLS_MAX = 64


def _turn_call(live: LiveQueues, department: str, day: str, now: datetime) -> tuple[list[Any], list[Any]]:
    """Copies of the turn script's KEYS and ARGV for a caller of `department` since `day`, the
    call's own slots (its key, sid, the time) left to fill."""
    calls = live.turn_calls
    found = calls.get((department, day))
    if found is None:
        lowest = Reads(live, department, rank_of(live, None), now, day)
        reads_keys, reads_args = READS.bind(lowest.values())
        lanes = live.queues.lanes(department)
        found = TURN.bind(
            dict(
                call="",
                turns=keys.hold_turns(department),
                queue=[keys.queue_waiting(department), *lanes, *reads_keys],
                sid="",
                status=CallStatus.QUEUED,
                department=department,
                day=day,
                turn_at=0,
                lane_count=len(lanes),
                reads=reads_args,
            )
        )
        encode = live.conn.get_encoder().encode  # as redis-py would send them, once
        found = ([encode(k) for k in found[0]], [encode(a) for a in found[1]])
        if len(calls) >= TURN_CALLS_MAX:  # days gone by
            calls.clear()
        calls[(department, day)] = found
    return list(found[0]), list(found[1])
