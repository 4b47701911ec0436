"""Replications of the scenarios, spread over worker processes."""

from __future__ import annotations

import multiprocessing

from bench.waits.model import replicate
from bench.waits.scenarios import Scenario
from bench.waits.scoring import Summary, Tally, summarise


def _job(args: tuple[Scenario, int]) -> tuple[int, Tally]:
    sc, seed = args
    return sc.number, replicate(sc, seed)


def run(
    scenarios: list[Scenario], replications: int, seed: int, workers: int
) -> tuple[list[Summary], dict[int, list[Tally]]]:
    """Every replication of every scenario, spread over `workers` processes."""
    jobs = [(sc, seed * 1_000_003 + sc.number * 1000 + k) for sc in scenarios for k in range(replications)]
    tallies: dict[int, list[Tally]] = {sc.number: [] for sc in scenarios}
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for number, tally in pool.imap_unordered(_job, jobs):
                tallies[number].append(tally)
    else:
        for job in jobs:
            number, tally = _job(job)
            tallies[number].append(tally)
    summaries = [
        summarise(sc.number, sc.title, sc.target, sc.half_of_head_of_line, tallies[sc.number])
        for sc in scenarios
    ]
    return summaries, tallies


def probability_of_waiting(sc: Scenario, replications: int, hours: float, seed: int = 1) -> float:
    """The share of time every agent is busy (a caller's chance to wait, by PASTA), simulated.

    Replications start from the stationary law and carry no announcements. The time average of
    busy agents, whose mean offered_load is known by Little's law, is a control variate: it
    moves with the all-busy share (both follow the long excursions of a queue at 95% load) and
    removes most of their noise.
    """
    from dataclasses import replace
    from statistics import linear_regression, mean

    sc = replace(sc, warmup=0.0, horizon=hours * 3600.0)
    runs = [replicate(sc, seed * 1000 + k, announce=False) for k in range(replications)]
    busy, all_busy = [t.busy_mean for t in runs], [t.all_busy for t in runs]
    offered = sum(d.arrivals.at(0.0) for d in sc.departments) * 300.0
    slope = linear_regression(busy, all_busy).slope
    return mean(all_busy) - slope * (mean(busy) - offered)
