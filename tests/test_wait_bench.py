"""The wait benchmark's smoke run: its simulator against Erlang C, the estimator against the bound.

The full benchmark (`make bench`) runs by hand; this is scenario 1 (M/M/50 at 95%) made small.
"""

from __future__ import annotations

from dataclasses import replace

from bench.waits.predictors import HEAD_OF_LINE, LIVE, PRODUCT
from bench.waits.runner import probability_of_waiting, run
from bench.waits.scenarios import scenario, shortened
from ivr.waits.erlang import erlang_c


def test_simulated_queue_waits_as_often_as_erlang_c_says() -> None:
    """30 replications of 12 hours: the chance a caller waits is within 2% of Erlang C's."""
    sc = scenario(1)
    simulated = probability_of_waiting(sc, replications=30, hours=12)
    expected = erlang_c(50, 0.95 * 50)
    assert abs(simulated - expected) <= 0.02 * expected, (simulated, expected)


def test_estimator_is_within_the_target_of_the_best_possible_prediction() -> None:
    """The product's estimate scores within 1.10x of the conditional variance; head of line does not."""
    sc = replace(shortened(scenario(1), 0.25), warmup=1800.0)
    [summary], tallies = run([sc], replications=3, seed=1, workers=1)
    assert sum(t.records for t in tallies[1]) > 1000  # callers really waited and heard figures
    assert summary.ratios[PRODUCT].mean <= sc.target
    assert summary.ratios[HEAD_OF_LINE].mean > 1.5 * summary.ratios[PRODUCT].mean
    assert 0.7 <= summary.coverage.mean <= 0.9
    # Through the live path (the counters live.py reads, from a profile): near the bound too.
    assert summary.ratios[LIVE].mean <= 1.2 * sc.target


def test_the_cost_benchmark_times_every_kind_of_state_against_its_floor() -> None:
    """`python -m bench.waits --cost` smoke run: one round, a row per kind of state (no time asserted)."""
    from bench.waits import cost

    table, _ = cost.report(rounds=1)
    for kind in [*cost.states(), "all"]:
        assert f"| {kind} " in table
    assert all(len(group) == 15 for group in cost.states().values())  # 3 agents x 5 places in line


def test_long_tailed_patience_is_re_simulated_caller_by_caller() -> None:
    """Scenario 10 made small: early leavers re-simulated from what each caller ahead has waited."""
    sc = replace(shortened(scenario(10), 0.25), warmup=1800.0, resim_share=0.2)
    [summary], tallies = run([sc], replications=2, seed=3, workers=1)
    assert sum(t.records for t in tallies[10]) > 200
    assert summary.ratios[LIVE].mean <= 1.15
