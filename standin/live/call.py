"""One live call, run by the stand-in on a thread of its own in real (or sped-up) time.

Time passes as on a phone line, scaled by the owner's ``speed``: a ``<Play>`` lasts
``play_seconds`` (60 s of audio unless its length is known), a ``<Pause>`` its length, a
``<Gather>`` waits its timeout after its prompts, a ``<Dial>`` rings for its timeout, each
divided by ``speed``. ``<Say>`` takes no time. Anything in the inbox that the call cannot take
in its current state is dropped (keys outside a Gather are not heard, as on Twilio), except a
REST update or a hang-up, which interrupt whatever the call is doing at once.
"""

from __future__ import annotations

import queue
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from standin.errors import ApplicationError, CallbackError
from standin.interpreter import ENDED
from standin.live.messages import DIALLED_KINDS, Client, Events, Message
from standin.phone import Call, PendingUpdate
from standin.transport import Transport
from standin.webhook import dial_targets

if TYPE_CHECKING:
    from standin.live.calls import LiveCalls

PLAY_SECONDS = 60.0  # a Play whose audio length is not known counts as a minute of music
IDLE_LOOP_SECONDS = 1.0  # a chain of documents with no audio in it still takes a moment
ROOM_LOOK_SECONDS = 1.0  # real seconds between looks at a room the call talks in


class _Interrupted(Exception):
    """A hang-up or a REST update arrived while the call was playing audio."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.kind)
        self.message = message


class LiveCall(Call):
    """A call the stand-in runs by itself on its own thread, in (scaled) real time."""

    def __init__(self, transport: Transport, *, owner: LiveCalls, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        self.owner = owner
        self.inbox: queue.Queue[Message] = queue.Queue()
        self.events = Events()
        self.client: Client | None = None  # the console this call rings or talks to
        self._shown: dict[str, Any] = {"heard": 0, "dialed": 0, "state": None}
        self._thread: int | None = None  # the call's own thread, once it serves
        self._music_until: float | None = None  # when the room's music now playing ends (monotonic)

    # -- time --------------------------------------------------------------------------------

    def _ticks(self) -> float:
        """Simulated seconds: durations sent to the app (CallDuration...) follow the fast clock."""
        return time.monotonic() * self.owner.speed

    def _next(self, seconds: float | None) -> Message | None:
        """The next message within ``seconds`` of simulated time (None: wait for one)."""
        forever = seconds is None or seconds == float("inf")
        try:
            return self.inbox.get(timeout=None if forever else max(seconds or 0, 0) / self.owner.speed)
        except queue.Empty:
            return None

    def _listen(self, seconds: float, take: Callable[[Message], bool]) -> Message | None:
        """Wait up to ``seconds`` (simulated) for a message ``take`` accepts; drop the others."""
        deadline = time.monotonic() + seconds / self.owner.speed
        while True:
            left = (deadline - time.monotonic()) * self.owner.speed
            message = self._next(left) if left > 0 else None
            if message is None or take(message):
                return message
            self.events.add("ignored", what=message.kind, state=self.state)

    def _hold(self, seconds: float) -> None:
        """Audio plays for ``seconds``: only a hang-up or a REST update cuts it short."""
        self._flush()
        message = self._listen(seconds, lambda m: m.kind in ("hangup", "update"))
        if message is not None:
            raise _Interrupted(message)
        self._budget = self.max_redirects  # time passed: a hold loop is not a runaway redirect loop

    def _play_length(self, verb: ET.Element) -> float:
        """How long one pass of a Play or Pause lasts, in simulated seconds."""
        if verb.tag == "Pause":
            return float(verb.get("length", "1"))
        if verb.get("digits"):
            return 0.5 * len(verb.get("digits", ""))
        return self.owner.play_seconds.get((verb.text or "").strip(), self.owner.default_play_seconds)

    def _verb_play(self, verb: ET.Element) -> None:
        super()._verb_play(verb)
        if self.state == "running":  # loop="0" stops the document instead: see _step
            self._hold(self._play_length(verb) * max(int(verb.get("loop", "1")), 1))

    def _verb_pause(self, verb: ET.Element) -> None:
        super()._verb_pause(verb)
        self._hold(self._play_length(verb))

    def _notify(self, url: str, method: str, params: dict[str, str]) -> str | None:
        """Send a callback; a status callback may be lost on the way (``drop_status_share``)."""
        if url == self.status_callback and self.owner.drops_status():
            self.events.add("status-dropped", url=url)
            return None
        return super()._notify(url, method, params)

    def _record_update(self, update: PendingUpdate) -> None:
        """A REST update is recorded, and wakes the call's thread at once."""
        super()._record_update(update)
        self.inbox.put(Message("update", by="rest"))

    # -- events --------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Publish what the caller heard, whom the call dials and its state, since the last time."""
        for item in self.heard[self._shown["heard"] :]:
            self.events.add(item.kind, text=item.text, language=item.language)
        for target in self.dialed[self._shown["dialed"] :]:
            self.events.add("dialling", target=target["kind"], value=target["value"])
        self._shown["heard"], self._shown["dialed"] = len(self.heard), len(self.dialed)
        # Each stop is an event, even in the same state: a new Gather after a Gather.
        stop = (self.state, id(self._waiting))
        if stop != self._shown["state"] and self.state != "running" and self.state not in ENDED:
            self._shown["state"] = stop
            fields = (
                {"input": self._waiting.get("input", "dtmf"), "hold": self.on_hold}
                if self.state == "gathering" and self._waiting is not None
                else {}
            )
            self.events.add("state", state=self.state, **fields)

    # -- the call's thread ---------------------------------------------------------------------

    def serve(self) -> None:
        """Run the call until it ends (the body of its thread)."""
        self._thread = threading.get_ident()
        try:
            self._guarded(self.start)
            while self.state not in ENDED:
                self._flush()
                self._guarded(self._step)
        except (ApplicationError, CallbackError) as exc:
            self._flush()
            self.events.add("error", text=str(exc))
        finally:
            self._flush()
            # A console's own leg (in a room) ends when the hotline takes it out, not only on a
            # caller's hang-up: say no more than that it ended.
            ended = "the call ended" if self.to.startswith("client:") else "the caller hung up"
            self._release(ended if self.state in ENDED else "the call failed")
            self.events.add("ended", state=self.state)

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run a step; a hang-up or REST update that interrupted its audio is taken next."""
        while True:
            try:
                action()
                return
            except _Interrupted as stop:
                self.state = "looping"  # left in the middle of a document
                self._waiting = self._endless = self._pending = None
                if stop.message.kind == "hangup":
                    action = self._hang_up
                else:
                    action = self._take_update

    # -- rooms ---------------------------------------------------------------------------------

    def leave_conference(self) -> None:
        """The room let the call go: its own thread goes on with the Dial's action."""
        if threading.get_ident() == self._thread:
            super().leave_conference()
        else:
            self.inbox.put(Message("room", by="twilio"))

    def _deliver_room_events(self) -> None:
        """A room's callback the app refused is shown, and the call goes on (as on Twilio)."""
        if self.conferences is None:
            return
        for problem in self.conferences.deliver():
            self.events.add("error", text=problem)

    def _in_conference(self) -> None:
        """In a room: its music while waiting or held, until the call leaves or is let go."""
        rooms = self.conferences
        found = rooms.of_call(self.call_sid) if rooms is not None else None
        music = found is not None and (found[1].hold or found[0].status == "init")
        # The room changes from other threads (the REST API holds the caller, an agent joins):
        # the call looks again every real second, so what it hears then (the hold music, fetched
        # by the rooms' own thread) is shown at once, and its music repeats when a play is over.
        now = time.monotonic()
        if not music:
            self._music_until = None
        elif self._music_until is None:
            self._music_until = now + self.owner.default_play_seconds / self.owner.speed
        left = (self._music_until - now) * self.owner.speed if self._music_until is not None else float("inf")
        seconds = min(ROOM_LOOK_SECONDS * self.owner.speed, max(left, 0.0))
        console = self.client.identity if self.client is not None else None

        def take(m: Message) -> bool:
            return m.kind in ("hangup", "update", "room") or (m.kind == "end" and m.by == console)

        message = self._listen(seconds, take)
        if message is not None and message.kind == "room":
            super().leave_conference()
        elif message is not None and message.kind == "end":
            self._hang_up()  # the console on this leg hung up
        elif message is None and self._music_until is not None and time.monotonic() >= self._music_until:
            self._music_until = None
            self.continue_loop()  # the play is over: the music's document again
        elif message is None:
            self._deliver_room_events()  # only a look
        else:
            self._take(message, lambda m: None)

    def _take_update(self) -> None:
        """Leave what the call does for the REST update's document."""
        if self.client is not None and self.state == "dialing":
            self._release("the caller was moved elsewhere")
        self.take_pending()

    def _step(self) -> None:
        """Wait for what the call's state waits for, then act on it."""
        state = self.state
        if state == "gathering":
            self._gather()
        elif state == "recording":
            record = self._expect("recording")
            message = self._listen(float(record.get("timeout", "5")), self._for_caller("record"))
            self._take(message, lambda m: self.record(_recorded_seconds(m.value)))
        elif state == "dialing":
            self._dialing()
        elif state == "conference":
            self._in_conference()
        elif self._endless is not None:  # a loop="0" Play or Say
            seconds = self._play_length(self._endless) if self._endless.tag == "Play" else IDLE_LOOP_SECONDS
            message = self._listen(seconds, lambda m: m.kind in ("hangup", "update"))
            self._take(message, lambda m: None, otherwise=self.continue_loop)
        else:  # a chain of documents that ran out of its budget, or a queue's default music
            wait = IDLE_LOOP_SECONDS if self._pending is not None else float("inf")
            message = self._listen(wait, lambda m: m.kind in ("hangup", "update"))
            self._take(message, lambda m: None, otherwise=self.continue_loop)

    def _for_caller(self, *kinds: str) -> Callable[[Message], bool]:
        return lambda m: m.kind in ("hangup", "update", *kinds)

    def _take(
        self,
        message: Message | None,
        act: Callable[[Message], None],
        otherwise: Callable[[], None] | None = None,
    ) -> None:
        """Hang up, take a REST update, or ``act``; ``otherwise`` (silence) when nothing came."""
        if message is None:
            (otherwise or self.silence)()
        elif message.kind == "hangup":
            self._hang_up()
        elif message.kind == "update":
            self._take_update()
        else:
            act(message)

    def _gather(self) -> None:
        """Prompts, then the timeout: keys, speech, or silence when it runs out."""
        gather = self._expect("gathering")
        prompts = sum(self._play_length(p) for p in gather if p.tag in ("Play", "Pause"))
        seconds = prompts + float(gather.get("timeout", "5"))
        message = self._listen(seconds, self._for_caller("keys", "speech", "silence"))

        def act(m: Message) -> None:
            if m.kind == "keys":
                self.press(m.value)
            elif m.kind == "speech":
                self.speak(m.value)
            else:
                self.silence()

        self._take(message, act)

    def _dialing(self) -> None:
        """Ring the dialled party for the Dial's timeout; bridge if they answer."""
        dial = self._expect("dialing")
        target = dial_targets(dial)[0]
        client = self.owner.client(target["value"]) if target["kind"] == "client" else None
        if client is not None:
            self.client = client
            client.call = self
            client.events.add(
                "ring", call=self.call_sid, caller=self.from_, timeout=dial.get("timeout", "30")
            )
        # A registered console answers for its agent; any other party is played by the caller.
        answers = DIALLED_KINDS if client is None else frozenset({"answer", "busy", "end"})
        ringer = client.identity if client is not None else "caller"

        def from_party(m: Message) -> bool:
            return m.kind in ("hangup", "update") or (m.kind in answers and m.by == ringer)

        message = self._listen(float(dial.get("timeout", "30")), from_party)
        if message is None:
            self._release("nobody answered in time", missed=True)
            self.dial_result("no-answer")
        elif message.kind in ("hangup", "update"):
            self._dial_started_at = self._ticks()  # not answered: the Dial action hears 0 s talked
            self._take(message, lambda m: None)
        elif message.kind != "answer":
            # A softphone that hangs up a ringing call rejects it: the caller's side sees busy.
            status = "busy" if client is not None or message.kind == "busy" else message.kind
            status = "completed" if status == "end" else status
            self._release(f"the line was {status}")
            self.dial_result(status)
        else:
            self._bridge(ringer)

    def _bridge(self, party: str) -> None:
        """The dialled party picked up: the whisper for them, then the two talk until one hangs up."""
        whisper = self.answer()
        self._dial_started_at = self._ticks()  # DialCallDuration counts from the answer
        if self.client is not None:
            for item in whisper:
                self.client.events.add("whisper", text=item.text, language=item.language)
        if self.whisper_hung_up:
            self._release("the hotline ended the call before the bridge")
            self.dial_result("completed", 0)
            return
        if self.client is not None:
            self.client.events.add("connected", call=self.call_sid, caller=self.from_)
        self.events.add("answered", by=party)
        message = self._listen(
            float("inf"), lambda m: m.kind in ("hangup", "update") or (m.kind == "end" and m.by == party)
        )
        if message is not None and message.kind == "end":
            talked = int(self._ticks() - self._dial_started_at)
            self.events.add("agent-hung-up", by=party)
            self._release("you hung up")
            self.dial_result("completed", max(talked, 1))
        else:
            self._take(message, lambda m: None)

    def _release(self, why: str, *, missed: bool = False) -> None:
        """The console rung by (or talking with) this call hears that it is over."""
        client, self.client = self.client, None
        if client is not None and client.call is self:
            client.call = None
            client.events.add("missed" if missed else "call-ended", call=self.call_sid, why=why)


def _recorded_seconds(value: str) -> int:
    """How long a caller's `record` action says they spoke (5 s when it does not say)."""
    return int(value) if value.isascii() and value.isdigit() else 5
