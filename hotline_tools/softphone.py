"""The agent's (or supervisor's) phone on the stand-in for Twilio that `make run` serves: the
console registers as ``client:<identity>``, shows its rings and calls as they come, and answers,
refuses or hangs up."""

from __future__ import annotations

import threading
from collections.abc import Callable

from hotline_tools.agent_api import Json, Write
from standin.control import Control, ControlError

__all__ = ["Softphone", "ring_lines"]


class Softphone:
    """The agent's phone on the stand-in for Twilio: registered as ``client:<identity>``."""

    def __init__(self, control: Control, identity: str = "") -> None:
        self.control, self.identity = control, identity
        self.stop = threading.Event()
        self.lines_of: Callable[[Json], list[str]] = ring_lines  # the console's, once it runs

    def start(self, identity: str, write: Write) -> bool:
        """Register and print rings as they come; False when no stand-in answers."""
        self.identity = self.identity or identity
        try:
            after = self.control.register(self.identity)
        except ControlError as exc:
            write(f"(no phone here: {exc}; the caller's `make call` plays your leg)")
            return False
        write(f"your phone is client:{self.identity} on the stand-in at {self.control.url}")
        threading.Thread(target=self._listen, args=(after, write), name="softphone", daemon=True).start()
        return True

    def _listen(self, after: int, write: Write) -> None:
        """Print the phone's events until stopped."""
        while not self.stop.is_set():
            try:
                events = self.control.client_events(self.identity, after, wait=10)["events"]
            except ControlError as exc:
                if exc.status == 404:  # the stand-in restarted: register again
                    self.control.register(self.identity)
                    after = 0
                self.stop.wait(2)
                continue
            for event in events:
                after = event["n"]
                for line in self.lines_of(event):
                    write(line)

    def act(self, kind: str) -> str:
        """Answer, refuse or hang up; what happened, in words."""
        try:
            self.control.client_act(self.identity, kind)
        except ControlError as exc:
            return f"{kind}: {exc}"
        return {"answer": "picking up...", "busy": "refused", "hangup": "hanging up..."}[kind]

    def close(self) -> None:
        """Stop being rung."""
        self.stop.set()
        try:
            self.control.unregister(self.identity)
        except ControlError:
            pass


def ring_lines(event: Json) -> list[str]:
    """What the agent's phone shows for one of its events."""
    kind = event["kind"]
    if kind == "ring":
        return [f"** PHONE RINGING: {event['caller']} (rings {event['timeout']} s): `answer` or `busy` **"]
    if kind == "whisper":
        return [f"  [whisper] {event['text']}"]
    if kind == "connected":
        return [f"  [talking with {event['caller']}: `hangup` to end the call]"]
    if kind == "missed":
        return ["** missed: nobody answered in time; the hotline takes you off ready **"]
    if kind == "call-ended":
        return [f"  [call ended: {event['why']}]"]
    return []
