"""What the hotline learns from its day counters without bias: talk time, its spread, patience.

Callers still waiting and calls still under way are censored observations: left out, they make
callers look less patient than they are and calls shorter than they are (the long ones are the
ones not over yet). Each estimate counts every second of exposure over the events seen.
"""

from __future__ import annotations

import math

# The profile's patience weighs as much as this many of today's abandons; without one, the
# hotline's patience today (its other departments', `hotline_patience`) in its place, and without
# either, today's figure once this many callers abandoned (before: nobody is taken to hang up).
PRIOR_ABANDONS = 5
MIN_ABANDONED_WITHOUT_PROFILE = 2
# Today's handle time is used once this many calls were handled.
MIN_HANDLED_TODAY = 3
# Handle times' spread (the first stage of a wait: `first_free`, `estimate._first_stage_in_progress`):
# today's, with the profile's worth PRIOR_CV_CALLS calls (as its talk time is worth PRIOR_HANDLED),
# else with the exponential's (cv 1) worth PRIOR_CV_NO_PROFILE.
PRIOR_CV_CALLS = 100
PRIOR_CV_NO_PROFILE = 5


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


def handle_cv_of(
    values: dict[str, float], wrap_up: float, talk: float, profile_cv: float | None = None
) -> float | None:
    """The coefficient of variation of handle times with wrap-up (fixed, so no spread of its own):
    today's talk times', with the profile's spread (past weeks, `talk_cv`) worth PRIOR_CV_CALLS
    calls, else the exponential's cv of 1 worth PRIOR_CV_NO_PROFILE calls; None without either.

    The exponential prior alone kept the spread too wide for much of a day: at 30 calls of cv
    0.53, a cv of 0.68. The first stage of every caller's wait takes its spread from here
    (`first_free`): too wide, "up to" held 84-87% for the caller who was next, where the model
    said 82%."""
    handled, total, squares = values["handled"], values["handle_ms"] / 1000, values["handle_sq"]
    today = handled >= MIN_HANDLED_TODAY and total > 0 and squares > 0
    if not today and profile_cv is None:
        return None  # too few calls, or counted before their squares were
    if profile_cv is not None:
        prior_cv2, weight = (profile_cv * talk / (talk + wrap_up)) ** 2, PRIOR_CV_CALLS
    else:
        prior_cv2, weight = 1.0, PRIOR_CV_NO_PROFILE
    if not today:
        return math.sqrt(prior_cv2)
    mean = total / handled
    cv2 = max(squares / handled - mean * mean, 0.0) / (mean + wrap_up) ** 2
    return math.sqrt((handled * cv2 + weight * prior_cv2) / (handled + weight))


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


def counter_amount(value: float | None) -> float:
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
        exposure += sum(counter_amount(values.get(f"waited_ms:{b}")) for b in range(PATIENCE_SPANS)) / 1000
        events += sum(counter_amount(values.get(f"abandoned:{b}")) for b in range(PATIENCE_SPANS))
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
    exposure = [counter_amount(values.get(f"waited_ms:{b}")) / 1000 for b in range(PATIENCE_SPANS)]
    events = [counter_amount(values.get(f"abandoned:{b}")) for b in range(PATIENCE_SPANS)]
    if sum(exposure) < 1:  # under a second of waiting counted: nothing to back a rate with
        return None
    for seconds, callers in waiting:
        for b, part in enumerate(exposure_by_span(counter_amount(seconds))):
            exposure[b] += part * counter_amount(callers)
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
