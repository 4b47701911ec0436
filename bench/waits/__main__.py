"""`python -m bench.waits`: run the scenarios, print the table, exit 1 if a target is missed."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench.waits import report
from bench.waits.runner import run
from bench.waits.scenarios import SCENARIOS, scenario, shortened
from bench.waits.scoring import Summary
from ivr.waits.erlang import erlang_c

DOCS = Path("docs")


def erlang_line(summaries: list[Summary]) -> str | None:
    """Scenario 1 against Erlang C: the simulator's share of time with every agent busy."""
    for s in summaries:
        if s.number == 1:
            sc = scenario(1)
            offered = sc.departments[0].arrivals.at(0.0) * 300.0
            return (
                f"simulator check, scenario 1: every agent busy {s.p_wait.text(3)} of the time,"
                f" Erlang C P(wait) {erlang_c(sc.agents, offered):.3f}"
            )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waits", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 replications of shorter days")
    parser.add_argument("--replications", type=int, help="per scenario (default 10; --quick: 3)")
    parser.add_argument("--scenario", type=int, action="append", help="only this one (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--plot", type=Path, help="write the plot (PNG) here")
    parser.add_argument("--docs", action="store_true", help="write docs/waits.md and docs/waits.png")
    parser.add_argument(
        "--cost", action="store_true", help="only the CPU cost of an estimate (bench.waits.cost)"
    )
    parser.add_argument(
        "--rate-cost",
        action="store_true",
        help="only the CPU a hold turn's arrival rates cost, beside the windows rule (bench.waits.cost)",
    )
    args = parser.parse_args(argv)
    if args.rate_cost:
        from bench.waits import cost

        table, ok = cost.rate_report()
        print(table)
        return 0 if ok else 1
    if args.cost:
        from bench.waits import cost

        table, ok = cost.report()
        print(table)
        return 0 if ok else 1
    chosen = [scenario(n) for n in args.scenario] if args.scenario else list(SCENARIOS)
    replications = args.replications or (3 if args.quick else 10)
    if args.quick:
        chosen = [shortened(sc, 0.25) for sc in chosen]
    started = time.monotonic()
    summaries, _ = run(chosen, replications, args.seed, args.workers)
    elapsed = time.monotonic() - started
    print(report.text_table(summaries))
    check = erlang_line(summaries)
    if check:
        print(check)
    print(
        f"{replications} replications a scenario, seed {args.seed}, {args.workers} processes: {elapsed:.0f} s"
    )
    missed = report.failures(summaries)
    for line in missed:
        print("FAIL " + line)
    if args.plot:
        report.plot(summaries, args.plot)
    if args.docs:
        DOCS.mkdir(exist_ok=True)
        report.plot(summaries, DOCS / "waits.png")
        command = "python -m bench.waits" + (" --quick" if args.quick else "") + f" --seed {args.seed}"
        (DOCS / "waits.md").write_text(
            report.document(summaries, command, replications, elapsed, args.workers, check, missed),
            encoding="utf-8",
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
