"""Simulated callers, customers called back and agents, on live calls of the stand-in for Twilio.

A `Caller` dials the hotline (a live call of `standin.live`), walks the menu (a language, a
demo account and its confirmation, an issue that goes to an agent), waits on hold with a patience
of their own and hangs up when it runs out; some press 1 on hold to be called back keeping their
place, confirm their caller ID with 1, and hang up. `Phones` are the customers' phones: each
call the hotline places through the REST stand-in rings, and the customer answers it after a
moment, presses 1 for the agent and talks. An `AgentSim` is an agent at a console: ready through
the agent API, a heartbeat, their softphone registered as `client:<id>` on the stand-in, answers
rings after a moment, talks for a lognormal time, hangs up and files the wrap-up; an agent the
hotline took off ready (a missed ring) goes ready again, as a person at the console would.

Nothing here decides what happened: the accounting (`bench.faults.truth`) reads the stand-in's
calls. A caller's own record only says what the caller chose (to hang up, to be called back).
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from standin.live import LiveCall, LiveCalls, Message
from standin.rest import Switchboard

HOTLINE_NUMBER = "+864001234567"
GOOD_ACCOUNTS = ("6222000017", "6222000025", "6222000033")  # active demo accounts
ISSUES = ("3", "6", "9", "11", "51")  # refund, transfer delayed, other, top-up -> agent, login -> agent
POLL_SECONDS = 0.5


@dataclass
class CallerLog:
    """What one caller chose, in monotonic seconds."""

    index: int
    number: str
    sid: str = ""
    placed: float = 0.0
    on_hold: float | None = None  # first heard the hold loop (joined a queue)
    patience: float = 0.0
    wants_callback: bool = False
    gave_up: float | None = None  # hung up because their patience ran out, while still waiting
    asked_callback: float | None = None  # pressed 1 on hold, then confirmed, and the call ended
    bridged: float | None = None  # an agent picked up (as the caller heard it)
    ended: float | None = None
    trail: list[str] = field(default_factory=list)


def lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    """A lognormal draw with this mean."""
    return rng.lognormvariate(math.log(mean) - sigma**2 / 2, sigma)


class Caller(threading.Thread):
    """One caller, from dialling to hanging up."""

    def __init__(
        self, live: LiveCalls, phones: Phones, log: CallerLog, rng: random.Random, callback_after: float
    ) -> None:
        super().__init__(name=f"caller-{log.index}", daemon=True)
        self.live, self.phones, self.log, self.rng = live, phones, log, rng
        self.callback_after = callback_after
        language = rng.choice("1112")  # three in four speak Mandarin
        account = [rng.choice(GOOD_ACCOUNTS), "1"] if rng.random() < 0.7 else ["", "", ""]
        self.steps = [language, *account, *rng.choice(ISSUES)]

    def run(self) -> None:
        """Dial, then act on what the call says until it ends."""
        log = self.log
        log.placed = time.monotonic()
        call = self.live.place(log.number, HOTLINE_NUMBER)
        log.sid = call.call_sid
        after, talking, holding = 0, False, False  # holding: the call stops at a hold turn's Gather
        callback = ""  # "", then "pressed" (1 on hold), "confirmed" (1 for the caller ID) or "refused"
        while True:
            events = call.events.since(after, POLL_SECONDS)
            now = time.monotonic()
            for event in events:
                after = event["n"]
                kind = event["kind"]
                if kind in ("state", "answered", "agent-hung-up", "dialling", "error", "ended"):
                    what = event.get("state", event.get("by", event.get("value", "")))
                    log.trail.append(f"{now - log.placed:6.1f} {kind} {what}")
                if kind == "ended":
                    log.ended = now
                    if callback in ("pressed", "confirmed") and log.gave_up is None and not talking:
                        log.asked_callback = now
                    return
                if kind == "answered":
                    talking, log.bridged = True, log.bridged or now
                elif kind == "agent-hung-up":
                    self._act(call, "hangup")  # no survey: the caller is done
                elif kind == "dialling" and event.get("target") not in ("client", "conference"):
                    self._act(call, "hangup")  # sent to an outside number: not ours to answer
                elif kind == "state":
                    holding = event["state"] == "gathering" and bool(event.get("hold"))
                if kind == "state" and event["state"] == "gathering":
                    if event.get("hold"):
                        log.on_hold = log.on_hold or now
                        if callback in ("pressed", "confirmed"):
                            callback = "refused"  # back on hold: waits on, with their patience
                    elif callback == "pressed":
                        callback = "confirmed"
                        self._act(call, "keys", "1")  # yes, call me back on this number
                    elif self.steps and log.on_hold is None:
                        step = self.steps.pop(0)
                        self._act(call, "keys" if step else "silence", step)
                    else:
                        self._act(call, "silence")  # the reference number: heard, nothing to press
            waiting = log.on_hold is not None and not talking and log.gave_up is None
            waited = now - log.on_hold if waiting and log.on_hold is not None else None  # while waiting
            if waited is not None and holding and log.wants_callback and not callback:
                if waited >= self.callback_after:  # a key is heard during the music too
                    callback, holding = "pressed", False
                    self.phones.carry(log.number)  # the phone stays on for the call back
                    self._act(call, "keys", "1")
            asking = callback in ("pressed", "confirmed")
            if waited is not None and not asking and waited >= log.patience:
                log.gave_up = now
                self._act(call, "hangup")

    def _act(self, call: LiveCall, kind: str, value: str = "") -> None:
        call.inbox.put(Message(kind, value, by="caller"))


@dataclass
class Dialled:
    """A call the hotline placed to a customer, watched on the switchboard (monotonic seconds)."""

    sid: str
    for_call: str  # the CallSid of the caller whose callback it is
    seen: float
    answered: float | None = None
    bridged: float | None = None
    ended: float | None = None
    canceled: bool = False
    trail: list[str] = field(default_factory=list)


NOT_ANSWERED = ("busy", "no-answer", "failed", "canceled")


class Phones(threading.Thread):
    """The customers' phones, and a watch over every call the hotline places to them.

    A customer who asks to be called back keeps their phone on (registered on the stand-in under
    their number, as the terminal phone does): the stand-in's dialler rings it, the customer
    answers after 1 to 3 s, presses 1 for the agent, talks, and hangs up after the agent.
    """

    def __init__(self, switchboard: Switchboard, live: LiveCalls, rng: random.Random) -> None:
        super().__init__(name="phones", daemon=True)
        self.switchboard, self.live, self.rng = switchboard, live, rng
        self.dialled: dict[str, Dialled] = {}
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def carry(self, number: str) -> None:
        """The customer with this number keeps their phone on from now on."""
        self.live.register(number)
        threading.Thread(target=self._phone, args=(number,), name=f"phone-{number[-4:]}", daemon=True).start()

    def run(self) -> None:
        """Watch the switchboard: when each outbound call was placed, answered and ended."""
        while not self.stop.wait(0.25):
            now = time.monotonic()
            for record in self.switchboard.outbound_calls:
                if "/voice/callback/answer" not in (record.url or ""):
                    continue  # an agent's (or supervisor's) leg into a room, not a customer's phone
                with self._lock:
                    d = self.dialled.get(record.sid)
                    if d is None:
                        query = parse_qs(urlsplit(record.url or "").query)
                        d = self.dialled[record.sid] = Dialled(
                            record.sid, (query.get("call") or [""])[0], now
                        )
                if d.ended is not None:
                    continue
                if record.status in ("in-progress", "completed") and d.answered is None:
                    d.answered = now
                if record.status in ("completed", *NOT_ANSWERED):
                    d.ended, d.canceled = now, record.status == "canceled"
                    d.trail.append(record.status)

    def busy(self) -> bool:
        """Whether a call to a customer is still ringing or talking."""
        return any(d.ended is None for d in list(self.dialled.values()))

    def _phone(self, number: str) -> None:
        """Answer each ring to `number` until the benchmark ends."""
        after = 0
        while not self.stop.is_set():
            client = self.live.register(number)  # polling keeps the phone registered
            for event in client.events.since(after, POLL_SECONDS):
                after = event["n"]
                if event["kind"] != "ring":
                    continue
                time.sleep(self.rng.uniform(1.0, 3.0))
                call = self.live.call(event["call"])
                if call is None or client.call is not call:
                    continue  # canceled, or rang out meanwhile
                call.inbox.put(Message("answer", by=number))
                self._talk(call)

    def _talk(self, call: LiveCall) -> None:
        """Press 1 for the agent, talk, hang up after them."""
        after, pressed = 0, False
        while not self.stop.is_set():
            for event in call.events.since(after, POLL_SECONDS):
                after = event["n"]
                kind = event["kind"]
                with self._lock:
                    dialled = self.dialled.get(call.call_sid)
                if dialled is not None and kind in ("state", "answered", "agent-hung-up", "error", "ended"):
                    dialled.trail.append(f"{kind} {event.get('state', event.get('by', ''))}")
                if kind == "ended":
                    return
                if kind == "answered" and dialled is not None:
                    dialled.bridged = dialled.bridged or time.monotonic()
                elif kind == "agent-hung-up":
                    call.inbox.put(Message("hangup"))
                elif kind == "state" and event["state"] == "gathering":
                    call.inbox.put(Message("keys", "1") if not pressed else Message("silence"))
                    pressed = True


class AgentSim(threading.Thread):
    """One agent at a console, with a softphone on the stand-in, until `stop` is set."""

    def __init__(
        self,
        agent_id: str,
        token: str,
        base_url: str,
        live: LiveCalls,
        rng: random.Random,
        talk_mean: float,
        ready_after_wrap_up: bool,
    ) -> None:
        """`ready_after_wrap_up`: the agent says ready once the wrap-up is filed, rather than
        waiting for the hotline to end the wrap-up time."""
        super().__init__(name=f"agent-{agent_id}", daemon=True)
        self.agent_id, self.live, self.rng, self.talk_mean = agent_id, live, rng, talk_mean
        self.ready_after_wrap_up = ready_after_wrap_up
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.stop = threading.Event()
        self.readied = 0  # times the agent set themselves ready again after the hotline took them off
        self.api_errors = 0

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        try:
            resp = self.session.request(method, f"{self.base_url}/api/agent/{path}", json=body, timeout=5)
        except requests.RequestException:
            self.api_errors += 1
            return None
        if resp.status_code >= 400:
            if resp.status_code >= 500:
                self.api_errors += 1
            return None
        return resp.json() if resp.content else {}

    def run(self) -> None:
        """Ready, then answer, talk, hang up and wrap up, beating every 5 s."""
        client = self.live.register(self.agent_id)
        after = len(client.events)
        while self._api("PUT", "state", {"state": "ready"}) is None and not self.stop.is_set():
            time.sleep(1)
        answer_at = hang_up_at = None
        ringing = talking = ""
        next_beat = time.monotonic() + 5
        while not self.stop.is_set():
            client = self.live.register(self.agent_id)  # polling keeps the softphone registered
            now = time.monotonic()
            for event in client.events.since(after, 0.25):
                after = event["n"]
                kind = event["kind"]
                if kind == "ring":
                    ringing, answer_at = event["call"], now + self.rng.uniform(0.3, 1.5)
                elif kind == "connected":
                    talking, hang_up_at = event["call"], now + lognormal(self.rng, self.talk_mean, 0.5)
                    ringing, answer_at = "", None
                elif kind in ("missed", "call-ended"):
                    if kind == "call-ended" and talking:
                        self._api("POST", "call/wrapup", {"disposition": "resolved"})
                        if self.ready_after_wrap_up:
                            self._api("PUT", "state", {"state": "ready"})
                    ringing = talking = ""
                    answer_at = hang_up_at = None
            call = client.call
            if answer_at is not None and now >= answer_at:
                if call is not None and call.call_sid == ringing:
                    call.inbox.put(Message("answer", by=self.agent_id))
                answer_at = None
            if hang_up_at is not None and now >= hang_up_at:
                if call is not None and call.call_sid == talking:
                    call.inbox.put(Message("end", by=self.agent_id))
                hang_up_at = None
            if now >= next_beat:
                next_beat = now + 5
                self._api("POST", "heartbeat")
                me = self._api("GET", "me")
                if (
                    me is not None
                    and me.get("state") in ("not_ready", "offline")
                    and not (ringing or talking)
                ):
                    if self._api("PUT", "state", {"state": "ready"}) is not None:
                        self.readied += 1
        self._api("PUT", "state", {"state": "offline"})
        self.live.unregister(self.agent_id)
