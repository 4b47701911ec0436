"""Every Redis key the hotline uses, spelled in one place.

| key                     | type   | TTL   | written by                    | read by               |
|-------------------------|--------|-------|-------------------------------|-----------------------|
| hl:call:{sid}           | hash   | 2 d   | voice webhooks, freeze job    | webhooks, agents      |
| hl:ref:{reference}      | string | 30 d  | call creation (script)        | agents, supervisors   |
| hl:refseq:{yymmdd}      | string | 2 d   | call creation (script)        | call creation         |
| hl:lang:{e164}          | string | 365 d | language choice               | call creation         |
| hl:account:{account_id} | hash   | none  | demo directory loader, freeze | account lookup script |
| hl:queue:{dept}         | zset   | none  | hand-off, status callback     | hold loop, agents     |
| hl:queueseq:{dept}      | string | none  | hand-off (arrival order)      | hand-off              |
| hl:stats:{yymmdd}       | hash   | 8 d   | call creation, hand-off, end  | supervisors           |

`{dept}` keys carry a Redis Cluster hash tag, so one department's keys live in one slot and
a script touching them runs unchanged on a cluster.
"""

from __future__ import annotations

PREFIX = "hl"

CALL_TTL_SECONDS = 2 * 24 * 3600
REF_TTL_SECONDS = 30 * 24 * 3600
REFSEQ_TTL_SECONDS = 2 * 24 * 3600
LANG_TTL_SECONDS = 365 * 24 * 3600
STATS_TTL_SECONDS = 8 * 24 * 3600


def call(call_sid: str) -> str:
    """The call record: what the menu learned about one call."""
    return f"{PREFIX}:call:{call_sid}"


def reference(ref: str) -> str:
    """Reference number -> CallSid, so an agent can find a call from the number a caller quotes."""
    return f"{PREFIX}:ref:{ref}"


def reference_sequence(day: str) -> str:
    """Per-day counter behind reference numbers (day as yymmdd in the hotline's time zone)."""
    return f"{PREFIX}:refseq:{day}"


def language(e164: str) -> str:
    """The language a caller chose last time, keyed by their normalised number."""
    return f"{PREFIX}:lang:{e164}"


def account(account_id: str) -> str:
    """One account of the demo directory (name, registered mobile, status)."""
    return f"{PREFIX}:account:{account_id}"


def queue(department: str) -> str:
    """Callers waiting for a department, scored by priority class then arrival."""
    return f"{PREFIX}:queue:{{{department}}}"


def queue_sequence(department: str) -> str:
    """Monotonic arrival counter of a department queue (same hash tag as the queue)."""
    return f"{PREFIX}:queueseq:{{{department}}}"


def daily_stats(day: str) -> str:
    """Counters of one day: calls offered, handed off per department, abandoned per menu step."""
    return f"{PREFIX}:stats:{day}"
