"""The best any prediction can do: the conditional variance of a caller's wait given the state.

In the Markov cases (exponential handle times and patience, agents fixed, nobody overtaking) a
caller with n callers ahead waits for n + 1 departures from the queue in front of them, at rates
s*mu + i*theta: the variance is the sum of 1/(s*mu + i*theta)^2, i = 0..n. Otherwise the future
is re-simulated many times from the same state (busy agents' elapsed handle times, callers ahead,
the staffing plan, the arrivals of higher classes) and the sample variance is taken.

What is re-simulated is the caller's *virtual* wait: they are taken as infinitely patient, while
callers ahead of them abandon. Only callers ahead matter: those behind never delay them, and
higher-class callers who arrive later overtake them.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from dataclasses import dataclass
from statistics import NormalDist

from bench.waits.scenarios import Rate, patience_left

_STD = NormalDist()


@dataclass(frozen=True)
class Handle:
    """Handle-time distribution: exponential, or lognormal with coefficient of variation 1."""

    mean: float
    kind: str = "exponential"

    @property
    def _sigma(self) -> float:
        return math.sqrt(math.log(2.0))  # cv^2 = exp(sigma^2) - 1 = 1

    @property
    def _mu(self) -> float:
        return math.log(self.mean) - self._sigma**2 / 2

    def sample(self, rng: random.Random) -> float:
        """A fresh handle time."""
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.mean)
        return rng.lognormvariate(self._mu, self._sigma)

    def residual(self, rng: random.Random, elapsed: float) -> float:
        """What remains of a call that has lasted `elapsed`, given that it has."""
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.mean)
        if elapsed < self.mean:  # most calls outlast this: draw until one does (cheap), else invert
            for _ in range(8):
                total = rng.lognormvariate(self._mu, self._sigma)
                if total > elapsed:
                    return total - elapsed
        z0 = (math.log(elapsed) - self._mu) / self._sigma if elapsed > 0 else -math.inf
        p0 = _STD.cdf(z0) if elapsed > 0 else 0.0
        u = p0 + (1.0 - p0) * rng.random()
        u = min(max(u, 1e-12), 1.0 - 1e-12)
        total = math.exp(self._mu + self._sigma * _STD.inv_cdf(u))
        return max(0.0, total - elapsed)


def markov_mean(agents: float, ahead: int, mean_handle: float, mean_patience: float | None) -> float:
    """Mean wait of a caller with `ahead` callers in front, all agents busy: sum 1/(s mu + i theta)."""
    mu = 1.0 / mean_handle
    theta = 1.0 / mean_patience if mean_patience else 0.0
    return sum(1.0 / (agents * mu + i * theta) for i in range(ahead + 1))


def markov_variance(agents: float, ahead: int, mean_handle: float, mean_patience: float | None) -> float:
    """Variance of the wait of a caller with `ahead` callers in front, all agents busy."""
    mu = 1.0 / mean_handle
    theta = 1.0 / mean_patience if mean_patience else 0.0
    return sum(1.0 / (agents * mu + i * theta) ** 2 for i in range(ahead + 1))


@dataclass
class Snapshot:
    """The state re-simulated: all an omniscient predictor may use, not the future itself.

    Departments may have handle times of their own: each busy agent's call keeps its law, and
    each caller ahead (and each higher-class caller who arrives) brings theirs to the agent."""

    now: float
    ahead: int
    busy: list[tuple[float, Handle]]  # (elapsed, law of that call), one per busy agent
    idle: int
    logged_in: int
    target: int  # planned agents now; agents above it log off when their call ends
    plan: list[tuple[float, int]]  # (absolute time, agents) still to come
    overtaking: tuple[Rate, ...]  # arrivals of higher classes
    patience: float | None
    handle: Handle  # the law of this caller's class
    patience_law: str = "exponential"
    ahead_waited: tuple[float, ...] = ()  # per caller ahead, in the order they are served
    ahead_classes: tuple[tuple[int, Handle], ...] = ()  # (class, law) per caller ahead, in order
    overtaking_classes: tuple[tuple[int, Handle], ...] = ()  # (class, law) per overtaking Rate

    def queue(self) -> list[tuple[int, Handle]]:
        """The callers ahead as (class, handle law), in the order they are served."""
        given = list(self.ahead_classes[: self.ahead])
        return given + [(0, self.handle)] * (self.ahead - len(given))


def resimulate(snap: Snapshot, rng: random.Random, runs: int) -> list[float]:
    """`runs` independent virtual waits of the caller described by `snap`."""
    return [_one_future(snap, rng) for _ in range(runs)]


def _one_future(snap: Snapshot, rng: random.Random) -> float:
    if snap.patience and snap.patience_law != "exponential":
        return _one_future_by_caller(snap, rng)
    t = snap.now
    theta = 1.0 / snap.patience if snap.patience else 0.0
    busy = [t + law.residual(rng, e) for e, law in snap.busy]
    heapq.heapify(busy)
    queue = snap.queue()  # callers ahead: (class, handle law), in the order they are served
    idle, logged, target = snap.idle, snap.logged_in, snap.target
    plan = list(snap.plan)
    peak = sum(r.peak for r in snap.overtaking)
    next_arrival = t + rng.expovariate(peak) if peak > 0 else math.inf
    classes = snap.overtaking_classes or tuple((0, snap.handle) for _ in snap.overtaking)

    def take() -> bool:
        """A free agent takes the next caller; True when that is our caller."""
        if not queue:
            return True
        _, law = queue.pop(0)
        heapq.heappush(busy, t + law.sample(rng))
        return False

    while True:
        while idle > 0:  # idle agents (after staffing rises) take callers at once
            idle -= 1
            if take():
                return t - snap.now
        t_done = busy[0] if busy else math.inf
        t_abandon = t + rng.expovariate(len(queue) * theta) if queue and theta else math.inf
        t_plan = plan[0][0] if plan else math.inf
        t = min(t_done, t_abandon, next_arrival, t_plan)
        if t == math.inf:
            return math.inf  # nobody will ever serve this caller
        if t == t_done:
            heapq.heappop(busy)
            if logged > target:
                logged -= 1  # their shift is over: they log off after this call
            elif take():
                return t - snap.now
        elif t == t_abandon:
            queue.pop(rng.randrange(len(queue)))  # exponential patience: any of them, alike
        elif t == next_arrival:
            pick = rng.random() * peak
            for rate, (rank, law) in zip(snap.overtaking, classes, strict=True):
                pick -= rate.at(t)
                if pick < 0:  # a higher class goes first, after the callers of its class or above
                    queue.insert(bisect.bisect_right(queue, rank, key=lambda c: c[0]), (rank, law))
                    break
            next_arrival = t + rng.expovariate(peak)
        else:
            _, target = plan.pop(0)
            if target > logged:
                idle += target - logged
                logged = target
            else:
                leaving = min(idle, logged - target)
                idle -= leaving
                logged -= leaving


def _one_future_by_caller(snap: Snapshot, rng: random.Random) -> float:
    """`_one_future` when patience is not exponential: each caller ahead hangs up at their own
    moment, drawn from what is left of their patience after what they have waited. Callers of
    higher classes who arrive go ahead of ours (fresh patience). No staffing plan (not needed)."""
    assert snap.patience is not None and not snap.plan, "a flat day with patience"
    t = snap.now
    law, mean = snap.patience_law, snap.patience
    leave = [t + patience_left(law, mean, w, rng) for w in snap.ahead_waited[: snap.ahead]]
    leave += [t + patience_left(law, mean, 0.0, rng) for _ in range(snap.ahead - len(leave))]
    busy = [t + law.residual(rng, e) for e, law in snap.busy]
    heapq.heapify(busy)
    idle = snap.idle
    peak = sum(r.peak for r in snap.overtaking)
    next_arrival = t + rng.expovariate(peak) if peak > 0 else math.inf
    while True:
        while idle > 0:
            idle -= 1
            if not leave:
                return t - snap.now
            leave.pop(0)
            heapq.heappush(busy, t + snap.handle.sample(rng))
        t_done = busy[0] if busy else math.inf
        t_abandon = min(leave) if leave else math.inf
        t = min(t_done, t_abandon, next_arrival)
        if t == math.inf:
            return math.inf
        if t == t_done:
            heapq.heappop(busy)
            if not leave:
                return t - snap.now
            leave.pop(0)
            heapq.heappush(busy, t + snap.handle.sample(rng))
        elif t == t_abandon:
            leave.remove(t_abandon)
        else:
            if rng.random() * peak < sum(r.at(t) for r in snap.overtaking):
                leave.append(t + patience_left(law, mean, 0.0, rng))
            next_arrival = t + rng.expovariate(peak)
