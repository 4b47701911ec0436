"""The traffic generator's model: the scenario that goes in, the logs and report that come out.

`Scenario` says who calls when, why, in which language, with which account and how patiently,
and which agents answer (skills, languages, shifts, handle times). `CallerLog` and `AgentLog`
are filled by `bench.traffic.Simulation` as the simulated callers and agents act;
`Report.build` turns them into the day's figures: calls offered, answered and abandoned, waits
and their distribution, service level, agent occupancy, and how the waits the hold loop
announced compared with the real ones, and the callbacks: asked for, connected, failed, and how
long a called-back caller waited from hanging up to their agent. `Report.table()` prints them.

Definitions follow the supervisor statistics (`ivr/api/statistics.py`): a called-back caller who
talks to an agent is answered, their wait running from joining the queue to the agent picking up
(the time on the line and the time hung up together); service level is answered within
`service_level_seconds` over answered + abandoned; the average wait is that of answered callers.
A failed callback (the customer not reached `max_attempts` times) is neither answered nor
abandoned. Announced waits are compared only for callers who waited on the line to the end: a
called-back caller's wait is not the one they were told. An announced wait is a range:
"between L and H minutes" is [L·60, H·60] s, "up to N minutes" [0, N·60], "about N minutes" N
give or take half its rounding step, "less than a minute" [0, 60] s; the error is measured from
its middle, a real wait is "within the range" when it lies in it (the estimator states 80 %
there) and "within ±20 %" when it lies in the range widened by 20 % at both ends.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SERVED, ABANDONED, UNREACHED = "served", "abandoned", "unreached"
# The forms of words an announced wait takes, as the report names them.
FORMS_OF_WORDS = {
    "range": '"between L and H minutes"',
    "about": '"about N minutes"',
    "up_to": '"up to N minutes"',
    "up_to_90s": '"up to a minute and a half"',
    "soon": '"less than a minute"',
}
# The forms that say how long at most (a range with a top), as against "less than a minute".
RANGE_KINDS = ("range", "about", "up_to", "up_to_90s")
# A caller who hung up keeping their place, then was called back and talked to an agent; or
# whose callback was given up after the last attempt.
CALLED_BACK, CALLBACK_FAILED = "called_back", "callback_failed"

# Calls per hour by local hour of day: a morning peak, a lunch dip, an afternoon shoulder.
PEAK_PROFILE = {8: 40, 9: 110, 10: 170, 11: 160, 12: 100, 13: 110, 14: 150, 15: 140, 16: 120, 17: 100}
# The keys a caller presses for each issue, one menu at a time ("agent": 0 from the issue menu).
ISSUE_KEYS = {
    "topup_failed": "11", "reverse_transaction": "21", "refund": "3", "account_security": "42",
    "login": "51", "transfer_delayed": "6", "fees": "71", "close_account": "8", "other": "9", "agent": "0",
}  # fmt: skip
ISSUE_MIX = {
    "topup_failed": 18, "reverse_transaction": 8, "refund": 16, "account_security": 8, "login": 10,
    "transfer_delayed": 14, "fees": 8, "close_account": 4, "other": 10, "agent": 4,
}  # fmt: skip
GOOD_ACCOUNTS = ("6222000017", "6222000025", "6222000033")  # active demo accounts


@dataclass(frozen=True)
class AgentShift:
    """A simulated agent: skills (department: level), languages, shift in minutes from the start."""

    agent_id: str
    departments: dict[str, int]
    languages: tuple[str, ...]
    start_minute: float = 0.0
    end_minute: float = 60.0


def default_agents(end_minute: float = 60.0) -> tuple[AgentShift, ...]:
    """Ten agents covering every department and language of the shipped hotline."""
    zh, both = ("zh-CN",), ("zh-CN", "en-US")
    skills = [
        ({"payments": 5, "general": 3}, zh), ({"payments": 5, "general": 3}, zh),
        ({"payments": 5, "general": 3}, both), ({"payments": 4, "general": 3}, both),
        ({"general": 5, "payments": 3}, both), ({"general": 5, "payments": 3}, zh),
        ({"international": 5, "general": 4}, both), ({"security": 5, "accounts": 4}, both),
        ({"accounts": 5, "security": 3}, both), ({"payments": 4, "international": 3, "general": 2}, both),
    ]  # fmt: skip
    return tuple(
        AgentShift(f"sim_{i + 1:02d}", depts, langs, 0.0, end_minute)
        for i, (depts, langs) in enumerate(skills)
    )


@dataclass(frozen=True)
class Scenario:
    """Who calls when, why and how patiently, and who answers."""

    start: datetime = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Tuesday
    minutes: float = 60.0  # arrivals happen in [start, start + minutes)
    hourly_rates: dict[int, float] = field(default_factory=lambda: dict(PEAK_PROFILE))
    rate_scale: float = 1.0
    issues: dict[str, float] = field(default_factory=lambda: dict(ISSUE_MIX))
    languages: dict[str, float] = field(default_factory=lambda: {"zh-CN": 0.75, "en-US": 0.25})
    accounts: dict[str, float] = field(default_factory=lambda: {"good": 0.6, "bad": 0.15, "none": 0.25})
    patience_mean_seconds: float = 240.0  # exponential, capped below the hotline's max hold
    handle_mean_seconds: float = 200.0  # lognormal with this mean
    handle_sigma: float = 0.5
    hold_turn_seconds: float = 30.0  # one turn of the hold loop (its message and music)
    heartbeat_seconds: float = 20.0
    # Of the callers who hear the callback offer on hold, the share who take it at once (key 1,
    # then 1 to confirm their caller ID) and hang up keeping their place.
    callback_share: float = 0.3
    # Of those, the share whose phone is never answered when the hotline calls back (each attempt
    # rings out, then the callback fails); the others pick up after `callback_pickup_seconds`
    # and press 1 for the agent.
    callback_unreachable_share: float = 0.1
    callback_pickup_seconds: float = 8.0
    agents: tuple[AgentShift, ...] = field(default_factory=default_agents)
    seed: int = 1


@dataclass
class CallerLog:
    """One simulated caller, in seconds since the start of the simulation."""

    index: int
    call_sid: str
    arrival: float
    language: str
    issue: str
    account: str  # good, bad or none
    patience: float
    department: str = ""  # where the caller was queued ('' if they never reached a queue)
    joined: float | None = None
    announced: tuple[float, float] | None = None  # the first wait heard on hold: (low, high] s
    announced_kind: str | None = None  # its form of words: 'range', 'up_to', 'about' or 'soon'
    announced_at: float | None = None  # when they heard it
    answered: float | None = None
    ended: float | None = None
    agent: str = ""
    handle: int = 0
    outcome: str = ""  # served, abandoned, called_back, callback_failed or unreached (never queued)
    wants_callback: bool = False  # takes the callback offer when they hear it
    unreachable: bool = False  # does not answer when called back
    heard_offer: bool = False  # heard the callback offer on hold
    callback_requested: float | None = None  # hung up keeping their place
    callback_attempts: int = 0  # calls the hotline placed to them

    @property
    def callback_wait(self) -> float | None:
        """Seconds from hanging up with a kept place to the agent answering the call back."""
        if self.callback_requested is None or self.answered is None:
            return None
        return self.answered - self.callback_requested

    @property
    def wait(self) -> float | None:
        """Seconds from joining the queue to an agent answering, or to hanging up."""
        if self.joined is None:
            return None
        end = self.answered if self.answered is not None else self.ended
        return None if end is None else end - self.joined


@dataclass
class AgentLog:
    """One simulated agent: when they were logged in and what they talked."""

    agent_id: str
    logged_in: float | None = None
    logged_out: float | None = None
    talk: float = 0.0
    calls: list[tuple[float, float, str]] = field(default_factory=list)  # (answered, ended, CallSid)

    def logged_seconds(self, end: float) -> float:
        """Seconds logged in, up to `end` for an agent still logged in."""
        if self.logged_in is None:
            return 0.0
        return (self.logged_out if self.logged_out is not None else end) - self.logged_in


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` in 0..1) of `values`, or None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def mean(values: list[float] | list[bool]) -> float | None:
    """The average (of flags: the share that are true), or None for none."""
    return sum(values) / len(values) if values else None


def _max(values: list[float]) -> float | None:
    return max(values) if values else None


def _by_department(queued: list[CallerLog]) -> dict[str, tuple[int, int, int, int, int, int]]:
    """Per department: offered, answered, abandoned, callbacks requested, connected, failed."""
    departments: dict[str, Counter[str]] = {}
    for c in queued:
        counts = departments.setdefault(c.department, Counter())
        counts["offered"] += 1
        counts[c.outcome] += 1
        counts["requested"] += c.callback_requested is not None
    return {
        d: (
            n["offered"],
            n[SERVED] + n[CALLED_BACK],
            n[ABANDONED],
            n["requested"],
            n[CALLED_BACK],
            n[CALLBACK_FAILED],
        )
        for d, n in sorted(departments.items())
    }


def _callback_figures(queued: list[CallerLog]) -> dict[str, Any]:
    """Who heard the offer, asked, was called back (and how long that took) or was not reached."""
    asked = [c for c in queued if c.callback_requested is not None]
    called_back = [c for c in asked if c.outcome == CALLED_BACK]
    waits = [c.callback_wait for c in called_back if c.callback_wait is not None]
    return {
        "offered_callback": sum(1 for c in queued if c.heard_offer),
        "callbacks_requested": len(asked),
        "callbacks_connected": len(called_back),
        "callbacks_failed": sum(1 for c in asked if c.outcome == CALLBACK_FAILED),
        "callback_calls": sum(c.callback_attempts for c in asked),
        "callback_wait_mean": mean(waits),
        "callback_wait_p90": percentile(waits, 0.9),
        "callback_wait_max": _max(waits),
    }


def _wait_figures(served: list[CallerLog], gone: list[CallerLog], sl_seconds: int) -> dict[str, Any]:
    """Waits of the answered and the abandoned, and the service level."""
    waits = [c.wait for c in served if c.wait is not None]
    in_sl = sum(1 for w in waits if w <= sl_seconds)
    return {
        "wait_mean": mean(waits),
        "wait_p50": percentile(waits, 0.5),
        "wait_p90": percentile(waits, 0.9),
        "wait_max": _max(waits),
        "abandon_wait_mean": mean([c.wait or 0 for c in gone]),
        "service_level_seconds": sl_seconds,
        "answered_in_sl": in_sl,
        "service_level": mean([True] * in_sl + [False] * (len(served) + len(gone) - in_sl)),
    }


def _occupancy_figures(agents: list[AgentLog], end: float) -> dict[str, Any]:
    """Talk time over logged-in time, per agent and overall."""
    logged = {a.agent_id: a.logged_seconds(end) for a in agents}
    talk = {a.agent_id: a.talk for a in agents}
    total = sum(logged.values())
    return {
        "occupancy": {a: talk[a] / s for a, s in logged.items() if s > 0},
        "occupancy_all": sum(talk.values()) / total if total else None,
    }


@dataclass(frozen=True)
class FormTally:
    """How one form of words fared with the callers who heard it first and waited to be answered:
    whose wait it held, whose wait ended before its low end or after its high end, and the sum
    of the errors from its middle (seconds)."""

    heard: int = 0
    held: int = 0
    below: int = 0
    above: int = 0
    error_sum: float = 0.0

    def __add__(self, other: FormTally) -> FormTally:
        return FormTally(
            self.heard + other.heard,
            self.held + other.held,
            self.below + other.below,
            self.above + other.above,
            self.error_sum + other.error_sum,
        )

    @classmethod
    def of(cls, announced: tuple[float, float], wait: float) -> FormTally:
        """One caller's: the range they heard, the wait they had."""
        low, high = announced
        return cls(
            1, int(low <= wait <= high), int(wait < low), int(wait > high), abs(wait - (low + high) / 2)
        )


def _announcement_figures(on_the_line: list[CallerLog]) -> dict[str, Any]:
    """The announced range against the real wait of callers who waited on the line."""
    announced = [(c.announced, c.wait) for c in on_the_line if c.announced is not None and c.wait is not None]
    forms: dict[str, FormTally] = {}
    by_language: dict[tuple[str, str], FormTally] = {}
    for c in on_the_line:
        if c.announced is not None and c.wait is not None and c.announced_kind is not None:
            heard = FormTally.of(c.announced, c.wait)
            forms[c.announced_kind] = forms.get(c.announced_kind, FormTally()) + heard
            key = (c.announced_kind, c.language)
            by_language[key] = by_language.get(key, FormTally()) + heard
    return {
        "announce_by_kind": {kind: (t.heard, t.held / t.heard) for kind, t in forms.items()},
        "announce_forms": forms,
        "announce_forms_by_language": by_language,
        "announced_count": len(announced),
        "announce_mae": mean([abs(real - (low + high) / 2) for (low, high), real in announced]),
        "announce_within_20": mean([0.8 * low <= real <= 1.2 * high for (low, high), real in announced]),
        "announce_within": mean([low <= real <= high for (low, high), real in announced]),
    }


def wilson_interval(held: int, heard: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a share `held` / `heard` (95 % for z = 1.96): how far a form's
    coverage over a few dozen callers may be from its true value; (0, 1) for none heard."""
    if heard <= 0:
        return 0.0, 1.0
    share = held / heard
    middle = (share + z * z / (2 * heard)) / (1 + z * z / heard)
    reach = z * math.sqrt(share * (1 - share) / heard + z * z / (4 * heard * heard)) / (1 + z * z / heard)
    return max(middle - reach, 0.0), min(middle + reach, 1.0)


def words_table(reports: list[Report]) -> str:
    """What callers heard and what they then waited, per form of words, pooled over `reports`.

    Per form: callers who heard it first and waited on the line to be answered, the share whose
    wait it held (with its 95 % Wilson interval), how many waits ended before its low end or
    after its high end, and the mean absolute error from its middle; then every range
    ("between", "about", "up to") together, all forms, and each form by the caller's language.
    """
    forms: dict[str, FormTally] = {}
    by_language: dict[tuple[str, str], FormTally] = {}
    for report in reports:
        for kind, tally in report.announce_forms.items():
            forms[kind] = forms.get(kind, FormTally()) + tally
        for key, tally in report.announce_forms_by_language.items():
            by_language[key] = by_language.get(key, FormTally()) + tally

    def row(label: str, t: FormTally) -> str:
        held = f"{t.held / t.heard * 100:.1f} %" if t.heard else "-"
        low, high = wilson_interval(t.held, t.heard)
        interval = f"{low * 100:.0f}-{high * 100:.0f} %" if t.heard else "-"
        error = f"{t.error_sum / t.heard:.1f} s" if t.heard else "-"
        counts = f"{t.heard:>7}{t.held:>7}{held:>9}{interval:>11}{t.below:>7}{t.above:>7}{error:>10}"
        return f"{label:<36}{counts}"

    names = f"{'heard':>7}{'held':>7}{'share':>9}{'95 % CI':>11}{'below':>7}{'above':>7}{'error':>10}"
    lines = [f"{'form of words':<36}{names}"]
    lines += [row(words, forms[kind]) for kind, words in FORMS_OF_WORDS.items() if kind in forms]
    ranges = sum((forms[k] for k in RANGE_KINDS if k in forms), FormTally())
    lines.append(row("a range (between / about / up to)", ranges))
    lines.append(row("all", sum(forms.values(), FormTally())))
    # By the caller's language: the estimate counts every agent of the department, whichever
    # languages they speak, so a gap between languages points at the agents it counts.
    for language in sorted({language for _, language in by_language}):
        lines += [
            row(f"  {language}: {words}", by_language[kind, language])
            for kind, words in FORMS_OF_WORDS.items()
            if (kind, language) in by_language
        ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Report:
    """The simulated day's figures."""

    offered: int
    answered: int
    abandoned: int
    unreached: int
    # offered, answered, abandoned, callbacks requested, connected, failed
    by_department: dict[str, tuple[int, int, int, int, int, int]]
    offered_callback: int  # callers who heard the callback offer
    callbacks_requested: int
    callbacks_connected: int
    callbacks_failed: int
    callback_calls: int  # calls placed to customers, retries included
    callback_wait_mean: float | None  # from hanging up to the agent, of connected callbacks
    callback_wait_p90: float | None
    callback_wait_max: float | None
    wait_mean: float | None
    wait_p50: float | None
    wait_p90: float | None
    wait_max: float | None
    abandon_wait_mean: float | None
    service_level_seconds: int
    answered_in_sl: int
    service_level: float | None
    occupancy: dict[str, float]
    occupancy_all: float | None
    announced_count: int
    announce_mae: float | None
    announce_within_20: float | None
    announce_within: float | None = None
    # form of words -> (callers who heard it first, share whose wait it held)
    announce_by_kind: dict[str, tuple[int, float]] = field(default_factory=dict)
    # form of words -> how it fared (held, below, above, error), to pool over several days
    announce_forms: dict[str, FormTally] = field(default_factory=dict)
    # the same by (form of words, caller's language)
    announce_forms_by_language: dict[tuple[str, str], FormTally] = field(default_factory=dict)

    @classmethod
    def build(
        cls, callers: list[CallerLog], agents: list[AgentLog], service_level_seconds: int, end: float
    ) -> Report:
        """Compute the figures from the logs; `end` closes the shifts of agents still logged in."""
        queued = [c for c in callers if c.joined is not None]
        served = [c for c in queued if c.outcome in (SERVED, CALLED_BACK)]
        gone = [c for c in queued if c.outcome == ABANDONED]
        return cls(
            offered=len(queued),
            answered=len(served),
            abandoned=len(gone),
            unreached=sum(1 for c in callers if c.joined is None),
            by_department=_by_department(queued),
            **_callback_figures(queued),
            **_wait_figures(served, gone, service_level_seconds),
            **_occupancy_figures(agents, end),
            **_announcement_figures([c for c in served if c.outcome == SERVED]),
        )

    def table(self) -> str:
        """The report as a plain-text table."""

        def num(value: float | None, unit: str = "s") -> str:
            return "-" if value is None else f"{value:.1f} {unit}".rstrip()

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value * 100:.1f} %"

        rows = [
            ("calls offered (queued)", str(self.offered)),
            ("answered (called back included)", str(self.answered)),
            ("abandoned", str(self.abandoned)),
            ("never reached a queue", str(self.unreached)),
            ("heard the callback offer", str(self.offered_callback)),
            ("callbacks requested", str(self.callbacks_requested)),
            (
                "  connected / failed",
                f"{self.callbacks_connected} / {self.callbacks_failed} ({self.callback_calls} calls placed)",
            ),
            (
                "  wait, hung up to agent: mean / p90",
                f"{num(self.callback_wait_mean)} / {num(self.callback_wait_p90)}",
            ),
            ("wait of answered: mean", num(self.wait_mean)),
            ("  p50 / p90 / max", f"{num(self.wait_p50)} / {num(self.wait_p90)} / {num(self.wait_max)}"),
            ("wait of abandoned: mean", num(self.abandon_wait_mean)),
            (
                f"service level ({self.service_level_seconds} s)",
                f"{pct(self.service_level)} ({self.answered_in_sl} in time)",
            ),
            ("agent occupancy (talk / logged in)", pct(self.occupancy_all)),
            ("announced wait vs real: callers on the line", str(self.announced_count)),
            ("  mean absolute error (from the middle)", num(self.announce_mae)),
            ("  within the announced range", pct(self.announce_within)),
            ("  within the announced range ±20 %", pct(self.announce_within_20)),
        ]
        ranges = [self.announce_by_kind[k] for k in RANGE_KINDS if k in self.announce_by_kind]
        if ranges:
            heard = sum(count for count, _ in ranges)
            held = sum(count * share for count, share in ranges) / heard
            rows.append(("  a range (between / about / up to): heard / held", f"{heard} / {pct(held)}"))
        for kind, words in FORMS_OF_WORDS.items():
            if kind in self.announce_forms:
                t = self.announce_forms[kind]
                missed = f"{t.below} below, {t.above} above"
                rows.append((f"  {words}: heard / held", f"{t.heard} / {pct(t.held / t.heard)} ({missed})"))
        width = max(len(label) for label, _ in rows)
        lines = [f"{label:<{width}}  {value}" for label, value in rows]
        lines.append("")
        columns = ("offered", "answered", "abandoned", "callbacks", "called back", "failed")
        lines.append(f"{'department':<14}" + "".join(f"{name:>12}" for name in columns))
        for dept, row in self.by_department.items():
            lines.append(f"{dept:<14}" + "".join(f"{value:>12}" for value in row))
        lines.append("")
        lines.append(f"{'agent':<14}{'occupancy':>10}")
        for agent_id, share in sorted(self.occupancy.items()):
            lines.append(f"{agent_id:<14}{pct(share):>10}")
        return "\n".join(lines)
