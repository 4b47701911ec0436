"""The screen pop: what an agent's console shows about their caller, from the call record.

The account identifier is masked (last four only); the agent sees whether the caller was
verified and how, not the digits they keyed. "Calls from this number in the last seven days"
comes from `hl:callsfrom:{e164}`, which the call-creation script fills in the same round trip
that creates the record; old entries are trimmed here, where the count is read, so the
webhooks run no range deletes (see tests/test_redis_budget.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import redis

from ivr import keys
from ivr.callcenter.calls import VERIFIED, CallRecord
from ivr.callcenter.notes import notes_of
from ivr.phones import mask_account

WINDOW = timedelta(days=7)


def _ms(when: datetime) -> int:
    """Milliseconds since the Unix epoch (the scores of `hl:callsfrom:{e164}`)."""
    return int(when.timestamp() * 1000)


def previous_calls(conn: redis.Redis, caller: str, created_at: datetime, now: datetime) -> int:
    """Calls from `caller` in the seven days before `created_at` (that call itself not counted)."""
    if not caller:
        return 0  # anonymous: nothing to count by
    key = keys.calls_from(caller)
    # Nothing older than the oldest call record still alive can be asked about again.
    oldest_asked = now - WINDOW - timedelta(seconds=keys.CALL_TTL_SECONDS)
    pipe = conn.pipeline(transaction=False)
    pipe.zremrangebyscore(key, "-inf", f"({_ms(oldest_asked)}")
    pipe.zcount(key, _ms(created_at - WINDOW), f"({_ms(created_at)}")
    return int(pipe.execute()[1])


def waited_seconds(record: CallRecord, now: datetime) -> int:
    """How long the caller has waited in their current queue (until answered, if they were)."""
    queued = record.get("queued_at")
    if not queued:
        return 0
    start = datetime.fromisoformat(queued)
    answered = datetime.fromisoformat(record.get("answered_at") or now.isoformat())
    # An answer before the current queue belongs to an earlier leg (the caller was transferred).
    end = answered if answered >= start else now
    return max(int((end - start).total_seconds()), 0)


def screen_pop(conn: redis.Redis, record: CallRecord, now: datetime) -> dict[str, Any]:
    """The screen pop of one call, as the agent API returns it."""
    created = datetime.fromisoformat(record.get("created_at") or now.isoformat())
    verification = record.get("verified")
    return {
        "ref": record.get("ref"),
        "status": record.get("status"),
        "department": record.get("department") or None,
        "issue": record.get("issue") or None,
        "priority": record.get("priority") or None,
        "language": record.get("lang") or None,
        "account": mask_account(record.get("account")) if record.get("account") else None,
        "verified": verification in VERIFIED,
        "verification": verification if verification in VERIFIED else None,
        "waited_seconds": waited_seconds(record, now),
        "previous_calls_7d": previous_calls(conn, record.get("caller"), created, now),
        "transfers": int(record.get("transfers") or 0),
        "notes": notes_of(record),
        "disposition": record.get("disposition") or None,
        "on_hold": record.get("on_hold") == "1",
        "consulting": record.get("consult_agent") or None,
        "consult_state": record.get("consult_state") or None,
        # The agent who has the caller and consults: whom a consulted agent talks with.
        "consulted_by": (record.get("agent") or None) if record.get("consult_agent") else None,
        "supervisor": record.get("supervisor") or None,
        "supervisor_mode": record.get("supervisor_mode") or None,
        "recording": record.get("recording_status") or None,
        "recording_declined": record.get("recording_declined") == "1",
    }
