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
  mean talk time and spread, given that it lasted `age` so far), then the wrap-up and the wait
  for the worker's sweep that ends it (half its period on average);
- in wrap-up: the seconds left of it and of the sweep;
- about to start a call (reserved, ringing, or ready but taking a caller ahead): a whole call.
The chance that none of them is free by t is the product of theirs, read from a log-survival
table of the gamma law per cv (built once per cv) at points a step apart, exponential between
them (`first_free`): O(agents x points), about 50-100 us for five to eight agents. An agent who
takes other departments first counts by `share` (`queue_state.Reads._first_stage`).

Taking each agent's free time as a shifted exponential of the same mean and spread (closed
forms, a third of the cost) left out the early finishes of calls under way: callers answered
within a minute were told "between 1 and 3 minutes" (in the simulated day, 16 of the 42
callers who heard a range with nobody ahead were answered before its low end).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ivr.waits import gamma

# The agents' entries read at most (the read script's BUSY_READ): beyond, the first stage is
# the model's own (all agents alike).
BUSY_READ = 32
# The residual table's step, in ages and in cvs, as a share of the mean talk time (and in cv):
# well within what the talk times' own spread can tell. Ages past RESIDUAL_AGES means read as
# that (the residual has long settled on the gamma's exponential tail there).
RESIDUAL_GRAIN = 0.02
RESIDUAL_AGES = 8.0
# The survival table reaches this many means (an agent's age plus the wait looked at).
SURVIVAL_AGES = 12.0
# The first stage's law is worked out at points this share of the shortest mean talk apart, at
# most MAX_POINTS of them (then on at the last span's rate).
STEP_SHARE = 1 / 8
MAX_POINTS = 48
# A mean talk time longer than a day is read as a day (the estimate's own bound on handle times).
MAX_TALK_SECONDS = 86_400.0


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


@lru_cache(maxsize=64)
def _log_survival_table(cv: float) -> tuple[float, ...]:
    """log P(T > u) of a gamma law of mean 1 and this cv, at u = 0 to SURVIVAL_AGES by
    RESIDUAL_GRAIN: worked out once per cv. Where the survival is too small for doubles to
    carry, it goes on down the gamma's exponential tail (slope -1 / cv^2)."""
    shape, scale = 1 / (cv * cv), cv * cv
    out: list[float] = []
    for i in range(round(SURVIVAL_AGES / RESIDUAL_GRAIN) + 1):
        u = i * RESIDUAL_GRAIN
        surviving = 1 - gamma.regularized_lower(shape, u / scale) if u > 0 else 1.0
        if surviving < 1e-10 and out:
            out.append(out[-1] - RESIDUAL_GRAIN / scale)
        else:
            out.append(math.log(max(surviving, 1e-300)))
    return tuple(out)


def _log_survival(table: tuple[float, ...], u: float, tail: float) -> float:
    """log P(T > u) from the table (u in means), linear between its points and past its end."""
    at = u / RESIDUAL_GRAIN
    last = len(table) - 1
    if at >= last:
        return table[last] - (at - last) * RESIDUAL_GRAIN * tail
    i = int(at)
    return table[i] + (at - i) * (table[i + 1] - table[i])


def first_free(agents: list[Busy]) -> tuple[float, float, float] | None:
    """`_first_free`, or None where its arithmetic cannot hold (counters gone wild: a talk time of
    1e300 s makes a rate whose square is 0); the model's own first stage is used then."""
    try:
        return _first_free(agents)
    except (ArithmeticError, ValueError):  # ZeroDivisionError, OverflowError; a math domain error
        return None


def _talk_of(agent: Busy) -> float:
    """The agent's mean talk time within [1 s, MAX_TALK_SECONDS] (not a number: the longest)."""
    talk = float(agent.talk)
    return min(max(talk, 1.0), MAX_TALK_SECONDS) if not math.isnan(talk) else MAX_TALK_SECONDS


def _first_free(agents: list[Busy]) -> tuple[float, float, float] | None:
    """Mean, variance and third cumulant of the time until the first of `agents` is free for the
    caller; None when none of them counts (no share) or the moments are not finite.

    The chance that none is free by t is the product of each agent's, worked out at points every
    STEP_SHARE of the shortest mean talk (and at each wrap-up's end), exponential in between
    (exact for a constant rate of freeing between points), and past the last point at the rate
    of the last span; each point costs one table read per agent.
    """
    calls = [a for a in agents if a.share > 0 and a.age is not None]
    wraps = sorted((max(a.after, 0.0), min(a.share, 1.0)) for a in agents if a.share > 0 and a.age is None)
    if not calls and not wraps:
        return None
    counted = []  # (table, start in means, talk, after, share, log survival at the start, tail)
    for a in calls:
        cv = min(max(round(a.cv / RESIDUAL_GRAIN) * RESIDUAL_GRAIN, 0.1), 5.0)
        table = _log_survival_table(cv)
        talk = _talk_of(a)
        start = max(a.age or 0.0, 0.0) / talk
        tail = 1 / (cv * cv)
        counted.append(
            (
                table,
                start,
                talk,
                max(a.after, 0.0),
                min(a.share, 1.0),
                _log_survival(table, start, tail),
                tail,
            )
        )
    step = max(min((_talk_of(a) for a in calls), default=60.0) * STEP_SHARE, 1.0)
    # The points: the grid, and each wrap-up's end (where the chance drops at once).
    ends = [t for t, _ in wraps]
    last_end = ends[-1] if ends else 0.0

    grain = RESIDUAL_GRAIN
    # Per agent, the table's index of now, the indices per second, and the rest (`counted`).
    read = [(table, start / grain, 1 / (talk * grain), after, share, base, tail * grain, len(table) - 1)
            for table, start, talk, after, share, base, tail in counted]  # fmt: skip

    def log_none_by(t: float, wraps_done: bool) -> float:
        total = 0.0
        for table, at0, per_second, after, share, base, tail, last in read:
            if t > after:
                # `_log_survival`, inline (this is the first stage's whole cost).
                at = at0 + (t - after) * per_second
                if at >= last:
                    logs = table[last] - (at - last) * tail
                else:
                    i = int(at)
                    logs = table[i] + (at - i) * (table[i + 1] - table[i])
                # An agent shared with departments taken first frees for us at `share` of the rate.
                total += share * (logs - base)
        for end, share in wraps:
            if end < t or (wraps_done and end == t):
                total += math.log(1 - share) if share < 1 else -math.inf
        return total

    m1 = m2 = m3 = 0.0
    t0, s0 = 0.0, 1.0  # the last point and the chance nobody is free by it (just after it)
    rate = 0.0
    j, w = 1, 0
    for _ in range(MAX_POINTS):
        grid = j * step
        if w < len(ends) and ends[w] <= grid:
            t1, j_next, w_next = ends[w], j, w + 1
        else:
            t1, j_next, w_next = grid, j + 1, w
        at_end = w_next > w
        before = math.exp(log_none_by(t1, False)) if t1 > t0 else s0
        if t1 > t0:
            rate = math.log(s0 / before) / (t1 - t0) if before > 0 else math.inf
            if math.isinf(rate):
                return None
            i0, i1, i2 = _integrals(t0, t1 - t0, rate) if rate > 0 else _flat(t0, t1)
            m1, m2, m3 = m1 + s0 * i0, m2 + 2 * s0 * i1, m3 + 3 * s0 * i2
        s1 = math.exp(log_none_by(t1, True)) if at_end else before
        t0, s0, j, w = t1, s1, j_next, w_next
        # Nobody can still be busy (an agent's wrap-up, wholly ours, ended): the stage is over.
        # Going on, the next span read a chance of 0 after 0 and gave up on the whole first
        # stage: a quarter of the callers who were next got the model's average agent instead.
        if s0 <= 0 or (s0 < 1e-4 and t0 >= last_end):
            break
    # Past the last point: on at the last span's rate (at least the calls' tails).
    if s0 > 0:
        rate = max(rate, sum(share * tail / talk for _, _, talk, _, share, _, tail in counted))
        if rate <= 0:
            return None
        i0, i1, i2 = _integrals(t0, math.inf, rate)
        m1, m2, m3 = m1 + s0 * i0, m2 + 2 * s0 * i1, m3 + 3 * s0 * i2
    variance = max(m2 - m1 * m1, 0.0)
    third = m3 - 3 * m2 * m1 + 2 * m1**3
    if not (math.isfinite(m1) and math.isfinite(variance) and math.isfinite(third)) or m1 <= 0:
        return None
    return m1, variance, third


def _flat(a: float, b: float) -> tuple[float, float, float]:
    """The integrals of t^p over [a, b], p = 0, 1, 2."""
    return b - a, (b * b - a * a) / 2, (b**3 - a**3) / 3
