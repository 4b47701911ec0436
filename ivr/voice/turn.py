"""What one webhook's step works with: the caller's input, the position, the turn's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr.callcenter.accounts import AccountDirectory
from ivr.callcenter.calls import VERIFIED, CallRecord, CallWriter
from ivr.callcenter.routing import QueueDoor
from ivr.jobs import JobQueue
from ivr.urlstate import Position
from ivr.voice import twiml

__all__ = ["VERIFIED", "Input", "Position", "StepServices", "Turn"]


@dataclass
class Input:
    """What the caller did at a Gather: keys, speech, or nothing (a fall-through redirect)."""

    digits: str = ""
    speech: str = ""

    @property
    def empty(self) -> bool:
        """No input at all."""
        return not self.digits and not self.speech


@dataclass
class StepServices:
    """What the engine may ask for besides TwiML; all of it rides on the webhook's write."""

    directory: AccountDirectory
    door: QueueDoor
    jobs: JobQueue


@dataclass
class Turn:
    """One webhook's worth of state: the call as loaded, its pending writes, the document."""

    call: CallRecord
    writer: CallWriter
    now: datetime
    base_url: str
    resp: twiml.Document

    def get(self, name: str) -> str:
        """A call field, seeing this turn's own writes first."""
        if name == "status" and self.writer.status_to is not None:
            return str(self.writer.status_to)
        return self.writer.updates.get(name) or self.call.get(name)

    def merged(self) -> CallRecord:
        """The call record as it will be after this turn's write."""
        moved = {"status": str(self.writer.status_to)} if self.writer.status_to is not None else {}
        return CallRecord(self.call.sid, {**self.call.fields, **self.writer.updates, **moved})
