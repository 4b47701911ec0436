"""The words a caller hears for a wait: a rounded range chosen to hold COVERAGE of waits as said.

`Estimate.spoken` (estimate.py) says an estimate through `spoken_for`: of the figures a caller
can hear (whole minutes under ten, then fives, then tens), the words whose chance under the
wait's gamma law is nearest COVERAGE; among words about as likely, the one whose middle is
nearest the median wait (centred on the mean, "up to" held 83.8% of known gamma laws on
average, its middle pulled up to the mean; 81.7% now). Its cost is a handful of CDF evaluations
(the median is Wilson-Hilferty's from shape 1 on, a quantile below): one CDF per figure on the
grid (Wilson-Hilferty's normal from shape 10 on, `gamma.cdf_for_words`), worked out as the
figures are reached, up to the first from which no words can have their middle nearer the
median; a range's low ends are bisected by their chance and, once a range fits, by their middle.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from ivr.waits import gamma

COVERAGE = 0.8  # the share of real waits the announced range is meant to hold
# Spoken figures are rounded to these steps (minutes): whole minutes under ten, then fives,
# then tens, so a caller never hears a precision the model cannot back.
ROUNDING_STEPS = ((10, 1), (30, 5), (math.inf, 10))
# "Less than a minute" is said when at least this share of waits are, under the model.
SOON_SHARE = 0.8
# "Up to a minute and a half": the one figure under two minutes that is not a whole minute. From
# "less than a minute" the next words were "up to 2 minutes", which held 84.2% of the waits of
# the 311 callers who heard it in the simulated day (seeds 1-10), more than COVERAGE allows.
NINETY_SECONDS = 90.0
# Spoken words whose chance is this close to COVERAGE are all taken as right; the best centred wins.
# At 0.03 the error from the middle in the simulated hour was 55.6 s (seeds 1-5) and 49.9 s
# (6-10), at 0.04 54.7 s and 49.2 s, from the same estimates.
SPOKEN_TOLERANCE = 0.04
# Figures on the rounding grid weighed for the spoken range, at most (each one CDF evaluation).
MAX_SPOKEN_FIGURES = 40


@dataclass(frozen=True)
class Spoken:
    """How an estimate is said: `kind` is 'soon', 'about', 'up_to' or 'range'; figures in minutes."""

    kind: str  # 'up_to_90s': "up to a minute and a half"; 'long': longer than we can say
    low: int = 0
    high: int = 0

    def seconds(self) -> tuple[float, float]:
        """The waits the words stand for, in seconds: "about N" is N give or take half the
        rounding step of its size, "less than a minute" 0 to 60."""
        if self.kind == "soon":
            return 0.0, 60.0
        if self.kind == "up_to_90s":
            return 0.0, NINETY_SECONDS
        if self.kind == "up_to":
            return 0.0, self.high * 60.0
        if self.kind == "about":
            step = _step_of(self.high)
            return max(self.high - step / 2, 0.0) * 60.0, (self.high + step / 2) * 60.0
        return self.low * 60.0, self.high * 60.0


def _step_of(minutes: float) -> int:
    """The rounding step of a figure of this size, in minutes."""
    return next(step for below, step in ROUNDING_STEPS if minutes < below)


def _round_minutes(seconds: float) -> int:
    """Minutes rounded to the nearest step that suits their size."""
    minutes = seconds / 60
    for below, step in ROUNDING_STEPS:
        if minutes < below:
            return int(round(minutes / step) * step)
    return int(minutes)  # unreachable: the last step has no bound


def _whole_grid() -> tuple[int, ...]:
    """Every figure a caller can hear, in minutes: the first MAX_SPOKEN_FIGURES of the grid."""
    out: list[int] = []
    minute = 1
    for below, step in ROUNDING_STEPS:
        while minute < below:
            if len(out) >= MAX_SPOKEN_FIGURES:
                return tuple(out)
            out.append(minute)
            minute += step
        minute = int(below)
    return tuple(out)  # unreachable: the last step has no bound


_GRID = _whole_grid()
_GRID_SECONDS = tuple(minute * 60.0 for minute in _GRID)


def _grid_minutes(top: float) -> list[int]:
    """The figures a caller can hear, in minutes, from 1 up to the first at or past `top`."""
    return list(_GRID[: bisect.bisect_left(_GRID_SECONDS, top) + 1])


def _steps(chance: float) -> int:
    """How far a chance is from COVERAGE past SPOKEN_TOLERANCE, in steps of 2%."""
    return round(max(abs(chance - COVERAGE) - SPOKEN_TOLERANCE, 0.0) / 0.02)


# The widest miss of COVERAGE that is still no step past the tolerance (`_steps` rounds half down).
_FITS = SPOKEN_TOLERANCE + 0.01 + 1e-12


def _nothing_nearer(figures: list[int], at: list[float], i: int, centre: float, reach: float) -> bool:
    """Whether no words from figure i on, within the tolerance, have their middle nearer `centre`
    than `reach` seconds (the CDF `at` known to figure i, rising with it): "up to" from figure i
    holds at least at[i] and has its middle at half the figure, "about" at the figure, and a
    range's low end holds at least at[i] - COVERAGE - _FITS."""
    high, top = figures[i], at[i]
    lowest = figures[min(bisect.bisect_left(at, top - COVERAGE - _FITS, 0, i), i)]
    up_to = top - COVERAGE <= _FITS and high * 30.0 - centre < reach
    return not up_to and high * 60.0 - centre >= reach and (lowest + high) * 30.0 - centre >= reach


def spoken_for(mean: float, sd: float, patience: float | None = None, shift: float = 0.0) -> Spoken:
    """The words whose chance, under the gamma law of this mean and sd, is nearest COVERAGE (a
    gamma from `shift` on, when the estimate's third cumulant says the wait starts later).

    "Less than a minute" when at least SOON_SHARE of waits are; else, of "up to a minute and a
    half", "up to N minutes",
    "between L and H minutes" and "about N minutes" (N give or take half its rounding step) on
    the rounding grid, of those whose chance is within SPOKEN_TOLERANCE of COVERAGE the one
    centred nearest the median, else the one whose chance is nearest COVERAGE (in steps of 2%).
    At most MAX_SPOKEN_FIGURES figures are looked at, each one evaluation of the CDF.
    """
    shift = shift if 0 < shift < mean and math.isfinite(shift) else 0.0
    part = mean - shift  # the gamma's own mean, from the shift on
    shape, scale = (part / sd) ** 2, sd * sd / part
    if patience:  # the waits of callers who stay to be answered: tilted by exp(-wait / patience)
        scale = 1 / (1 / scale + 1 / patience)
    if not (math.isfinite(shape) and math.isfinite(scale) and shape > 0 and scale > 0):
        return Spoken("up_to", high=max(_round_minutes(mean), 2))
    # The middle of what is said is what a caller takes away: the words whose middle is nearest
    # the median (which the absolute error from that middle is least around) win among equals.
    # Wilson-Hilferty's median from shape 1 on (within 1.3% there, less above: a tie-break needs
    # no more), the quantile's Newton steps below.
    centre = shift + (
        shape * scale * (1 - 1 / (9 * shape)) ** 3 if shape >= 1 else gamma.quantile(0.5, shape, scale)
    )
    cdf_cache: dict[float, float] = {}

    def cdf(seconds: float) -> float:
        if seconds not in cdf_cache:
            after = seconds - shift
            cdf_cache[seconds] = gamma.cdf_for_words(after, shape, scale) if after > 0 else 0.0
        return cdf_cache[seconds]

    if cdf(60.0) >= SOON_SHARE:
        return Spoken("soon")
    figures = _grid_minutes(mean + 6 * sd)
    # From the last figure at or below mean - 4 sd (the first figure if none is).
    start = max(bisect.bisect_right(_GRID_SECONDS, mean - 4 * sd, 0, len(figures)) - 1, 0)
    figures = figures[start:]
    # The CDF at each figure, worked out as the figures are reached (`chance_at`): the loop
    # below stops once no higher figure can win, most often a few figures past the median.
    at: list[float] = []

    def chance_at(k: int) -> float:
        while len(at) <= k:
            at.append(cdf(figures[len(at)] * 60.0))
        return at[k]

    # Within SPOKEN_TOLERANCE of COVERAGE all words are as good: then the ones centred nearest the
    # median (heard as a figure, the middle of the range is what a caller takes away). Candidates
    # are compared by (excess over the tolerance in steps of 2%, distance of their middle from
    # the median); the best so far: (excess steps, distance, kind, low, high), in minutes. The
    # first is "up to a minute and a half", off the grid.
    ninety = cdf(NINETY_SECONDS) if mean - 4 * sd < NINETY_SECONDS else 0.0
    best: tuple[int, float, str, int, int] = (
        _steps(ninety),
        abs(NINETY_SECONDS / 2 - centre),
        "up_to_90s",
        0,
        0,
    )
    for i, high in enumerate(figures):
        top = chance_at(i)
        if best[0] == 0 and _nothing_nearer(figures, at, i, centre, best[1]):
            break
        if high >= 2:  # "up to 1 minutes" is not said
            key = (_steps(top), abs(high * 30.0 - centre))
            if key < best[:2]:
                best = (*key, "up_to", 0, high)
            step = _step_of(high)
            low_s, high_s = max(high - step / 2, 0) * 60.0, (high + step / 2) * 60.0
            # "about": its chance is at most that of the grid's figures around it; only when
            # that could beat the best so far is its own chance worked out (two CDF evaluations).
            below_at = bisect.bisect_right(figures, high - step / 2) - 1
            above_at = bisect.bisect_left(figures, high + step / 2)
            bound = (chance_at(above_at) if above_at < len(figures) else 1.0) - (
                at[below_at] if below_at >= 0 else 0.0
            )
            if bound >= COVERAGE or _steps(bound) <= best[0]:
                key = (_steps(cdf(high_s) - cdf(low_s)), abs((low_s + high_s) / 2 - centre))
                if key < best[:2]:
                    best = (*key, "about", high, high)
        first, last = 0, i
        if best[0] == 0:  # only a middle nearer the median can win: a window
            middle, reach = centre / 30.0 - high, best[1] / 30.0
            first = bisect.bisect_right(figures, middle - reach, 0, i)
            last = max(bisect.bisect_left(figures, middle + reach, 0, i), first)
        # Only a chance at most best[0] steps past the tolerance can win, and the chance
        # falls as the low end rises (`at` rises with it): one run of low ends, bisected.
        reach = SPOKEN_TOLERANCE + 0.02 * (best[0] + 1)
        first, last = (
            bisect.bisect_left(at, top - COVERAGE - reach, first, last),
            bisect.bisect_right(at, top - COVERAGE + reach, first, last),
        )
        for j in range(first, last):
            low = figures[j]
            key = (_steps(top - at[j]), abs((low + high) * 30.0 - centre))
            if key < best[:2]:
                best = (*key, "range", low, high)
    return Spoken(best[2], low=best[3], high=best[4])
