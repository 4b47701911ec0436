"""Rate limits on callbacks and messages: per number, across the hotline, and an hourly cap.

Toll fraud works by making a hotline call or text expensive numbers, many times. Every outbound
action asks `OutboundLimits.allow` first. The check and the count are one Lua script over
fixed-window counters, so two workers racing for the last slot cannot both get it, and a refused
action is not counted against the window. Refusals are logged (number masked) and counted per
day for the supervisor statistics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import redis

from ivr import keys
from ivr.clock import business_day
from ivr.hotline.outreach import OutboundLimitSettings
from ivr.phones import mask_phone
from ivr.redis_types import text_hash
from ivr.scripts import Script

log = logging.getLogger(__name__)

Kind = Literal["callback", "call", "message"]

# All windows pass, then all count; else nothing counts and the first full window is named (its
# 1-based index). `limits`: (limit, ttl seconds) of each of `windows`, in order.
_CHECK_AND_COUNT = Script(
    """
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then return i end
end
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[2 * i])
end
return 0
""",
    keys=("windows*",),
    args=("limits*",),
)


@dataclass(frozen=True)
class Window:
    """One limit: at most `limit` actions per `seconds`, for one number or for the whole hotline."""

    name: str
    limit: int
    seconds: int
    per_number: bool


def windows(settings: OutboundLimitSettings, kind: Kind) -> list[Window]:
    """The limits an action of `kind` must pass, from the hotline file."""
    day, hour, minute = 86400, 3600, 60
    if kind == "callback":
        return [
            Window("callbacks_per_number_per_day", settings.callbacks_per_number_per_day, day, True),
            Window("callbacks_per_minute", settings.callbacks_per_minute, minute, False),
        ]
    if kind == "call":
        return [Window("calls_per_hour", settings.calls_per_hour, hour, False)]
    return [
        Window("messages_per_number_per_day", settings.messages_per_number_per_day, day, True),
        Window("messages_per_minute", settings.messages_per_minute, minute, False),
        Window("messages_per_hour", settings.messages_per_hour, hour, False),
    ]


class OutboundLimits:
    """Asks, and counts, before anything is dialled or sent."""

    def __init__(self, conn: redis.Redis, settings: OutboundLimitSettings, timezone: str) -> None:
        self.conn = conn
        self.settings = settings
        self.timezone = timezone

    def allow(self, kind: Kind, e164: str, now: datetime) -> str | None:
        """None when the action may go ahead (and it is counted); else the name of the limit hit."""
        limits = windows(self.settings, kind)
        day = business_day(now, self.timezone)
        key_list, argv = [], []
        for w in limits:
            # A per-number day is the hotline's local day; the rest are plain clock windows.
            slot = day if w.seconds == 86400 else str(int(now.timestamp()) // w.seconds)
            key_list.append(keys.outbound_window(kind, w.name, slot, e164 if w.per_number else None))
            argv += [w.limit, w.seconds + 60]
        hit = int(_CHECK_AND_COUNT(self.conn, windows=key_list, limits=argv))
        if not hit:
            return None
        name = limits[hit - 1].name
        self.conn.hincrby(keys.outbound_refusals(day), f"{kind}:{name}", 1)
        log.warning("outbound %s to %s refused: %s", kind, mask_phone(e164), name)
        return name

    def refusals(self, day: str) -> dict[str, int]:
        """Refusals of one day, by 'kind:limit'."""
        return {k: int(v) for k, v in text_hash(self.conn.hgetall(keys.outbound_refusals(day))).items()}
