"""How many callers of a class arrive per second lately: the overtaking of higher classes and the
demand of other departments on shared agents, from what the queue's join script keeps as each
caller joins (decayed counts over several windows, and the exact times of the last arrivals).
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import operator

from ivr.waits.learned import counter_amount

# Arrivals of a class over recent windows: counts decayed with several time constants, shortest
# first. Overtaking by higher classes over the day's average lagged a peak by hours; one
# five-minute window still lagged a fivefold surge of priority callers, above all its end (1.18x
# the best possible error in the benchmark's scenario 11), and a short one alone is too noisy
# (the wait grows steeply with the rate of those who go first). `recent_rate` takes the longest
# window the shorter ones agree with.
RECENT_WINDOWS_SECONDS = (60.0, 120.0, 240.0, 480.0)
RECENT_WINDOWS = ",".join(f"{tau:g}" for tau in RECENT_WINDOWS_SECONDS)  # as the scripts take them
# The recent rate is taken over at least this long (the day's first callers make no rate).
MIN_RECENT_SECONDS = 600.0
# A longer window is believed unless its rate lies above the shorter ones' by more than
# FALL_SIGMAS standard deviations (the rate fell), or below by more than RISE_SIGMAS (it rose).
# A fall is believed sooner: the wait grows faster than the rate of those who overtake, so a
# rate taken too high costs more than one too low (scenario 11, seeds 1-3: 1.147, 1.126, 1.206x
# the best possible; 1.161, 1.140, 1.211x with 1.5 both ways).
RISE_SIGMAS = 1.5
FALL_SIGMAS = 0.75

Counts = tuple[float, ...]

# The exact times of each class's last arrivals, kept by the join script (a field of the same
# hash, `times:{rank}`: milliseconds, comma-separated, oldest first, at most ARRIVALS_KEPT), for
# `changing_rate`. Decayed counts cannot tell when a surge began: their windows still held the
# arrivals from before it, and read its first twenty minutes low. 128 arrivals are 25 minutes of
# the benchmark's priority surge (scenario 11): 64 read its steady part noisier (1.20x against
# 1.15x the best possible, seeds 1-4, in the first measurements of the estimator).
ARRIVALS_KEPT = 128
# Changes of a class's arrival rate expected per second, a priori (`changing_rate`): a few an hour.
RATE_CHANGES_PER_SECOND = 8 / 3600
# A second change since the last arrival (arrivals that stopped) is this much less likely a
# priori: as likely as the first, its low rate drew the steady part of scenario 11's surge down
# (1.12, 1.13, 1.16, 1.21x the best possible, seeds 1-4; at 0.03 of it: 1.08, 1.09, 1.11, 1.18x,
# as without it; both with every gap's three points, before the gaps were grouped).
QUIET_SHARE = 0.03
# Arrivals per second of one class, at most (a garbled prior or list never reads more).
MAX_RATE = 1e6
# How many arrivals' worth the day's average rate weighs in the rate of any stretch of time.
PRIOR_ARRIVALS = 1.0
# The change of rate is looked for in each gap between the latest arrivals, further back in
# groups of gaps of at most this share of the arrivals since them (1/8: 40 groups for 128
# arrivals, 8 among the 64 oldest): a change long ago moves the rate now little.
GAPS_PER_GROUP_SHARE = 8
# The rates of this many kept lists are remembered in a process, each for the second it was read
# in (`kept_rate`), and as many lists' times as read (until one more of the class arrives): a hold
# turn reads its caller's higher classes (two at most with the shipped file's three classes).
RATES_REMEMBERED = 256


def counted_arrival(state: tuple[float, Counts] | None, now_ms: float) -> tuple[float, Counts]:
    """One class's recent arrivals after one more arrives now: (at_ms, a count per window).

    Each count is the sum of exp(-age / tau) over the class's arrivals, brought up to `at_ms`.
    The queue's join script (`ivr.callcenter.queues._JOIN_LUA`) keeps the same state in Redis
    with the same arithmetic as the caller joins; this is its reference.
    """
    now_ms = float(now_ms)
    if state is None:
        return now_ms, tuple(1.0 for _ in RECENT_WINDOWS_SECONDS)
    at, counts = state
    span = max(now_ms - at, 0.0) / 1000
    return max(at, now_ms), tuple(
        n * math.exp(-span / tau) + 1 for n, tau in zip(counts, RECENT_WINDOWS_SECONDS, strict=True)
    )


def recent_counts(state: tuple[float, Counts] | None, now_ms: float) -> Counts:
    """The counts of `counted_arrival`'s state decayed to now, without a write (the hold turn's
    read script does the same: a hold turn writes nothing of its own)."""
    if state is None:
        return tuple(0.0 for _ in RECENT_WINDOWS_SECONDS)
    at, counts = state
    span = max(float(now_ms) - at, 0.0) / 1000
    return tuple(n * math.exp(-span / tau) for n, tau in zip(counts, RECENT_WINDOWS_SECONDS, strict=True))


def kept_arrivals(times: str | None, now_ms: float) -> str:
    """A class's kept arrival times (`times:{rank}`) after one more arrives at `now_ms`: the
    join script's arithmetic (`ivr.callcenter.queues._JOIN_LUA`), of which this is the reference."""
    kept = f"{times},{int(now_ms)}" if times else f"{int(now_ms)}"
    if kept.count(",") >= ARRIVALS_KEPT:  # one more than kept: the oldest goes
        kept = kept.split(",", 1)[1]
    return kept


def arrival_ages(times: str | None, now_ms: float) -> tuple[float, ...]:
    """Seconds since each kept arrival (`kept_arrivals`), newest first; garbled entries, and
    more than ARRIVALS_KEPT, are left out (a later arrival than now counts as now)."""
    now = float(now_ms)
    kept = _arrival_times(times or "")
    if not kept or not math.isfinite(now):
        return ()
    if kept[0] <= now and now - kept[-1] <= 1e15:
        return tuple([(now - at) / 1000 for at in kept])
    return tuple(sorted(min(max((now - at) / 1000, 0.0), 1e12) for at in kept))


@functools.lru_cache(maxsize=RATES_REMEMBERED)
def _arrival_times(text: str) -> tuple[float, ...]:
    """The kept arrivals (ms), newest first, the finite ones; remembered by the list (a class's
    list is the same from one second to the next until one more of it arrives)."""
    if text.count(",") >= ARRIVALS_KEPT:
        text = ",".join(text.split(",")[-ARRIVALS_KEPT:])
    if text.replace(",", "").isdigit():  # the join script's own list, whole milliseconds
        try:  # read as JSON, in C: a quarter of the time of the check below
            return tuple(sorted(json.loads(f"[{text}]"), reverse=True))
        except ValueError:  # an empty entry, a leading zero
            pass
    kept = []
    for entry in text.split(","):
        try:
            at = float(entry)
        except ValueError:
            continue
        if math.isfinite(at):
            kept.append(at)
    return tuple(sorted(kept, reverse=True))


def _gap_groups(n: int) -> tuple[tuple[int, int], ...]:
    """The gaps between n arrivals (newest first) grouped for `changing_rate`: (first, end) gap."""
    out, first = [], 0
    while first < n:
        step = max(1, first // GAPS_PER_GROUP_SHARE)
        out.append((first, min(first + step, n)))
        first += step
    return tuple(out)


_GROUPS = tuple(_gap_groups(n) for n in range(ARRIVALS_KEPT + 1))
# lgamma(a + k) and log(a + k) for every count of arrivals a segment may hold.
_LGAMMA = tuple(math.lgamma(PRIOR_ARRIVALS + k) for k in range(ARRIVALS_KEPT + 1))
_LOG_A = tuple(math.log(PRIOR_ARRIVALS + k) for k in range(ARRIVALS_KEPT + 1))


def changing_rate(ages: tuple[float, ...], prior_rate: float) -> float:
    """Arrivals per second now, from the exact times of the last arrivals (`ages`: seconds ago,
    newest first) of a rate that changes now and then (RATE_CHANGES_PER_SECOND), by Bayes.

    The rate is taken to have changed at most once over the span the arrivals cover, or not at
    all: each hypothesis, the change within a group of consecutive gaps between arrivals (at the
    middle of the group's time; the groups one gap each among the latest arrivals, longer further
    back, at most 1/GAPS_PER_GROUP_SHARE of the arrivals since them) or none, is weighed by its
    prior (the rate of changes times the group's time; none: the chance of no change in the span)
    and the marginal likelihood of the arrivals on either side of it, each side's rate with a
    gamma prior of the day's average worth PRIOR_ARRIVALS arrivals. Each may also have changed
    once more since the last arrival (QUIET_SHARE), in the middle of that silence: arrivals that
    stopped. The rate is the weighted geometric mean of each hypothesis's posterior mean rate
    after its change (the arithmetic mean let a few unlikely short stretches of many arrivals
    raise it, and a rate read too high costs more than one read too low: the wait grows steeply
    with the rate of those who go first). At most ARRIVALS_KEPT arrivals, the latest.
    """
    ages = tuple(sorted(ages))[:ARRIVALS_KEPT]  # newest first, whatever order they came in
    n = len(ages)
    prior_rate = min(max(prior_rate, 1e-6), MAX_RATE) if math.isfinite(prior_rate) else 1e-6
    a, b = PRIOR_ARRIVALS, PRIOR_ARRIVALS / prior_rate
    if n == 0:
        return prior_rate if prior_rate > 1e-6 else 0.0
    span = max(ages[-1], 1e-3)
    table, log_a, log = _LGAMMA, _LOG_A, math.log
    log_h = log(RATE_CHANGES_PER_SECOND)
    # Arrivals that stopped: a second change in the middle of the silence since the last arrival.
    silent = ages[0] / 2
    quiet_log = log(b + silent)
    quiet_prior = log(max(RATE_CHANGES_PER_SECOND * QUIET_SHARE * ages[0], 1e-300))
    # Each segment's likelihood also carries a * log(b) - lgamma(a), the same in every
    # hypothesis with as many segments: left out of the two of a change, taken out of the one
    # of no change, added for a second change. The likelihood of `count` arrivals over `length`
    # seconds is then lgamma(a + count) - (a + count) * log(b + length).
    segment = a * log(b) - table[0]
    quiet_base = quiet_prior + segment + table[0] - a * quiet_log
    quiet_rate = log_a[0] - quiet_log
    # Each hypothesis is also taken with a second change since the last arrival, when any arrived
    # since its first: the segment after the change split into its arrivals, then the silence
    # (one change only read half an hour after three minutes of thirty callers as a rate of
    # thirty in 33 minutes). Its rate: the silence's.
    log_span = log(b + span)
    weight = table[n] - (a + n) * log_span - RATE_CHANGES_PER_SECOND * span - segment  # no change
    weights = [weight, weight + quiet_base + (a + n) * (log_span - log(max(b + span - silent, 1e-300)))]
    rates = [log_a[n] - log_span, quiet_rate]  # log of the rate after the last change, of each
    bisect_left = bisect.bisect_left
    for first, end in _GROUPS[n]:  # a change in gaps first..end-1: after the arrival `first`-1
        start = ages[first - 1] if first else 0.0
        width = ages[end - 1] - start
        length = start + width / 2
        after = bisect_left(ages, length, first, end) if end - first > 1 else first
        log_length = log(b + length)
        weight = log_h + log(width) if width > 1e-290 else -690.0
        weight += table[after] - (a + after) * log_length
        weight += table[n - after] - (a + n - after) * log(b + max(span - length, 1e-9))
        weights.append(weight)
        rates.append(log_a[after] - log_length)
        if after:
            weights.append(
                weight + quiet_base + (a + after) * (log_length - log(max(b + length - silent, 1e-300)))
            )
            rates.append(quiet_rate)
    top, exp = max(weights), math.exp
    shares = [exp(weight - top) for weight in weights]
    log_rate = sum(map(operator.mul, shares, rates)) / sum(shares)
    return min(exp(log_rate), MAX_RATE)


def kept_rate(
    counts: Counts, first_ms: float | None, now_ms: float, today: float | None, times: str
) -> float:
    """`recent_rate` of one class from its kept arrival times (`kept_arrivals`, as the read
    script gives them), read at `now_ms` rounded down to the whole second: the rate of one list
    in one second is computed once in this process (RATES_REMEMBERED lists), and is the same
    whether it was remembered or not. The hold turns of a department's callers in one second
    read the same lists; each second's first pays 50-70 us of CPU a list on a busy day (`python
    -m bench.waits --rate-cost`; the more with one more of the class since), the others a lookup."""
    if not times:
        return recent_rate(counts, first_ms, now_ms, today)
    if math.isfinite(float(now_ms)):
        now_ms = math.floor(float(now_ms) / 1000) * 1000.0
    # Remembered by the list, the second and the prior (the same all second for a department),
    # not the counts: the read script decays those to the millisecond.
    rate = _kept_rate(times, now_ms, _prior_rate(counts, first_ms, now_ms, today))
    return recent_rate(counts, first_ms, now_ms, today) if rate is None else rate


def forget_kept_rates(times_too: bool = True) -> None:
    """Forget the rates `kept_rate` remembered (the next read of each computes it again), and
    the kept times read (`times_too`: as after a new arrival of every class)."""
    _kept_rate.cache_clear()
    if times_too:
        _arrival_times.cache_clear()


@functools.lru_cache(maxsize=RATES_REMEMBERED)
def _kept_rate(times: str, now_ms: float, prior: float) -> float | None:
    ages = arrival_ages(times, now_ms)
    return changing_rate(ages, prior) if ages else None  # none readable: the windows' rate


def _prior_rate(counts: Counts, first_ms: float | None, now_ms: float, today: float | None) -> float:
    """The prior of `changing_rate`: the day's average rate, else the windows' rate."""
    if today is None:
        return recent_rate(counts, first_ms, now_ms)
    age = MIN_RECENT_SECONDS
    if first_ms is not None and math.isfinite(float(first_ms)) and math.isfinite(float(now_ms)):
        age = min(max((float(now_ms) - float(first_ms)) / 1000, MIN_RECENT_SECONDS), 1e12)
    return counter_amount(today) / age


def recent_rate(
    counts: Counts,
    first_ms: float | None,
    now_ms: float,
    today: float | None = None,
    ages: tuple[float, ...] = (),
) -> float:
    """Arrivals per second lately: the longest window whose rate the shorter ones agree with.

    A window's count over tau (its start made up for early in the day) is a rate with a standard
    deviation of sqrt(rate / 2 tau) for steady arrivals; going from the shortest window up, each
    longer one is taken while its interval still meets those of all shorter ones (the
    intersection of confidence intervals, FALL_SIGMAS wide on the side of a fall, RISE_SIGMAS
    on that of a rise): steady arrivals get the longest window, a change the windows short
    enough to have seen it, its rate brought within every believed window's interval. `today`:
    the day's arrivals so far, if known, the longest window of all (its rate's deviation
    sqrt(rate / day)).

    `ages`: the class's last arrivals, exactly (`arrival_ages`); when there are any, the rate is
    read from them (`changing_rate`), with the day's average (else the windows' rate) as prior.
    Scenario 11 (a fivefold priority surge), seeds 1-4: 1.14, 1.12, 1.21, 1.26x the best
    possible error from the windows; from the exact arrivals, 1.09, 1.10, 1.12, 1.18x (1.08,
    1.09, 1.11, 1.18x with three points in every gap and the silence, at ~15x the CPU).
    """
    age = MIN_RECENT_SECONDS
    if first_ms is not None and math.isfinite(float(first_ms)) and math.isfinite(float(now_ms)):
        age = min(max((float(now_ms) - float(first_ms)) / 1000, MIN_RECENT_SECONDS), 1e12)
    if ages:
        return changing_rate(ages, _prior_rate(counts, first_ms, now_ms, today))
    windows = [
        (counter_amount(n) / (tau * -math.expm1(-age / tau)), 2 * tau)
        for n, tau in zip(counts, RECENT_WINDOWS_SECONDS, strict=False)
    ]
    if today is not None:
        windows.append((counter_amount(today) / age, age))
    fell, rose, chosen = math.inf, -math.inf, 0.0  # bounds the shorter windows set, each way
    for rate, span in windows:  # span: the rate's variance is rate / span
        sd = math.sqrt(max(rate, 2 / span) / span)
        if rate - FALL_SIGMAS * sd > fell or rate + RISE_SIGMAS * sd < rose:
            break
        fell, rose = min(fell, rate + FALL_SIGMAS * sd), max(rose, rate - RISE_SIGMAS * sd)
        chosen = rate
    # The longest window believed only had to meet the shorter ones' intervals: its own rate may
    # still lie outside them, below early in a rise (it holds arrivals from before it) and above
    # early in a fall. The rate read is the nearest to it that every window believed allows, and
    # where their bounds cross, the fall's (a rate taken too high costs more). Scenario 11, seeds
    # 1-3: 1.14, 1.12, 1.21x the best possible (1.15, 1.13, 1.21x the longest window's own rate).
    return min(max(chosen, rose), fell) if math.isfinite(fell) else chosen
