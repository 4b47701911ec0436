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
