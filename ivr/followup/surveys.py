"""Survey answers: one score per call, an optional spoken comment, totals per agent and department.

Each answer is one Lua script on the call's survey hash and the day's totals, so a repeated
webhook (Twilio retries, a caller pressing again after a stale prompt) never counts twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from ivr import keys
from ivr.redis_types import text_hash
from ivr.scripts import Script

SCORES = range(1, 6)

# Keep a call's score once, and count it for its agent and department in the day's `stats`.
_SCORE = Script(
    """
if redis.call('HEXISTS', KEYS[1], 'score') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'agent', ARGV[1], 'department', ARGV[2], 'score', ARGV[3], 'at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
for _, who in ipairs({'agent:' .. ARGV[1], 'dept:' .. ARGV[2]}) do
  redis.call('HINCRBY', KEYS[2], who .. ':n', 1)
  redis.call('HINCRBY', KEYS[2], who .. ':sum', ARGV[3])
  redis.call('HINCRBY', KEYS[2], who .. ':score' .. ARGV[3], 1)
end
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
""",
    keys=("survey", "stats"),
    args=("agent", "department", "score", "at", "ttl"),
)

# Attach a spoken comment (once) to a call that has a score, and count it.
_COMMENT = Script(
    """
if redis.call('HEXISTS', KEYS[1], 'score') == 0 or redis.call('HEXISTS', KEYS[1], 'comment_url') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'comment_url', ARGV[1], 'comment_seconds', ARGV[2])
local agent = redis.call('HGET', KEYS[1], 'agent')
local dept = redis.call('HGET', KEYS[1], 'department')
redis.call('HINCRBY', KEYS[2], 'agent:' .. agent .. ':comments', 1)
redis.call('HINCRBY', KEYS[2], 'dept:' .. dept .. ':comments', 1)
return 1
""",
    keys=("survey", "stats"),
    args=("recording_url", "seconds"),
)


class Surveys:
    """Stores survey answers and reads the day's results."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def score(self, sid: str, day: str, agent: str, department: str, score: int, now: datetime) -> bool:
        """Keep the caller's score; False when the call was already rated."""
        if score not in SCORES:
            raise ValueError(f"a score is 1 to 5, not {score}")
        kept = _SCORE(
            self.conn,
            survey=keys.survey(sid),
            stats=keys.survey_stats(day),
            agent=agent or "-",
            department=department or "-",
            score=score,
            at=now.isoformat(),
            ttl=keys.STATS_TTL_SECONDS,
        )
        return bool(kept)

    def comment(self, sid: str, day: str, recording_url: str, seconds: int) -> bool:
        """Attach the spoken comment to the call's score; False without a score or when repeated."""
        return bool(
            _COMMENT(
                self.conn,
                survey=keys.survey(sid),
                stats=keys.survey_stats(day),
                recording_url=recording_url,
                seconds=seconds,
            )
        )

    def answer(self, sid: str) -> dict[str, str]:
        """One call's answer (empty when the caller did not rate the call)."""
        return text_hash(self.conn.hgetall(keys.survey(sid)))

    def results(self, day: str) -> dict[str, list[dict[str, Any]]]:
        """The day's results per agent and per department: count, average, spread, comments."""
        totals = {k: int(v) for k, v in text_hash(self.conn.hgetall(keys.survey_stats(day))).items()}
        groups: dict[str, dict[str, dict[str, int]]] = {"agent": {}, "dept": {}}
        for field, value in totals.items():
            kind, _, rest = field.partition(":")
            name, _, counter = rest.rpartition(":")
            if kind in groups and name:
                groups[kind].setdefault(name, {})[counter] = value
        return {
            "agents": [_row("agent", name, c) for name, c in sorted(groups["agent"].items())],
            "departments": [_row("department", name, c) for name, c in sorted(groups["dept"].items())],
        }


def _row(label: str, name: str, counters: dict[str, int]) -> dict[str, Any]:
    answered = counters.get("n", 0)
    return {
        label: name,
        "answered": answered,
        "average_score": round(counters.get("sum", 0) / answered, 2) if answered else None,
        "scores": {str(s): counters.get(f"score{s}", 0) for s in SCORES},
        "comments": counters.get("comments", 0),
    }
