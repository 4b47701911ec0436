"""A department's live state as the read script returns it (`read_script`), turned into its
`QueueState` (`Reads.parse`) and the wait told from it (`caller_wait`).

Where each input of `QueueState` comes from:
- language: for a caller waiting (a hold turn), only the agents who speak their language
  (`hl:stafflangs:{dept}`, kept with the staffed set) count as agents and ready agents, and the
  callers ahead are those ahead in the lanes those agents serve (every language they speak): in
  the caller's own lane each whole, in another lane each by the share of that lane's agents who
  speak the caller's language (whichever of its agents frees first takes them). An
  English caller waits for the English-speaking agents, not for the department's; counting every
  agent told English callers waits too short ("less than a minute" held 52% of the time for them
  in the simulated day, 92% for Mandarin callers) and Mandarin callers too long. A new caller (the
  supervisor's figures, a callback offer) has no lane yet: every agent counts.
- agents: staffed agents (ready, ringing, talking, in wrap-up). One who takes this department
  first counts whole; one who takes other departments first (the matcher's skill order,
  `hl:staffabove:{dept}`) counts by what those departments' demand leaves of them: each one's
  recent arrivals per second (as for overtaking), times the share of its callers it answered
  today, times its handle time, spread over its staffed agents (`_shared`).
  One who takes this department first but other departments after it is, by the same demand,
  part of the time on their calls, which end at their departments' pace: counted in this
  department's handle times (on longer calls, less than an agent; on shorter ones, more).
- ahead: the caller's position across the department's lanes (the queue script; for a waiting
  caller, the lanes their agents serve), minus one (a
  new caller has everyone now waiting ahead), plus the callers waiting in the departments shared
  agents take first, by their share on those agents, in this department's handle times.
- ready: the department's ready agents. A caller with one free for them hears no wait (being
  connected, or the free agent cannot take them).
- mean handle: today's talk time, the calls still under way counted at their expected age
  (`censored_talk_time`), over the calls ended, together with the profile's value for this hour
  of the week (worth PRIOR_HANDLED calls); without a profile today's once a few calls were
  handled, else the default; plus the department's wrap-up time, which also keeps an agent from
  the next caller. handle_cv: the spread of today's handle times (sum of squares, `handle_sq`),
  with the profile's (`talk_cv`) as prior (`learned.handle_cv_of`).
- patience: a hang-up rate by time waited (`learned.patience_hazards`), constant within spans
  of a wait (PATIENCE_EDGES_SECONDS): each span's hang-ups over its exposure, the seconds
  waited in it today by callers whose wait ended (counted as it ended, `learned.wait_counts`)
  and by those still waiting (censored: the longest CENSORED_READ read one by one, each later
  one as half the last of those), with the profile's patience worth PRIOR_ABANDONS hang-ups
  (without a profile, the other departments' patience today: `learned.hotline_patience`).
  The estimate takes the rate of the callers ahead at what each has waited (`hazard_ahead`):
  with long-tailed patience, those who have waited long rarely leave. Counters from before the
  spans were kept give the exponential estimate from the same censored waits
  (`censored_patience`). Leaving out callers still waiting made the hotline believe, in a
  surge, that callers are far less patient than they are.
- overtaking: the arrivals of higher classes per second lately (`arrivals.recent_rate`): from the
  exact times of each class's last ARRIVALS_KEPT arrivals, kept by the queue's join script as each
  caller joins, the rate since the likeliest changes of rate among them (`arrivals.changing_rate`),
  with the day's average as prior, computed once a second per list in a process
  (`arrivals.kept_rate`; `python -m bench.waits --rate-cost` prints its CPU). The day's average
  alone lagged a surge of higher classes by hours, one five-minute window by minutes, and counts
  decayed over several windows (still kept and read: the rate of counters from before the times
  were kept, and other departments' demand on shared agents, `_shared`) read the first twenty
  minutes of a surge low (their windows held arrivals from before it) and a few minutes after
  it high.
- staffing changes: the planned staffing of the hotline file for the coming hours, by quarter
  hour (else the agents the profile saw in those hours), applied as a difference to the agents
  there now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis

from ivr import keys
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.queues import MAX_RANK, Queues, arrival_ms
from ivr.hotline.schema import STAFFING_STEP_MINUTES, HotlineFile
from ivr.jobs.periodic import SWEEP_EVERY_SECONDS
from ivr.waits.arrivals import RECENT_WINDOWS, kept_rate, recent_rate
from ivr.waits.estimate import Estimate, QueueState, estimate
from ivr.waits.first_free import BUSY_READ, Busy, first_free, free_in
from ivr.waits.learned import (
    MIN_HANDLED_TODAY,
    PATIENCE_FIELDS,
    censored_patience,
    censored_talk_time,
    handle_cv_of,
    hazard_ahead,
    hotline_patience,
    patience_hazards,
)
from ivr.waits.profile import DEFAULT_HANDLE_SECONDS, hour_of_week, quietest_on_next_open_day
from ivr.waits.read_script import READS, counts_of

# The profile's handle time for the hour weighs as much as this many of today's calls (today's
# alone swung the live path's estimate in the benchmark's first hours); without a profile,
# today's own once this many calls were handled, else the default.
PRIOR_HANDLED = 100
# Callers still waiting read one by one for the patience estimate (longest first); O(log n + 64).
CENSORED_READ = 64
# How far ahead planned staffing changes are looked at (a wait longer than this is rare).
STAFFING_LOOKAHEAD_HOURS = 4


@dataclass(frozen=True)
class Wait:
    """A wait as the hotline tells it: the state it came from, the estimate, and the hour's outlook.

    position: the caller's 1-based place (0: not waiting); for a new caller, the place they would get.
    peak: this hour of the week is one of the department's busiest.
    quiet_slot: the quietest open hour on the next day the department opens (profile), or None.
    connecting: an agent who can take the caller is free, and fewer callers who could take such
    an agent wait ahead of them than are free: they are being connected (no estimate).
    """

    department: str
    position: int
    state: QueueState
    estimate: Estimate | None
    peak: bool = False
    quiet_slot: datetime | None = None
    connecting: bool = False


@dataclass(frozen=True)
class LiveQueues:
    """What a live wait is read from: the hotline file, the data Redis and the queues' scripts."""

    cfg: HotlineFile
    conn: redis.Redis
    queues: Queues
    # The hold turn script's KEYS and ARGV by (department, day), but the call's own (`_turn_call`).
    turn_calls: dict[tuple[str, str], tuple[list[Any], list[Any]]] = field(
        default_factory=dict, compare=False, repr=False
    )


class Reads:
    """The reads behind one department's QueueState, queued on a pipeline, then parsed."""

    def __init__(
        self, live: LiveQueues, department: str, rank: int, now: datetime, day: str, sid: str = ""
    ) -> None:
        self.live, self.department, self.rank, self.now = live, department, rank, now
        self.day, self.sid = day, sid  # sid: the waiting caller whose language counts ('' none)
        self.stat_fields = [
            "handled", "handle_ms", "handle_sq", "abandoned", "abandoned_wait_ms", "answered_wait_ms",
            "first_offer_ms", "answered", *(f"offered:{r}" for r in range(rank)), *PATIENCE_FIELDS,
        ]  # fmt: skip
        self.others = [d for d in live.cfg.departments if d != department]
        # Every class a caller can be in (the ranks of the hotline file's priorities).
        self.classes = min(max(live.cfg.priorities.values(), default=0), MAX_RANK) + 1

    def queue(self, pipe: redis.client.Pipeline) -> None:
        """Add the reads to `pipe`: one script call (`read_script.READS`); `replies` unpacks its reply into
        the 9 + 5 per other department replies `parse` takes, in this order."""
        READS.queue(pipe, **self.values())

    def values(self) -> dict[str, Any]:
        """The named keys and arguments of the reads' script call."""
        dept = self.department
        return dict(
            staffed=keys.staffed_agents(dept),
            above=keys.staffed_above(dept),
            ready=keys.ready_agents(dept),
            stats=keys.department_stats(dept, self.day),
            profile=keys.profile(dept),
            since=keys.queue_since(dept),
            recent=keys.recent_arrivals(dept, self.day),
            langs=keys.staffed_languages(dept),
            waiting=keys.queue_waiting(dept),
            busy=keys.staffed_busy(dept),
            # The lanes, then what competes for shared agents: the other departments' callers
            # waiting, their counters, their staffed agents and which of those take this
            # department first.
            lanes_others=[
                *self.live.queues.lanes(dept),
                *(
                    k
                    for o in self.others
                    for k in (
                        keys.queue_since(o),
                        keys.department_stats(o, self.day),
                        keys.staffed_agents(o),
                        keys.staffed_above(o),
                        keys.recent_arrivals(o, self.day),
                    )
                ),
            ],
            censored=CENSORED_READ,
            count=len(self.stat_fields),
            department=dept,
            now_ms=arrival_ms(self.now),
            windows=RECENT_WINDOWS,
            rank=self.rank,
            classes=self.classes,
            sid=self.sid,
            locales=",".join(self.live.queues.locales),
            busy_read=BUSY_READ,
            fields=[*self.stat_fields, *self.other_fields],
        )

    @property
    def other_fields(self) -> list[str]:
        """The counters read of each other department: what its callers take of shared agents,
        and how patient they are (the prior of a department without a profile)."""
        return [
            "handled", "handle_ms", "first_offer_ms", "answered", "offered",
            *(f"offered:{r}" for r in range(self.classes)), *PATIENCE_FIELDS,
        ]  # fmt: skip

    @staticmethod
    def replies(reply: str) -> list[Any]:
        """The replies `parse` takes, from the one reply of `queue`'s script."""
        out: list[Any] = json.loads(reply)
        out[6] = out[6] or []  # an empty Lua table is {}
        out[7] = counts_of(out[7])
        for i in range(13, len(out) - 1, 5):  # each other department's recent arrivals by class
            out[i] = counts_of(out[i])
        ids, entries = out[-1]  # last: the staffed agents' calls (an empty Lua table is {})
        out[-1] = dict(zip(ids or [], entries or [], strict=True))
        return out

    def _shared(
        self, staffed: int, above: dict[str, str], others: list[Any], handle: float, now_ms: float
    ) -> tuple[float, float]:
        """(agents serving this queue, callers ahead of it in other queues), per group of agents.

        An agent who takes this department first serves it whole. One who takes other departments
        first serves ours with the time their callers leave: each such department's demand (its
        callers' recent arrivals per second, class by class as for overtaking, times the share of
        today's callers it answered, times its handle time, in agents: abandoned callers take no
        agent) falls evenly on its staffed agents, and what is left of an agent, if
        anything, is ours. Callers waiting there go first on those agents: they count ahead, in
        our handle times, by the share of them that falls on ours and what is left of those agents.
        An agent who takes ours first and others after it is, by those others' demand, part of the
        time on their calls: such a call frees the agent for ours at its department's pace, so
        that time counts in our handle times (security's 7-minute callers behind agents mostly on
        3-minute general calls are served more than twice as fast as by those agents' count:
        0.99x the best possible error for those callers in scenario 6, 3 replications; 2.5x
        counted as whole agents at security's pace).

        Measured against the rules tried before (`python -m bench.waits --scenario 6`, and the
        simulated hour's error, 43.5 s before): counting a shared agent whole while nobody waited
        in the other queue, else by demand, missed that its callers keep arriving (1.27x the best
        possible error in two departments at 100%, security before general; this rule: 1.01x).
        Letting the other departments' arrivals overtake in one pool of agents took payments'
        whole demand from the three agents who take general first in the simulated hour (86.9 s);
        its demand laid on its agents who take it before ours only, or counted by its arrivals
        rather than its answered calls, announced waits too long there too (46.3 s, 45.3 s).
        """
        taken: dict[str, tuple[float, float, float]] = {}  # other -> (load per agent, waiting, handle)
        self._waiting_in: dict[str, int] = {}  # other -> callers waiting there now
        self._talk_in: dict[str, float] = {}  # other -> its mean talk time today (known: enough calls)
        self._left: dict[str, float] = {}  # departments taken first -> what they leave of an agent
        after = 0.0  # agents of ours on calls of departments they take after ours, in calls' worth
        after_work = 0.0  # the same in our handle times: how soon those calls free them for ours
        fields = self.other_fields
        for i, other in enumerate(self.others):
            waiting, counters, their_staffed, ours_first, recent = others[5 * i : 5 * i + 5]
            values = dict(zip(fields, (float(v or 0) for v in counters), strict=True))
            theirs = max(int(their_staffed), 1)
            their_handle = handle
            self._waiting_in[other] = int(waiting)
            if values["handled"] >= MIN_HANDLED_TODAY:
                self._talk_in[other] = values["handle_ms"] / 1000 / values["handled"]
                their_handle = (
                    values["handle_ms"] / 1000 / values["handled"]
                    + self.live.cfg.departments[other].wrap_up_seconds
                )
            load = 0.0
            if values["first_offer_ms"] and values["offered"] > 0:
                # Its callers' arrivals lately, class by class (the day's average lagged a peak
                # by hours), of whom the share it answered today take an agent. By the decayed
                # counts' windows, not the exact arrivals the overtaking is read from: those cost
                # ~60 us of CPU a class, twelve classes of four other departments a hold turn,
                # for scenario 6 at 1.05x the best possible error against 1.03x.
                started = values["first_offer_ms"]
                arriving = sum(
                    recent_rate(entry.counts, started, now_ms, values[f"offered:{r}"])
                    for r, entry in enumerate(recent[: self.classes])
                )
                load = arriving * min(values["answered"] / values["offered"], 1.0) * their_handle
            taken[other] = (load / theirs, int(waiting) / theirs, their_handle)
            share = min(load / theirs, 1.0) * min(int(ours_first or 0), theirs)
            after += share
            after_work += share * handle / their_handle
        agents = float(max(staffed - len(above), 0))  # staffed before `above` was kept: whole agents
        ahead = 0.0
        for first in above.values():
            before = [taken[d] for d in first.split(",") if d in taken]
            left = max(1.0 - sum(load for load, _, _ in before), 0.0)
            self._left[first] = left
            agents += left
            ahead += left * sum(waiting * their / handle for _, waiting, their in before)
        # Agents who take ours first are, part of the time, on calls of departments they take
        # after ours: such a call ends at its own department's rate, then the agent takes ours.
        # Counted in our handle times (longer calls there: fewer agents' worth, shorter: more), at
        # most all the agents ours has.
        if after > 0 and agents > 0:
            scale = min(agents / after, 1.0)
            agents += scale * (after_work - after)
        return max(agents, 0.0), ahead

    def parse(self, replies: list[Any], ahead: int, waited_seconds: float) -> tuple[QueueState, dict]:
        """The QueueState from the replies of `queue`, and the profile summary ({} if none yet)."""
        staffed, above, ready, stats, summary_text, waiting, longest, recent, lang, *others = replies
        # The staffed agents' calls come last (a feed without them: the model's first stage).
        busy: dict[str, Any] | None = others.pop() if len(others) % 5 == 1 else None
        values = dict(zip(self.stat_fields, (float(v or 0) for v in stats), strict=True))
        # The department's agents, busy ones included, tell the calls under way (handle time);
        # those who speak the caller's language serve them, behind the callers in their lanes.
        serving, serving_above, serving_ready = int(staffed), above or {}, int(ready)
        if lang:
            serving, serving_above, serving_ready, place, _competing = lang
            serving_above = serving_above or {}
            ahead = round(float(place) - 1)
        summary: dict[str, Any] = json.loads(summary_text) if summary_text else {}
        how = hour_of_week(self.now, self.live.cfg.hotline.timezone)
        department = self.live.cfg.departments[self.department]
        by_hour = summary.get("handle_by_hour") or []
        learned = by_hour[how] if len(by_hour) > how and by_hour[how] else summary.get("handle")
        now_ms = arrival_ms(self.now)
        talked = censored_talk_time(values, learned, now_ms, max(int(staffed) - int(ready), 0))
        if learned:  # today's calls, with the profile's figure for this hour worth PRIOR_HANDLED calls
            handle = (talked + PRIOR_HANDLED * learned) / (values["handled"] + PRIOR_HANDLED)
        elif values["handled"] >= MIN_HANDLED_TODAY:
            handle = talked / values["handled"]
        else:
            handle = DEFAULT_HANDLE_SECONDS
        handle_cv = handle_cv_of(values, department.wrap_up_seconds, handle, summary.get("talk_cv"))
        # Without a profile, the other departments' patience today is the prior (`hotline_patience`).
        prior = summary.get("patience") or hotline_patience(
            [dict(zip(self.other_fields, (float(v or 0) for v in others[5 * i + 1]), strict=True))
             for i in range(len(self.others))]
        )  # fmt: skip
        patience = self._patience(values, prior, longest, int(waiting), max(ahead, 0), now_ms)
        first_ms = values["first_offer_ms"] or None
        overtaking = sum(
            kept_rate(entry.counts, first_ms, now_ms, values[f"offered:{r}"], entry.times)
            for r, entry in enumerate(recent or [])
        )
        agents, shared_ahead = self._shared(
            int(serving), serving_above, others, handle + department.wrap_up_seconds, now_ms
        )
        in_front = max(ahead, 0) + round(shared_ahead)
        # Every caller's first stage waits for the first of their agents to be free (estimate.py's
        # `_first_stage_from_calls`): 50-100 us with five to eight agents. A caller with a ready
        # agent for them is being connected, and waits for nobody.
        first_stage = (
            self._first_stage(
                busy, serving_above, int(serving), int(serving_ready), handle, handle_cv, now_ms
            )
            if in_front >= int(serving_ready)
            else None
        )
        state = QueueState(
            agents=round(agents, 3),
            ready=int(serving_ready),
            ahead=in_front,
            mean_handle_seconds=handle + department.wrap_up_seconds,
            mean_patience_seconds=patience or None,
            overtaking_per_second=overtaking,
            # A planned change falls on the caller's agents by their share of the staffed ones.
            staffing_changes=self._staffing_changes(agents, summary, int(serving) / max(int(staffed), 1)),
            waited_seconds=max(waited_seconds, 0.0),
            handle_cv=handle_cv,
            first_free=first_stage,
        )
        return state, summary

    def _first_stage(
        self,
        busy: dict[str, Any] | None,
        serving: dict[str, str],
        count: int,
        ready: int,
        talk: float,
        handle_cv: float | None,
        now_ms: float,
    ) -> tuple[float, float, float] | None:
        """The moments of the time until one of the caller's agents (`serving`: id -> the
        departments they take first) is free for them, from the call each is on
        (`first_free`); None when some agent's call is not known (the model's first stage then).

        `busy`: the staffed agents' entries ('call|answered ms|department', 'wrap|end ms|'),
        read after `_shared` (its shares and the other departments' callers waiting). A ready
        agent of theirs takes a caller ahead now (the caller hears no wait when none is ahead):
        a call just begun. Agents who take other departments first free for ours only when nobody
        waits there: the callers waiting there now take the soonest free of them, one each, and
        the others count by what those departments' demand leaves of them. In the simulated day
        a shared agent counted by its average share told general callers "less than a minute"
        for waits over a minute 43% of the time.
        """
        if busy is None or len(serving) != count or count > BUSY_READ or talk <= 0:
            return None
        cfg = self.live.cfg.departments
        wrap = cfg[self.department].wrap_up_seconds
        # handle_cv is of talk plus the (fixed) wrap-up: the talk's own is larger by their ratio.
        cv = handle_cv * (talk + wrap) / talk if handle_cv is not None else 1.0
        sweep = SWEEP_EVERY_SECONDS / 2  # a wrap-up ends at the worker's next sweep
        agents: list[Busy] = []
        groups: dict[str, list[int]] = {}  # departments taken first -> the agents who do
        free = 0
        for agent_id, first in serving.items():
            if first:
                groups.setdefault(first, []).append(len(agents))
            entry = busy.get(agent_id)
            if not entry:  # ready (or not yet kept): a call just begun, if ready
                free += 1
                agents.append(Busy(0.0, talk, cv, wrap + sweep))
                continue
            kind, ms, department = str(entry).split("|")
            if kind == "wrap":
                # Over already: free at the next sweep.
                agents.append(Busy(None, talk, cv, max(float(ms) - now_ms, 0.0) / 1000 + sweep))
                continue
            theirs = department if department in cfg else self.department
            agents.append(
                Busy(
                    max(now_ms - float(ms), 0.0) / 1000,
                    talk if theirs == self.department else self._talk_in.get(theirs, talk),
                    cv,
                    cfg[theirs].wrap_up_seconds + sweep,
                )
            )
        # The callers waiting in the departments a group of agents takes first go to the group's
        # soonest free, one each; the others count by what those departments' demand leaves.
        for first, members in groups.items():
            waiting = sum(self._waiting_in.get(d, 0) for d in first.split(","))
            left = self._left.get(first, 1.0)
            members.sort(key=lambda i: free_in(agents[i]))
            for n, i in enumerate(members):
                agents[i] = replace(agents[i], share=0.0 if n < waiting else left)
        if free != ready:  # agents the entries do not know of: not ready, yet not kept
            return None
        return first_free(agents)

    @staticmethod
    def _patience(
        values: dict[str, float],
        prior: float | None,
        longest: list[float],
        waiting: int,
        ahead: int,
        now_ms: float,
    ) -> float | None:
        """The mean patience of the callers ahead (seconds; None: unknown), from today's counters
        (`values`), the prior (the profile's patience, else the hotline's today), the arrivals
        (ms) of the longest waiters (`longest`, the longest CENSORED_READ) and how many wait in all."""
        read = [max(now_ms - arrived, 0.0) / 1000 for arrived in longest]
        # The rest joined later: each as half the last one read.
        rest = (read[-1] / 2, max(waiting - len(read), 0)) if read else (0.0, 0)
        hazards = patience_hazards(
            values,
            [*((seconds, 1.0) for seconds in read), (rest[0], float(rest[1]))],
            prior,
        )
        if hazards is not None:  # by the time waited: the callers ahead at what they have waited
            theta = hazard_ahead(hazards, read, rest, ahead)
            return 1 / theta if theta > 0 else None
        # Counters from before waits were counted by span: one exponential law.
        return censored_patience(
            (values["answered_wait_ms"] + values["abandoned_wait_ms"]) / 1000,
            values["abandoned"],
            sum(read) + rest[0] * rest[1],
            prior,
        )

    def _staffing_changes(
        self, agents: float, summary: dict[str, Any], share: float = 1.0
    ) -> tuple[tuple[float, float], ...]:
        """Planned changes in the coming hours, as (seconds from now, agents from then on); `share`:
        of each change, the part that falls on the agents counted (those of the caller's language)."""
        cfg = self.live.cfg
        tz = ZoneInfo(cfg.hotline.timezone)
        local = self.now.astimezone(tz)
        staffing = cfg.departments[self.department].staffing
        learned = summary.get("agents") or []

        def planned(moment: datetime) -> float | None:
            if staffing is not None:
                value = staffing.at_minute(moment.weekday(), moment.hour * 60 + moment.minute)
                return None if value is None else float(value)
            how = moment.weekday() * 24 + moment.hour
            seen = learned[how] if len(learned) > how else None
            return None if seen is None else float(round(seen))  # seen agents: whole changes only

        now_planned = planned(local)
        if now_planned is None:
            return ()
        changes: list[tuple[float, float]] = []
        previous = now_planned
        # Every quarter hour of the outlook (the plan's finest step; the learned agents change on
        # the hour), each change measured from what is planned now: agents now + (then - now).
        step = timedelta(minutes=STAFFING_STEP_MINUTES)
        boundary = local.replace(
            minute=local.minute - local.minute % STAFFING_STEP_MINUTES, second=0, microsecond=0
        )
        for _ in range(STAFFING_LOOKAHEAD_HOURS * 60 // STAFFING_STEP_MINUTES):
            boundary += step
            then = planned(boundary)
            if then is None or then == previous:
                continue
            changes.append(
                ((boundary - local).total_seconds(), max(agents + share * (then - now_planned), 0.0))
            )
            previous = then
        return tuple(changes)


def rank_of(live: LiveQueues, priority: str | None) -> int:
    priorities = live.cfg.priorities
    return priorities.get(priority or "", max(priorities.values(), default=0))


def outlook(live: LiveQueues, department: str, summary: dict[str, Any], now: datetime) -> tuple[bool, Any]:
    """Is this hour a peak hour, and the quietest hour of the next open day (from the summary)."""
    if not summary:
        return False, None
    cfg = live.cfg
    peak = hour_of_week(now, cfg.hotline.timezone) in set(summary.get("peak") or [])
    return peak, quietest_on_next_open_day(cfg, department, summary, now) if peak else None


def caller_wait(
    live: LiveQueues, reads: Reads, record: CallRecord, position: int, replies: list[Any], now: datetime
) -> Wait:
    department = reads.department
    queued_at = datetime.fromisoformat(record.get("queued_at") or now.isoformat())
    state, summary = reads.parse(replies, position - 1, (now - queued_at).total_seconds())
    peak, quiet = outlook(live, department, summary, now)
    # An agent who speaks their language is free for this caller: they are being connected (the
    # matcher is on it): no wait we could stand behind. (A free agent who cannot take them is not
    # counted ready for them: they hear the wait for their own agents.)
    # "Less than a minute" was said here, true for 98.6% of them in the simulated hour, and made
    # up 46% of what callers heard: the words the model chose held 81.6%, all of them 89.5%.
    # Only the callers ahead who could take that agent count here: those in the lanes a free
    # agent of theirs serves (`lang`'s last entry), whole; not callers of other lanes counted by
    # share, nor those of departments the agents take first counted by their share of the agents
    # (estimates of the wait, not callers who could take this free agent). Counted with them,
    # 36 of 764 callers who heard a figure in the simulated hours (seeds 1-10) were answered
    # the instant they joined.
    lang = replies[8]
    competing = int(lang[4]) if lang else position - 1
    connecting = competing < state.ready
    said = None if connecting else estimate(state)
    return Wait(department, position, state, said, peak, quiet, connecting=connecting)
