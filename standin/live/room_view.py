"""What each live call is shown of its conference room, for the terminal phone.

When a room changes, each call in it is shown who else is in it (the caller, an agent's console,
a supervisor), whom it hears and who hears it; a caller who first hears an agent both ways is
``answered`` by them, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from standin.conference import Conference

if TYPE_CHECKING:
    from standin.live.call import LiveCall


class RoomViews:
    """Who each call was last shown in its room, and which callers have talked with an agent."""

    def __init__(self, calls: Callable[[], dict[str, LiveCall]]) -> None:
        """``calls``: the live calls by CallSid, as they are now."""
        self._calls = calls
        self._lock = threading.Lock()
        self._shown: dict[str, list[dict[str, Any]]] = {}  # who each call was last shown in its room
        self._answered: set[str] = set()  # callers who have talked with an agent in their room

    def changed(self, room: Conference) -> None:
        """Each call in the room is shown who else is in it, whom it hears and who hears it, when
        that changes; a caller (not an agent's leg) who first hears an agent is `answered` by them."""
        calls = self._calls()
        present = [p for p in room.participants.values() if p.in_room]
        for me in present:
            call = calls.get(me.call_sid)
            if call is None:
                continue
            parties = []
            for other in present:
                if other is me:
                    continue
                leg = calls.get(other.call_sid)
                phone = other.to or (leg.to if leg is not None else "")
                who = (
                    phone.removeprefix("client:")
                    if phone.startswith("client:")
                    else (phone or other.call_sid)
                )
                parties.append(
                    {
                        "who": who,
                        # A supervisor's leg is labelled so; an agent's (first or consulted) is a
                        # console, a client; the caller's is neither.
                        "role": "supervisor"
                        if other.label == "supervisor"
                        else "agent"
                        if phone.startswith("client:")
                        else "caller",
                        "you_hear": room.hears(me.call_sid, other.call_sid),
                        "hears_you": room.hears(other.call_sid, me.call_sid),
                        "client": phone.startswith("client:"),
                    }
                )
            agent = next(
                (p["who"] for p in parties if p["client"] and p["you_hear"] and p["hears_you"]), None
            )
            with self._lock:
                if self._shown.get(me.call_sid) == parties:
                    continue
                self._shown[me.call_sid] = parties
                answered = agent is not None and me.call_sid not in self._answered
                if answered and not call.to.startswith("client:"):  # a caller, not an agent's leg
                    self._answered.add(me.call_sid)
                else:
                    answered = False
            if answered:
                call.events.add("answered", by=agent)
            call.events.add("room", parties=parties)
