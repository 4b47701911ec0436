"""The state a webhook carries in its (signed) URL: one small frozen dataclass per kind, one codec.

Twilio signs the exact URL it requests, and a caller's position in a flow costs no Redis write
when it rides there. Each kind of state (the flow step's `Position`, the hold loop's `LoopState`,
the callback and after-hours parameters) declares its query fields with `arg(...)`; `to_query()`
writes them in field order and `from_args()` reads them back. Reading never raises: a forged or
garbled value reads as the field's default, numbers are clamped to their bounds and text is cut
to its length, so a URL cannot loop a caller forever or grow a record.

A field is written when it differs from its default, or always (`always=True`), so the same state
always gives the same bytes: the signed URLs stay what they were before this module existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self
from urllib.parse import quote_plus

from ivr.digits import whole_number

# Characters written as they are in a query value (a list of slots is joined with commas).
SAFE = ","
# Each kind's fields with their Arg and default, read from the dataclass once (every webhook
# reads and writes its state: dataclasses.fields() per call was a hold turn's 10 us).
_FIELDS: dict[type, list[tuple[str, Arg, Any]]] = {}


@dataclass(frozen=True)
class Arg:
    """How one field travels: its query key, when it is written, and the bounds it is read in."""

    key: str
    always: bool = False
    low: int = 0
    high: int = 10**18
    length: int = 64


def arg(
    key: str, default: Any, *, always: bool = False, low: int = 0, high: int = 10**18, length: int = 64
) -> Any:
    """A dataclass field carried in the URL under `key` (int, bool or str, by its default's type)."""
    return field(default=default, metadata={"arg": Arg(key, always, low, high, length)})


@dataclass(frozen=True)
class UrlState:
    """Base of every kind of URL state: the one encoder and decoder."""

    @classmethod
    def _fields(cls) -> list[tuple[str, Arg, Any]]:
        found = _FIELDS.get(cls)
        if found is None:
            found = [(f.name, f.metadata["arg"], f.default) for f in fields(cls) if "arg" in f.metadata]
            _FIELDS[cls] = found
        return found

    def pairs(self) -> list[tuple[str, str]]:
        """The (key, value) pairs the URL carries, in field order."""
        out = []
        for name, spec, default in self._fields():
            value = getattr(self, name)
            if not spec.always and value == default:
                continue
            out.append((spec.key, "1" if value is True else "0" if value is False else str(value)))
        return out

    def to_query(self) -> str:
        """The state as a query string (without the `?`); empty when every field is at its default."""
        return "&".join(f"{key}={quote_plus(value, safe=SAFE)}" for key, value in self.pairs())

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Self:
        """The state read from a request's query arguments; anything malformed reads as unset."""
        values: dict[str, Any] = {}
        for name, spec, default in cls._fields():
            raw = args.get(spec.key)
            if raw is None:
                continue
            if isinstance(default, bool):
                values[name] = raw == "1"
            elif isinstance(default, int):
                number = whole_number(raw)
                values[name] = default if number is None else min(max(number, spec.low), spec.high)
            else:
                values[name] = raw[: spec.length]
        return cls(**values)


# -- the kinds of state ----------------------------------------------------------------------


@dataclass(frozen=True)
class Position(UrlState):
    """Where in the flow a Gather's answer belongs: node (in the path), phase, and attempt counts."""

    node: str = ""
    phase: str = arg("phase", "", length=16)
    tries: int = arg("try", 1, always=True, low=1, high=20)
    confirm: int = arg("c", 0, high=20)


@dataclass(frozen=True)
class LoopState(UrlState):
    """The hold loop's memory between turns (see ivr/voice/holdloop.py)."""

    position: int = arg("p", 0)  # the position last announced (0: none yet)
    announced_at: int = arg("t", 0)  # when it was announced (Unix seconds)
    peak_said: bool = arg("k", False)  # the peak-hour message was said
    hint_said: bool = arg("h", False)  # the caller knows keys work on hold
    outage_since: int = arg("g", 0)  # first turn that could not reach Redis (0: none)
    department: str = arg("d", "", length=40)  # the queue the last turn found the caller in


# Back in the hold loop in the middle of a call (from the callback flow, a missed agent, a
# transfer): the caller was told about the keys on their first turn, so the hint is not said again.
HOLD_AGAIN = LoopState(hint_said=True)


@dataclass(frozen=True)
class Tries(UrlState):
    """A prompt asked again: the attempt, and why (after-hours: a wrong key rather than silence)."""

    tries: int = arg("try", 1, always=True, low=1, high=10)
    why: str = arg("why", "", length=16)


@dataclass(frozen=True)
class NumberStep(UrlState):
    """The callback number flow: now or later, the phase, the attempt, and the later hour chosen."""

    mode: str = arg("mode", "now", always=True, length=8)
    phase: str = arg("phase", "", always=True, length=16)
    tries: int = arg("try", 1, always=True, low=1, high=20)
    department: str = arg("department", "", length=40)
    slot: int = arg("slot", 0)

    @property
    def later(self) -> bool:
        """A callback at a later hour (else: keep the place in the queue now)."""
        return self.mode == "later"


@dataclass(frozen=True)
class Slots(UrlState):
    """The later hours offered (Unix seconds, comma-separated) and the attempt at choosing one."""

    department: str = arg("department", "", always=True, length=40)
    slots: str = arg("s", "", length=200)  # at most 8 hours of 10 digits
    tries: int = arg("try", 1, low=1, high=20)


@dataclass(frozen=True)
class Attempt(UrlState):
    """A call placed to a customer for a callback: the original call, the attempt, the agent."""

    call: str = arg("call", "", always=True, length=40)
    attempt: int = arg("attempt", 0, always=True)
    agent: str = arg("agent", "", length=40)


@dataclass(frozen=True)
class CustomerMove(UrlState):
    """A called-back customer transferred by their agent: the original call, the attempt, and
    where they go (a department, else an outside number)."""

    call: str = arg("call", "", always=True, length=40)
    attempt: int = arg("attempt", 0, always=True)
    to: str = arg("to", "", length=40)
    number: str = arg("number", "", length=20)


@dataclass(frozen=True)
class Greeting(UrlState):
    """The greeting of a callback's call, asked again: the original call, the attempt, the try."""

    call: str = arg("call", "", always=True, length=40)
    attempt: int = arg("attempt", 0, always=True)
    tries: int = arg("try", 1, always=True, low=1, high=20)


@dataclass(frozen=True)
class AgentLeg(UrlState):
    """The agent's leg of a connection (a whisper, a Dial action): the call and the agent (or a
    consulted specialist line, `line:<name>`)."""

    call: str = arg("call", "", length=40)
    agent: str = arg("agent", "", always=True, length=48)


@dataclass(frozen=True)
class Survey(UrlState):
    """The survey question: the agent who took the call, and the attempt; asked on the hotline's call
    to a customer it called back, the original call whose record is rated."""

    agent: str = arg("agent", "", always=True, length=40)
    tries: int = arg("try", 1, always=True, low=1, high=20)
    call: str = arg("call", "", length=40)


@dataclass(frozen=True)
class Transfer(UrlState):
    """Where a transferred caller goes: an outside number, else a department."""

    number: str = arg("number", "", length=20)
    to: str = arg("to", "", length=40)


@dataclass(frozen=True)
class Voicemail(UrlState):
    """The ticket a voicemail's transcription belongs to."""

    ref: str = arg("ref", "", always=True, length=20)
