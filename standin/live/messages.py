"""What people and the control API exchange with a live call: messages into its inbox, events out.

A ``Message`` is something done to a call (the caller's keys, an agent console's answer, a REST
update); ``Events`` is what a call or a console publishes, read by long polling; a ``Client`` is
a registered agent console (``client:<identity>``) with the call ringing or bridged to it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from standin.live.call import LiveCall

CLIENT_SILENT_SECONDS = 60.0  # a console that has not polled for this long is not registered
CALLER_KINDS = frozenset({"keys", "speech", "silence", "record"})
DIALLED_KINDS = frozenset({"answer", "busy", "no-answer", "failed", "end"})


@dataclass(frozen=True)
class Message:
    """Something done to a live call: ``kind`` (keys, speech, silence, record, hangup, update,
    answer, busy, no-answer, failed, end), a value (the keys, the words) and who did it."""

    kind: str
    value: str = ""
    by: str = "caller"


class Events:
    """An append-only list of events that readers can wait on (long polling)."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def add(self, kind: str, **fields: Any) -> None:
        """Publish one event; its ``n`` counts from 1."""
        with self._changed:
            self._items.append({"n": len(self._items) + 1, "kind": kind, **fields})
            self._changed.notify_all()

    def since(self, after: int, wait: float = 0.0) -> list[dict[str, Any]]:
        """The events after number ``after``, waiting up to ``wait`` s for one if there are none."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._items) > after, timeout=max(wait, 0.0))
            return list(self._items[after:])

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)


class Client:
    """A registered ``client:<identity>`` (an agent console): its events and the call ringing it."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.events = Events()
        self.call: LiveCall | None = None  # the call ringing it, or bridged to it
        self.seen_at = time.monotonic()

    def present(self) -> bool:
        """Whether the console polled recently enough to be rung."""
        return time.monotonic() - self.seen_at < CLIENT_SILENT_SECONDS
