"""The one wait estimate the hold loop, the statistics and callback offers use.

The contract: everything the hotline knows at one instant about one caller's queue is a
`QueueState`; `estimate(state)` turns it into an `Estimate` (mean and a range with a stated
coverage), or None when no figure can be backed (nobody serving the queue). The benchmark under
`bench/` calls `estimate` the same way the webhooks do, so what it measures is what callers hear.

The model (exact for exponential handle times and patience): with k callers ahead, s agents
each finishing a call at rate mu = 1/handle and waiting callers giving up at rate
theta = 1/patience, the next caller leaves the queue in front after an exponential time of rate
d_k = s*mu + k*theta. With nobody overtaking, the wait is the sum of n + 1 such stages, k = n..0:
mean sum 1/d_k, variance sum 1/d_k^2. Callers of higher classes arriving at rate lam go ahead:
a stage then ends only when the queue in front drops below its level, a birth-death first
passage whose mean and second moment follow the recursions
    m_k = (1 + lam * m_{k+1}) / d_k
    q_k = (2/a^2 + 2p(m_{k+1} + m_k)/a + p(q_{k+1} + 2 m_{k+1} m_k)) * a / d_k,  a = d_k + lam, p = lam/a
solved downwards from a level high enough that the rest is an M/M/1 busy period. Planned
staffing changes switch each stage's rate at the change: a stage of mean m running when the
agents change at c seconds is done before with probability 1 - exp(-c/m), else it finishes at
the new rate (exact for exponential stages).

The range: a gamma distribution with the wait's mean and variance (the wait is a sum of
exponential stages; the gamma matched to two moments fits such sums closely), cut at its
10% and 90% quantiles for an 80% range.

Bounded whatever the inputs (they come from counters in Redis, and a webhook must answer within
Twilio's 15 s): `clean` turns NaN and infinities into "unknown" or the nearest bound and clamps
every rate (`BOUNDS`); at most `MAX_STAGES` stages are computed one by one, the far end of a
longer queue (stages MAX_STAGES+1..n, all with many callers ahead, each nearly an M/M/1 busy
period at its level) in closed form by the midpoint rule; and a wait past `LONGEST_SAID_SECONDS`
is not a figure but "longer than we can say" (`Estimate.beyond`). Every value returned is finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import SupportsFloat, SupportsIndex

from ivr.waits import gamma

DEFAULT_HANDLE_SECONDS = 180.0
COVERAGE = 0.8  # the share of real waits the announced range is meant to hold
# How far above the caller's level the overtaking recursion starts (then an M/M/1 busy period).
OVERTAKING_MARGIN = 200
# Spoken figures are rounded to these steps (minutes): whole minutes under ten, then fives,
# then tens, so a caller never hears a precision the model cannot back.
ROUNDING_STEPS = ((10, 1), (30, 5), (math.inf, 10))
# A wait longer than this is announced as "longer than we can say", never as a number.
LONGEST_SAID_SECONDS = 86_400.0
# Stages (callers ahead) computed one by one; a longer queue's far end is summed in closed form.
MAX_STAGES = 1_000
# Planned staffing changes looked at (live.py gives one per hour of a four-hour outlook).
MAX_STAFFING_CHANGES = 24
# Every input is clamped into these bounds (a NaN is "unknown": the default, or no figure).
BOUNDS = {
    "agents": (0.001, 100_000.0),  # below a thousandth of an agent (live.py's rounding): nobody
    "handle": (1.0, 86_400.0),
    "patience": (1.0, 30 * 86_400.0),
    "overtaking": (0.0, 100.0),  # higher-class callers per second
}


@dataclass(frozen=True)
class QueueState:
    """What the hotline knows, at one instant, about the queue in front of one caller.

    agents: staffed agents serving this caller's queue now (ready, busy or in wrap-up); may be
        fractional when agents are shared with other departments.
    ready: of them, free this instant.
    ahead: callers who will be served before this one as things stand (higher classes, and the
        same class arrived earlier, in every queue these agents serve).
    mean_handle_seconds: how long a served caller keeps an agent (talk plus wrap-up); None: unknown.
    mean_patience_seconds: callers' mean patience before hanging up; None: nobody abandons.
    overtaking_per_second: arrival rate of callers in higher classes, who will go first.
    staffing_changes: planned (seconds from now, agents from then on), in time order.
    waited_seconds: how long this caller has waited already. The estimate is of the wait still to
        come: in the Markov model it depends on the state, not on the time already waited.
    """

    agents: float
    ready: int = 0
    ahead: int = 0
    mean_handle_seconds: float | None = None
    mean_patience_seconds: float | None = None
    overtaking_per_second: float = 0.0
    staffing_changes: tuple[tuple[float, float], ...] = ()
    waited_seconds: float = 0.0


@dataclass(frozen=True)
class Spoken:
    """How an estimate is said: `kind` is 'soon', 'about', 'up_to' or 'range'; figures in minutes."""

    kind: str  # 'long': past LONGEST_SAID_SECONDS, longer than we can say
    low: int = 0
    high: int = 0


def _round_minutes(seconds: float) -> int:
    """Minutes rounded to the nearest step that suits their size."""
    minutes = seconds / 60
    for below, step in ROUNDING_STEPS:
        if minutes < below:
            return int(round(minutes / step) * step)
    return int(minutes)  # unreachable: the last step has no bound


@dataclass(frozen=True)
class Estimate:
    """The wait still to come, in seconds: mean, sd, and [low, high] meant to hold `coverage` of waits.

    beyond: the wait is longer than `LONGEST_SAID_SECONDS` (or than the model can reckon); the
    figures then all say LONGEST_SAID_SECONDS, a floor, and the caller hears no number.
    """

    seconds: float
    low: float = 0.0
    high: float = 0.0
    coverage: float = COVERAGE
    sd: float = 0.0
    beyond: bool = False

    @property
    def under_a_minute(self) -> bool:
        """Short enough to say 'less than a minute': even the top of the range is."""
        return self.high < 60

    def spoken(self) -> Spoken:
        """The range as a caller hears it: rounded, never more precise than the model."""
        if self.beyond:
            return Spoken("long", low=_round_minutes(self.low), high=_round_minutes(self.high))
        if self.under_a_minute:
            return Spoken("soon")
        low, high = _round_minutes(self.low), _round_minutes(self.high)
        if high <= 1:  # the top is under 90 s: "up to two minutes" is true, "up to 1 minutes" is not
            return Spoken("up_to", high=2)
        if low <= 0:
            return Spoken("up_to", high=high)
        if low >= high:
            return Spoken("about", low=high, high=high)
        return Spoken("range", low=low, high=high)


def _stage_moments(rate_of: float, theta: float, lam: float, top: int) -> list[tuple[float, float]]:
    """(mean, second moment) of each stage k = 0..top: the time for the queue ahead to drop a level."""
    if lam <= 0:
        return [(1 / (rate_of + k * theta), 2 / (rate_of + k * theta) ** 2) for k in range(top + 1)]
    margin_top = top + OVERTAKING_MARGIN
    d = rate_of + margin_top * theta
    if d > lam:  # above here: an M/M/1 busy period with arrivals lam and service d
        rho = lam / d
        m_up, q_up = 1 / (d - lam), 2 / (d**2 * (1 - rho) ** 3)
    else:  # higher classes alone outrun the agents: truncate (the wait is long either way)
        m_up, q_up = 1 / d, 2 / d**2
    out: list[tuple[float, float]] = [(0.0, 0.0)] * (top + 1)
    for k in range(margin_top, -1, -1):
        d = rate_of + k * theta
        a, p = d + lam, lam / (d + lam)
        m = (1 + lam * m_up) / d
        q = (2 / a**2 + 2 * p * (m_up + m) / a + p * (q_up + 2 * m_up * m)) * a / d
        if k <= top:
            out[k] = (m, q)
        m_up, q_up = m, q
    return out


def _piece_at(starts: list[float], t: float) -> int:
    """The staffing piece in force at t."""
    return max(i for i, start in enumerate(starts) if start <= t)


def _stage_across_pieces(
    k: int, t: float, starts: list[float], moments: list[list[tuple[float, float]] | None]
) -> tuple[float, float] | None:
    """Mean and variance of stage k started at t, its rate switching at each staffing change."""
    total, var, still = 0.0, 0.0, 1.0  # still: chance the stage is not over yet
    piece = _piece_at(starts, t)
    while still > 1e-12:
        span = starts[piece + 1] - t if piece + 1 < len(starts) else math.inf
        stage = moments[piece]
        if stage is None:  # nobody serving in this piece: wait for the next one
            if math.isinf(span):
                return None
            total += still * span
        else:
            m, q = stage[k]
            v = max(q - m * m, 0.0)
            done = 1.0 if math.isinf(span) else 1 - math.exp(-span / m)
            total += still * m * done  # E[min(X, span)] for an exponential stage of mean m
            var += still * done * v
            still *= 1 - done
            if math.isinf(span):
                break
        t, piece = starts[piece + 1], piece + 1
    return total, var


def _number(value: object) -> float | None:
    """`value` as `float()` reads it; None when it is no number at all."""
    if not isinstance(value, (str, bytes, SupportsFloat, SupportsIndex)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _clamp(value: object, name: str, missing: float | None) -> float | None:
    """`value` as a finite number within BOUNDS[name]; `missing` when it is not a number (NaN)."""
    number = _number(value)
    if number is None or math.isnan(number):
        return missing
    low, high = BOUNDS[name]
    return min(max(number, low), high)


def _count(value: object) -> int:
    """A count of callers or agents: a whole number, at least 0 (garbage counts as 0)."""
    number = _number(value)
    if number is None:
        return 0
    return int(min(max(number, 0.0), 1e12)) if math.isfinite(number) else (10**12 if number > 0 else 0)


def clean(state: QueueState) -> QueueState | None:
    """The state with every input finite and within BOUNDS; None when nobody serves the queue."""
    agents = 0.0 if math.isnan(float(state.agents)) else float(state.agents)
    if agents < BOUNDS["agents"][0]:
        return None
    handle = state.mean_handle_seconds
    handle = _clamp(handle, "handle", None) if handle is not None and handle > 0 else None
    patience = state.mean_patience_seconds
    # No patience, or an infinite one: nobody abandons.
    if patience is not None and not (patience > 0 and math.isfinite(patience)):
        patience = None
    changes = []
    for at, then in sorted(
        ((a, b) for a, b in state.staffing_changes if math.isfinite(a) and not math.isnan(b)),
        key=lambda change: change[0],
    )[:MAX_STAFFING_CHANGES]:
        changes.append((at, 0.0 if then < BOUNDS["agents"][0] else min(then, BOUNDS["agents"][1])))
    return QueueState(
        agents=min(agents, BOUNDS["agents"][1]),
        ready=_count(state.ready),
        ahead=_count(state.ahead),
        mean_handle_seconds=handle,
        mean_patience_seconds=None if patience is None else _clamp(patience, "patience", None),
        overtaking_per_second=_clamp(state.overtaking_per_second, "overtaking", 0.0) or 0.0,
        staffing_changes=tuple(changes),
        waited_seconds=_clamp(state.waited_seconds, "handle", 0.0) or 0.0,
    )


def _far_end(rate_of: float, theta: float, lam: float, first: int, last: int) -> tuple[float, float]:
    """Mean and variance of stages first..last (their queue far ahead): infinite if never done.

    Each stage k is an M/M/1 busy period at its level (what the recursion of `_stage_moments`
    tends to this far up): mean 1/u, variance (d + lam)/u^3 with d = rate_of + k*theta, u = d - lam.
    With theta > 0 the sums over k are integrals of the same terms over [first - 1/2, last + 1/2]
    (the midpoint rule, exact to O(theta^2/u^3) per stage).
    """
    count = last - first + 1
    if count <= 0:
        return 0.0, 0.0
    u_first = rate_of - lam + (first - 0.5) * theta
    if u_first <= 0:  # higher classes alone outrun the agents there: no end we could name
        return math.inf, math.inf
    if theta == 0:
        return count / u_first, count * (u_first + 2 * lam) / u_first**3
    u_last = rate_of - lam + (last + 0.5) * theta
    mean = math.log(u_last / u_first) / theta
    var = ((1 / u_first - 1 / u_last) + lam * (1 / u_first**2 - 1 / u_last**2)) / theta
    return mean, var


def wait_moments(state: QueueState) -> tuple[float, float] | None:
    """Mean and variance of the wait still to come; None when nobody serves the queue.

    Infinite (never NaN) when the wait has no end the model can name.
    """
    cleaned = clean(state)
    if cleaned is None:
        return None  # nobody serves the queue now: no figure we could stand behind
    state = cleaned
    if state.ahead < state.ready:
        return 0.0, 0.0  # an idle agent is there for this caller: being connected
    n = state.ahead - state.ready  # the first `ready` callers ahead are being connected now
    mu = 1.0 / (state.mean_handle_seconds or DEFAULT_HANDLE_SECONDS)
    theta = 1.0 / state.mean_patience_seconds if state.mean_patience_seconds else 0.0
    lam = max(state.overtaking_per_second, 0.0)
    pieces: list[tuple[float, float]] = [(0.0, max(state.agents, 0.0))]
    for at, agents in sorted(state.staffing_changes):
        if at <= 0:
            pieces[0] = (0.0, max(agents, 0.0))
        elif agents != pieces[-1][1]:
            pieces.append((at, max(agents, 0.0)))
    if pieces[0][1] <= 0:
        return None  # a change already in force left nobody serving
    top = min(n, MAX_STAGES)
    # The far end of a long queue goes first, at today's staffing: the exact stages start after it.
    mean, var = _far_end(pieces[0][1] * mu, theta, lam, top + 1, n)
    if not math.isfinite(mean):
        return math.inf, math.inf
    moments = [_stage_moments(agents * mu, theta, lam, top) if agents > 0 else None for _, agents in pieces]
    starts = [start for start, _ in pieces]
    t = mean
    for k in range(top, -1, -1):  # stages in time order, each starting at its expected start
        stage = _stage_across_pieces(k, t, starts, moments)
        if stage is None:
            return None
        before = _piece_at(starts, t)
        t += stage[0]
        if not math.isfinite(t):  # a stage that never ends (higher classes outrun the agents)
            return math.inf, math.inf
        for crossed in range(before + 1, _piece_at(starts, t) + 1):
            # Delta method: a stage ahead of a change that ends late leaves its part of the queue
            # to the agents after the change, who clear it at their own pace, so the spread of
            # everything before the change is stretched (fewer agents) or shrunk (more).
            old, new = moments[crossed - 1], moments[crossed]
            if old is not None and new is not None:
                var *= (new[k][0] / old[k][0]) ** 2
        mean += stage[0]
        var += stage[1]
    if math.isnan(mean) or math.isnan(var):
        return math.inf, math.inf  # an overflow on the way (inf - inf): far too long to say
    return mean, var


def estimate(state: QueueState) -> Estimate | None:
    """The expected wait of the caller `state` describes; None when nobody serves the queue."""
    try:
        moments = wait_moments(state)
    except (OverflowError, ZeroDivisionError):  # rates at the edge of the bounds: far too long
        moments = math.inf, math.inf
    if moments is None:
        return None
    mean, var = moments
    if not mean < LONGEST_SAID_SECONDS:
        longest = LONGEST_SAID_SECONDS
        return Estimate(seconds=longest, low=longest, high=longest, beyond=True)
    if mean <= 0:
        return Estimate(seconds=0.0)
    if not 0 < var < math.inf:
        return Estimate(seconds=mean, low=mean, high=mean, sd=0.0)
    sd = math.sqrt(var)
    shape, scale = mean * mean / var, var / mean
    tail = (1 - COVERAGE) / 2
    if not (shape > 0 and scale > 0 and math.isfinite(shape) and math.isfinite(scale)):
        return Estimate(seconds=mean, low=mean, high=mean, sd=0.0)
    return Estimate(
        seconds=mean,
        low=min(gamma.quantile(tail, shape, scale), mean),
        high=min(max(gamma.quantile(1 - tail, shape, scale), mean), LONGEST_SAID_SECONDS),
        sd=sd,
    )
