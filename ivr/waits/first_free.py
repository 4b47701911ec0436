"""How long until one of a caller's agents is free for them: the first stage of their wait, from
the calls those agents are on now.

The stages of `estimate.py` take every busy agent to finish at rate 1/handle from any moment,
true of exponential calls only. A caller who finds every agent busy has, more often than not,
agents on calls just begun (the last agent was taken a moment ago): with handle times less
spread than exponential (lognormal talk plus a fixed wrap-up), those agents are minutes from
free. In the simulated day (seeds 1-10) callers told "less than a minute" by the rate of an
average agent had it 76% of the time, where the model said 86%; English payments callers, with
three agents on young calls, 40%.

Here each agent counts by their own call:
- on a call answered `age` seconds ago: the rest of the talk (a gamma law of the department's
  mean talk time and spread, given that it lasted `age` so far: `residual`), then the wrap-up
  and the wait for the worker's sweep that ends it (half its period on average);
- in wrap-up: the seconds left of it and of the sweep;
- about to start a call (reserved, ringing, or ready but taking a caller ahead): a whole call.
Each agent's free time is taken as a shifted exponential with that mean and spread (a shift of
mean - sd, then an exponential of mean sd; a call more spread than exponential: no shift), so
the time until the first of them frees has its moments in closed form, O(n log n) in the
agents (`first_free`). An agent who takes other departments first counts by `share`: not at all
when callers wait there now (the first call they finish goes to those callers), else by the
share of them those departments' demand leaves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ivr.waits import gamma

# The agents' entries read at most (the read script's BUSY_READ): beyond, the first stage is
# the model's own (all agents alike). Each agent costs about 3 us in `first_free` (110 us at 32).
BUSY_READ = 32
# The residual table's step, in ages and in cvs, as a share of the mean talk time (and in cv):
# well within what the talk times' own spread can tell. Ages past RESIDUAL_AGES means read as
# that (the residual has long settled on the gamma's exponential tail there).
RESIDUAL_GRAIN = 0.02
RESIDUAL_AGES = 8.0


@dataclass(frozen=True)
class Busy:
    """One agent as the first stage sees them.

    age: seconds since their call was answered (None: in wrap-up, `after` seconds from free);
    talk: mean talk time of that call's department; cv: its coefficient of variation;
    after: seconds from the call's end (or from now, in wrap-up) until the agent is free;
    share: how much of the agent's freeing serves this caller (0..1).
    """

    age: float | None
    talk: float
    cv: float
    after: float
    share: float = 1.0


@lru_cache(maxsize=64)
def _residual_table(cv: float) -> tuple[tuple[float, float], ...]:
    """Mean and sd of the rest of a gamma law of mean 1 and this cv, given it lasted each age
    of the grid (0 to RESIDUAL_AGES by RESIDUAL_GRAIN): worked out once per cv (the spread of a
    department's calls moves slowly), then read for every agent of every hold turn."""
    shape, scale = 1 / (cv * cv), cv * cv
    out: list[tuple[float, float]] = []
    for i in range(round(RESIDUAL_AGES / RESIDUAL_GRAIN) + 1):
        age = i * RESIDUAL_GRAIN
        u = age / scale
        surviving = 1 - gamma.regularized_lower(shape, u) if age > 0 else 1.0
        if surviving < 1e-9:  # far in the tail: the gamma's tail is exponential of mean `scale`
            out.append(out[-1] if out else (scale, scale))
            continue
        first = shape * scale * (1 - gamma.regularized_lower(shape + 1, u)) / surviving
        second = shape * (shape + 1) * scale**2 * (1 - gamma.regularized_lower(shape + 2, u)) / surviving
        mean = max(first - age, 0.0)
        rest = second - 2 * age * first + age * age
        out.append((mean, math.sqrt(max(rest - mean * mean, 0.0))))
    return tuple(out)


def residual(age: float, talk: float, cv: float) -> tuple[float, float]:
    """Mean and sd of the talk still to come on a call answered `age` seconds ago (gamma law of
    mean `talk` and coefficient of variation `cv`), interpolated in `_residual_table`."""
    if talk <= 0:
        return 0.0, 0.0
    table = _residual_table(min(max(round(cv / RESIDUAL_GRAIN) * RESIDUAL_GRAIN, 0.1), 5.0))
    at = min(max(age, 0.0) / talk, RESIDUAL_AGES) / RESIDUAL_GRAIN
    i = min(int(at), len(table) - 2)
    w = at - i
    (m0, s0), (m1, s1) = table[i], table[i + 1]
    return (m0 + w * (m1 - m0)) * talk, (s0 + w * (s1 - s0)) * talk


def free_in(agent: Busy) -> float:
    """The agent's expected seconds until free (for this caller or not)."""
    if agent.age is None:
        return max(agent.after, 0.0)
    return residual(agent.age, agent.talk, agent.cv)[0] + max(agent.after, 0.0)


def _integrals(a: float, length: float, rate: float) -> tuple[float, float, float]:
    """The integrals of t^p exp(-rate (t - a)) over [a, a + length], p = 0, 1, 2 (length may be inf)."""
    y = rate * length
    if math.isinf(length):
        i0, i1, i2 = 1 / rate, 1 / rate**2, 2 / rate**3
    elif y < 1e-2:  # the series: the closed forms below lose their digits to cancellation
        i0 = length - rate * length**2 / 2 + rate * rate * length**3 / 6
        i1 = length**2 / 2 - rate * length**3 / 3 + rate * rate * length**4 / 8
        i2 = length**3 / 3 - rate * length**4 / 4 + rate * rate * length**5 / 10
    else:
        e = math.exp(-y)
        i0 = (1 - e) / rate
        i1 = (1 - e * (1 + y)) / rate**2
        i2 = (2 - e * (2 + 2 * y + y * y)) / rate**3
    # (a + x)^p expanded: t = a + x.
    return i0, a * i0 + i1, a * a * i0 + 2 * a * i1 + i2


def first_free(agents: list[Busy]) -> tuple[float, float, float] | None:
    """Mean, variance and third cumulant of the time until the first of `agents` is free for the
    caller; None when none of them counts (no share) or the moments are not finite."""
    pieces: list[tuple[float, float]] = []  # (shift, rate)
    for agent in agents:
        if agent.share <= 0:
            continue
        if agent.age is None:  # in wrap-up: free once it and the sweep that ends it are over
            mean, sd, after = max(agent.after, 0.0), 0.0, 0.0
        else:
            mean, sd = residual(agent.age, agent.talk, agent.cv)
            after = max(agent.after, 0.0)
        sd = max(sd, 1.0)  # a free time to the second is as exact as the hotline knows it
        shift = after + max(mean - sd, 0.0)
        spread = sd if sd <= mean else max(mean, 1.0)
        pieces.append((shift, agent.share / spread))
    if not pieces:
        return None
    pieces.sort()
    # S(t) = exp(-sum over pieces shifted before t of rate (t - shift)), piecewise exponential.
    m1 = m2 = m3 = 0.0
    survival, rate, start = 1.0, 0.0, 0.0
    for i, (shift, piece_rate) in enumerate([*pieces, (math.inf, 0.0)]):
        length = shift - start
        if length > 0 and survival > 0:
            if rate <= 0:
                if math.isinf(length):
                    return None
                i0, i1, i2 = (
                    length,
                    (start + length) ** 2 / 2 - start**2 / 2,
                    ((start + length) ** 3 - start**3) / 3,
                )
            else:
                i0, i1, i2 = _integrals(start, length, rate)
            m1 += survival * i0
            m2 += 2 * survival * i1
            m3 += 3 * survival * i2
            if not math.isinf(length):
                survival *= math.exp(-rate * length)
                if survival < 1e-12:  # all but surely free by now: later agents change nothing
                    break
        if i < len(pieces):
            rate += piece_rate
            start = max(shift, start)
    variance = max(m2 - m1 * m1, 0.0)
    third = m3 - 3 * m2 * m1 + 2 * m1**3
    if not (math.isfinite(m1) and math.isfinite(variance) and math.isfinite(third)) or m1 <= 0:
        return None
    return m1, variance, third
