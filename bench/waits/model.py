"""The hotline as a SimPy discrete-event model, asking the product's estimator as callers wait.

One pool of agents serves every department, the highest class first, then the longest waiting
(as the hotline's matcher does). A caller who finds a free agent is connected at once and hears
nothing; one who waits is announced a figure on joining and at every turn of the hold loop
(each minute), with the `QueueState` the hotline builds from its live state and counters.

A caller who hangs up is removed from the queue (those behind move up, as in the hotline), but
stays as an invisible "ghost" in their place, so the wait they would have had is known: the
first moment an agent is free to take a caller once everyone ahead of them has gone.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

import simpy
from simpy.events import ProcessGenerator

from bench.waits import predictors as P
from bench.waits.future import Handle, Snapshot, markov_mean, markov_variance, resimulate
from bench.waits.live_path import LiveFeed
from bench.waits.scenarios import Scenario, flat, patience_sample
from bench.waits.scoring import Tally
from ivr.waits.estimate import QueueState, estimate

HOLD_TURN = 60.0  # seconds between the hold loop's announcements
RESIM_RUNS = 60  # futures per re-simulated announcement
PRIOR_HANDLES = 2000  # calls the profile has seen before the simulated day
PRIOR_ABANDONS = 500  # abandons it has seen
DRAIN_STEP = 600.0
MAX_DRAIN = 12 * 3600.0


@dataclass(eq=False)
class Caller:
    dept: int
    seq: int
    arrived: float
    scored: bool
    served: simpy.Event
    queued: bool = False  # found no agent free
    records: list[tuple] = field(default_factory=list)  # (at, predictions, low, high, variances...)


class Hotline:
    """One replication of one scenario."""

    def __init__(self, sc: Scenario, seed: int, resim_runs: int = RESIM_RUNS, announce: bool = True) -> None:
        self.sc = sc
        self.announcing = announce  # False: the queue alone, for checks against queueing formulas
        self.rng = random.Random(seed)
        self.resim_rng = random.Random(seed * 7919 + 1)
        self.resim_runs = resim_runs
        self.env = simpy.Environment()
        # Each department's handle times; `handle` is their mean over the calls offered (the
        # pool's, for the stationary start and the Markov form the re-simulated variance scales).
        self.handles = [Handle(d.handle, sc.handle) for d in sc.departments]
        offered = [d.arrivals.at(0.0) for d in sc.departments]
        self.handle = Handle(
            sum(r * h.mean for r, h in zip(offered, self.handles, strict=True)) / sum(offered), sc.handle
        )
        self.order = sorted(range(len(sc.departments)), key=lambda d: sc.departments[d].priority)
        assert len({d.priority for d in sc.departments}) == len(sc.departments), "one class per department"
        self.rank = {d: i for i, d in enumerate(self.order)}
        n = len(sc.departments)
        self.queues: list[list[int]] = [[] for _ in range(n)]  # seqs of real waiting callers, in order
        self.arrival_sums = [0.0] * n
        self.ghosts: list[list[int]] = [[] for _ in range(n)]
        self.callers: dict[int, Caller] = {}
        self.seq = 0
        self.logged_in = sc.agents
        self.target = sc.agents
        self.idle = sc.agents
        self.busy: dict[int, tuple[float, int]] = {}  # agent -> (when their call began, department)
        self.next_agent = 0
        self.plan = sorted(sc.staffing_plan)
        self.pending = 0  # scored callers whose (virtual) wait is not known yet
        self.tally = Tally(sc_resim=not sc.markov)
        self._mark_at = sc.warmup  # time integrals over the scored window: busy agents, all busy
        self.busy_area = 0.0
        self.all_busy_area = 0.0
        prior_handles = [[h.sample(self.rng) for _ in range(PRIOR_HANDLES)] for h in self.handles]
        prior_patience = None
        if sc.patience:
            prior_patience = [
                patience_sample(sc.patience_law, sc.patience, self.rng) for _ in range(PRIOR_ABANDONS)
            ]
        self.history = [P.DepartmentHistory(prior_handles[d], prior_patience) for d in range(n)]
        # The live path: the hotline's own counters from the day's start, and a profile of past
        # weeks per department with the same handle time and patience the priors above give.
        profiles: list[dict[str, float]] = []
        for d in range(n):
            profile = {"handle": sum(prior_handles[d]) / len(prior_handles[d])}
            if prior_patience:
                profile["patience"] = sum(prior_patience) / len(prior_patience)
            profiles.append(profile)
        self.feed = LiveFeed(sc, profiles)

    def _mark(self) -> None:
        """Integrate busy agents and the all-busy indicator up to now (called before they change)."""
        now = min(self.env.now, self.sc.horizon)
        if now > self._mark_at:
            span = now - self._mark_at
            self.busy_area += len(self.busy) * span
            self.all_busy_area += (self.idle == 0) * span
            self._mark_at = now

    def start_stationary(self) -> None:
        """Start from the birth-death stationary law of the queue (flat arrivals, exponential calls)."""
        sc = self.sc
        lam = sum(d.arrivals.at(0.0) for d in sc.departments)
        mu, theta = 1.0 / self.handle.mean, (1.0 / sc.patience if sc.patience else 0.0)
        weights, w, n = [1.0], 1.0, 0
        while w > 1e-12 * sum(weights) and n < 20000:
            n += 1
            w *= lam / (min(n, sc.agents) * mu + max(0, n - sc.agents) * theta)
            weights.append(w)
        n = self.rng.choices(range(len(weights)), weights)[0]
        shares = [d.arrivals.at(0.0) for d in sc.departments]
        for _ in range(n):
            self._arrive(self.rng.choices(range(len(sc.departments)), shares)[0])

    # --- running -------------------------------------------------------------------------------

    def run(self) -> Tally:
        """Simulate the day, then go on until every scored caller's wait is known."""
        for d in range(len(self.sc.departments)):
            self.env.process(self._arrivals(d))
        for when, agents in self.plan:
            self.env.process(self._staffing(when, agents))
        self.env.run(until=self.sc.horizon)
        end = self.sc.horizon + MAX_DRAIN
        while self.pending and self.env.now < end:
            self.env.run(until=self.env.now + DRAIN_STEP)
        return self.tally

    def _arrivals(self, d: int) -> ProcessGenerator:
        rate = self.sc.departments[d].arrivals
        peak = rate.peak
        while True:
            yield self.env.timeout(self.rng.expovariate(peak))
            if self.rng.random() * peak < rate.at(self.env.now):
                self._arrive(d)

    def _staffing(self, when: float, agents: int) -> ProcessGenerator:
        yield self.env.timeout(when)
        self.plan = [p for p in self.plan if p[0] > when]
        self._mark()
        self.target = agents
        if agents > self.logged_in:
            joining = agents - self.logged_in
            self.logged_in = agents
            for _ in range(joining):
                self._agent_free()
        else:  # idle agents leave now; busy ones after their call
            leaving = min(self.idle, self.logged_in - agents)
            self.idle -= leaving
            self.logged_in -= leaving

    # --- callers -------------------------------------------------------------------------------

    def _arrive(self, d: int) -> None:
        now = self.env.now
        self.seq += 1
        self._mark()
        scored = self.sc.warmup <= now < self.sc.horizon
        c = Caller(d, self.seq, now, scored, self.env.event())
        self.feed.offered(d, now)
        if scored:
            self.tally.arrivals += 1
        if self.idle > 0:
            self.idle -= 1
            self._serve(c)
            return
        c.queued = True
        if scored:
            self.tally.waited += 1
            self.pending += 1
        self.callers[c.seq] = c
        self.queues[d].append(c.seq)
        self.arrival_sums[d] += now
        self.env.process(self._hold(c))

    def _hold(self, c: Caller) -> ProcessGenerator:
        give_up = None
        if self.sc.patience:
            give_up = self.env.timeout(patience_sample(self.sc.patience_law, self.sc.patience, self.rng))
        while True:
            if c.scored and self.announcing:
                self._announce(c)
            events = [c.served, self.env.timeout(HOLD_TURN)]
            if give_up is not None:
                events.append(give_up)
            fired = yield self.env.any_of(events)
            if c.served.triggered:
                return
            if give_up is not None and give_up in fired:
                self._abandon(c)
                return

    def _abandon(self, c: Caller) -> None:
        now = self.env.now
        q = self.queues[c.dept]
        del q[bisect.bisect_left(q, c.seq)]
        self.arrival_sums[c.dept] -= c.arrived
        self.history[c.dept].gave_up(now - c.arrived)
        self.feed.abandoned(c.dept, now - c.arrived)
        if c.scored:
            self.tally.abandoned += 1
            bisect.insort(self.ghosts[c.dept], c.seq)  # waits on, unseen, for the wait they would have had
        else:
            del self.callers[c.seq]

    # --- agents --------------------------------------------------------------------------------

    def _serve(self, c: Caller) -> None:
        now = self.env.now
        c.served.succeed()
        self.history[c.dept].served(now - c.arrived)
        self.feed.answered(c.dept, now - c.arrived)
        self._resolve(c, now)
        agent = self.next_agent
        self.next_agent += 1
        self.busy[agent] = (now, c.dept)
        length = self.handles[c.dept].sample(self.rng)
        done = self.env.timeout(length)
        done.callbacks.append(lambda _e: self._finish(agent, c.dept, length))

    def _finish(self, agent: int, d: int, length: float) -> None:
        self._mark()
        del self.busy[agent]
        self.history[d].handled(length)
        self.feed.handled(d, length)
        if self.logged_in > self.target:
            self.logged_in -= 1  # their shift ended during this call
            return
        self._agent_free()

    def _agent_free(self) -> None:
        """An agent is free to take a caller: ghosts first in line get their wait, then the best caller."""
        now = self.env.now
        for d in self.order:
            q, ghosts = self.queues[d], self.ghosts[d]
            head = q[0] if q else None
            while ghosts and (head is None or ghosts[0] < head):
                self._resolve(self.callers.pop(ghosts.pop(0)), now)
            if head is not None:
                del q[0]
                c = self.callers.pop(head)
                self.arrival_sums[d] -= c.arrived
                self._serve(c)
                return
        self.idle += 1

    def _resolve(self, c: Caller, now: float) -> None:
        """The caller reached (or would have reached) an agent: score their announcements."""
        for at, predictions, low, high, said, markov, given, live in c.records:
            self.tally.add(predictions, now - at, low, high, said, markov, given, live)
        if c.scored and c.queued:
            self.pending -= 1

    # --- announcements -------------------------------------------------------------------------

    def _ahead(self, c: Caller) -> int:
        higher = sum(len(self.queues[d]) for d in self.order[: self.rank[c.dept]])
        return higher + bisect.bisect_left(self.queues[c.dept], c.seq)

    def _staffing_changes(self, now: float) -> tuple[tuple[float, float], ...]:
        """The plan as the hotline file gives it, from now on; agents finishing a last call count."""
        changes = [(when - now, float(agents)) for when, agents in self.plan if when > now]
        if self.logged_in > self.target:
            changes.insert(0, (0.0, float(self.target)))
        return tuple(changes)

    def _pool_handle(self, now: float) -> float:
        """The mean handle time of the calls the agents take, every department's together: the
        agents one caller waits for finish calls of all of them (with one department, its own).
        Each department's mean weighs by its arrival rate now (the simulation knows it)."""
        rates = [d.arrivals.at(now) for d in self.sc.departments]
        means = [h.mean_handle or 0.0 for h in self.history]
        if len(rates) == 1 or sum(rates) <= 0:
            return means[0] if len(rates) == 1 else sum(means) / len(means)
        return sum(r * m for r, m in zip(rates, means, strict=True)) / sum(rates)

    def queue_state(self, c: Caller) -> QueueState:
        """What the hotline knows about this caller's queue now."""
        now = self.env.now
        hist = self.history[c.dept]
        higher = self.order[: self.rank[c.dept]]
        return QueueState(
            agents=float(self.logged_in),
            ready=self.idle,
            ahead=self._ahead(c),
            mean_handle_seconds=self._pool_handle(now),
            mean_patience_seconds=hist.mean_patience,
            # The arrival rate of higher classes this instant: the simulation knows it (the live
            # path learns it from the counts of the last minutes).
            overtaking_per_second=sum(self.sc.departments[d].arrivals.at(now) for d in higher),
            staffing_changes=self._staffing_changes(now),
            waited_seconds=now - c.arrived,
        )

    def _announce(self, c: Caller) -> None:
        now = self.env.now
        state = self.queue_state(c)
        est = estimate(state)
        if est is None:
            return  # nobody serves the queue: nothing is said
        d = c.dept
        q = self.queues[d]
        head_waited = now - self.callers[q[0]].arrived
        mean_waited = now - self.arrival_sums[d] / len(q)
        history = P.history_predictions(self.history[d], state.waited_seconds, head_waited, mean_waited)
        said, said_low, said_high = P.announcement(est)
        live_state = self.feed.state(
            d,
            now,
            bisect.bisect_left(q, c.seq),
            state.waited_seconds,
            self.logged_in,
            self.idle,
            self.order,
            [[self.callers[s].arrived for s in queue] for queue in self.queues],
        )
        live_est = estimate(live_state)
        erlang = P.erlang_queue_length(state.ahead, state.agents, state.mean_handle_seconds)
        # (range, range as said) of the live path; no figure: scored as Erlang's, never covering
        live = (
            (live_est.low, live_est.high) if live_est is not None else None,
            P.said_range(live_est),
        )
        predictions = [
            est.seconds,
            live_est.seconds if live_est is not None else erlang,
            said,
            history[P.HEAD_OF_LINE],
            history[P.LAST_SERVED],
            history[P.RECENT],
            history[P.NOW_WAITING],
            history[P.ASTERISK],
            erlang,
        ]
        variance = markov_variance(self.logged_in, state.ahead, self.handle.mean, self.sc.patience)
        given = None  # the wait's conditional (mean, variance, bias of a squared error from the mean)
        if self.sc.markov:
            mean = markov_mean(self.logged_in, state.ahead, self.handle.mean, self.sc.patience)
            given = (mean, variance, 0.0)
        elif self.resim_rng.random() < self.sc.resim_share:
            given = self._resimulate(c, state.ahead)
        c.records.append((now, predictions, est.low, est.high, (said_low, said_high), variance, given, live))

    def _resimulate(self, c: Caller, ahead: int) -> tuple[float, float, float]:
        now = self.env.now
        higher = self.order[: self.rank[c.dept]]
        snap = Snapshot(
            now=now,
            ahead=ahead,
            busy=[(now - start, self.handles[d]) for start, d in self.busy.values()],
            idle=self.idle,
            logged_in=self.logged_in,
            target=self.target,
            plan=[p for p in self.plan if p[0] > now],
            # Higher classes arrive at their rate of this instant, as if it went on: the state
            # holds the present rate, not when a surge will end (nobody can know that).
            overtaking=tuple(flat(self.sc.departments[d].arrivals.at(now)) for d in higher),
            patience=self.sc.patience,
            handle=self.handles[c.dept],
            patience_law=self.sc.patience_law,
            # What the callers ahead have waited (their patience left depends on it unless exponential).
            ahead_waited=tuple(
                now - self.callers[s].arrived
                for d in self.order[: self.rank[c.dept] + 1]
                for s in self.queues[d]
                if d != c.dept or s < c.seq
            ),
            ahead_classes=tuple(
                (self.rank[d], self.handles[d])
                for d in self.order[: self.rank[c.dept] + 1]
                for s in self.queues[d]
                if d != c.dept or s < c.seq
            ),
            overtaking_classes=tuple((self.rank[d], self.handles[d]) for d in higher),
        )
        waits = resimulate(snap, self.resim_rng, self.resim_runs)
        m = sum(waits) / len(waits)
        v = sum((w - m) ** 2 for w in waits) / (len(waits) - 1)
        return m, v, v / len(waits)  # (estimate - m)^2 overstates (estimate - true mean)^2 by v/runs


def replicate(sc: Scenario, seed: int, announce: bool = True) -> Tally:
    """One replication of a scenario, from a stationary start where arrivals are flat."""
    hotline = Hotline(sc, seed, announce=announce)
    if all(len(d.arrivals.points) == 1 for d in sc.departments) and not sc.staffing_plan:
        hotline.start_stationary()
    tally = hotline.run()
    window = sc.horizon - sc.warmup
    tally.busy_mean = hotline.busy_area / window
    tally.all_busy = hotline.all_busy_area / window
    return tally
