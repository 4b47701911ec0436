"""`python -m bench.faults`: run the fault rows and print the table (see `bench.faults`)."""

from __future__ import annotations

import argparse
import sys
import time

from bench.faults.scenarios import Options, Plan, Scenario, fault_points, sentinel_supported
from bench.faults.truth import Row

# name -> (fault, count, seconds of traffic per fault, least window) for each size of run
SIZES = {
    "quick": {"baseline": 0, "redis-kill": 2, "redis-stop": 1, "worker-kill": 3, "sentinel": 1},
    "default": {"baseline": 0, "redis-kill": 5, "redis-stop": 2, "worker-kill": 8, "sentinel": 1},
    "full": {"baseline": 0, "redis-kill": 30, "redis-stop": 10, "worker-kill": 50, "sentinel": 5},
}
SPACING = {"baseline": 0.0, "redis-kill": 4.0, "redis-stop": 9.0, "worker-kill": 2.0, "sentinel": 15.0}
WINDOWS = {"quick": 10.0, "default": 20.0, "full": 60.0}  # baseline, fault points, dropped statuses
COLUMNS = (
    ("scenario", 22), ("faults", 6), ("offered", 7), ("served", 6), ("abandoned", 9), ("lost", 4),
    ("2x served", 9), ("held", 4), ("2x dialled", 10), ("unavailable", 11), ("time", 6),
)  # fmt: skip


def plans(
    size: str, counts: dict[str, int], only: list[str] | None, points: list[str], apart: bool = False
) -> list[Plan]:
    """The rows to run, in order; fault points in one row, or one row each (`apart`, or a full run)."""
    window = WINDOWS[size]
    rows: list[Plan] = []
    for name, count in SIZES[size].items():
        count = counts.get(name, count)
        fault = "none" if name == "baseline" else name
        rows.append(Plan(name, fault, count, max(window, count * SPACING[name] + 4)))
    if points and not (apart or size == "full"):  # one row: a worker may die at any of the points
        rows.append(Plan("points", "fault-point", 0, window, ",".join(points)))
    else:
        rows += [Plan(f"point:{p}", "fault-point", 0, window, p) for p in points]
    rows.append(Plan("drop-status", "drop-status", 0, window * 1.5))
    if only:
        rows = [r for r in rows if r.name in only or r.fault in only]
    return rows


def table(rows: list[Row], reaper: float) -> str:
    """The rows as a plain-text table, then what was lost and why."""
    head = "  ".join(
        f"{name:>{width}}" if i else f"{name:<{width}}" for i, (name, width) in enumerate(COLUMNS)
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = (
            r.name, r.faults, r.offered, r.served, r.abandoned, r.lost, r.served_twice, r.held,
            r.dialled_twice, f"{r.unavailable:.1f} s", f"{r.seconds:.0f} s",
        )  # fmt: skip
        lines.append(
            "  ".join(
                f"{cell:>{w}}" if i else f"{cell:<{w}}"
                for i, (cell, (_, w)) in enumerate(zip(cells, COLUMNS, strict=True))
            )
        )
    for r in rows:
        why = ", ".join(f"{n} {what}" for what, n in r.lost_why.most_common())
        if why or r.notes:
            lines.append(f"\n{r.name}:" + (f" lost: {why}" if why else ""))
            lines += [f"  {note}" for note in r.notes]
    return "\n".join(lines)


def failed(row: Row, reaper: float) -> bool:
    """Whether a loss column of the row is not zero (unavailable: past the reaper period)."""
    return row.losses() > 0 or row.unavailable > reaper


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the rows, print the table; 1 when anything was lost."""
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a short run of each row (about 5 minutes)")
    size.add_argument(
        "--full",
        action="store_true",
        help="the issue's counts: 30, 10, 50, 5, a row per fault point (about 23 minutes)",
    )
    parser.add_argument(
        "--rows", nargs="+", help="only these rows (names, or fault kinds such as fault-point)"
    )
    parser.add_argument("--count", action="append", default=[], metavar="ROW=N", help="faults in a row")
    parser.add_argument("--points", nargs="*", help="fault points (default: those named in the code)")
    parser.add_argument("--points-apart", action="store_true", help="one row per fault point (as --full)")
    parser.add_argument("--callers", type=int, default=0, help="a fixed number of callers per row")
    parser.add_argument("--rate", type=float, default=Options.rate, help="callers per second")
    parser.add_argument("--agents", type=int, default=Options.agents)
    parser.add_argument("--window", type=float, help="seconds of traffic per row (overrides the size)")
    parser.add_argument("--patience", type=float, default=Options.patience, help="callers' mean patience, s")
    parser.add_argument("--reaper", type=float, default=Options.reaper, help="the hotline's reaper period, s")
    parser.add_argument("--settle", type=float, help="seconds watched after the last caller")
    parser.add_argument("--base-port", type=int, default=Options.base_port)
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--keep", action="store_true", help="keep each row's logs and data")
    parser.add_argument("-v", "--verbose", action="store_true", help="each lost caller's last events")
    parser.add_argument(
        "--connect-via",
        choices=("dial", "conference"),
        default="dial",
        help="how callers meet agents: a Dial (default), or a conference room of their own",
    )
    args = parser.parse_args(argv)
    size_name = "quick" if args.quick else "full" if args.full else "default"
    counts = {}
    for item in args.count:
        name, _, n = item.partition("=")
        if not n.isdigit():
            parser.error(f"--count takes ROW=N, not {item!r}")
        counts[name] = int(n)
    points = fault_points() if args.points is None else args.points
    rows = plans(size_name, counts, args.rows, points, args.points_apart)
    if args.window:
        rows = [Plan(r.name, r.fault, r.count, args.window, r.point) for r in rows]
    skipped = []
    if not sentinel_supported():
        skipped.append("sentinel (this build does not take a redis+sentinel:// REDIS_URL)")
        rows = [r for r in rows if r.fault != "sentinel"]
    if not points:
        skipped.append('fault points (none named in ivr/ or queue_worker/: reached("matching..."))')
    opts = Options(
        base_port=args.base_port, agents=args.agents, rate=args.rate, callers=args.callers,
        patience=args.patience, reaper=args.reaper, settle=args.settle, seed=args.seed,
        keep=args.keep, verbose=args.verbose, connect_via=args.connect_via,
    )  # fmt: skip
    began = time.monotonic()
    done: list[Row] = []
    for plan in rows:
        print(
            f"running {plan.name}: {f'{plan.count} faults in ' if plan.count else ''}"
            f"{plan.window:.0f} s of calls...",
            flush=True,
        )
        try:
            done.append(Scenario(plan, opts).run())
        except RuntimeError as exc:  # a port taken, a process that would not start
            print(f"{plan.name}: cannot run: {exc}", file=sys.stderr)
            return 2
    print()
    print(table(done, opts.reaper))
    for what in skipped:
        print(f"skipped: {what}")
    print(f"\n{len(done)} rows in {time.monotonic() - began:.0f} s")
    return 1 if any(failed(r, opts.reaper) for r in done) else 0


if __name__ == "__main__":
    sys.exit(main())
