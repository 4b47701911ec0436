"""Erlang C: the classic M/M/s queue, for an hour's expected wait when only its averages are known."""

from __future__ import annotations

import math


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits, with `agents` servers and `load` Erlangs offered (load < agents)."""
    if agents <= 0 or load >= agents:
        return 1.0
    if load <= 0:
        return 0.0
    blocking = 1.0  # Erlang B by its stable recursion, then C from B
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking / (1 - (load / agents) * (1 - blocking))


def erlang_c_wait(agents: float, load: float, handle_seconds: float) -> float:
    """Mean wait of all callers in M/M/s; fractional agents interpolate between whole numbers."""
    low = math.floor(agents)
    if load >= agents or agents <= 0:
        return math.inf

    def wait(s: int) -> float:
        if s <= load:
            return math.inf
        return erlang_c(s, load) * handle_seconds / (s - load)

    if low == agents:
        return wait(low)
    frac = agents - low
    low_wait = wait(low)
    if math.isinf(low_wait):
        # Between a team that cannot keep up and one that can: the higher team's wait, scaled up.
        return wait(low + 1) / frac
    return (1 - frac) * low_wait + frac * wait(low + 1)
