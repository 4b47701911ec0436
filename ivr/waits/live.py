"""The live state of a department's queue, read from Redis, turned into the one wait estimate.

Everyone who tells a wait uses this module: the hold loop (`wait_for_caller`; after its first
turn `turn_wait`), the supervisor statistics (`waits_for_new_callers`) and callback offers
(`wait_for_new_caller`). Every read is O(1) or O(log n) and they are one script call
(`read_script.READS`) in one pipeline, so the hold loop's first turn stays within its two round
trips; every later turn reads the call's record with them in one script (`hold_turn.TURN`): one
round trip.

The pieces: the read script (`read_script`), the state and wait made of its reply
(`queue_state`, which says where each input of `QueueState` comes from) and the hold turn's one
script (`hold_turn`).
"""

from __future__ import annotations

import json
from datetime import datetime

from ivr import keys
from ivr.callcenter.calls import CallRecord
from ivr.waits.estimate import estimate
from ivr.waits.hold_turn import turn_wait
from ivr.waits.learned import censored_patience, censored_talk_time
from ivr.waits.queue_state import LiveQueues, Reads, Wait, caller_wait, outlook, rank_of

__all__ = [
    "LiveQueues",
    "Reads",
    "Wait",
    "censored_patience",
    "censored_talk_time",
    "peak_hours",
    "turn_wait",
    "wait_for_caller",
    "wait_for_new_caller",
    "waits_for_new_callers",
]


def wait_for_caller(live: LiveQueues, record: CallRecord, now: datetime) -> Wait:
    """The wait of a caller in the queue: one pipeline (position and everything the estimate reads)."""
    department = record.get("department")
    reads = Reads(live, department, rank_of(live, record.get("priority")), now, record.day, record.sid)
    pipe = live.conn.pipeline(transaction=False)
    live.queues.queue_position(pipe, record.sid, department)
    reads.queue(pipe)
    live.queues.turn_taken(pipe, record.sid, department, now)  # the reaper sees the caller is there
    position, reply, _turn = pipe.execute()
    return caller_wait(live, reads, record, int(position), Reads.replies(reply), now)


def wait_for_new_caller(live: LiveQueues, department: str, now: datetime, day: str) -> Wait:
    """The wait a caller joining `department` now would have, in its lowest class (everyone first)."""
    return waits_for_new_callers(live, [department], now, day)[0]


def waits_for_new_callers(live: LiveQueues, departments: list[str], now: datetime, day: str) -> list[Wait]:
    """`wait_for_new_caller` of each department, in one pipeline (the supervisor's statistics)."""
    pipe = live.conn.pipeline(transaction=False)
    each = []
    for department in departments:
        reads = Reads(live, department, rank_of(live, None), now, day)
        pipe.zcard(keys.queue_since(department))
        reads.queue(pipe)
        each.append(reads)
    replies = pipe.execute()
    waits = []
    for reads, waiting, reply in zip(each, replies[::2], replies[1::2], strict=True):
        state, summary = reads.parse(Reads.replies(reply), int(waiting), 0.0)
        peak, quiet = outlook(live, reads.department, summary, now)
        waits.append(Wait(reads.department, int(waiting) + 1, state, estimate(state), peak, quiet))
    return waits


def peak_hours(live: LiveQueues, department: str) -> list[int]:
    """The department's peak hours of the week (0 = Monday 00:00), from the profile summary."""
    text = live.conn.hget(keys.profile(department), "summary")
    return list(json.loads(text).get("peak") or []) if text else []
