"""The one owner of a call's status: the states a call record can be in and the moves between them.

Every write of `status` on `hl:call:{sid}` goes through `CallLife` (or, inside the few Lua scripts
that move a call together with other fields, through the allowed-from lists and names it hands
them as arguments). A move names where it goes; the table `ALLOWED_FROM` says from where it may
come; a move from anywhere else changes nothing and reports the status the call really has.

    new ──> menu ──┬──> closed ──────────────────> callback_scheduled ── its hour ──┐
                   │                                      ^ key 2                     v
                   ├──> queued ──── key 1: keep the place ┴──────────────────────> callback
                   │     │ ^ ^ ╲                                                    │ ^   ╲
                   │     │ │ │  ╲──> overflowed (queue full, held too long)        │ │    ╲─> callback_failed
                   │     │ │ │                                   customer pressed 1 │ │ agent missed,
                   │     v │ └── agent missed, lease expired ──┐                    v │ customer left
                   │   connecting <────────────────────────────┼────────────────────┘ │
                   │     │                                     │  ─────────────────────┘
                   │     v                                     │
                   │   on_call ──> served                      │
                   │     ├── transfer to a department ─────────┘ (back to queued, same place)
                   │     └──> transferred (a specialist line)
                   └──> ended <── the hang-up, from every live status: the status callback, or the
                                   reaper when Twilio says the call is over (callback places live on)

`ended` is written only by the closing script, which also records the outcome (served,
abandoned in the menu / in the queue / while the agent's phone rang, overflowed).
"""

from __future__ import annotations

from enum import StrEnum

import redis

from ivr import keys
from ivr.callcenter.events import CALL_EVENT_LUA
from ivr.scripts import Script


class CallStatus(StrEnum):
    """Where a call is (the `status` field of its record)."""

    MENU = "menu"  # in the IVR menu
    CLOSED = "closed"  # routed to a department that is closed now: after-hours options
    QUEUED = "queued"  # waiting in a department queue, in the hold loop
    CONNECTING = "connecting"  # given to an agent whose phone rings
    ON_CALL = "on_call"  # talking with the agent
    SERVED = "served"  # the agent hung up after talking (survey, goodbye)
    TRANSFERRED = "transferred"  # being dialled through to a specialist line
    OVERFLOWED = "overflowed"  # sent on to the overflow number (queue full, held too long)
    CALLBACK = "callback"  # hung up keeping the place: the hotline calls back (see cb_status)
    CALLBACK_SCHEDULED = "callback_scheduled"  # to be called back at a chosen hour
    CALLBACK_FAILED = "callback_failed"  # every callback attempt failed
    ENDED = "ended"  # the call is over (only the closing script writes it)


S = CallStatus
# to -> the statuses it may come from. Anything not listed is refused.
ALLOWED_FROM: dict[CallStatus, frozenset[CallStatus]] = {
    S.MENU: frozenset(),  # only the opening script, on a new CallSid
    S.CLOSED: frozenset({S.MENU, S.CLOSED}),
    # the hand-off (again); an agent who missed; a lease that expired; a transfer to a department
    S.QUEUED: frozenset({S.MENU, S.CLOSED, S.QUEUED, S.CONNECTING, S.ON_CALL}),
    # matched: a caller on hold, or a called-back customer who pressed 1
    S.CONNECTING: frozenset({S.QUEUED, S.CALLBACK}),
    S.ON_CALL: frozenset({S.CONNECTING}),
    S.SERVED: frozenset({S.ON_CALL, S.CONNECTING}),
    S.TRANSFERRED: frozenset({S.ON_CALL}),
    S.OVERFLOWED: frozenset({S.QUEUED, S.MENU}),
    # key 1 on hold; a callback being placed, due again or started at its hour; a customer
    # whose agent missed or who hung up while the agent's phone rang
    S.CALLBACK: frozenset({S.QUEUED, S.CALLBACK, S.CALLBACK_SCHEDULED, S.CONNECTING}),
    S.CALLBACK_SCHEDULED: frozenset({S.MENU, S.CLOSED, S.QUEUED}),
    S.CALLBACK_FAILED: frozenset({S.CALLBACK, S.CONNECTING}),
    S.ENDED: frozenset({S.MENU, S.CLOSED, S.QUEUED, S.CONNECTING, S.ON_CALL, S.SERVED, S.TRANSFERRED}),
}
# Statuses a hang-up does not end: the customer hung up on purpose and is called back later.
LIVES_ON = (S.CALLBACK, S.CALLBACK_SCHEDULED, S.CALLBACK_FAILED)
# Closing: status at the hang-up -> (outcome, daily counter counted, '' for none).
CLOSE_OUTCOMES: dict[CallStatus, tuple[str, str]] = {
    S.MENU: ("abandoned_in_menu", "abandoned_menu"),
    S.CLOSED: ("closed", ""),
    S.QUEUED: ("abandoned_in_queue", "abandoned_queue"),
    S.CONNECTING: ("abandoned_while_ringing", "abandoned_ringing"),
    S.ON_CALL: ("served", ""),
    S.SERVED: ("served", ""),
    S.TRANSFERRED: ("transferred", ""),
    S.OVERFLOWED: ("overflowed", ""),
}


def allowed_from(to: CallStatus, among: tuple[CallStatus, ...] | None = None) -> str:
    """The statuses `to` may come from as ',a,b,' for a script; `among` narrows them (each allowed)."""
    allowed = ALLOWED_FROM[to]
    if among is not None:
        wrong = [s for s in among if s not in allowed]
        if wrong:
            raise ValueError(f"{to} may not come from {', '.join(wrong)}")
        allowed = frozenset(among)
    return "," + ",".join(sorted(allowed)) + ","


def close_table() -> list[str]:
    """The closing script's arguments: ended, the statuses that live on, then status/outcome/counter."""
    args = [str(S.ENDED), "," + ",".join(LIVES_ON) + ","]
    for status, (outcome, counter) in CLOSE_OUTCOMES.items():
        args += [str(status), outcome, counter]
    return args


# `allowed_from`: ',a,b,'; `pairs`: `expect_count` field/value pairs that must hold, then field/value
# pairs to set ('' deletes). The status alone says whether a call ended (`ended`; a callback place
# lives on after its caller hung up, and still moves).
# Returns {status it came from}, or {'!', status} when the move was refused.
_MOVE = Script(
    CALL_EVENT_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'!', ''} end
local status = redis.call('HGET', KEYS[1], 'status') or ''
if not string.find(ARGV[1], ',' .. status .. ',', 1, true) then return {'!', status} end
local n = tonumber(ARGV[3])
for i = 4, 3 + 2 * n, 2 do
  if (redis.call('HGET', KEYS[1], ARGV[i]) or '') ~= ARGV[i + 1] then return {'!', status} end
end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
for i = 4 + 2 * n, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
log_call_event(KEYS[2], KEYS[1], status, ARGV[2], 'by', 'move')
return {status}
""",
    keys=("call", "events"),
    args=("allowed_from", "to", "expect_count", "pairs*"),
)


def _values(
    sid: str,
    to: CallStatus,
    among: tuple[CallStatus, ...] | None,
    expect: dict[str, str] | None,
    fields: dict[str, str],
) -> dict[str, object]:
    pairs: list[str] = []
    for name, value in [*(expect or {}).items(), *fields.items()]:
        pairs += [name, value]
    return {
        "call": keys.call(sid),
        "events": keys.events(),
        "allowed_from": allowed_from(to, among),
        "to": str(to),
        "expect_count": len(expect or {}),
        "pairs": pairs,
    }


class CallLife:
    """Moves call records between statuses, checked against `ALLOWED_FROM` in one script."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def move(
        self,
        sid: str,
        to: CallStatus,
        among: tuple[CallStatus, ...] | None = None,
        *,
        expect: dict[str, str] | None = None,
        **fields: str,
    ) -> str | None:
        """Move the call to `to` (from `among`, else from any allowed status); the status it came from.

        None when refused: the call is in another status (or has none), or a field of `expect`
        does not hold. `fields` are written with the move ('' deletes a field).
        """
        reply = _MOVE(self.conn, **_values(sid, to, among, expect, fields))
        return None if reply[0] == "!" else str(reply[0])


def queue_move(
    pipe: redis.client.Pipeline,
    sid: str,
    to: CallStatus,
    among: tuple[CallStatus, ...] | None = None,
    **fields: str,
) -> None:
    """Queue a move on a pipeline (a webhook's single write); its reply is the script's, as in `move`."""
    _MOVE.queue(pipe, **_values(sid, to, among, None, fields))
