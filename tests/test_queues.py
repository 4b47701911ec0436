"""The department queue's promises: class first, then arrival; lanes per language; places kept."""

from __future__ import annotations

from datetime import datetime, timedelta

import redis

from ivr.callcenter.queues import Queues
from tests.conftest import OPEN_HOURS

DAY = "261124"
NORMAL, HIGH, URGENT = 2, 1, 0


def join(q: Queues, sid: str, rank: int = NORMAL, locale: str = "zh-CN", at: datetime = OPEN_HOURS) -> int:
    """A caller joins payments."""
    position = q.join(sid, "payments", locale, rank, at, capacity=5, day=DAY)
    assert position is not None
    return position


def test_class_then_arrival_even_within_one_millisecond(redis_conn: redis.Redis) -> None:
    """Equal arrival times do not fall back to CallSid order: the counter breaks the tie."""
    q = Queues(redis_conn, ["zh-CN", "en-US"])
    assert [join(q, sid) for sid in ("CAz", "CAy", "CAx")] == [1, 2, 3]
    assert join(q, "CAurgent", URGENT) == 1
    assert join(q, "CAhigh", HIGH, locale="en-US") == 2
    assert q.listing("payments") == ["CAurgent", "CAhigh", "CAz", "CAy", "CAx"]
    assert q.position("CAx", "payments") == 5
    assert join(q, "CAx") == 5  # joining twice changes nothing


def test_agent_gets_best_caller_in_their_languages(redis_conn: redis.Redis) -> None:
    """An English-only agent skips Mandarin callers; a bilingual agent takes the best of both."""
    q = Queues(redis_conn, ["zh-CN", "en-US"])
    join(q, "CAzh1")
    join(q, "CAen1", locale="en-US")
    join(q, "CAzh2", HIGH)
    popped = q.pop_for("payments", ["en-US"])
    assert popped is not None and popped.sid == "CAen1"
    popped = q.pop_for("payments", ["zh-CN", "en-US"])
    assert popped is not None and popped.sid == "CAzh2"
    assert q.listing("payments") == ["CAzh1"]
    assert q.pop_for("payments", ["en-US"]) is None


def test_requeued_caller_keeps_their_place(redis_conn: redis.Redis) -> None:
    """An agent who does not answer sends the caller back ahead of everyone who came later."""
    q = Queues(redis_conn, ["zh-CN", "en-US"])
    join(q, "CAfirst")
    join(q, "CAsecond")
    popped = q.pop_for("payments", ["zh-CN"])
    assert popped is not None
    join(q, "CAthird")
    position = q.join(
        popped.sid, "payments", "zh-CN", NORMAL, OPEN_HOURS, 5, DAY, score=popped.score, offer=False
    )
    assert position == 1
    assert q.listing("payments") == ["CAfirst", "CAsecond", "CAthird"]
    assert redis_conn.hget(f"hl:dstats:{{payments}}:{DAY}", "offered") == "3"


def test_capacity_and_leaving(redis_conn: redis.Redis) -> None:
    """A full department refuses the next caller; a caller who leaves frees the place."""
    q = Queues(redis_conn, ["zh-CN", "en-US"])
    for i in range(5):
        join(q, f"CA{i}")
    assert join(q, "CAlate") == 0
    assert q.leave("CA2", "payments", DAY, abandoned=True, waited_ms=30_000)
    assert not q.leave("CA2", "payments", DAY, abandoned=True, waited_ms=30_000)
    assert join(q, "CAlate") == 5
    stats = redis_conn.hgetall(f"hl:dstats:{{payments}}:{DAY}")
    assert stats["abandoned"] == "1" and stats["abandoned_wait_ms"] == "30000" and stats["queue_full"] == "1"


def test_overflow_takes_only_callers_who_waited_long_enough(redis_conn: redis.Redis) -> None:
    """Another department's agents may take callers who waited past the threshold, best first."""
    q = Queues(redis_conn, ["zh-CN", "en-US"])
    join(q, "CAold", at=OPEN_HOURS - timedelta(minutes=5))
    join(q, "CAnew-urgent", URGENT, at=OPEN_HOURS)
    popped = q.pop_for("payments", ["zh-CN"], arrived_before=OPEN_HOURS - timedelta(minutes=2))
    assert popped is not None and popped.sid == "CAold"
    oldest = q.oldest_arrival("payments")
    assert oldest is not None and abs((oldest - OPEN_HOURS).total_seconds()) < 0.01
