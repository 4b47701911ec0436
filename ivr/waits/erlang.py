"""Erlang C: the classic M/M/s queue, for an hour's expected wait when only its averages are known.

Its work is bounded whatever the profile's counters say (the callback scheduler's webhook ranks
168 hours with it): at most MAX_AGENTS steps of the Erlang B recursion, fewer once the blocking
probability has underflowed to nothing, and NaN or infinite inputs give an infinite wait.
"""

from __future__ import annotations

import math

# The most agents the hotline file may plan for an hour; a team counted larger (a corrupted
# counter) is taken as this many, which changes nothing a caller could notice.
MAX_AGENTS = 10_000


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits, with `agents` servers and `load` Erlangs offered (load < agents)."""
    if agents <= 0 or not load < agents:  # NaN load included
        return 1.0
    if load <= 0:
        return 0.0
    agents = min(agents, MAX_AGENTS)
    if load >= agents:
        return 1.0
    blocking = 1.0  # Erlang B by its stable recursion, then C from B
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
        if blocking < 1e-300:  # it only shrinks from here: nobody waits
            return 0.0
    return blocking / (1 - (load / agents) * (1 - blocking))


def erlang_c_wait(agents: float, load: float, handle_seconds: float) -> float:
    """Mean wait of all callers in M/M/s; fractional agents interpolate between whole numbers."""
    if not (math.isfinite(agents) and math.isfinite(load) and math.isfinite(handle_seconds)):
        return math.inf
    agents = min(agents, float(MAX_AGENTS))
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
