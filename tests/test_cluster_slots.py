"""Why the README says Redis Cluster is not supported: one script's keys span hash slots.

A Cluster runs a script only when all its keys hash to one slot (else CROSSSLOT). The script
that opens a call (every call's first webhook) touches the call's record, the day's reference
sequence and statistics, and the caller's language and recent-calls keys; with the key names of
ivr/keys.py these fall in different slots, so the hotline runs on one primary (under Sentinel).
"""

from __future__ import annotations

from redis.crc import key_slot

from ivr import keys
from ivr.callcenter.calls import _OPEN_CALL


def test_the_call_opening_scripts_keys_fall_in_several_cluster_slots() -> None:
    assert _OPEN_CALL.keys == ("call", "refseq", "language", "stats", "calls_from")
    day, caller = "2026-11-24", "+8613800138000"
    touched = [
        keys.call("CA" + "1" * 32),
        keys.reference_sequence(day),
        keys.language(caller),
        keys.daily_stats(day),
        keys.calls_from(caller),
    ]
    slots = {key_slot(key.encode()) for key in touched}
    assert len(slots) > 1, touched
