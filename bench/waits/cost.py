"""`python -m bench.waits --cost`: the CPU a hold turn spends on its wait, next to a floor.

A hold turn builds the caller's `QueueState`, asks `estimate` for the wait and says it
(`Estimate.spoken`). This times those two calls, in CPU time of this thread, over a fixed set
of queue states like those of a hotline day (2 to 50 agents, 0 to 100,000 callers ahead, with and
without abandonment, overtaking by higher classes and a staffing change within the hour). The
floor, measured in the same run and interleaved with it, is the least a hold turn could do to
say a wait: Erlang's (n + 1)·h/s rounded to spoken minutes (`bench.waits.predictors`), so the
ratio does not move with the machine's speed or load. Each round times every state once, floor
then estimate; the medians over the rounds are printed, overall and by kind of state.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from bench.waits.predictors import erlang_queue_length
from ivr.waits import arrivals
from ivr.waits.arrivals import (
    arrival_ages,
    changing_rate,
    counted_arrival,
    forget_kept_rates,
    kept_arrivals,
    kept_rate,
    recent_counts,
    recent_rate,
)
from ivr.waits.estimate import QueueState, _round_minutes, estimate
from ivr.waits.first_free import Busy, first_free
from ivr.waits.read_script import Recent

ROUNDS = 15
REPEATS = 20  # calls of each state per round (a CPU clock tick is coarse)
TARGET_US = 50.0  # issue 12: the estimate of a hold turn at most ~50 us of CPU
FIRST_STAGE_AGENTS = (2, 5, 8, 16, 32)  # 32: the most read (first_free.BUSY_READ)


def states() -> dict[str, list[QueueState]]:
    """Queue states by kind, as hold turns meet them."""
    out: dict[str, list[QueueState]] = {}
    for agents, ahead, patience, overtaking, change in itertools.product(
        (4.3, 10.0, 50.0), (0, 3, 15, 100, 100_000), (None, 400.0), (0.0, 0.01), (False, True)
    ):
        kind = "plain"
        if patience and overtaking:
            kind = "abandoning and overtaken"
        elif patience:
            kind = "abandoning"
        elif overtaking:
            kind = "overtaken"
        if change:
            kind += ", staffing change"
        out.setdefault(kind, []).append(
            QueueState(
                agents=agents,
                ready=0,
                ahead=ahead,
                mean_handle_seconds=245.0,
                mean_patience_seconds=patience,
                overtaking_per_second=overtaking * agents / 10,
                staffing_changes=((1800.0, agents + 2),) if change else (),
                waited_seconds=30.0,
            )
        )
    return out


def _spoken_estimate(state: QueueState) -> object:
    est = estimate(state)
    return est.spoken() if est is not None else None


def _floor(state: QueueState) -> object:
    return _round_minutes(erlang_queue_length(state.ahead, state.agents, state.mean_handle_seconds))


def _cpu_per_call(fn: Callable[[QueueState], object], group: list[QueueState]) -> float:
    """Microseconds of this thread's CPU per call, over the group, REPEATS times each."""
    start = time.thread_time_ns()
    for state in group:
        for _ in range(REPEATS):
            fn(state)
    return (time.thread_time_ns() - start) / 1000 / (REPEATS * len(group))


def measure(rounds: int = ROUNDS) -> dict[str, tuple[float, float]]:
    """Kind of state (and 'all') -> (median us per estimate, median us of the floor)."""
    by_kind = states()
    everything = [s for group in by_kind.values() for s in group]
    for state in everything:  # warm every cache the first call fills (imports, the expansion)
        _spoken_estimate(state)
    samples: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in [*by_kind, "all"]}
    for _ in range(rounds):
        for kind, group in [*by_kind.items(), ("all", everything)]:
            samples[kind][1].append(_cpu_per_call(_floor, group))
            samples[kind][0].append(_cpu_per_call(_spoken_estimate, group))
    return {k: (statistics.median(est), statistics.median(floor)) for k, (est, floor) in samples.items()}


def _busy_agents(count: int) -> list[Busy]:
    """`count` agents on calls of every age (one in wrap-up), as a caller who is next meets them."""
    agents = [Busy(17.0 + 53.0 * i % 400, 200.0, 0.55, 47.5) for i in range(count - 1)]
    return [*agents, Busy(None, 200.0, 0.55, 20.0)]


def measure_first_stage(rounds: int = ROUNDS) -> dict[int, tuple[float, float]]:
    """Agents -> (median us of the first stage by the calls under way, `first_free`, with the
    estimate and words it feeds; median us of the floor), for the caller who is next: the
    only hold turns that work it out (queue_state.Reads._first_stage)."""
    out: dict[int, tuple[list[float], list[float]]] = {}
    plain = QueueState(agents=8.0, mean_handle_seconds=245.0, mean_patience_seconds=400.0, handle_cv=0.45)
    groups = {n: _busy_agents(n) for n in FIRST_STAGE_AGENTS}
    for busy in groups.values():
        first_free(busy)  # the survival table of this cv, built once

    def next_caller(busy: list[Busy]) -> object:
        return _spoken_estimate(replace(plain, first_free=first_free(busy)))

    for _ in range(rounds):
        for n, busy in groups.items():
            floor = _cpu_per_call(_floor, [plain])
            start = time.thread_time_ns()
            for _ in range(REPEATS):
                next_caller(busy)
            spent = (time.thread_time_ns() - start) / 1000 / REPEATS
            est, floors = out.setdefault(n, ([], []))
            est.append(spent)
            floors.append(floor)
    return {n: (statistics.median(e), statistics.median(f)) for n, (e, f) in out.items()}


def report(rounds: int = ROUNDS) -> tuple[str, bool]:
    """The table, and whether every kind is within TARGET_US."""
    figures = measure(rounds)
    lines = [
        f"CPU per hold turn's estimate (estimate + spoken words), median of {rounds} interleaved rounds",
        "",
        f"| {'queue state':<42} | {'estimate (us)':>13} | {'floor (us)':>10} | {'ratio':>6} |",
        f"|{'-' * 44}|{'-' * 15}:|{'-' * 12}:|{'-' * 8}:|",
    ]
    ok = True
    for kind, (est, floor) in figures.items():
        lines.append(f"| {kind:<42} | {est:>13.1f} | {floor:>10.2f} | {est / floor:>6.0f} |")
        ok = ok and est <= TARGET_US
    lines.append("")
    lines.append(f"target: at most {TARGET_US:.0f} us for every kind: {'PASS' if ok else 'FAIL'}")
    lines += [
        "",
        "The caller who is next: the first free agent by the calls under way (first_free), then the",
        "estimate and words (no target yet: the hold turns of callers further back do not work it out)",
        "",
        f"| {'agents serving the caller':<42} | {'estimate (us)':>13} | {'floor (us)':>10} | {'ratio':>6} |",
        f"|{'-' * 44}|{'-' * 15}:|{'-' * 12}:|{'-' * 8}:|",
    ]
    for n, (est, floor) in measure_first_stage(rounds).items():
        lines.append(f"| {n:<42} | {est:>13.1f} | {floor:>10.2f} | {est / floor:>6.0f} |")
    return "\n".join(lines), ok


# `python -m bench.waits --rate-cost`: the overtaking and shared-agent rates a hold turn reads.
RATE_ROUNDS = 15
RATE_REPEATS = 20
RATE_TARGET_US = 200.0  # the rate reading of a hold turn on a busy day: at most ~0.2 ms of CPU
CLASSES, DEPARTMENTS = 3, 5  # the shipped hotline.yaml


def busy_day_lists(seed: int = 1) -> tuple[list[Recent], list[list[Recent]], float]:
    """A busy day's recent arrivals as the read script gives them, every list full: the caller's
    department's higher classes (with their kept times), each other department's classes (without,
    as the read script gives them; their kept times in `with_times` below) and now (ms).

    Poisson arrivals since 08:00 at one every 4 to 60 seconds a class, a fivefold surge of one
    class in the caller's department over the last twenty minutes; each class's decayed counts
    and kept times by the join script's arithmetic (`arrivals.counted_arrival`, `kept_arrivals`)."""
    rng = random.Random(seed)
    start_ms, now_ms = 8 * 3_600_000.0, 12 * 3_600_000.0
    lists: list[list[Recent]] = []
    for dept in range(DEPARTMENTS):
        classes = []
        for rank in range(CLASSES):
            gap = rng.uniform(4.0, 60.0) * 1000
            counted, times, t = None, None, start_ms
            while True:
                surge = dept == 0 and rank == 0 and t > now_ms - 1_200_000
                t += rng.expovariate(1.0) * gap / (5 if surge else 1)
                if t >= now_ms:
                    break
                counted, times = counted_arrival(counted, t), kept_arrivals(times, t)
            classes.append(Recent(recent_counts(counted, now_ms), times or ""))
        lists.append(classes)
    return lists[0][: CLASSES - 1], lists[1:], now_ms


def _first_arrival_ages(times: str, now_ms: float) -> tuple[float, ...]:
    """arrivals.arrival_ages as first written: every entry checked."""
    ages = []
    for text in times.split(",")[-arrivals.ARRIVALS_KEPT :]:
        try:
            at = float(text)
        except ValueError:
            continue
        if math.isfinite(at) and math.isfinite(float(now_ms)):
            ages.append(min(max((float(now_ms) - at) / 1000, 0.0), 1e12))
    return tuple(sorted(ages))


def _first_changing_rate(ages: tuple[float, ...], prior_rate: float) -> float:
    """The rule as first written, for its cost: arrivals.changing_rate before its gaps were
    grouped (three points a gap, three for the silence: twelve hypotheses an arrival)."""
    ages = tuple(sorted(ages))  # newest first, whatever order they came in
    n = len(ages)
    prior_rate = min(max(prior_rate, 1e-6), arrivals.MAX_RATE) if math.isfinite(prior_rate) else 1e-6
    a, b = arrivals.PRIOR_ARRIVALS, arrivals.PRIOR_ARRIVALS / prior_rate
    if n == 0:
        return prior_rate if prior_rate > 1e-6 else 0.0
    span = max(ages[-1], 1e-3)
    # The log marginal likelihood of `count` arrivals over `length` seconds, less what every
    # hypothesis shares (the prior's normalising terms, one per segment, as many in each).
    table = [math.lgamma(a + count) for count in range(n + 1)]
    log, log_h = math.log, math.log(arrivals.RATE_CHANGES_PER_SECOND)
    # Arrivals that stopped: a second change at three points since the last arrival.
    quiet = ages[0] / 3
    silences = [quiet * (j + 0.5) for j in range(3)]
    quiet_logs = [log(b + silent) for silent in silences]
    quiet_prior = log(max(arrivals.RATE_CHANGES_PER_SECOND * arrivals.QUIET_SHARE * quiet, 1e-300))
    # Each segment also carries a * log(b) - lgamma(a): left out of the two of a hypothesis with
    # a change, taken out of the one of no change, added for a second change.
    segment = a * log(b) - math.lgamma(a)
    weights: list[float] = []
    rates: list[float] = []  # log of the rate after the last change, of each hypothesis

    def hypothesis(weight: float, after: int, length: float) -> None:
        """One hypothesis, and the same with a second change since the last arrival (one change
        only read half an hour after three minutes of thirty callers as a rate of thirty in 33
        minutes)."""
        weights.append(weight)
        rates.append(log(a + after) - log(b + length))
        if after:
            weight += quiet_prior + segment + (a + after) * log(b + length) + table[0] - table[after]
            for silent, quiet_log in zip(silences, quiet_logs, strict=True):
                before = (a + after) * log(max(b + length - silent, 1e-300))
                weights.append(weight + table[after] - before - a * quiet_log)
                rates.append(log(a) - quiet_log)

    hypothesis(
        table[n] - (a + n) * log(b + span) - arrivals.RATE_CHANGES_PER_SECOND * span - segment, n, span
    )
    start = 0.0
    for after, end in enumerate(ages):  # a change in (start, end) seconds ago: `after` arrivals since
        gap = (end - start) / 3
        prior = max(log_h + log(gap), -690.0) if gap > 0 else -690.0
        for j in range(3):
            length = start + gap * (j + 0.5)
            weight = prior + table[after] - (a + after) * log(b + length)
            weight += table[n - after] - (a + n - after) * log(b + max(span - length, 1e-9))
            hypothesis(weight, after, length)
        start = end
    top = max(weights)
    total = log_rate = 0.0
    for weight, rate in zip(weights, rates, strict=True):
        w = math.exp(weight - top)
        total += w
        log_rate += w * rate
    log_rate /= total
    return min(math.exp(log_rate), arrivals.MAX_RATE)


FIRST_DAY_MS, TODAY = 8 * 3_600_000.0, 500.0  # the day's first arrival, and its arrivals so far


def _windows(own: list[Recent], others: list[list[Recent]], now_ms: float) -> float:
    """The rule before the kept times: every list by its decayed counts' windows."""
    lists = [*own, *(entry for classes in others for entry in classes)]
    return sum(recent_rate(entry.counts, FIRST_DAY_MS, now_ms, TODAY) for entry in lists)


def _shipped(own: list[Recent], others: list[list[Recent]], now_ms: float) -> float:
    """As `queue_state.Reads` reads them: the higher classes' overtaking from their kept times
    (`kept_rate`: remembered for the second), the other departments' demand from their counts."""
    total = sum(kept_rate(entry.counts, FIRST_DAY_MS, now_ms, TODAY, entry.times) for entry in own)
    for classes in others:
        total += sum(recent_rate(entry.counts, FIRST_DAY_MS, now_ms, TODAY) for entry in classes)
    return total


def _shipped_first(own: list[Recent], others: list[list[Recent]], now_ms: float, arrived: bool) -> float:
    """The same, as the second's first hold turn reads them: no rate remembered, nor (`arrived`:
    one more of every class since the last read) their times."""
    forget_kept_rates(times_too=arrived)
    return _shipped(own, others, now_ms)


Rate = Callable[[tuple[float, ...], float], float]


def _exact(rate: Rate, parse: Callable[[str, float], tuple[float, ...]]) -> Callable[..., float]:
    """The higher classes (`every`: every list) from their kept times by `rate`, nothing
    remembered; the other lists by the windows rule."""

    def read(own: list[Recent], others: list[list[Recent]], now_ms: float, every: bool) -> float:
        forget_kept_rates()  # the kept times read afresh (`arrival_ages` remembers them)
        prior = TODAY / ((now_ms - FIRST_DAY_MS) / 1000)
        total = sum(rate(parse(entry.times, now_ms), prior) for entry in own)
        for classes in others:
            for entry in classes:
                if every:
                    total += rate(parse(entry.times, now_ms), prior)
                else:
                    total += recent_rate(entry.counts, FIRST_DAY_MS, now_ms, TODAY)
        return total

    return read


def _cpu_per_turn(fn: Callable[..., float], *args: object) -> float:
    start = time.thread_time_ns()
    for _ in range(RATE_REPEATS):
        fn(*args)
    return (time.thread_time_ns() - start) / 1000 / RATE_REPEATS


def rate_report(rounds: int = RATE_ROUNDS) -> tuple[str, bool]:
    """CPU per hold turn of its rate reading, beside the windows rule, interleaved; whether the
    reading as shipped is within RATE_TARGET_US."""
    own, others, now_ms = busy_day_lists()
    first_rule = _exact(_first_changing_rate, _first_arrival_ages)
    grouped = _exact(changing_rate, arrival_ages)
    rows: list[tuple[str, Callable[..., float], tuple[object, ...]]] = [
        ("windows rule, every list (before the kept times)", _windows, ()),
        ("shipped: the second's first turn, new arrivals", _shipped_first, (True,)),
        ("shipped: the second's first turn, none new", _shipped_first, (False,)),
        ("shipped: a later hold turn in the same second", _shipped, ()),
        ("grouped gaps, higher classes, every turn", grouped, (False,)),
        ("grouped gaps, every list, every turn", grouped, (True,)),
        ("every gap (as first written), higher classes", first_rule, (False,)),
        ("every gap (as first written), every list", first_rule, (True,)),
    ]
    for _, fn, extra in rows:  # warm up
        fn(own, others, now_ms, *extra)
    samples: list[list[float]] = [[] for _ in rows]
    for _ in range(rounds):
        for i, (_, fn, extra) in enumerate(rows):
            samples[i].append(_cpu_per_turn(fn, own, others, now_ms, *extra))
    medians = [statistics.median(s) for s in samples]
    lists = len(own) + sum(len(c) for c in others)
    lines = [
        f"CPU per hold turn's rate reading on a busy day ({len(own)} higher classes and "
        f"{lists - len(own)} other departments' classes, every kept list full), median of {rounds} "
        "interleaved rounds",
        "",
        f"| {'rule':<50} | {'us a hold turn':>14} | {'ratio':>6} |",
        f"|{'-' * 52}|{'-' * 15}:|{'-' * 7}:|",
    ]
    for (label, _, _), median in zip(rows, medians, strict=True):
        lines.append(f"| {label:<50} | {median:>14.1f} | {median / medians[0]:>6.1f} |")
    ok = medians[1] <= RATE_TARGET_US
    lines += [
        "",
        "every row but the first: the windows rule for the lists not read from their kept times",
        f"target: the second's first turn after new arrivals at most {RATE_TARGET_US:.0f} us: "
        + ("PASS" if ok else "FAIL"),
    ]
    return "\n".join(lines), ok
