"""The ten scenarios of the benchmark, as data: arrivals, agents, handle times, patience, plan.

Times are seconds. A rate is a piecewise-linear curve of (time, calls per second) points, flat
before the first and after the last, so a day with peaks is a short list. Handle times have a
mean of 5 minutes, patience (where callers abandon) a mean of 10 minutes: a hotline's order of
magnitude; the scores are ratios, so the scale matters little.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

HANDLE = 300.0
PATIENCE = 600.0
HOUR = 3600.0
# Scenario 6: a blocked card or a fraud report takes longer than a general question.
SECURITY_HANDLE = 420.0
GENERAL_HANDLE = 180.0
# Long-tailed patience (scenario 10): many callers hang up within the first minutes, the rest
# wait long. A mixture of two exponentials, (share, mean): 40% of callers with a mean of one
# minute, 60% with 16 minutes; the mean is still PATIENCE. Its hazard falls with the time waited:
# a caller who has waited five minutes is almost surely one of the patient ones.
EARLY_LEAVERS = ((0.4, 60.0), (0.6, 960.0))


def patience_sample(law: str, mean: float, rng: random.Random) -> float:
    """A caller's patience: exponential of this mean, or EARLY_LEAVERS (whose mean it is)."""
    if law == "exponential":
        return rng.expovariate(1 / mean)
    share, early = EARLY_LEAVERS[0]
    return rng.expovariate(1 / early) if rng.random() < share else rng.expovariate(1 / EARLY_LEAVERS[1][1])


def patience_left(law: str, mean: float, waited: float, rng: random.Random) -> float:
    """What is left of the patience of a caller still waiting after `waited` seconds."""
    if law == "exponential":
        return rng.expovariate(1 / mean)
    weights = [share * math.exp(-waited / m) for share, m in EARLY_LEAVERS]
    pick = rng.random() * sum(weights)
    return rng.expovariate(1 / (EARLY_LEAVERS[0][1] if pick < weights[0] else EARLY_LEAVERS[1][1]))


@dataclass(frozen=True)
class Rate:
    """Calls per second over time: piecewise linear through `points` (time, rate)."""

    points: tuple[tuple[float, float], ...]

    def at(self, t: float) -> float:
        """The rate at time t."""
        times = [p[0] for p in self.points]
        i = bisect.bisect_right(times, t)
        if i == 0:
            return self.points[0][1]
        if i == len(self.points):
            return self.points[-1][1]
        (t0, r0), (t1, r1) = self.points[i - 1], self.points[i]
        return r0 + (r1 - r0) * (t - t0) / (t1 - t0)

    @property
    def peak(self) -> float:
        """The highest rate, for thinning."""
        return max(r for _, r in self.points)


def load(erlangs: float, handle: float = HANDLE) -> float:
    """Arrival rate that offers `erlangs` of work with the given mean handle time."""
    return erlangs / handle


def flat(rate: float) -> Rate:
    """A constant rate."""
    return Rate(((0.0, rate),))


@dataclass(frozen=True)
class Department:
    """Callers of one department: how they arrive, their class (0 is served first), and the mean
    handle time of their calls (the law is the scenario's)."""

    name: str
    arrivals: Rate
    priority: int = 0
    handle: float = HANDLE
    queue: str = ""  # the hotline department whose queue these callers join ("": their own)


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario; the agents serve every department, higher classes first."""

    number: int
    title: str
    agents: int
    departments: tuple[Department, ...]
    handle: str = "exponential"  # or "lognormal" (coefficient of variation 1)
    patience: float | None = None  # mean patience; None: nobody abandons
    patience_law: str = "exponential"  # or "early_leavers" (EARLY_LEAVERS)
    staffing_plan: tuple[tuple[float, int], ...] = ()  # (time, agents from then on), known ahead
    warmup: float = HOUR  # callers arriving before are not scored
    horizon: float = 7 * HOUR  # callers arriving after are not scored (arrivals go on until all are)
    target: float = 1.10  # product MSE / best possible, at most
    half_of_head_of_line: bool = False  # scenario 3: also at most half the head-of-line error
    resim_share: float = 0.0  # >0: best possible by re-simulating this share of announcements
    notes: str = field(default="", compare=False)

    @property
    def markov(self) -> bool:
        """Whether the conditional variance has the closed form sum 1/(s mu + i theta)^2."""
        return self.resim_share == 0.0


def _day_with_peaks(agents: int) -> Rate:
    """A 12-hour day: a slow morning peak to 115%, a fast 30-minute burst to 140%, a late bump."""
    h = HOUR
    return Rate(
        (
            (0.0, load(0.60 * agents)),
            (3.0 * h, load(1.15 * agents)),
            (5.0 * h, load(0.85 * agents)),
            (6.0 * h, load(0.85 * agents)),
            (6.25 * h, load(1.40 * agents)),
            (6.75 * h, load(1.40 * agents)),
            (7.0 * h, load(0.80 * agents)),
            (9.0 * h, load(1.05 * agents)),
            (12.0 * h, load(0.60 * agents)),
        )
    )


def _shift_change_day() -> Rate:
    """Rising to a peak the 50 agents just cover, which lasts past the shift change, then falling."""
    h = HOUR
    return Rate(((0.0, load(30)), (2.0 * h, load(50)), (5.0 * h, load(50)), (7.0 * h, load(25))))


def _surge() -> Rate:
    """90% of 50 agents, then three times that for 20 minutes (two-minute edges), then back."""
    h, m = HOUR, 60.0
    base, surge = load(0.90 * 50), load(2.70 * 50)
    return Rate(
        ((0.0, base), (2 * h, base), (2 * h + 2 * m, surge), (2 * h + 20 * m, surge), (2 * h + 22 * m, base))
    )


def _rising_day() -> Rate:
    """Demand rising from 30 to 48 Erlangs over 90 minutes, two hours flat, then falling back."""
    h = HOUR
    return Rate(
        ((0.0, load(30)), (1.0 * h, load(30)), (2.5 * h, load(48)), (4.5 * h, load(48)), (6.0 * h, load(30)))
    )


def _priority_surge() -> Rate:
    """Priority callers at 10% of 50 agents, five times that for half an hour (a card outage)."""
    h, m = HOUR, 60.0
    base, surge = load(0.10 * 50), load(0.50 * 50)
    return Rate(
        ((0.0, base), (2 * h, base), (2 * h + 2 * m, surge), (2 * h + 30 * m, surge), (2 * h + 32 * m, base))
    )


# Staffing planned in half-hour steps, each half an hour behind the demand of `_rising_day`.
LAGGING_PLAN = (
    (1.5 * HOUR, 36), (2.0 * HOUR, 42), (2.5 * HOUR, 46), (3.0 * HOUR, 50),
    (5.0 * HOUR, 44), (5.5 * HOUR, 40), (6.0 * HOUR, 36), (6.5 * HOUR, 34),
)  # fmt: skip


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(1, "M/M/50, 95%", 50, (Department("general", flat(load(0.95 * 50))),)),
    Scenario(
        2,
        "M/M/50+M, 110%",
        50,
        (Department("general", flat(load(1.10 * 50))),),
        patience=PATIENCE,
    ),
    Scenario(
        3,
        "peak hours",
        50,
        (Department("general", _day_with_peaks(50)),),
        patience=PATIENCE,
        warmup=0.5 * HOUR,
        horizon=12 * HOUR,
        target=1.15,
        half_of_head_of_line=True,
    ),
    Scenario(
        4,
        "lognormal, 95%",
        50,
        (Department("general", flat(load(0.95 * 50))),),
        handle="lognormal",
        target=1.20,
        resim_share=0.05,
    ),
    Scenario(
        5,
        "shift 50->35",
        50,
        (Department("general", _shift_change_day()),),
        patience=PATIENCE,
        staffing_plan=((4.0 * HOUR, 35),),
        warmup=1.0 * HOUR,
        horizon=7.5 * HOUR,
        target=1.20,
        resim_share=0.05,
    ),
    Scenario(
        6,
        "2 depts, priority",
        50,
        (
            Department("security", flat(load(0.20 * 50, SECURITY_HANDLE)), 0, SECURITY_HANDLE),
            Department("general", flat(load(0.80 * 50, GENERAL_HANDLE)), 1, GENERAL_HANDLE),
        ),
        patience=PATIENCE,
        target=1.20,
        resim_share=0.05,
    ),
    Scenario(
        7,
        "10 agents, 95%",
        10,
        (Department("general", flat(load(0.95 * 10))),),
        patience=PATIENCE,
        horizon=25 * HOUR,
    ),
    Scenario(
        8,
        "surge 3x, staff fixed",
        50,
        (Department("general", _surge()),),
        patience=PATIENCE,
        warmup=1.5 * HOUR,
        horizon=3.5 * HOUR,
        target=1.15,
    ),
    Scenario(
        9,
        "half-hour staffing lags",
        34,
        (Department("general", _rising_day()),),
        patience=PATIENCE,
        staffing_plan=LAGGING_PLAN,
        warmup=1.0 * HOUR,
        horizon=7.0 * HOUR,
        target=1.20,
        resim_share=0.05,
    ),
    Scenario(
        10,
        "early leavers, 110%",
        50,
        (Department("general", flat(load(1.10 * 50))),),
        patience=PATIENCE,
        patience_law="early_leavers",
        target=1.20,
        resim_share=0.05,
    ),
)


SCENARIOS += (
    Scenario(
        11,
        "priority surge 5x",
        50,
        (
            Department("priority", _priority_surge(), priority=0, queue="cards"),
            Department("standard", flat(load(0.80 * 50)), priority=1, queue="cards"),
        ),
        patience=PATIENCE,
        warmup=1.5 * HOUR,
        horizon=3.5 * HOUR,
        target=1.20,
        resim_share=0.05,
    ),
)


def scenario(number: int) -> Scenario:
    """The scenario with this number."""
    for s in SCENARIOS:
        if s.number == number:
            return s
    raise KeyError(number)


def shortened(s: Scenario, factor: float) -> Scenario:
    """The scenario over a shorter measured window (for --quick), the same day otherwise."""
    from dataclasses import replace

    if s.number in (3, 5, 8, 9, 11):  # a day's shape: keep the day, it is what the scenario is about
        return s
    return replace(s, horizon=s.warmup + (s.horizon - s.warmup) * factor)
