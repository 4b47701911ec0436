"""The traffic generator: simulated callers and agents drive the real hotline, in simulated time.

A discrete-event simulation. `Simulation` keeps a heap of events in seconds since
`Scenario.start`; before each one it sets the app's `FixedClock` to that instant, then does the
real thing through the stand-in: a caller dials (`standin.phone.Call` on the real webhooks),
turns of the hold loop, a caller hanging up, an agent logging in, beating or out through the
agent API, a call ending. After every event the queued rq jobs (the matcher) run in this
process, and each caller the matcher picked takes the REST redirect (or, without one, the next
turn of the hold loop), dials the agent, who answers at once; the call ends `handle` seconds
later. Wrap-ups end at the worker's periodic sweep (every SWEEP_EVERY_SECONDS, 5 s, as
`queue_worker` runs it).

Simplifications, on purpose: the menu takes no simulated time (a caller joins the queue at the
instant they arrive), agents answer the instant they ring, and the hold loop turns every
`hold_turn_seconds`. Callers use numbers the hotline has not seen (so the language menu is
always asked): a good account is found but not verified by caller ID, and menus that require
verification end in the queue after the second factor fails. The announced wait is the first
figure the caller heard on hold, read back from the spoken text, as the range it stands for
(see `bench.traffic_model`).

Callbacks: a caller who hears the callback offer on a turn of the hold loop (its words, parsed as
above) and is one of the scenario's `callback_share` presses 1 during that turn, confirms their
caller ID with 1 and hangs up, keeping their place. When the place reaches an agent, the rq job
calls them through the REST stand-in; the simulation sees the call on the switchboard and, after
`callback_pickup_seconds`, the customer answers (a human, for Twilio's machine detection) and
presses 1, or (one of the `callback_unreachable_share`) lets it ring out: Twilio's status
callback says no-answer and the hotline retries after its backoff. rq's scheduler is played in
simulated time: a job scheduled N wall seconds ahead is enqueued N simulated seconds later. An
agent whose shift ends stays while a callback they could take is still owed.
`python -m bench.traffic --minutes 60 --seed 1` prints a report.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import yaml
from flask import Flask
from rq import SimpleWorker
from rq.job import Job

from bench.traffic_model import (
    ABANDONED,
    CALLBACK_FAILED,
    CALLED_BACK,
    GOOD_ACCOUNTS,
    ISSUE_KEYS,
    SERVED,
    UNREACHED,
    AgentLog,
    CallerLog,
    Report,
    Scenario,
    default_agents,
    words_table,
)
from ivr import keys
from ivr.api.auth import issue_token
from ivr.callcenter.agents import NOT_READY, OFFLINE, READY, RINGING, WRAP_UP
from ivr.callcenter.identifiers import valid_account_id
from ivr.clock import FixedClock
from ivr.hotline.schema import Agent as AgentSpec
from ivr.jobs import QUEUE_NAME
from ivr.jobs.periodic import ROLLUP_EVERY_SECONDS, SWEEP_EVERY_SECONDS, rollup_profiles, sweep_agents
from ivr.redis_types import text_or_none
from ivr.services import services_of
from ivr.waits.words import Spoken
from standin.interpreter import ENDED
from standin.phone import Call
from standin.rest import OutboundCall, Switchboard
from standin.transport import FlaskTransport
from standin.webhook import call_params, status_callback_params

# rq's scheduler polls the wall clock every second: a scheduled job's delay is read to this grain,
# so the milliseconds between scheduling it and reading it back never change the simulation.
SCHEDULE_GRAIN_SECONDS = 5
# An agent whose shift is over checks this often whether a callback they could take is still owed,
# and leaves anyway this long after the last arrival.
STAY_CHECK_SECONDS = 60.0
STAY_AT_MOST_SECONDS = 3 * 3600.0


class InProcessWorker(SimpleWorker):
    """rq's worker for the jobs due between two events, in this process.

    Without the command channel (a pub/sub thread, for `rq` commands nobody sends here): starting
    and joining that thread on every burst took most of a simulated hour's wall time.
    """

    def subscribe(self) -> None:
        """No command channel."""

    def unsubscribe(self) -> None:
        """No command channel."""


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Simulation:
    """One scenario run against a hotline app whose clock is a `FixedClock`."""

    def __init__(self, app: Flask, scenario: Scenario, switchboard: Switchboard | None = None) -> None:
        self.app, self.sc, self.switchboard = app, scenario, switchboard
        self.hotline = services_of(app)
        if not isinstance(self.hotline.clock, FixedClock):
            raise TypeError("the simulation moves the app's clock: build the app with a FixedClock")
        self.clock = self.hotline.clock
        if not self.hotline.settings.public_base_url:
            raise ValueError("the simulation signs its webhooks for the app's public_base_url: set one")
        self.base_url = self.hotline.settings.public_base_url
        self.cfg = self.hotline.config.file
        self.rng = random.Random(scenario.seed)
        self.client = app.test_client()
        self.now = 0.0
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.callers: list[CallerLog] = []
        self.calls: dict[str, Call] = {}
        self.by_sid: dict[str, CallerLog] = {}
        self.waiting: dict[str, CallerLog] = {}  # on hold, by CallSid
        self.agents = {a.agent_id: AgentLog(a.agent_id) for a in scenario.agents}
        self._tokens: dict[str, str] = {}
        self._leaving: set[str] = set()
        self._sweeps: set[int] = set()
        self._patterns = self._announcement_patterns()
        languages = self.hotline.config.languages.values()
        self._offers = [re.sub(r"\s+", "", lang.texts["callback_offer"]) for lang in languages]
        # The read-back's words before the number: "We will call you back at:".
        self._confirms = [
            re.sub(r"\s+", "", lang.texts["callback_confirm_caller_id"]).split("{")[0] for lang in languages
        ]
        self.owed: dict[str, CallerLog] = {}  # callbacks asked for and not yet connected or failed
        # The switchboard may have served earlier calls (a test session's): only later ones are ours.
        self._placed_seen = len(switchboard.outbound_calls) if switchboard is not None else 0
        self._scheduled: set[str] = set()
        self._stay_checks: set[str] = set()  # agents past their shift with a check pending

    # -- the event loop -----------------------------------------------------------------------

    def at(self, when: float, kind: str, payload: Any = None) -> None:
        """Schedule an event `when` seconds after the start."""
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, payload))

    def run(self) -> Report:
        """Run the scenario to its end (every caller finished, every shift over); return the report."""
        conn = self.hotline.stores.data
        for shift in self.sc.agents:
            spec = AgentSpec(
                id=shift.agent_id,
                name=shift.agent_id,
                departments=shift.departments,
                languages=list(shift.languages),
                reach=f"client:{shift.agent_id}",
            )
            self.hotline.agents.upsert(spec, self.sc.start)
            self._tokens[shift.agent_id] = issue_token(conn, "agent", shift.agent_id)
            self.at(shift.start_minute * 60, "login", shift.agent_id)
            self.at(shift.end_minute * 60, "logout", shift.agent_id)
        self._schedule_arrivals()
        self.at(0.0, "tick")
        self.at(0.0, "rollup")
        while self._heap:
            self.now, _, kind, payload = heapq.heappop(self._heap)
            self.clock.set(self.sc.start + timedelta(seconds=self.now))
            getattr(self, f"_on_{kind}")(payload)
            self._settle()
        end = max(self.now, self.sc.minutes * 60)
        return Report.build(
            self.callers, list(self.agents.values()), self.cfg.hotline.service_level_seconds, end
        )

    def _schedule_arrivals(self) -> None:
        """A Poisson process whose rate is constant within each local hour of the day."""
        t, end = 0.0, self.sc.minutes * 60
        zone = ZoneInfo(self.cfg.hotline.timezone)
        while t < end:
            local = (self.sc.start + timedelta(seconds=t)).astimezone(zone)
            next_hour = t + 3600 - (local.minute * 60 + local.second + local.microsecond / 1e6)
            rate = self.sc.hourly_rates.get(local.hour, 0.0) * self.sc.rate_scale / 3600
            step = self.rng.expovariate(rate) if rate > 0 else math.inf
            if t + step >= next_hour:
                t = next_hour  # memoryless: draw again at the new hour's rate
                continue
            t = round(t + step, 3)
            if t < end:
                self.at(t, "arrival")

    def _settle(self) -> None:
        """Run the queued jobs, then connect every caller the matcher gave an agent."""
        queue = self.hotline.jobs.queue
        while True:
            if queue.count:
                InProcessWorker([QUEUE_NAME], connection=self.hotline.stores.jobs).work(
                    burst=True, logging_level="WARNING"
                )
            if not self._connect_matched() and not queue.count:
                break
        self._see_placed_calls()
        self._see_scheduled_jobs()

    def _status(self, sids: list[str]) -> dict[str, str | None]:
        pipe = self.hotline.stores.data.pipeline(transaction=False)
        for sid in sids:
            pipe.hget(keys.call(sid), "status")
        return dict(zip(sids, pipe.execute(), strict=True))

    # -- callers ----------------------------------------------------------------------------------

    def _on_arrival(self, _: Any) -> None:
        """A caller dials, walks the menu (in no simulated time) and joins a queue."""
        sc, rng = self.sc, self.rng
        language, issue, account = _pick(rng, sc.languages), _pick(rng, sc.issues), _pick(rng, sc.accounts)
        cap = self.cfg.hotline.max_hold_minutes * 60 - sc.hold_turn_seconds - 1
        patience = min(rng.expovariate(1 / sc.patience_mean_seconds), cap)
        wants_callback = rng.random() < sc.callback_share
        unreachable = rng.random() < sc.callback_unreachable_share
        # Valid mobile numbers (a callback can call them), one per caller.
        number = f"+86139{len(self.callers):08d}" if language == "zh-CN" else f"+14152{len(self.callers):06d}"
        hl = self.hotline
        transport = FlaskTransport(self.client, self.base_url, hl.settings.twilio_auth_token)
        call = Call(transport, from_=number, account_sid=hl.settings.twilio_account_sid, max_redirects=1)
        if self.switchboard is not None:
            self.switchboard.register(call)
        call.start()
        log = CallerLog(len(self.callers), call.call_sid, self.now, language, issue, account, patience)
        log.wants_callback = wants_callback and self.switchboard is not None
        log.unreachable = unreachable
        self.callers.append(log)
        self.by_sid[call.call_sid] = log
        self.calls[call.call_sid] = call
        digit = next(x.digit for x in self.cfg.languages if x.locale == language)
        steps = [digit]
        if account == "good":
            steps += [rng.choice(GOOD_ACCOUNTS), "1"]
        elif account == "bad":
            steps += [self._bad_account(), "", ""]
        else:
            steps += ["", "", ""]
        steps += list(ISSUE_KEYS[issue])
        for step in steps:
            if call.state == "gathering":
                call.press(step) if step else call.silence()
        # The reference number plays out (silence also declines its SMS offer); a failed second
        # factor goes on.
        for _ in range(8):
            if call.state != "gathering" or call.on_hold:
                break
            call.silence()
        if call.state != "looping" and not call.on_hold:
            log.outcome, log.ended = UNREACHED, self.now
            return
        log.joined = self.now
        log.department = text_or_none(hl.stores.data.hget(keys.call(call.call_sid), "department")) or ""
        self._heard_wait(log, call, 0)
        self.waiting[call.call_sid] = log
        if self._take_callback(log, call, 0):
            return
        self.at(self.now + patience, "patience", call.call_sid)
        self.at(self.now + sc.hold_turn_seconds, "hold", call.call_sid)

    def _bad_account(self) -> str:
        """Ten digits that fail the check digit."""
        while True:
            digits = "6222" + "".join(self.rng.choice("0123456789") for _ in range(6))
            if not valid_account_id(digits, self.cfg.account_ids):
                return digits

    def _on_hold(self, sid: str) -> None:
        """One more turn of the hold loop for a caller still waiting."""
        log = self.waiting.get(sid)
        if log is None:
            return
        call = self.calls[sid]
        mark = call.mark()
        call.continue_loop()
        self._heard_wait(log, call, mark)
        if self._take_callback(log, call, mark):
            return
        if call.state == "dialing":
            self._answer(log, call)
        elif call.state == "looping" or call.on_hold:
            self.at(self.now + self.sc.hold_turn_seconds, "hold", sid)

    def _on_patience(self, sid: str) -> None:
        """The caller's patience ran out: they hang up if they are still on hold."""
        log = self.waiting.get(sid)
        if log is None or self._status([sid])[sid] != "queued":
            return
        self.calls[sid].hangup()
        del self.waiting[sid]
        log.outcome, log.ended = ABANDONED, self.now

    def _connect_matched(self) -> bool:
        """Callers the matcher redirected dial their agent now; whether anyone was connected."""
        matched = [sid for sid, status in self._status(list(self.waiting)).items() if status == "connecting"]
        for sid in matched:
            call = self.calls[sid]
            if not call.take_pending():  # the REST redirect, else the hold loop
                call.continue_loop()
            if call.state == "dialing":
                self._answer(self.waiting[sid], call)
        return bool(matched)

    def _answer(self, log: CallerLog, call: Call) -> None:
        """The agent picks up (and hears the whisper); the call will last its handle time."""
        call.answer()
        self.waiting.pop(log.call_sid, None)
        log.answered, log.agent = self.now, call.dialed[-1]["value"]
        mean, sigma = self.sc.handle_mean_seconds, self.sc.handle_sigma
        log.handle = max(10, round(self.rng.lognormvariate(math.log(mean) - sigma**2 / 2, sigma)))
        self.at(self.now + log.handle, "call_end", log.call_sid)

    def _on_call_end(self, sid: str) -> None:
        """The agent and caller say goodbye: the agent wraps up, or logs out if their shift is over."""
        log = self.by_sid[sid]
        call = self.calls[sid]
        call.dial_result("completed", duration=log.handle)
        if call.state == "gathering":
            call.silence()  # simulated callers skip the survey, and hear goodbye
        log.outcome, log.ended = (SERVED if log.callback_requested is None else CALLED_BACK), self.now
        self.owed.pop(sid, None)
        agent = self.agents[log.agent]
        agent.talk += log.handle
        agent.calls.append((log.answered or 0.0, self.now, sid))
        view = self.hotline.agents.get(log.agent)
        if view is not None and view.state == WRAP_UP and view.wrap_until is not None:
            due = (view.wrap_until - self.sc.start).total_seconds()
            slot = math.floor(due / SWEEP_EVERY_SECONDS) + 1  # the sweep after the wrap-up ends
            if slot not in self._sweeps:
                self._sweeps.add(slot)
                self.at(slot * SWEEP_EVERY_SECONDS, "sweep")
        if log.agent in self._leaving:
            self._leaving.discard(log.agent)
            self._on_logout(log.agent)  # leaves, or stays (and wraps up) for a callback still owed

    def _heard_wait(self, log: CallerLog, call: Call, since: int) -> None:
        """Remember the first wait figure the caller heard."""
        if log.announced is not None:
            return
        said = re.sub(r"\s+", "", call.heard_text(since))
        for kind, pattern, seconds in self._patterns:
            found = pattern.search(said)
            if found:
                log.announced = seconds(found)
                log.announced_kind = kind
                log.announced_at = self.now
                return

    def _announcement_patterns(
        self,
    ) -> list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], tuple[float, float]]]]:
        """(form of words, the prompt as a pattern, the range in seconds it stands for)."""
        patterns: list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], tuple[float, float]]]] = []

        def pattern(text: str) -> re.Pattern[str]:
            """The prompt as heard (spaces dropped), its {placeholders} matching numbers."""
            escaped = re.escape(re.sub(r"\s+", "", text))
            return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>\\d+)", escaped))

        def about(m: re.Match[str]) -> tuple[float, float]:
            return Spoken("about", high=int(m["minutes"])).seconds()

        for lang in self.hotline.config.languages.values():
            said = lang.texts
            patterns += [
                (
                    "range",
                    pattern(said["queue_wait_range"]),
                    lambda m: (int(m["low"]) * 60.0, int(m["high"]) * 60.0),
                ),
                ("up_to", pattern(said["queue_wait_up_to"]), lambda m: (0.0, int(m["minutes"]) * 60.0)),
                ("about", pattern(said["queue_wait_about"]), about),
                ("soon", pattern(said["queue_wait_soon"]), lambda m: Spoken("soon").seconds()),
                ("up_to_90s", pattern(said["queue_wait_up_to_90s"]), lambda m: Spoken("up_to_90s").seconds()),
            ]
        return patterns

    # -- callbacks --------------------------------------------------------------------------------

    def _take_callback(self, log: CallerLog, call: Call, since: int) -> bool:
        """On a hold turn that offered a callback, a caller who wants one takes it and hangs up.

        Returns whether they did (their place is kept; they are no longer on the line).
        """
        if not (call.on_hold and call.state == "gathering"):
            return False
        said = re.sub(r"\s+", "", call.heard_text(since))
        if not any(offer in said for offer in self._offers):
            return False
        log.heard_offer = True
        if not log.wants_callback or log.callback_requested is not None:
            return False
        log.wants_callback = False  # asks once: a refusal (a limit) leaves them waiting
        mark = call.mark()
        call.press("1")
        confirm = re.sub(r"\s+", "", call.heard_text(mark))
        if call.state == "gathering" and any(c and c in confirm for c in self._confirms):
            call.press("1")  # the caller ID read back is theirs
        if call.state in ENDED:
            self.waiting.pop(log.call_sid, None)
            log.callback_requested = self.now
            self.owed[log.call_sid] = log
            return True
        for _ in range(8):  # asked for another number, or refused: back to the hold loop
            if call.state != "gathering" or call.on_hold:
                break
            call.silence()
        return False

    def _see_placed_calls(self) -> None:
        """Calls the hotline placed to call a customer back: their phone rings now."""
        if self.switchboard is None:
            return
        placed = self.switchboard.outbound_calls
        fresh, self._placed_seen = placed[self._placed_seen :], len(placed)
        for outbound in fresh:
            query = parse_qs(urlsplit(outbound.url or "").query)
            log = self.owed.get((query.get("call") or [""])[0])
            if log is None:
                continue
            log.callback_attempts += 1
            if log.unreachable:
                ring = float(self.cfg.callbacks.ring_timeout_seconds)
                self.at(self.now + ring, "callback_rang_out", (log.call_sid, outbound))
            else:
                pickup = self.sc.callback_pickup_seconds
                self.at(self.now + pickup, "callback_pickup", (log.call_sid, outbound))

    def _on_callback_pickup(self, payload: tuple[str, OutboundCall]) -> None:
        """The customer answers the call back, hears the greeting and presses 1 for the agent."""
        sid, outbound = payload
        log = self.by_sid[sid]
        hl = self.hotline
        transport = FlaskTransport(self.client, self.base_url, hl.settings.twilio_auth_token)
        call = Call(
            transport,
            from_=outbound.from_,
            to=outbound.to,
            account_sid=hl.settings.twilio_account_sid,
            call_sid=outbound.sid,
            voice_url=outbound.url or "",
            status_callback=outbound.status_callback,
            extra_params={"Direction": "outbound-api", "AnsweredBy": "human"},
            max_redirects=1,
        )
        if self.switchboard is not None:
            self.switchboard.register(call)
        call.start()
        if call.state == "gathering":
            call.press("1")
        self.calls[sid] = call  # the conversation goes on on this call
        if call.state == "dialing":
            self._answer(log, call)
        elif call.state not in ENDED:
            call.hangup()  # no agent to talk to (a stale attempt): the hotline decides what next
        self._callback_settled(log)

    def _on_callback_rang_out(self, payload: tuple[str, OutboundCall]) -> None:
        """Nobody answered the call back: Twilio's status callback says no-answer."""
        sid, outbound = payload
        hl = self.hotline
        params = call_params(
            account_sid=hl.settings.twilio_account_sid,
            call_sid=outbound.sid,
            call_status="no-answer",
            from_=outbound.from_,
            to=outbound.to,
        )
        params.update(status_callback_params("no-answer", 0), Direction="outbound-api")
        transport = FlaskTransport(self.client, self.base_url, hl.settings.twilio_auth_token)
        reply = transport.request(outbound.status_callback_method, outbound.status_callback or "", params)
        if reply.status != 200:
            raise RuntimeError(f"status callback of {outbound.sid}: HTTP {reply.status}")
        self._callback_settled(self.by_sid[sid])

    def _callback_settled(self, log: CallerLog) -> None:
        """A callback the hotline gave up on (its last attempt failed) is no longer owed."""
        if self._status([log.call_sid])[log.call_sid] == "callback_failed":
            self.owed.pop(log.call_sid, None)
            log.outcome, log.ended = CALLBACK_FAILED, self.now

    def _see_scheduled_jobs(self) -> None:
        """Jobs put on rq's scheduler (a callback's retry after its backoff) run in simulated time."""
        registry = self.hotline.jobs.queue.scheduled_job_registry
        for job_id in registry.get_job_ids():
            if job_id in self._scheduled:
                continue
            self._scheduled.add(job_id)
            ahead = registry.get_scheduled_time(job_id).timestamp() - time.time()
            delay = max(round(ahead / SCHEDULE_GRAIN_SECONDS) * SCHEDULE_GRAIN_SECONDS, 0)
            self.at(self.now + delay, "scheduled_job", job_id)

    def _on_scheduled_job(self, job_id: str) -> None:
        """rq's scheduler: the job is due, it goes on the queue (the next settle runs it)."""
        queue = self.hotline.jobs.queue
        registry = queue.scheduled_job_registry
        self._scheduled.discard(job_id)
        job = Job.fetch(job_id, connection=queue.connection)
        registry.remove(job)
        queue.enqueue_job(job)

    # -- agents -----------------------------------------------------------------------------------

    def _api(self, method: str, agent_id: str, path: str, body: dict[str, Any] | None = None) -> int:
        headers = {"Authorization": f"Bearer {self._tokens[agent_id]}"}
        return self.client.open(f"/api/agent/{path}", method=method, json=body, headers=headers).status_code

    def _on_login(self, agent_id: str) -> None:
        """The shift starts: the console goes ready (which asks the matcher for a caller)."""
        assert self._api("PUT", agent_id, "state", {"state": READY}) == 200
        self.agents[agent_id].logged_in = self.now

    def _on_logout(self, agent_id: str) -> None:
        """The shift ends: offline now when free, else after the current call.

        A callback promised to a caller is kept: an agent who could take one still owed stays
        (and takes callers as usual) until no such callback is left.
        """
        if self.agents[agent_id].logged_out is not None:
            return
        view = self.hotline.agents.get(agent_id)
        if view is None or view.state not in (READY, NOT_READY, WRAP_UP):
            self._leaving.add(agent_id)  # after the call ends (see _on_call_end)
            if view is not None and view.state == RINGING:
                self._check_again(agent_id)  # held for a callback that may ring out: no call to end
        elif self._owed_to(agent_id) and self.now < self.sc.minutes * 60 + STAY_AT_MOST_SECONDS:
            self._check_again(agent_id)
        else:
            self._log_out(agent_id)

    def _check_again(self, agent_id: str) -> None:
        """Look again in a while whether an agent past their shift can leave (one check pending)."""
        if agent_id not in self._stay_checks:
            self._stay_checks.add(agent_id)
            self.at(self.now + STAY_CHECK_SECONDS, "stay_check", agent_id)

    def _on_stay_check(self, agent_id: str) -> None:
        self._stay_checks.discard(agent_id)
        self._leaving.discard(agent_id)
        self._on_logout(agent_id)

    def _owed_to(self, agent_id: str) -> bool:
        """Whether a callback still owed is in one of the agent's departments and languages."""
        shift = next(s for s in self.sc.agents if s.agent_id == agent_id)
        return any(
            c.department in shift.departments and c.language in shift.languages for c in self.owed.values()
        )

    def _log_out(self, agent_id: str) -> None:
        assert self._api("PUT", agent_id, "state", {"state": OFFLINE}) == 200
        self._leaving.discard(agent_id)
        self.agents[agent_id].logged_out = self.now

    def _on_tick(self, _: Any) -> None:
        """Every logged-in console beats; ticks go on while anyone is logged in or calling."""
        on = [a.agent_id for a in self.agents.values() if a.logged_in is not None and a.logged_out is None]
        for agent_id in on:
            assert self._api("POST", agent_id, "heartbeat") == 200
        arrivals_left = any(kind in ("arrival", "login") for _, _, kind, _ in self._heap)
        if on or self.waiting or arrivals_left:
            self.at(self.now + self.sc.heartbeat_seconds, "tick")

    def _on_rollup(self, _: Any) -> None:
        """The worker's profile rollup (once as it starts, then every ROLLUP_EVERY_SECONDS): the
        hour-of-week profile learns from the day's counters, and the estimate reads its summary
        (handle time, patience) as the hold loop's prior."""
        rollup_profiles()
        if self.now < self.sc.minutes * 60 or self.waiting or self.owed:
            slot = math.floor(self.now / ROLLUP_EVERY_SECONDS) + 1
            self.at(slot * ROLLUP_EVERY_SECONDS, "rollup")

    def _on_sweep(self, _: Any) -> None:
        """The worker's periodic sweep: finished wrap-ups become ready and get a caller."""
        sweep_agents()


def dial_copy(folder: Path, source: Path | None = None) -> Path:
    """A copy of the hotline file (`source`, or the shipped one) in `folder` that connects by a Dial:
    the simulated agents answer a Dial's leg, and take no part in a conference room."""
    source = source or Path(__file__).resolve().parent.parent / "hotline.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "dial"
    directory = data.setdefault("directory", {}) or {}
    if directory.get("kind", "file") == "file":
        # The demo accounts are named relative to the file (by default demo_accounts.yaml): the
        # copy names the same file by its whole path.
        directory["file"] = str((source.parent / directory.get("file", "demo_accounts.yaml")).resolve())
    (folder / "hotline.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return folder / "hotline.yaml"


@contextmanager
def local_hotline(
    scenario: Scenario, redis_url: str | None = None, hotline_config: Path | None = None, api_port: int = 0
) -> Iterator[tuple[Flask, Switchboard]]:
    """The hotline app on simulated time, with the stand-in for Twilio's REST API served here
    (on 127.0.0.1:`api_port`, or any free port for 0).

    Without `redis_url`, on a fresh embedded Redis in a temporary directory, removed afterwards.
    Log lines below warnings are silenced: a run's output is its report, not every call's line.
    """
    import logging
    import shutil
    import tempfile

    from ivr import create_app
    from ivr.store import embedded_redis_url, stop_embedded_redis
    from queue_worker import context
    from standin.rest import create_rest_app, serve_in_thread

    data_dir = None if redis_url else Path(tempfile.mkdtemp(prefix="hotline-traffic-"))
    sid, token = "AC" + "0" * 32, "local-simulation-token"
    switchboard = Switchboard()
    api_url, stop_api = serve_in_thread(create_rest_app(switchboard, sid, token), port=api_port)
    settings: dict[str, Any] = {
        "twilio_account_sid": sid,
        "twilio_auth_token": token,
        "twilio_api_base_url": api_url,
        "public_base_url": "https://hotline.example.com",
        "redis_url": redis_url if data_dir is None else embedded_redis_url(data_dir),
    }
    scratch = Path(tempfile.mkdtemp(prefix="hotline-traffic-file-"))
    settings["hotline_config"] = dial_copy(scratch, hotline_config)
    # The loggers are put back as they were: a process that goes on (a test run) keeps its lines.
    loggers = [logging.getLogger(name) for name in ("ivr", "werkzeug", "rq")]
    levels = [logger.level for logger in loggers]
    try:
        app = create_app(settings, clock=FixedClock(scenario.start))
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        context.install(services_of(app))
        yield app, switchboard
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        context.install(None)
        stop_api()
        shutil.rmtree(scratch, ignore_errors=True)
        if data_dir is not None:
            stop_embedded_redis(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.traffic --minutes 60 --seed 1`: simulate, then print the report.

    Runs on a fresh embedded Redis in a temporary directory (or on `--redis-url`, whose database
    must be empty), with the stand-in for Twilio's REST API served from this process. With
    `--seeds 1 2 3 4 5`, one day per seed, each on a fresh Redis, then what callers heard per
    form of words pooled over them (`words_table`).
    """
    import argparse

    import redis

    parser = argparse.ArgumentParser(prog="python -m bench.traffic", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="how long callers keep arriving")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="several days, one per seed; then the words pooled over them"
    )
    parser.add_argument("--rate-scale", type=float, default=1.0, help="multiply the hourly arrival rates")
    parser.add_argument("--redis-url", help="an empty Redis database (default: a temporary embedded one)")
    parser.add_argument(
        "--hotline", type=Path, help="the hotline file to run, by a Dial (default: the shipped hotline.yaml)"
    )
    parser.add_argument(
        "--callback-share",
        type=float,
        default=Scenario.callback_share,
        help="of the callers who hear the callback offer, the share who take it",
    )
    parser.add_argument(
        "--api-port", type=int, default=0, help="the port of the REST stand-in (default: any free one)"
    )
    args = parser.parse_args(argv)
    if args.seeds and args.redis_url:
        parser.error("--seeds runs each day on a fresh embedded Redis: leave out --redis-url")
    reports = []
    for seed in args.seeds or [args.seed]:
        scenario = Scenario(
            minutes=args.minutes,
            seed=seed,
            rate_scale=args.rate_scale,
            agents=default_agents(args.minutes),
            callback_share=args.callback_share,
        )
        if args.redis_url and redis.Redis.from_url(args.redis_url).dbsize():
            parser.error(f"{args.redis_url} is not empty: the report must be the only traffic in it")
        with local_hotline(scenario, args.redis_url, args.hotline, args.api_port) as (app, switchboard):
            report = Simulation(app, scenario, switchboard).run()
        start = scenario.start.isoformat()
        print(f"{scenario.minutes:g} simulated minutes from {start}, seed {scenario.seed}")
        print(report.table())
        print()
        reports.append(report)
    if args.seeds:
        seeds = " ".join(str(seed) for seed in args.seeds)
        print(f"What callers heard and then waited, seeds {seeds} pooled:")
        print(words_table(reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
