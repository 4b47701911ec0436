"""What the wait estimate learns from the day's counters: patience by the time waited, from
censored waits (known data), and its bounds for any counters; the counters the queue keeps."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
import redis
from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st

from ivr import keys
from ivr.callcenter.agents import READY
from ivr.clock import FixedClock, business_day
from ivr.services import services_of
from ivr.waits.arrivals import (
    ARRIVALS_KEPT,
    RECENT_WINDOWS_SECONDS,
    arrival_ages,
    changing_rate,
    forget_kept_rates,
    kept_arrivals,
    kept_rate,
    recent_rate,
)
from ivr.waits.learned import (
    PATIENCE_EDGES_SECONDS,
    PATIENCE_FIELDS,
    PATIENCE_SPANS,
    PRIOR_ABANDONS,
    censored_patience,
    hazard_ahead,
    hotline_patience,
    patience_hazards,
    wait_counts,
)
from ivr.waits.live import wait_for_new_caller
from tests.conftest import OPEN_HOURS

# Long-tailed patience: 40% of callers with a mean of one minute, 60% with sixteen.
MIXTURE = ((0.4, 60.0), (0.6, 960.0))
CENSOR_MEAN = 300.0  # how long until an agent takes a caller, had they not hung up


def span_hazard(start: float, end: float) -> float:
    """What the span's hang-ups over its exposure tend to, patience MIXTURE and exponential
    answering of CENSOR_MEAN: the integral of f(t) e^(-t/c) over that of S(t) e^(-t/c)."""
    c = 1 / CENSOR_MEAN

    def part(rate: float, t: float) -> float:  # integral of e^(-rate t) from start to t
        return (math.exp(-rate * start) - (0.0 if math.isinf(t) else math.exp(-rate * t))) / rate

    events = sum(share / mean * part(1 / mean + c, end) for share, mean in MIXTURE)
    exposure = sum(share * part(1 / mean + c, end) for share, mean in MIXTURE)
    return events / exposure


def test_patience_by_time_waited_finds_the_falling_hazard_of_long_tailed_patience() -> None:
    """Known data: 20,000 waits, patience MIXTURE, each ended by an agent (censored) or a hang-up,
    and 2,000 callers still waiting. Span by span, hang-ups over exposure find the law's hazard
    within 12%: six times higher in the first half minute than past eight minutes, where one
    exponential law (the censored `censored_patience`) sees one mean for everyone."""
    rng = random.Random(11)
    values: dict[str, float] = dict.fromkeys(PATIENCE_FIELDS, 0.0)
    ended = abandoned = 0.0
    for _ in range(20_000):
        share, mean = MIXTURE[0] if rng.random() < MIXTURE[0][0] else MIXTURE[1]
        patience, answered = rng.expovariate(1 / mean), rng.expovariate(1 / CENSOR_MEAN)
        waited = min(patience, answered)
        for field, n in wait_counts(waited * 1000, abandoned=patience < answered).items():
            values[field] += n
        ended += waited
        abandoned += patience < answered
    waiting = [(rng.uniform(0, 300), 1.0) for _ in range(2_000)]  # still waiting: exposure only
    hazards = patience_hazards(values, waiting, None)
    assert hazards is not None
    edges = (0.0, *PATIENCE_EDGES_SECONDS, math.inf)
    # The still-waiting callers are exposure the law above leaves out: the first spans are
    # compared on the ended waits alone, which dominate them.
    ended_only = patience_hazards(values, [], None)
    assert ended_only is not None
    for b in range(len(hazards)):
        assert ended_only[b] == pytest.approx(span_hazard(edges[b], edges[b + 1]), rel=0.12)
    assert hazards[0] > 5 * hazards[-1]
    exponential = censored_patience(ended, abandoned, 0.0, None)
    assert exponential is not None and hazards[-1] < 1 / exponential < hazards[0]
    # The callers still waiting lower the hazard of the spans they are in, never raise it.
    assert all(h <= e + 1e-15 for h, e in zip(hazards, ended_only, strict=True))


def test_exponential_patience_keeps_one_rate_for_every_span() -> None:
    """Known data: 5,000 waits of exponential patience (mean 600 s), censored by answers. Six
    rates from the same waits would only be noisier: the spans do not differ beyond chance, so
    every span has the censored exponential estimate, within 8% of the truth."""
    rng = random.Random(5)
    values: dict[str, float] = dict.fromkeys(PATIENCE_FIELDS, 0.0)
    for _ in range(5_000):
        patience, answered = rng.expovariate(1 / 600), rng.expovariate(1 / CENSOR_MEAN)
        for field, n in wait_counts(min(patience, answered) * 1000, abandoned=patience < answered).items():
            values[field] += n
    hazards = patience_hazards(values, [], None)
    assert hazards is not None and len(set(hazards)) == 1
    assert hazards[0] == pytest.approx(1 / 600, rel=0.08)


def test_the_callers_ahead_abandon_at_their_own_time_waited() -> None:
    """Those ahead of a caller are the ones waiting longest: their hazard is read at what they
    waited, the callers past the ones read one by one as the rest; nobody ahead: everyone's."""
    hazards = (0.01, 0.008, 0.006, 0.004, 0.002, 0.001)
    assert hazard_ahead(hazards, [600.0, 200.0, 45.0], (10.0, 0), 2) == pytest.approx((0.001 + 0.004) / 2)
    assert hazard_ahead(hazards, [600.0], (10.0, 3), 4) == pytest.approx((0.001 + 3 * 0.01) / 4)
    assert hazard_ahead(hazards, [600.0, 45.0], (10.0, 0), 0) == pytest.approx((0.001 + 0.008) / 2)
    assert hazard_ahead(hazards, [], (0.0, 0), 0) == 0.01


def test_before_enough_hang_ups_no_patience_is_made_up_and_a_profile_fills_in() -> None:
    """Without a profile, one hang-up is no law (nobody is taken to hang up: None); a profile's
    mean patience weighs PRIOR_ABANDONS hang-ups spread over the spans at its constant hazard;
    counters from before waits were counted by span give None (the exponential law is used)."""
    values = {"waited_ms:0": 30_000.0, "waited_ms:1": 10_000.0, "abandoned:1": 1.0}
    assert patience_hazards(values, [], None) is None
    with_profile = patience_hazards(values, [], 600.0)  # one rate: the pooled censored estimate
    assert with_profile == tuple(pytest.approx((1 + 5) / (40 + 5 * 600)) for _ in range(PATIENCE_SPANS))
    assert patience_hazards({"abandoned:0": 5.0}, [(100.0, 3.0)], 600.0) is None


NUMBERS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20).map(float),
)


@example(  # a trace of waiting against a huge count of hang-ups: no law, not a rate of 1e302
    counters=[2.7e-299, None, None, None, None, None, 1e17, None, None, None, None, None],
    waiting=[],
    prior=None,
    ahead=1,
)
@given(
    counters=st.lists(NUMBERS, min_size=len(PATIENCE_FIELDS), max_size=len(PATIENCE_FIELDS)),
    waiting=st.lists(st.tuples(NUMBERS, NUMBERS), max_size=5),
    prior=NUMBERS,
    ahead=st.integers(min_value=-5, max_value=10**12),
)
def test_patience_from_any_counters_is_none_or_finite_and_bounded_work(
    counters: list[float | None],
    waiting: list[tuple[float | None, float | None]],
    prior: float | None,
    ahead: int,
) -> None:
    """Counters garbled, negative, NaN or huge: no law (None), or finite hazards at least 0, and
    the hazard of those ahead finite for any count of them (its work: the callers read, not ahead)."""
    values = dict(zip(PATIENCE_FIELDS, counters, strict=True))
    cleaned = [(s if s is not None else 0.0, n if n is not None else 0.0) for s, n in waiting]
    hazards = patience_hazards(values, cleaned, prior)  # type: ignore[arg-type]
    if hazards is None:
        return
    assert len(hazards) == len(PATIENCE_EDGES_SECONDS) + 1
    assert all(math.isfinite(h) and h >= 0 for h in hazards)
    theta = hazard_ahead(hazards, [60.0, 30.0], (5.0, 10**15), ahead)
    assert math.isfinite(theta) and theta >= 0


@given(
    counts=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=len(RECENT_WINDOWS_SECONDS)),
    first=NUMBERS,
    now=st.floats(min_value=-1e15, max_value=1e15),
    today=NUMBERS,
)
def test_the_recent_rate_of_any_counts_is_finite_and_not_negative(
    counts: list[float], first: float | None, now: float, today: float | None
) -> None:
    rate = recent_rate(tuple(counts), first, now, today)
    assert math.isfinite(rate) and rate >= 0
    # Bounded: never above the fastest rate a window reads (a count over at least 600 s of a
    # one-minute window, or the day's over its 600 s at least).
    fastest = max([c for c in (*counts, today) if c is not None and 0 < c < 1e18], default=0.0)
    assert rate <= fastest / (RECENT_WINDOWS_SECONDS[0] * -math.expm1(-600 / RECENT_WINDOWS_SECONDS[0])) * (
        1 + 1e-9
    )


def _expected_counts(segments: list[tuple[float, float]]) -> tuple[tuple[float, ...], float, float]:
    """Known data: the decayed counts, the day's count and its length after arrivals at these
    (rate per second, seconds) in turn, as many as expected (no chance)."""
    counts = []
    for tau in RECENT_WINDOWS_SECONDS:
        count, age = 0.0, 0.0
        for rate, seconds in reversed(segments):
            count += rate * tau * (math.exp(-age / tau) - math.exp(-(age + seconds) / tau))
            age += seconds
        counts.append(count)
    return tuple(counts), sum(r * s for r, s in segments), sum(s for _, s in segments)


def test_the_recent_rate_is_brought_within_the_shorter_windows_early_in_a_rise() -> None:
    """Two minutes into a tripling (4 a minute for an hour, then 12): the 4-minute window still
    meets the shorter ones' intervals but reads below them, holding arrivals from before; the
    rate read is raised to the nearest the shorter windows allow, below the 1-minute window's."""
    counts, today, seconds = _expected_counts([(4 / 60, 3600.0), (12 / 60, 120.0)])
    windows = [
        n / (tau * -math.expm1(-seconds / tau)) for n, tau in zip(counts, RECENT_WINDOWS_SECONDS, strict=True)
    ]
    rate = recent_rate(counts, 0.0, seconds * 1000, today)
    assert windows[2] < rate < windows[0]
    assert rate == pytest.approx(0.1235, abs=1e-3)
    # Steady arrivals: every window agrees, and the day's is read as it is.
    counts, today, seconds = _expected_counts([(4 / 60, 3600.0)])
    assert recent_rate(counts, 0.0, seconds * 1000, today) == pytest.approx(4 / 60, rel=1e-6)


def _arrivals(rng: random.Random, segments: list[tuple[float, float]]) -> tuple[str, float]:
    """Poisson arrivals at these (rate per second, seconds) in turn: the times the join script
    keeps of them (`kept_arrivals`, ms) and the end of the last segment (ms)."""
    times, t, start = None, 0.0, 0.0
    for rate, seconds in segments:
        t = start + rng.expovariate(rate)
        while t < start + seconds:
            times = kept_arrivals(times, t * 1000)
            t += rng.expovariate(rate)
        start += seconds
    return times or "", start * 1000


def test_the_rate_is_read_from_the_arrivals_since_it_last_changed() -> None:
    """Known data, 200 days each: a steady rate is read as it is; four minutes into a fivefold
    surge, the rate is read from the arrivals since it began, where the decayed windows of the
    same arrivals still read it low; two minutes after the surge ends it has fallen most of the
    way back, where the windows have not; within a few minutes it is back to the rate before."""
    base, surge, hour = 1 / 60, 5 / 60, 3600.0

    def mean_rate(segments: list[tuple[float, float]], windows: bool = False) -> float:
        rng, total = random.Random(7), 0.0
        for _ in range(200):
            times, now = _arrivals(rng, segments)
            ages = arrival_ages(times, now)
            day = sum(rate * seconds for rate, seconds in segments)  # the day's count, near enough
            if windows:  # the decayed counts of the same arrivals, read without their times
                counts = tuple(sum(math.exp(-age / tau) for age in ages) for tau in RECENT_WINDOWS_SECONDS)
                total += recent_rate(counts, 0.0, now, day)
            else:
                total += recent_rate((), 0.0, now, day, ages)
        return total / 200

    assert mean_rate([(base, 2 * hour)]) == pytest.approx(base, rel=0.1)
    rising = [(base, 2 * hour), (surge, 240.0)]
    assert mean_rate(rising) > 0.75 * surge > 0.65 * surge > mean_rate(rising, windows=True)
    # Half an hour into it: the likeliest changes are long past, but a few recent ones still weigh.
    assert mean_rate([(base, 2 * hour), (surge, 1800.0)]) == pytest.approx(surge, rel=0.2)
    falling = [(base, 2 * hour), (surge, 1800.0), (base, 120.0)]
    # (0.36 of the surge, one point a gap; three points a gap read 0.34 at ~6x the CPU.)
    assert mean_rate(falling) < 0.375 * surge < 0.4 * surge < mean_rate(falling, windows=True)
    assert mean_rate([(base, 2 * hour), (surge, 1800.0), (base, 360.0)]) == pytest.approx(base, rel=0.25)


def test_the_kept_arrivals_are_the_last_ones_and_any_list_reads_a_bounded_rate() -> None:
    """At most ARRIVALS_KEPT times are kept, the latest; garbled entries are left out; with no
    arrival kept, the prior is the rate; any ages read a finite rate, never negative."""
    times = None
    for i in range(ARRIVALS_KEPT + 5):
        times = kept_arrivals(times, i * 1000)
    assert times is not None and times.split(",") == [str(i * 1000) for i in range(5, ARRIVALS_KEPT + 5)]
    assert arrival_ages("1000,x,,nan,3000", 4000) == (1.0, 3.0)
    assert changing_rate((), 0.25) == 0.25 and changing_rate((), 0.0) == 0.0
    for ages in [(0.0,) * ARRIVALS_KEPT, (1e12,), (0.0, 1e12), tuple(float(i) for i in range(ARRIVALS_KEPT))]:
        for prior in (0.0, 1e-9, 1.0, 1e9, math.inf, math.nan):
            rate = changing_rate(ages, prior)
            assert math.isfinite(rate) and 0 <= rate <= 1e6


@given(
    ages=st.lists(st.floats(min_value=0, max_value=1e12), max_size=ARRIVALS_KEPT).map(
        lambda ages: tuple(sorted(ages))
    ),
    prior=st.floats(allow_nan=True, allow_infinity=True),
)
def test_the_rate_of_any_kept_arrivals_is_finite_and_not_negative(
    ages: tuple[float, ...], prior: float
) -> None:
    rate = changing_rate(ages, prior)
    assert math.isfinite(rate) and 0 <= rate <= 1e6


def test_a_caller_who_hangs_up_is_counted_in_the_spans_of_their_wait(
    app: Flask, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """The queue's leave script counts the wait span by span, as `wait_counts` says: 75 s waited
    is 30 s in the first span, 30 s in the second, 15 s in the third, where the hang-up falls."""
    hotline = services_of(app)
    clock.set(OPEN_HOURS.replace(hour=10))
    day = business_day(clock.now(), hotline.config.file.hotline.timezone)
    hotline.queues.join("CAgone", "accounts", "zh-CN", 2, clock.now() - timedelta(seconds=75), 50, day)
    assert hotline.queues.leave("CAgone", "accounts", day, abandoned=True, waited_ms=75_000)
    stats = redis_conn.hgetall(keys.department_stats("accounts", day))
    counted = {f: int(v) for f, v in stats.items() if f in PATIENCE_FIELDS}
    assert counted == wait_counts(75_000, abandoned=True)
    assert counted == {"waited_ms:0": 30_000, "waited_ms:1": 30_000, "waited_ms:2": 15_000, "abandoned:2": 1}


def test_the_hotlines_patience_from_its_departments_counters_known_data() -> None:
    """Known data: three departments' 3,000 waits, exponential patience of 240 s, each ended by an
    agent (exponential, 120 s) or a hang-up, counted span by span as the queue counts them. The
    seconds waited over the hang-ups find the mean within 6%; before two hang-ups, None."""
    rng = random.Random(3)
    departments: list[dict[str, float]] = []
    for _ in range(3):
        values: dict[str, float] = {}
        for _ in range(1000):
            patience, answered = rng.expovariate(1 / 240), rng.expovariate(1 / 120)
            for field, amount in wait_counts(min(patience, answered) * 1000, patience < answered).items():
                values[field] = values.get(field, 0.0) + amount
        departments.append(values)
    found = hotline_patience(departments)
    assert found is not None and abs(found - 240) < 0.06 * 240
    assert hotline_patience([{"waited_ms:0": 30_000.0, "abandoned:0": 1.0}, {}]) is None
    assert hotline_patience([]) is None


def test_a_department_without_hang_ups_or_profile_takes_the_other_departments_patience(
    app: Flask, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """Security has waited 20 s today and nobody hung up there: it takes accounts' callers'
    patience today (600 s of waiting over 4 hang-ups) as its prior, worth PRIOR_ABANDONS
    hang-ups; before any department saw two hang-ups, nobody is taken to hang up."""
    hotline = services_of(app)
    clock.set(OPEN_HOURS.replace(hour=11))
    day = business_day(clock.now(), hotline.config.file.hotline.timezone)
    hotline.agents.choose("wang_wei", READY, clock.now())  # takes security first
    redis_conn.hset(keys.department_stats("security", day), mapping={"waited_ms:0": 20_000})
    accounts = keys.department_stats("accounts", day)
    redis_conn.hset(accounts, mapping={"waited_ms:0": 600_000, "abandoned:0": 1})
    alone = wait_for_new_caller(hotline.live, "security", clock.now(), day).state
    assert alone.mean_patience_seconds is None  # one hang-up on the whole hotline: no law
    redis_conn.hset(accounts, mapping={"abandoned:0": 4})
    state = wait_for_new_caller(hotline.live, "security", clock.now(), day).state
    assert hotline_patience([{"waited_ms:0": 600_000, "abandoned:0": 4}]) == 150.0
    assert state.mean_patience_seconds == pytest.approx((20 + PRIOR_ABANDONS * 150.0) / PRIOR_ABANDONS)


def test_a_kept_list_reads_the_same_rate_all_second_remembered_or_not() -> None:
    """Hold turns in one second read one list's rate as at the whole second, whether this process
    remembered it from an earlier turn or not; the next second reads it afresh."""
    times, now = _arrivals(random.Random(3), [(1 / 60, 7200.0), (5 / 60, 300.0)])
    second = now // 1000 * 1000 + 1000  # a whole second just after the last arrival
    at_second = recent_rate((), 0.0, second, 200, arrival_ages(times, second))
    forget_kept_rates()
    first = kept_rate((), 0.0, second + 700, 200, times)
    assert first == at_second
    assert kept_rate((), 0.0, second + 300, 200, times) == at_second  # remembered
    forget_kept_rates()
    assert kept_rate((), 0.0, second + 999, 200, times) == at_second  # computed again
    later = kept_rate((), 0.0, second + 60_000, 200, times)
    assert later == recent_rate((), 0.0, second + 60_000, 200, arrival_ages(times, second + 60_000))
    assert later < at_second  # a minute without arrivals after a surge: lower
    # Without kept times, the decayed counts' windows, as before the times were kept.
    counts = (3.0, 5.0, 9.0, 12.0)
    assert kept_rate(counts, 0.0, second + 700, 200, "") == recent_rate(counts, 0.0, second + 700, 200)
