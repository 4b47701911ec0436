"""The stand-in's live calls and the agent consoles registered to answer them.

``LiveCalls`` places a caller's call (or runs one the REST API created), keeps every call
reachable by the control API and the REST API, rings registered consoles, and shows each call
what changes in its conference room (``room_view``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from standin.interpreter import ENDED
from standin.live.call import PLAY_SECONDS, LiveCall
from standin.live.messages import Client, Message
from standin.live.room_view import RoomViews
from standin.rest import Switchboard
from standin.transport import Transport


class LiveCalls:
    """The stand-in's live calls and registered clients; registered on a ``Switchboard``."""

    def __init__(
        self,
        switchboard: Switchboard,
        transport_factory: Callable[[], Transport],
        account_sid: str,
        *,
        speed: float = 1.0,
        default_play_seconds: float = PLAY_SECONDS,
        play_seconds: Mapping[str, float] | None = None,
        drop_status_share: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """``transport_factory`` makes each call's own way to the app (signed as Twilio signs).

        ``drop_status_share`` of the status callbacks are never sent (a lost event, as the fault
        benchmark plays it), drawn from a random generator seeded with ``seed``.
        """
        self.switchboard = switchboard
        self.transport_factory = transport_factory
        self.account_sid = account_sid
        self.speed = speed
        self.default_play_seconds = default_play_seconds
        self.play_seconds = dict(play_seconds or {})
        self.drop_status_share = drop_status_share
        self._drops = random.Random(seed)
        self._lock = threading.Lock()
        self._calls: dict[str, LiveCall] = {}
        self._clients: dict[str, Client] = {}
        # What the REST API does to a room reaches the app at once, from a thread of its own.
        switchboard.conferences.on_pending = self._deliver_rooms
        self.rooms = RoomViews(self._by_sid)
        switchboard.conferences.on_change = self.rooms.changed
        switchboard.conferences.ticks = lambda: time.monotonic() * self.speed  # recordings' durations
        if switchboard.conferences.transport is None:
            switchboard.conferences.transport = transport_factory()

    def _by_sid(self) -> dict[str, LiveCall]:
        with self._lock:
            return dict(self._calls)

    def _deliver_rooms(self) -> None:
        threading.Thread(target=self.switchboard.conferences.deliver, name="rooms", daemon=True).start()

    def place(self, from_: str, to: str, **kwargs: Any) -> LiveCall:
        """A caller dials the hotline: the call starts on its own thread at once."""
        call = LiveCall(
            self.transport_factory(), owner=self, from_=from_, to=to, account_sid=self.account_sid, **kwargs
        )
        return self.run(call, call.serve)

    def run(self, call: LiveCall, body: Callable[[], None]) -> LiveCall:
        """Make a call reachable (control API, REST API) and run ``body`` on a thread of its own."""
        with self._lock:
            self._calls[call.call_sid] = call
        self.switchboard.register(call)
        threading.Thread(target=body, name=f"call-{call.call_sid[-6:]}", daemon=True).start()
        return call

    def hang_up_all(self, seconds: float = 10.0) -> list[str]:
        """Every caller still on the line hangs up, and their calls' threads are let finish (up to
        ``seconds``): a call left running would go on calling the app after its owner is done.
        The calls still not ended by then."""
        with self._lock:
            calls = [call for call in self._calls.values() if call.state not in ENDED]
        for call in calls:
            call.inbox.put(Message("hangup"))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(call.state not in ENDED for call in calls):
            time.sleep(0.02)
        return [call.call_sid for call in calls if call.state not in ENDED]

    def drops_status(self) -> bool:
        """Whether the status callback about to be sent is lost."""
        if self.drop_status_share <= 0:
            return False
        with self._lock:
            return self._drops.random() < self.drop_status_share

    def calls(self) -> list[LiveCall]:
        """Every call placed so far, live or ended, oldest first."""
        with self._lock:
            return list(self._calls.values())

    def on_a_call(self, number: str) -> bool:
        """Whether a phone with this number is talking on a live call (a call to it is then busy)."""
        with self._lock:
            calls = list(self._calls.values())
        return any(
            number in (call.from_, call.to) and call.state != "new" and call.state not in ENDED
            for call in calls
        )

    def call(self, sid: str) -> LiveCall | None:
        """The live (or ended) call with this CallSid."""
        with self._lock:
            return self._calls.get(sid)

    def register(self, identity: str) -> Client:
        """A console registers (or refreshes) as ``client:<identity>``."""
        with self._lock:
            client = self._clients.setdefault(identity, Client(identity))
        client.seen_at = time.monotonic()
        return client

    def unregister(self, identity: str) -> None:
        """A console leaves: it is no longer rung."""
        with self._lock:
            self._clients.pop(identity, None)

    def client(self, identity: str) -> Client | None:
        """The console registered as this identity, if it is there and free to ring."""
        with self._lock:
            client = self._clients.get(identity)
        if client is None or not client.present() or client.call is not None:
            return None
        return client

    def registered(self, identity: str) -> Client | None:
        """The console registered as this identity, busy or not."""
        with self._lock:
            return self._clients.get(identity)
