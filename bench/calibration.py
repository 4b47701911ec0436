"""How well the model's chance of the words said matches the share of waits they held.

`python -m bench.calibration --seeds 1 2 3` runs the simulated days of `bench.traffic` (the
same scenario, agents and real webhooks) and, for each caller's first announced wait, keeps
the `Estimate` the hold turn said it from (read as the turn is built, keyed by its CallSid;
the product's words are unchanged): the form and figures, the estimate's mean, sd and
patience, the model's chance of those words (the gamma law of that mean and sd, tilted by
patience as `spoken_for` tilts it), how many callers were ahead, and the wait the caller had.
Then the tables: (a) per form of words, the model's mean chance against the share held, for
the caller who is next and further back; (b) by the model's chance; (c) the waits against the
model's mean and spread, and where its CDF put them (uniform tenths if it is right); (d) "up to
N" by its chance against SPOKEN_TOLERANCE; (e) what the words nearest COVERAGE, with no
tolerance, would have held for the same callers. As in `bench.traffic`, only callers who
waited on the line to be answered count.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.traffic import Simulation, local_hotline
from bench.traffic_model import SERVED, Scenario, default_agents
from ivr.voice import waiting
from ivr.waits import gamma, words
from ivr.waits.estimate import Estimate
from ivr.waits.words import Spoken, spoken_for

FORMS = ("soon", "up_to_90s", "up_to", "about", "range")
CHANCE_BINS = ((0.0, 0.70), (0.70, 0.75), (0.75, 0.80), (0.80, 0.85), (0.85, 0.90), (0.90, 1.01))


@dataclass(frozen=True)
class Heard:
    """A caller's first announced wait, as the hold turn built it."""

    at: datetime  # the turn's instant
    estimate: Estimate
    spoken: Spoken
    ahead: int  # callers served first as things stood (the QueueState's)
    from_calls: bool  # the first stage came from the agents' calls under way


@contextmanager
def first_heard() -> Iterator[dict[str, Heard]]:
    """Within the block, every hold turn that says a wait records it for its CallSid, once.

    The turn's words are built in one place that sees the call, its `Wait` (the QueueState and
    the Estimate) and whether the turn announces: wrapped there, in this process only.
    """
    heard: dict[str, Heard] = {}
    original: Callable[..., Any] = waiting._turn_words

    def turn_words(cfg: Any, record: Any, wait: Any, plan: Any, now: datetime) -> Any:
        out = original(cfg, record, wait, plan, now)
        estimate = wait.estimate
        if plan.announce and estimate is not None and record.sid not in heard:
            spoken = estimate.spoken()
            if spoken.kind in FORMS:  # "longer than we can say" carries no figure
                ahead, from_calls = wait.state.ahead, wait.state.first_free is not None
                heard[record.sid] = Heard(now, estimate, spoken, ahead, from_calls)
        return out

    waiting._turn_words = turn_words
    try:
        yield heard
    finally:
        waiting._turn_words = original


def tilted(estimate: Estimate) -> tuple[float, float]:
    """(shape, scale) of the wait's gamma law among callers who stay, as `spoken_for` takes it
    (from `estimate.shift` on)."""
    part = estimate.seconds - estimate.shift
    shape, scale = (part / estimate.sd) ** 2, estimate.sd**2 / part
    if estimate.patience:
        scale = 1 / (1 / scale + 1 / estimate.patience)
    return shape, scale


def chance_of(spoken: Spoken, shape: float, scale: float, shift: float = 0.0) -> float:
    """The model's chance that the wait falls within the words (the CDF `spoken_for` uses)."""
    low, high = spoken.seconds()

    def cdf(x: float) -> float:
        return gamma.cdf_for_words(x - shift, shape, scale) if x > shift else 0.0

    return cdf(high) - cdf(low)


def nearest_words(estimate: Estimate) -> Spoken:
    """The words `spoken_for` would choose with no tolerance: nearest COVERAGE (in its 2% steps),
    the middle nearest the median only among equals."""
    saved = words.SPOKEN_TOLERANCE, words._FITS
    words.SPOKEN_TOLERANCE, words._FITS = 0.0, 0.01 + 1e-12
    try:
        return spoken_for(estimate.seconds, estimate.sd, estimate.patience, estimate.shift)
    finally:
        words.SPOKEN_TOLERANCE, words._FITS = saved


@dataclass(frozen=True)
class Row:
    """One caller who heard a wait and waited on the line to be answered."""

    seed: int
    kind: str
    low: int
    high: int
    mean: float  # the estimate's mean (seconds still to wait)
    sd: float
    patience: float | None
    tilted_mean: float  # of the law tilted by patience (callers who stay)
    tilted_sd: float
    chance: float  # the model's (tilted) chance of the words said
    soon_chance: float  # its chance of "less than a minute"
    ahead: int
    from_calls: bool
    rest: float  # from the announcement to the answer
    wait: float  # from joining to the answer (what bench.traffic compares with the words)
    held: bool  # the wait fell within the words (as bench.traffic counts it)
    pit: float  # the tilted law's CDF at the wait still to come
    nearest: Spoken  # the words chosen with no tolerance
    nearest_chance: float
    nearest_held: bool


def run_day(seed: int, minutes: float) -> tuple[list[Row], int, list[str]]:
    """One simulated day: the callers' rows, how many first words differed from the traffic's, and
    the forms heard from estimates without a spread (no gamma law: no chance, left out)."""
    scenario = Scenario(minutes=minutes, seed=seed, agents=default_agents(minutes))
    with first_heard() as heard, local_hotline(scenario) as (app, switchboard):
        sim = Simulation(app, scenario, switchboard)
        sim.run()
    rows, mismatched, flat = [], 0, []
    for log in sim.callers:
        h = heard.get(log.call_sid)
        if log.outcome != SERVED or h is None or log.answered is None or log.joined is None:
            continue
        if log.announced_kind != h.spoken.kind or log.announced != h.spoken.seconds():
            mismatched += 1
            continue
        e = h.estimate
        if not (e.sd > 0 and e.seconds > 0):
            flat.append(h.spoken.kind)
            continue
        shape, scale = tilted(e)
        at = (h.at - scenario.start).total_seconds()
        rest, wait = log.answered - at, log.answered - log.joined
        low, high = h.spoken.seconds()
        near = nearest_words(e)
        near_low, near_high = near.seconds()
        rows.append(
            Row(
                seed,
                h.spoken.kind,
                h.spoken.low,
                h.spoken.high,
                e.seconds,
                e.sd,
                e.patience,
                e.shift + shape * scale,
                math.sqrt(shape) * scale,
                chance_of(h.spoken, shape, scale, e.shift),
                chance_of(Spoken("soon"), shape, scale, e.shift),
                h.ahead,
                h.from_calls,
                rest,
                wait,
                low <= wait <= high,
                gamma.cdf(max(rest - e.shift, 0.0), shape, scale),
                near,
                chance_of(near, shape, scale, e.shift),
                near_low <= wait <= near_high,
            )
        )
    return rows, mismatched, flat


def _pct(values: list[bool] | list[float]) -> str:
    return f"{statistics.fmean(values) * 100:7.1f}" if values else "      -"


def _share(rows: list[Row]) -> str:
    """callers, mean model chance, observed share held."""
    return f"{len(rows):>6}{_pct([r.chance for r in rows])}{_pct([r.held for r in rows])}"


def form_table(rows: list[Row]) -> str:
    """(a) Per form of words ("up to" by N): callers, mean model chance, share held; next, further back."""
    head = f"{'all':>20}{'next':>20}{'further back':>20}"
    cols = f"{'n':>6}{'model':>7}{'held':>7}" * 3
    lines = [f"{'':<14}{head}", f"{'form':<14}{cols}"]
    groups: list[tuple[str, list[Row]]] = []
    for kind in FORMS:
        of_kind = [r for r in rows if r.kind == kind]
        if not of_kind:
            continue
        groups.append((kind, of_kind))
        if kind == "up_to":
            for n in sorted({r.high for r in of_kind}):
                groups.append((f"  up to {n}", [r for r in of_kind if r.high == n]))
    groups.append(("all", rows))
    for label, group in groups:
        nxt = [r for r in group if r.ahead == 0]
        back = [r for r in group if r.ahead > 0]
        lines.append(f"{label:<14}{_share(group)}{_share(nxt)}{_share(back)}")
    return "\n".join(lines)


def bins_table(rows: list[Row], label: str) -> str:
    """(b) Calibration: callers by the model's chance of the words said, and the share held."""
    lines = [f"{label:<14}{'n':>6}{'model':>7}{'held':>7}{'next':>20}{'further back':>20}"]
    for low, high in CHANCE_BINS:
        group = [r for r in rows if low <= r.chance < high]
        name = f"{low:.2f}-{high:.2f}" if high <= 1 else f"{low:.2f}+"
        nxt = [r for r in group if r.ahead == 0]
        back = [r for r in group if r.ahead > 0]
        lines.append(f"{name:<14}{_share(group)}{_share(nxt)}{_share(back)}")
    return "\n".join(lines)


def _moments_line(label: str, rows: list[Row]) -> str:
    if len(rows) < 2:
        return f"{label:<26}{len(rows):>6}"
    rest = statistics.fmean(r.rest for r in rows)
    mean = statistics.fmean(r.mean for r in rows)
    tmean = statistics.fmean(r.tilted_mean for r in rows)
    resid = [r.rest - r.mean for r in rows]
    tresid = [r.rest - r.tilted_mean for r in rows]
    sd = statistics.fmean(r.sd for r in rows)
    tsd = statistics.fmean(r.tilted_sd for r in rows)
    # The spread the model claims, pooled: the root mean of its variances, against the residuals'.
    rms_sd = math.sqrt(statistics.fmean(r.sd**2 for r in rows))
    rms_tsd = math.sqrt(statistics.fmean(r.tilted_sd**2 for r in rows))
    pit = [r.pit for r in rows]
    return (
        f"{label:<26}{len(rows):>6}{rest:>8.1f}{mean:>8.1f}{tmean:>8.1f}"
        f"{rest / mean:>7.2f}{rest / tmean:>7.2f}"
        f"{statistics.pstdev(resid) / sd:>7.2f}{statistics.pstdev(resid) / rms_sd:>7.2f}"
        f"{statistics.pstdev(tresid) / tsd:>7.2f}{statistics.pstdev(tresid) / rms_tsd:>7.2f}"
        f"{statistics.fmean(pit):>7.2f}{_pct([p < 0.1 for p in pit])}{_pct([p > 0.9 for p in pit])}"
    )


def spread_table(rows: list[Row]) -> str:
    """(c) The waits against the model's mean and spread: all, "up to", and "up to" missed."""
    names = (
        f"{'n':>6}{'wait':>8}{'est':>8}{'est~':>8}{'w/est':>7}{'w/e~':>7}"
        f"{'sd/sd':>7}{'sd/rms':>7}{'sd~/sd':>7}{'~/rms':>7}{'PIT':>7}{'<.1':>7}{'>.9':>7}"
    )
    lines = [f"{'callers':<26}{names}"]
    up_to = [r for r in rows if r.kind == "up_to"]
    missed = [r for r in up_to if not r.held]
    for label, group in (("all", rows), ("up to", up_to), ("up to, missed", missed)):
        lines.append(_moments_line(label, group))
        lines.append(_moments_line("  next", [r for r in group if r.ahead == 0]))
        # The caller who is next has the first stage from the agents' calls unless none could be read.
        by_model = [r for r in group if r.ahead == 0 and not r.from_calls]
        lines.append(_moments_line("  next, model's stage", by_model))
        lines.append(_moments_line("  further back", [r for r in group if r.ahead > 0]))
    return "\n".join(lines)


def pit_table(rows: list[Row]) -> str:
    """The tilted law's CDF at each wait still to come, in tenths: 10% each if the law is right."""
    lines = [f"{'callers':<14}{'n':>6}  " + "".join(f"{f'{d / 10:.1f}-':>6}" for d in range(10))]
    groups = [
        ("all", rows),
        ("next", [r for r in rows if r.ahead == 0]),
        ("further back", [r for r in rows if r.ahead > 0]),
        ("up to", [r for r in rows if r.kind == "up_to"]),
    ]
    for label, group in groups:
        tenths = [0] * 10
        for r in group:
            tenths[min(int(r.pit * 10), 9)] += 1
        shares = "".join(f"{n / len(group) * 100:6.1f}" for n in tenths) if group else ""
        lines.append(f"{label:<14}{len(group):>6}  {shares}")
    return "\n".join(lines)


def zones_table(rows: list[Row]) -> str:
    """ "up to N" by where its chance fell against the tolerance: below it, within it (where the
    middle nearest the median chose), past it (no words on the grid came nearer COVERAGE)."""
    up_to = [r for r in rows if r.kind == "up_to"]
    lines = [
        f"{'chance':<24}{'n':>6}{'model':>7}{'held':>7}{'up to 2':>8}{'model':>7}{'held':>7}{'F(1 min)':>10}"
    ]
    low, high = words.COVERAGE - words.SPOKEN_TOLERANCE, words.COVERAGE + words.SPOKEN_TOLERANCE
    zones = (
        (f"below {low:.2f}", [r for r in up_to if r.chance < low]),
        (f"{low:.2f}-{high:.2f} (tolerance)", [r for r in up_to if low <= r.chance <= high]),
        (f"past {high:.2f}", [r for r in up_to if r.chance > high]),
    )
    for label, group in zones:
        twos = [r for r in group if r.high == 2]
        soon = statistics.median(r.soon_chance for r in twos) * 100 if twos else math.nan
        lines.append(f"{label:<24}{_share(group)}{_share(twos):>22}{soon:>10.1f}")
    return "\n".join(lines)


def tolerance_table(rows: list[Row]) -> str:
    """What the words nearest COVERAGE (no tolerance, no tie-break) would have held, same callers."""
    lines = [f"{'said':<14}{'n':>6}{'model':>7}{'held':>7}  {'nearest: model':>14}{'held':>7}  same words"]
    for kind in ("up_to", *[k for k in FORMS if k != "up_to"], "all"):
        group = rows if kind == "all" else [r for r in rows if r.kind == kind]
        if not group:
            continue
        near = _pct([r.nearest_chance for r in group])
        same = _pct([r.nearest == Spoken(r.kind, r.low, r.high) for r in group])
        lines.append(f"{kind:<14}{_share(group)}  {near:>14}{_pct([r.nearest_held for r in group])}  {same}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the days, print the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.calibration", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="how long callers keep arriving")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--csv", help="also write one line per caller to this file")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for seed in args.seeds:
        day, mismatched, flat = run_day(seed, args.minutes)
        late = sum(1 for r in day if abs(r.rest - r.wait) > 1)
        print(
            f"seed {seed}: {len(day)} callers heard a wait and were answered; {mismatched} words not"
            f" matched; {late} first heard after joining; {len(flat)} from an estimate without a"
            f" spread ({', '.join(sorted(flat))})"
        )
        rows += day
    seeds = " ".join(str(s) for s in args.seeds)
    print(f"\n(a) The first words heard, callers answered on the line, seeds {seeds} (model, held: %)")
    print(form_table(rows))
    print("\n(b) By the model's chance of the words said (%)")
    print(bins_table(rows, "chance"))
    print('\n(b\') "up to N" only')
    print(bins_table([r for r in rows if r.kind == "up_to"], "chance"))
    print(
        "\n(c) The wait still to come against the model (seconds). est: the estimate's mean, est~ tilted by"
        "\n    patience; sd/sd: sd of (wait - est) over the mean model sd, sd/rms: over its root mean square;"
        "\n    ~: the same against the tilted law; PIT: the tilted CDF at the wait (uniform if calibrated)"
    )
    print(spread_table(rows))
    print("\n(c') Where the tilted law's CDF put each wait still to come, in tenths (%)")
    print(pit_table(rows))
    print('\n(d) "up to N" by its chance against the tolerance; "up to 2" among them, its median chance of')
    print('    "less than a minute" (the form below it on the grid) (%)')
    print(zones_table(rows))
    print("\n(e) The words nearest COVERAGE (no tolerance: no tie-break by the middle), same callers (%)")
    print(tolerance_table(rows))
    if args.csv:
        import csv

        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow([*Row.__dataclass_fields__])
            for r in rows:
                out.writerow([getattr(r, name) for name in Row.__dataclass_fields__])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
