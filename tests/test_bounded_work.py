"""No queue state can hold a web worker: the wait estimate's work is capped and its figures finite.

Under overload the estimate once looped forever (a mean wait past ~1e154 s made the gamma's shape
NaN, and NaN passed `shape <= 0`). These tests count the work instead of timing it: every
evaluation of the incomplete gamma function, every stage or block of stages of the queue and every
closed-form block sum is counted, and the counts stay under caps that do not depend on the input,
the number of callers ahead included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import keys
from ivr.clock import business_day
from ivr.services import services_of
from ivr.waits import erlang, gamma, stages
from ivr.waits import estimate as estimate_module
from ivr.waits.estimate import (
    LONGEST_SAID_SECONDS,
    MAX_STAFFING_CHANGES,
    MAX_STAGES_NEAR_CHANGES,
    Estimate,
    QueueState,
    estimate,
)
from standin.phone import Call
from tests.test_wait_announcements import english_caller, heard, ready

# Any float at all, the awkward ones included.
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
RATE = st.one_of(ANY_FLOAT, st.sampled_from([0.0, 1e-300, 1e-160, 1e154, 1e300, math.inf, math.nan]))
COUNT = st.one_of(st.integers(min_value=-(10**6), max_value=10**15), st.sampled_from([0, 1, 10**9, 10**15]))
# Evaluations of P(a, x) one quantile may make, and one estimate (two quantiles).
PER_QUANTILE = gamma._MAX_DOUBLINGS + gamma._MAX_NEWTON + 1
# Stage operations (a stage's moments, a block's sums, one closed-form sum) one estimate may make:
# per step of its walk a binary search over at most 2^41 callers (three operations and up to 3 x 28
# block sums a probe: the mean, the variance and the third cumulant), and one exact solve of
# MAX_EXACT stages per staffing level.
BLOCK_SUMS = 3 * 28
PER_WALK_STEP = 43 * (3 + BLOCK_SUMS)
STAGE_WORK = MAX_STAGES_NEAR_CHANGES * PER_WALK_STEP + (MAX_STAFFING_CHANGES + 1) * stages.MAX_EXACT

queue_states = st.builds(
    QueueState,
    agents=RATE,
    ready=COUNT,
    ahead=COUNT,
    mean_handle_seconds=st.one_of(st.none(), RATE),
    mean_patience_seconds=st.one_of(st.none(), RATE),
    overtaking_per_second=RATE,
    staffing_changes=st.lists(st.tuples(RATE, RATE), max_size=40).map(tuple),
    waited_seconds=RATE,
    handle_cv=st.one_of(st.none(), RATE),
)


@pytest.fixture
def work() -> Iterator[dict[str, int]]:
    """Counts of P(a, x) evaluations and of stage operations (each O(1), or one exact solve)."""
    counts = {"gamma": 0, "stages": 0}
    real_lower = gamma.regularized_lower
    real_stage, real_block, real_sum = stages.Stages.stage, stages.Stages.block, stages.block_sum
    real_third, real_block_third = stages.Stages.third, stages.Stages.block_third
    real_exact = stages.Stages._exact_stages

    def counted_lower(a: float, x: float, *eps: float) -> float:
        counts["gamma"] += 1
        return real_lower(a, x, *eps)

    def counted_stage(self: stages.Stages, k: int) -> tuple[float, float]:
        counts["stages"] += 1
        return real_stage(self, k)

    def counted_block(self: stages.Stages, lo: int, hi: int, variance: bool = True) -> tuple[float, float]:
        counts["stages"] += 1
        return real_block(self, lo, hi, variance)

    def counted_third(self: stages.Stages, k: int) -> float:
        counts["stages"] += 1
        return real_third(self, k)

    def counted_block_third(self: stages.Stages, lo: int, hi: int) -> float:
        counts["stages"] += 1
        return real_block_third(self, lo, hi)

    def counted_sum(p: int, x: float, count: float) -> float:
        counts["stages"] += 1
        return real_sum(p, x, count)

    def counted_exact(self: stages.Stages) -> list[tuple[float, float]]:
        if self._exact is None:
            counts["stages"] += self.series_from - self._exact_from  # the recursion's steps
        return real_exact(self)

    gamma.regularized_lower = counted_lower  # type: ignore[assignment]
    stages.Stages.stage = counted_stage  # type: ignore[method-assign]
    stages.Stages.block = counted_block  # type: ignore[method-assign]
    stages.Stages.third = counted_third  # type: ignore[method-assign]
    stages.Stages.block_third = counted_block_third  # type: ignore[method-assign]
    stages.block_sum = counted_sum
    stages.Stages._exact_stages = counted_exact  # type: ignore[method-assign]
    yield counts
    gamma.regularized_lower = real_lower  # type: ignore[assignment]
    stages.Stages.stage = real_stage  # type: ignore[method-assign]
    stages.Stages.block = real_block  # type: ignore[method-assign]
    stages.Stages.third = real_third  # type: ignore[method-assign]
    stages.Stages.block_third = real_block_third  # type: ignore[method-assign]
    stages.block_sum = real_sum
    stages.Stages._exact_stages = real_exact  # type: ignore[method-assign]


def _finite(est: Estimate) -> bool:
    values = (est.seconds, est.low, est.high, est.sd)
    ordered = est.low <= est.seconds <= est.high or est.seconds == 0
    return all(math.isfinite(v) and v >= 0 for v in values) and ordered


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=queue_states)
def test_any_queue_state_gives_finite_figures_or_none_with_capped_work(
    state: QueueState, work: dict[str, int]
) -> None:
    work["gamma"] = work["stages"] = 0
    result = estimate(state)
    assert work["gamma"] <= 2 * PER_QUANTILE
    assert work["stages"] <= STAGE_WORK
    if result is not None:
        assert _finite(result), result
        assert result.seconds <= LONGEST_SAID_SECONDS
        spoken = result.spoken()  # what a caller would hear is sayable too
        assert spoken.kind in ("soon", "up_to_90s", "up_to", "about", "range", "long")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=ANY_FLOAT, shape=RATE, scale=RATE)
def test_a_gamma_quantile_refuses_or_answers_within_its_caps(
    p: float, shape: float, scale: float, work: dict[str, int]
) -> None:
    work["gamma"] = 0
    try:
        x = gamma.quantile(p, shape, scale)
    except ValueError:
        assert not (0 < p < 1 and 0 < shape < math.inf and 0 < scale < math.inf)
    else:
        assert math.isfinite(x) and x >= 0
    assert work["gamma"] <= PER_QUANTILE


def test_the_shape_that_once_looped_forever_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        gamma.quantile(0.9, math.nan, 1.0)
    with pytest.raises(ValueError, match="scale"):
        gamma.quantile(0.9, 2.0, math.inf)


def test_a_mean_wait_past_a_day_is_longer_than_we_can_say() -> None:
    # 1e160 s a call: the mean wait once squared to infinity here, and the shape became NaN.
    est = estimate(QueueState(agents=1, ahead=3, mean_handle_seconds=1e160))
    assert est is not None and est.beyond and est.spoken().kind == "long"
    assert estimate(QueueState(agents=math.nan, ahead=3)) is None  # no agents we can count: no figure


def test_a_long_queue_is_summed_in_closed_form(work: dict[str, int]) -> None:
    """Three thousand callers ahead: the sums over every stage, exact, for a handful of operations."""
    state = QueueState(agents=20, ahead=3000, mean_handle_seconds=180.0, mean_patience_seconds=300.0)
    mean, var = estimate_module.wait_moments(state) or (0.0, 0.0)
    theta, rate_of = 1 / 300, 20 / 180
    exact_mean = math.fsum(1 / (rate_of + k * theta) for k in range(3001))
    exact_var = math.fsum(1 / (rate_of + k * theta) ** 2 for k in range(3001))
    assert mean == pytest.approx(exact_mean, rel=1e-12)
    assert var == pytest.approx(exact_var, rel=1e-12)
    # One block: its mean's and variance's closed-form sums, and its third cumulant's.
    assert work["stages"] <= 5


# Queues of every kind the estimate models: abandonment, overtaking, both, staffing changes ahead.
KINDS = {
    "plain": QueueState(agents=20, mean_handle_seconds=240.0),
    "abandoning": QueueState(agents=20, mean_handle_seconds=240.0, mean_patience_seconds=400.0),
    "overtaken": QueueState(agents=20, mean_handle_seconds=240.0, overtaking_per_second=0.02),
    "both": QueueState(
        agents=20, mean_handle_seconds=240.0, mean_patience_seconds=400.0, overtaking_per_second=0.05
    ),
    "shift changes": QueueState(
        agents=20,
        mean_handle_seconds=240.0,
        mean_patience_seconds=900.0,
        overtaking_per_second=0.01,
        staffing_changes=((600.0, 30.0), (1800.0, 10.0), (3600.0, 0.0), (5400.0, 40.0)),
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_work_of_an_estimate_does_not_grow_with_the_callers_ahead(
    kind: str, work: dict[str, int]
) -> None:
    """From 30 to 10^12 callers ahead, the operations stay under one fixed count.

    Without staffing changes it is the same count at every position (one block in closed form);
    with them it grows at most by the binary search for where each change falls (41 probes).
    """
    counts = {}
    for ahead in (30, 300, 3_000, 10**6, 10**9, 10**12):
        work["stages"] = 0
        result = estimate(QueueState(**{**KINDS[kind].__dict__, "ahead": ahead}))
        assert result is None or _finite(result)
        counts[ahead] = work["stages"]
    if not KINDS[kind].staffing_changes:
        assert len(set(counts[a] for a in counts if a >= 3_000)) == 1, counts
    assert max(counts.values()) <= 4 * 43 * (3 + BLOCK_SUMS) + stages.MAX_EXACT * 5, counts


def test_the_closed_forms_equal_the_stage_by_stage_sums_with_overtaking() -> None:
    """Overtaking and abandonment together: the blocks add up to the stages one by one."""
    level = stages.Stages(20 / 240, 1 / 400, 0.05)
    for lo, hi in ((0, 0), (0, 50), (3, 700), (650, 2_000)):
        one_by_one = [level.stage(k) for k in range(lo, hi + 1)]
        mean, var = level.block(lo, hi)
        assert mean == pytest.approx(math.fsum(m for m, _ in one_by_one), rel=1e-12)
        assert var == pytest.approx(math.fsum(v for _, v in one_by_one), rel=1e-12)
        third = math.fsum(level.third(k) for k in range(lo, hi + 1))
        assert level.block_third(lo, hi) == pytest.approx(third, rel=1e-12)


def test_the_overtaken_stages_are_the_first_passages_solved_from_far_above() -> None:
    """The expansion and the exact solve below it agree with the recursion started 20,000 levels up."""
    rate, theta, lam = 20 / 240, 1 / 400, 0.05
    level = stages.Stages(rate, theta, lam)
    for k in (0, 7, level.series_from - 1, level.series_from, level.series_from + 40):
        top = k + 20_000
        d = rate + top * theta
        u = d - lam
        m_up, q_up = 1 / u, 2 / u**3 * d  # the M/M/1 busy period there
        c_up = 2 / u**3 + 6 * lam * (d + lam) / u**5 + 6 * lam / u**4
        for j in range(top, k - 1, -1):
            d = rate + j * theta
            m = (1 + lam * m_up) / d
            q = (2 * m + lam * (q_up + 2 * m_up * m)) / d
            v_up, both = q_up - m_up * m_up, m_up + m
            rest = c_up + 3 * v_up * both + m_up**3 + 3 * m_up * m_up * m + 2 * m * m * m_up
            c_up = (2 * m * m + lam * rest) / d
            m_up, q_up = m, q
        mean, var = level.stage(k)
        assert mean == pytest.approx(m_up, rel=1e-12)
        assert var == pytest.approx(q_up - m_up**2, rel=1e-10)
        assert level.third(k) == pytest.approx(c_up, rel=1e-10)


def test_a_hold_turn_under_an_absurd_queue_state_answers_valid_twiml(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """Counters gone wild (a handle time of 1e300 s, a NaN patience): the caller hears no number."""
    hotline = services_of(app)
    first = english_caller(dial)
    ready(app, "emma_chen", run_jobs)  # takes the first caller: one agent staffed
    first.continue_loop()
    day = business_day(hotline.clock.now(), hotline.config.file.hotline.timezone)
    redis_conn.hset(
        keys.department_stats("payments", day),
        mapping={"handled": 5, "handle_ms": "1e303", "abandoned": 9, "abandoned_wait_ms": "nan"},
    )
    second = english_caller(dial, "+14155550199")  # each answer is checked as TwiML by the stand-in
    assert "Yourwaitislongerthanwecanestimaterightnow." in heard(second)
    assert second.on_hold  # kept in the queue, not sent to the overflow number


@settings(max_examples=200, deadline=None)
@given(agents=RATE, load=RATE, handle=RATE)
def test_the_erlang_c_wait_of_any_hour_is_a_number_after_capped_work(
    agents: float, load: float, handle: float
) -> None:
    """The callback scheduler ranks every hour of the week by it, in a webhook."""
    steps = 0
    real = erlang.erlang_c

    def counted(servers: int, offered: float) -> float:
        nonlocal steps
        steps += min(max(servers, 0), erlang.MAX_AGENTS)  # the recursion's steps at most
        return real(servers, offered)

    erlang.erlang_c = counted  # type: ignore[assignment]
    try:
        wait = erlang.erlang_c_wait(agents, load, handle)
    finally:
        erlang.erlang_c = real  # type: ignore[assignment]
    assert not math.isnan(wait)
    assert steps <= 2 * erlang.MAX_AGENTS
