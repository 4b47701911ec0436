"""What the hotline learns from its day counters without bias: talk time, its spread, patience.

Callers still waiting and calls still under way are censored observations: left out, they make
callers look less patient than they are and calls shorter than they are (the long ones are the
ones not over yet). Each estimate counts every second of exposure over the events seen.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import operator

# The profile's patience weighs as much as this many of today's abandons; without one, the
# hotline's patience today (its other departments', `hotline_patience`) in its place, and without
# either, today's figure once this many callers abandoned (before: nobody is taken to hang up).
PRIOR_ABANDONS = 5
MIN_ABANDONED_WITHOUT_PROFILE = 2
# Today's handle time is used once this many calls were handled.
MIN_HANDLED_TODAY = 3
# Handle times' spread (the first stage of a wait, `estimate._first_stage_in_progress`): today's,
# with the exponential's (cv 1) worth this many calls; counted once a few calls were handled.
PRIOR_CV_CALLS = 5


def censored_talk_time(values: dict[str, float], learned: float | None, now_ms: float, busy: int) -> float:
    """Seconds agents spent on today's calls: those ended, and those still going (censored).

    Over the calls that ended only, the handle time is short: the calls still going are the
    long ones (the longer a call, the likelier it is under way), 1-3% of the mean all day in the
    benchmark's lognormal scenario, enough to lose to Erlang's formula there. Every second on a
    call counts, over the calls ended: a call under way has lasted (1 + cv^2)/2 of a mean call
    on average in a steady stream of calls (its length-biased age), and at most half the day
    so far. Calls under way are the answered ones not yet ended, but never more than the agents
    who are not ready (a call whose end was never counted must not lengthen every later wait).
    """
    handled, ended = values["handled"], values["handle_ms"] / 1000
    going = min(max(values["answered"] - handled, 0.0), busy)
    if not going or handled < MIN_HANDLED_TODAY or ended <= 0:
        return ended
    mean = learned or ended / handled
    cv2 = max(values["handle_sq"] / handled / (ended / handled) ** 2 - 1, 0.0) if values["handle_sq"] else 1.0
    day = max((now_ms - values["first_offer_ms"]) / 1000, 0.0) if values["first_offer_ms"] else 0.0
    return ended + going * min((1 + cv2) / 2 * mean, day / 2)


def handle_cv_of(values: dict[str, float], wrap_up: float) -> float | None:
    """The coefficient of variation of today's handle times with wrap-up (fixed, so no spread of
    its own), with the exponential's cv of 1 worth PRIOR_CV_CALLS calls; None before any."""
    handled, total, squares = values["handled"], values["handle_ms"] / 1000, values["handle_sq"]
    if handled < MIN_HANDLED_TODAY or total <= 0 or squares <= 0:
        return None  # too few calls, or counted before their squares were
    mean = total / handled
    cv2 = max(squares / handled - mean * mean, 0.0) / (mean + wrap_up) ** 2
    return ((handled * cv2 + PRIOR_CV_CALLS) / (handled + PRIOR_CV_CALLS)) ** 0.5


def censored_patience(
    ended_seconds: float, abandoned: float, waiting_seconds: float, prior: float | None
) -> float | None:
    """Mean patience, exponential, by maximum likelihood from censored waits; None: nobody hangs up.

    ended_seconds: total time waited by callers whose wait ended (answered or abandoned);
    abandoned: how many of them hung up; waiting_seconds: total time waited so far by callers
    still waiting (censored: their patience is at least that); prior: the profile's patience.
    Every second a caller waited is exposure, and only a hang-up is an event: exposure / events.
    The prior counts as PRIOR_ABANDONS abandons of that mean.
    """
    exposure = max(ended_seconds, 0.0) + max(waiting_seconds, 0.0)
    events = max(abandoned, 0.0)
    if prior and prior > 0:
        exposure += PRIOR_ABANDONS * prior
        events += PRIOR_ABANDONS
    elif events < MIN_ABANDONED_WITHOUT_PROFILE:
        return None
    return exposure / events if events > 0 and exposure > 0 else None


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
    return _amount(today) / age


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
        (_amount(n) / (tau * -math.expm1(-age / tau)), 2 * tau)
        for n, tau in zip(counts, RECENT_WINDOWS_SECONDS, strict=False)
    ]
    if today is not None:
        windows.append((_amount(today) / age, age))
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


# Patience by the time waited: a hazard (hang-ups per second of waiting) constant within each of
# these spans of a wait (seconds; the last runs on), learned from every wait: each span's
# exposure (seconds waited in it, by callers answered, abandoned or still waiting) and the
# hang-ups in it. The maximum-likelihood estimate of such a piecewise-constant hazard from
# censored waits is hang-ups over exposure span by span, exact whatever the law: it fits
# long-tailed patience (many leave early, the rest wait long), where one exponential does not.
PATIENCE_EDGES_SECONDS = (30.0, 60.0, 120.0, 240.0, 480.0)
PATIENCE_SPANS = len(PATIENCE_EDGES_SECONDS) + 1
# How many hang-ups' worth of the pooled rate each span starts from (`patience_hazards`).
SPAN_PRIOR_ABANDONS = 5.0
# The spans' own rates are believed when their likelihood ratio against one rate for all
# exceeds this: the 99.9% point of the chi-square law with PATIENCE_SPANS - 1 degrees of freedom.
SPANS_DIFFER = 20.5
PATIENCE_FIELDS = (
    *(f"waited_ms:{b}" for b in range(PATIENCE_SPANS)),
    *(f"abandoned:{b}" for b in range(PATIENCE_SPANS)),
)


def _amount(value: float | None) -> float:
    """A counter or duration as a finite amount, at least 0 (a missing or garbled one is 0)."""
    return float(value) if value is not None and 0 < float(value) < 1e18 else 0.0


def _span_of(seconds: float) -> int:
    """The span of a wait `seconds` long falls in."""
    return sum(1 for edge in PATIENCE_EDGES_SECONDS if seconds >= edge)


def exposure_by_span(seconds: float) -> list[float]:
    """The seconds of a wait this long spent in each span."""
    out, start = [], 0.0
    for edge in (*PATIENCE_EDGES_SECONDS, math.inf):
        out.append(max(min(seconds, edge) - start, 0.0))
        start = edge
    return out


def hotline_patience(departments: list[dict[str, float]]) -> float | None:
    """Callers' mean patience today across departments (exponential): the seconds waited in
    every span over the hang-ups, from each department's day counters (`PATIENCE_FIELDS`); None
    before MIN_ABANDONED_WITHOUT_PROFILE hang-ups.

    The prior of a department without a profile: with no hang-up of its own yet it took its
    callers never to hang up ("up to" held 85.2% and 89.7% of the waits of the callers told
    such a wait in the simulated day, seeds 1-10 and 11-20), and with two hang-ups after a few
    minutes' waiting, that they were several times less patient than they are. Callers still
    waiting elsewhere are not read: their exposure is missing, which makes this prior a little
    impatient; worth PRIOR_ABANDONS hang-ups, today's own soon outweigh it.
    """
    exposure = events = 0.0
    for values in departments:
        exposure += sum(_amount(values.get(f"waited_ms:{b}")) for b in range(PATIENCE_SPANS)) / 1000
        events += sum(_amount(values.get(f"abandoned:{b}")) for b in range(PATIENCE_SPANS))
    if events < MIN_ABANDONED_WITHOUT_PROFILE or exposure <= 0:
        return None
    return exposure / events


def wait_counts(waited_ms: float, abandoned: bool) -> dict[str, int]:
    """The day counters' increments for a wait that ended (`hl:dstats` fields): its milliseconds
    in each span, and the hang-up in its span if the caller abandoned."""
    waited_ms = max(float(waited_ms), 0.0) if math.isfinite(float(waited_ms)) else 0.0
    spans = (round(seconds * 1000) for seconds in exposure_by_span(waited_ms / 1000))
    counts = {f"waited_ms:{b}": ms for b, ms in enumerate(spans) if ms > 0}
    if abandoned:
        counts[f"abandoned:{_span_of(waited_ms / 1000)}"] = 1
    return counts


def patience_hazards(
    values: dict[str, float], waiting: list[tuple[float, float]], prior: float | None
) -> tuple[float, ...] | None:
    """Hang-ups per second of waiting, span by span; None when none can be backed.

    values: the day counters (`PATIENCE_FIELDS`); waiting: (seconds waited, how many callers) of
    the callers still waiting (censored: exposure, no hang-up yet); prior: the profile's mean patience
    (exponential), worth PRIOR_ABANDONS hang-ups in the pooled rate.
    None without a wait counted by span today (counters from before they were kept: the caller
    uses the exponential `censored_patience`), or without a profile before
    MIN_ABANDONED_WITHOUT_PROFILE hang-ups.
    """
    exposure = [_amount(values.get(f"waited_ms:{b}")) / 1000 for b in range(PATIENCE_SPANS)]
    events = [_amount(values.get(f"abandoned:{b}")) for b in range(PATIENCE_SPANS)]
    if sum(exposure) < 1:  # under a second of waiting counted: nothing to back a rate with
        return None
    for seconds, callers in waiting:
        for b, part in enumerate(exposure_by_span(_amount(seconds))):
            exposure[b] += part * _amount(callers)
    pooled_events, pooled_exposure = sum(events), sum(exposure)
    if prior and prior > 0 and math.isfinite(prior):
        pooled_events += PRIOR_ABANDONS
        pooled_exposure += PRIOR_ABANDONS * prior
    elif pooled_events < MIN_ABANDONED_WITHOUT_PROFILE:
        return None
    # One exponential law over every span (the censored estimate) unless today's waits say
    # otherwise beyond chance: the likelihood ratio of a rate per span against one rate, over
    # the 99.9% point of its chi-square law. Spans believed without that test took scenario
    # 8's surge (exponential patience, the wait set by it) from 1.09x to 1.14x the best
    # possible: six rates from the same waits are noisier than one.
    overall = pooled_events / pooled_exposure
    if not overall > 0:
        return tuple(0.0 for _ in range(PATIENCE_SPANS))
    ratio = 0.0
    for n, e in zip(events, exposure, strict=True):
        if n > 0 and e > 0:
            ratio += 2 * (n * (math.log(n) - math.log(e) - math.log(overall)) - (n - overall * e))
    if not ratio > SPANS_DIFFER:
        return tuple(overall for _ in range(PATIENCE_SPANS))
    # Each span drawn to the pooled rate as if it had seen SPAN_PRIOR_ABANDONS hang-ups at it.
    spans = tuple(
        (n + SPAN_PRIOR_ABANDONS) / (e + SPAN_PRIOR_ABANDONS / overall)
        for n, e in zip(events, exposure, strict=True)
    )
    return spans if all(math.isfinite(h) for h in spans) else tuple(overall for _ in spans)


def hazard_at(hazards: tuple[float, ...], seconds: float) -> float:
    """The hang-up rate of a caller who has waited `seconds`."""
    return hazards[min(_span_of(max(seconds, 0.0)), len(hazards) - 1)]


def hazard_ahead(
    hazards: tuple[float, ...], longest: list[float], rest: tuple[float, int], ahead: int
) -> float:
    """The hang-up rate of the callers ahead, each at the time they have waited, on average.

    longest: seconds waited by the callers waiting longest, longest first (those ahead of a caller
    in one class); rest: (seconds, how many) for the others, taken alike; ahead: how many callers
    are ahead. With none ahead, that of everyone waiting (those who overtake start at none).
    Bounded: len(longest) + 1 terms.
    """
    total, count = 0.0, 0
    wanted = ahead if ahead > 0 else len(longest) + max(rest[1], 0)
    for seconds in longest[:wanted]:
        total, count = total + hazard_at(hazards, seconds), count + 1
    more = min(max(wanted - count, 0), max(rest[1], 0))
    if more:
        total, count = total + more * hazard_at(hazards, rest[0]), count + more
    return total / count if count else hazard_at(hazards, 0.0)
