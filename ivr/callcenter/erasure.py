"""Erasure: everything the hotline keeps about a phone number or an account, removed on request.

A data protection request names a caller by their phone number (E.164) or their account
identifier. `erase` finds every call record of theirs (from the number, called back on it, or
naming the account: a cursor over the call records, which live two days, and the number's own
index), and removes, for each call: its recording (deleted at Twilio, and from the retention
index), its voicemail ticket, its survey answer, its reference number, its place in a queue
(a callback's place: it will not be called back), its entries in the event log, and the record
itself with its notes. For a number it also removes the language the caller chose, the
calls-from index and the places kept for a caller who hung up. It reports what it removed.

Daily counters (how many calls, how many answered) are not personal and stay. A recording Twilio
cannot delete now is reported, and its sid is kept for the number (or the account) under
`keys.recordings_to_erase` before the call record naming it goes: everything else is erased at
once, and running the request again deletes exactly those recordings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from ivr import keys
from ivr.callcenter.calls import CallRecord, recordings_of
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.queues import Queues
from ivr.redis_types import text, text_hash, texts
from ivr.twilio_rest import Failure, TwilioApi, TwilioError

EVENTS_PER_READ = 1000


@dataclass
class Erased:
    """What one erasure removed (and what it could not)."""

    calls: list[str] = field(default_factory=list)  # CallSids whose records were removed
    recordings: list[str] = field(default_factory=list)  # deleted at Twilio
    recordings_kept: list[str] = field(default_factory=list)  # Twilio could not delete them now
    tickets: list[str] = field(default_factory=list)  # references of voicemail tickets
    callback_places: int = 0
    kept_places: int = 0
    language: bool = False
    events: int = 0

    def lines(self) -> list[str]:
        """The report, line by line."""
        report = [
            f"call records: {len(self.calls)}",
            f"recordings deleted at Twilio: {len(self.recordings)}",
            f"voicemail tickets: {len(self.tickets)}",
            f"callback places: {self.callback_places}",
            f"places kept after a hang-up: {self.kept_places}",
            f"language choice: {'removed' if self.language else 'none'}",
            f"event log entries: {self.events}",
        ]
        if self.recordings_kept:
            report.append(f"NOT deleted (Twilio refused, run again): {', '.join(self.recordings_kept)}")
        return report


def erase(
    conn: redis.Redis,
    queues: Queues,
    twilio: TwilioApi,
    departments: list[str],
    *,
    number: str = "",
    account: str = "",
) -> Erased:
    """Remove everything kept about `number` (E.164) or `account`."""
    if not number and not account:
        raise ValueError("give a phone number or an account")
    done = Erased()
    pending = keys.recordings_to_erase(number, account)
    _delete_recordings(conn, twilio, pending, sorted(texts(conn.smembers(pending))), done)  # a run before
    for record in _calls_of(conn, number, account):
        _erase_call(conn, queues, twilio, pending, record, done)
    if number:
        pipe = conn.pipeline(transaction=False)
        pipe.delete(keys.language(number))
        pipe.delete(keys.calls_from(number))
        for department in departments:
            pipe.delete(keys.last_place(department, number))
        replies = pipe.execute()
        done.language = bool(replies[0])
        done.kept_places = sum(int(reply) for reply in replies[2:])
    done.events = _erase_events(conn, set(done.calls))
    return done


def _calls_of(conn: redis.Redis, number: str, account: str) -> list[CallRecord]:
    """Every call record from `number`, called back on it, or naming `account`."""
    sids = set(texts(conn.zrange(keys.calls_from(number), 0, -1))) if number else set()
    found: dict[str, CallRecord] = {}
    for key in conn.scan_iter(match=keys.call("*"), count=500):
        name = key.decode() if isinstance(key, bytes) else str(key)
        sid = name.removeprefix(keys.call(""))
        fields = text_hash(conn.hgetall(name))
        mine = (
            sid in sids
            or (number and number in (fields.get("caller"), fields.get("cb_number")))
            or (account and fields.get("account") == account)
        )
        if mine and fields:
            found[sid] = CallRecord(sid, fields)
    return list(found.values())


def _delete_recordings(
    conn: redis.Redis, twilio: TwilioApi, pending: str, recordings: list[str], done: Erased
) -> None:
    """Delete recordings at Twilio; one Twilio refuses is kept under `pending` for the next run."""
    for recording in recordings:
        try:
            twilio.delete_recording(recording)
        except TwilioError as exc:
            if exc.kind is not Failure.NOT_FOUND:  # not found: gone already (retention, a run before)
                conn.sadd(pending, recording)  # before its call record goes: nothing else names it
                done.recordings_kept.append(recording)
                continue
        pipe = conn.pipeline(transaction=False)
        pipe.zrem(keys.recordings_kept(), recording)
        pipe.srem(pending, recording)
        pipe.execute()
        done.recordings.append(recording)


def _erase_call(
    conn: redis.Redis, queues: Queues, twilio: TwilioApi, pending: str, record: CallRecord, done: Erased
) -> None:
    # Every room's recording, not the last one only.
    _delete_recordings(conn, twilio, pending, [r.sid for r in recordings_of(record)], done)
    department, ref = record.get("department"), record.get("ref")
    if (
        record.get("status") in (CallStatus.CALLBACK, CallStatus.CALLBACK_SCHEDULED, CallStatus.QUEUED)
        and department
    ):
        if queues.leave(record.sid, department, record.day, abandoned=False):
            done.callback_places += 1
    pipe = conn.pipeline(transaction=False)
    if ref:
        pipe.delete(keys.ticket(ref))
        if department:
            pipe.zrem(keys.tickets(department), ref)
        pipe.delete(keys.reference(ref))
    pipe.delete(keys.survey(record.sid))
    pipe.delete(keys.call(record.sid))
    replies = pipe.execute()
    if ref and replies[0]:
        done.tickets.append(ref)
    done.calls.append(record.sid)


def _erase_events(conn: redis.Redis, sids: set[str]) -> int:
    """Remove the event log's entries about these calls; how many."""
    if not sids:
        return 0
    removed, start = 0, "-"
    while True:
        # redis-py types a stream read loosely (entries may be None): read as the event log does.
        entries: Any = conn.xrange(keys.events(), min=start, max="+", count=EVENTS_PER_READ)
        batch = [(text(entry_id), text_hash(fields or {})) for entry_id, fields in entries or []]
        doomed = [entry_id for entry_id, fields in batch if fields.get("sid") in sids]
        if doomed:
            removed += int(conn.xdel(keys.events(), *doomed))
        if len(batch) < EVENTS_PER_READ:
            return removed
        start = "(" + batch[-1][0]
