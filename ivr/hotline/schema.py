"""The shape of the hotline file: what an operator may write, field by field.

Field-level checks live here (pydantic) and in the parts it is made of: `times.py` (opening
hours, planned staffing), `outreach.py` (callbacks, text messages, the numbers reached),
`fields.py` (what they share); checks that need the whole file (a menu target that does not
exist, a prompt missing in one language) live in `checks.py`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StringConstraints, field_validator, model_validator

from ivr.hotline.fields import Digit, Identifier, Locale, Strict, e164, https_link
from ivr.hotline.nodes import KINDS
from ivr.hotline.outreach import CallbackSettings, Messages, Outbound, OutboundLimitSettings
from ivr.hotline.times import STAFFING_STEP_MINUTES, WEEKDAYS, Schedule, Staffing
from ivr.phones import is_valid_e164

# The file's parts, importable from here as the file's shape (their homes: the modules above).
__all__ = [
    "STAFFING_STEP_MINUTES",
    "WEEKDAYS",
    "AccountIds",
    "AfterHours",
    "Agent",
    "CallbackSettings",
    "Department",
    "Directory",
    "Flow",
    "HotlineFile",
    "HotlineSettings",
    "Issue",
    "LanguageChoice",
    "Messages",
    "Node",
    "Option",
    "Outbound",
    "OutboundLimitSettings",
    "Schedule",
    "Staffing",
    "Survey",
    "Wallboard",
]


class HotlineSettings(Strict):
    """Hotline-wide settings."""

    name: str = "OKPay"
    timezone: str = "Asia/Shanghai"
    default_region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "CN"
    overflow_number: str
    max_tries: int = Field(default=3, ge=1, le=5)
    gather_timeout_seconds: int = Field(default=6, ge=2, le=20)
    hold_music_url: str = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
    max_hold_minutes: int = Field(default=30, ge=1, le=240)
    matching: Literal["longest_idle", "fewest_calls"] = "longest_idle"
    ring_timeout_seconds: int = Field(default=20, ge=5, le=60)
    # Call recordings (departments that record) are deleted from Twilio after this many days.
    recording_retention_days: int = Field(default=90, ge=1, le=3650)
    # How a caller meets their agent: a <Dial> to the agent, or a conference room of the call's
    # own that the agent is dialled into after the whisper.
    connect_via: Literal["dial", "conference"] = "dial"
    service_level_seconds: int = Field(default=20, ge=1, le=3600)
    heartbeat_timeout_seconds: int = Field(default=60, ge=10, le=3600)
    announce_every_seconds: int = Field(default=60, ge=15, le=600)
    # A caller on hold keeps their place through a Redis outage this long (music, then the next
    # turn) before being sent to the overflow number; 0 sends them at the first failed turn.
    redis_grace_seconds: int = Field(default=30, ge=0, le=600)
    # One turn of the hold loop at most (music and words): no turn for two of them, Twilio is asked.
    hold_turn_seconds: int = Field(default=90, ge=10, le=900)
    # The event log (joins, answers, abandons, agent states: ivr/callcenter/events.py) keeps this long.
    event_log_days: int = Field(default=8, ge=1, le=400)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("overflow_number")
    @classmethod
    def _e164(cls, value: str) -> str:
        return e164(value)


class LanguageChoice(Strict):
    """A language callers can choose, with the key that chooses it."""

    locale: Locale
    digit: Digit


class Department(Strict):
    """A group of agents with its own queue."""

    names: dict[Locale, str]
    hours: Identifier
    capacity: int = Field(default=500, ge=1)
    hold_music_url: str | None = None
    when_closed: Identifier | None = None  # another department that takes its callers
    wrap_up_seconds: int = Field(default=30, ge=0, le=1800)
    # The conversation with the agent is recorded (calls connected through their conference room:
    # `hotline.connect_via: conference`), under the announcement every caller hears.
    record: bool = False
    overflow_to: Identifier | None = None  # whose agents may also take callers who waited ...
    overflow_after_seconds: int | None = Field(default=None, ge=0)  # ... this long
    staffing: Staffing | None = None  # planned agents by quarter hour: the wait estimate's outlook


class Issue(Strict):
    """Why a caller calls, and where it goes."""

    department: Identifier
    priority: Identifier = "normal"
    verified_priority: Identifier | None = None
    language_departments: dict[Locale, Identifier] = Field(default_factory=dict)
    # Where the caller can help themselves with this issue: the link of the after-call SMS.
    self_service_url: str | None = None

    @field_validator("self_service_url")
    @classmethod
    def _https_link(cls, value: str | None) -> str | None:
        return https_link(value) if value is not None else None


class Option(Strict):
    """One choice of a menu."""

    digit: Digit
    next: Identifier
    label: Identifier | None = None
    issue: Identifier | None = None
    require: Literal["verified"] | None = None
    keywords: dict[Locale, list[str]] = Field(default_factory=dict)


class Node(Strict):
    """One step of the call flow; `type` is one of the kinds in ivr/hotline/nodes.py."""

    type: str
    prompt: Identifier | None = None
    reprompt: Identifier | None = None
    prompts: list[Identifier] = Field(default_factory=list)
    next: Identifier | None = None
    require: Literal["verified"] | None = None
    options: list[Option] = Field(default_factory=list)
    # An `announce` node that says the recording notice may let the caller decline by a key:
    # they hear "press 9 if you do not want this call recorded", and a caller who presses it is
    # not recorded in any room they join (ivr/voice/steps/announce.py). Off when absent.
    decline_recording_key: Annotated[str, StringConstraints(pattern=r"^[0-9*#]$")] | None = None

    @model_validator(mode="after")
    def _decline_on_announce(self) -> Node:
        if self.decline_recording_key is not None and self.type != "announce":
            raise ValueError("decline_recording_key is offered by an 'announce' node only")
        return self

    @field_validator("type")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"Input should be one of {', '.join(repr(k) for k in KINDS)}")
        return value


class Flow(Strict):
    """The call flow: named nodes and where a call starts."""

    start: Identifier
    nodes: dict[Identifier, Node]


class AccountIds(Strict):
    """What a well-formed account identifier looks like."""

    length: int = Field(default=10, ge=4, le=20)
    check_digit: Literal["luhn", "none"] = "luhn"


class Directory(Strict):
    """Where account lookups go."""

    kind: Literal["file", "http"] = "file"
    file: str | None = "demo_accounts.yaml"
    url: str | None = None
    timeout_seconds: float = Field(default=2.0, gt=0, le=5)


class Agent(Strict):
    """A person who takes calls."""

    id: Identifier
    name: str
    departments: dict[Identifier, int] = Field(description="department -> skill level 1..5")
    languages: list[Locale]
    reach: str = Field(description="client:identity, an E.164 number, or a sip: URI")

    @field_validator("departments")
    @classmethod
    def _levels(cls, value: dict[str, int]) -> dict[str, int]:
        for dept, level in value.items():
            if not 1 <= level <= 5:
                raise ValueError(f"skill level of {dept!r} must be 1..5, not {level}")
        return value

    @field_validator("reach")
    @classmethod
    def _reach(cls, value: str) -> str:
        if value.startswith("client:") and re.fullmatch(r"client:[A-Za-z0-9_.-]+", value):
            return value
        if value.startswith("sip:") and re.fullmatch(r"sip:[^@\s]+@[^@\s]+", value):
            return value
        if is_valid_e164(value):
            return value
        raise ValueError(f"{value!r} is not client:NAME, sip:user@host or a valid number in E.164")


class Survey(Strict):
    """The question after the agent hangs up: a score from 1 to 5, then an optional spoken comment."""

    enabled: bool = True
    comment_max_seconds: int = Field(default=60, ge=0, le=300)  # 0: no comment is recorded


class AfterHours(Strict):
    """What a caller whose department is closed may do: book a callback or leave a voicemail."""

    voicemail_max_seconds: int = Field(default=120, ge=10, le=600)
    transcribe: bool = True  # Twilio transcribes the message for the ticket


class Wallboard(Strict):
    """When the supervisors' wallboard marks a department (ivr/web/: the figures turn red)."""

    service_level_target: float = Field(default=0.8, ge=0, le=1)  # marked when under this
    longest_wait_alert_seconds: int = Field(default=120, ge=1)  # marked when a caller waits longer
    abandonment_alert: float = Field(default=0.1, ge=0, le=1)  # marked when today's rate is over this


class HotlineFile(Strict):
    """The whole hotline file."""

    hotline: HotlineSettings
    languages: list[LanguageChoice] = Field(min_length=1)
    hours: dict[Identifier, Schedule]
    holidays: list[date] = Field(default_factory=list)
    priorities: dict[Identifier, Annotated[int, Field(ge=0, le=15)]]  # 0 is served first
    departments: dict[Identifier, Department] = Field(min_length=1)
    issues: dict[Identifier, Issue] = Field(min_length=1)
    account_ids: AccountIds = AccountIds()
    directory: Directory = Directory()
    flow: Flow
    agents: list[Agent] = Field(default_factory=list)
    # Outside numbers agents may transfer callers to, by name. No other number can be dialled
    # from a transfer: an agent's mistake (or a stolen token) must not place toll calls.
    specialist_lines: dict[Identifier, str] = Field(default_factory=dict)
    outbound: Outbound = Outbound()
    messages: Messages | None = None  # without it no text message is offered
    survey: Survey = Survey()
    after_hours: AfterHours = AfterHours()
    callbacks: CallbackSettings = CallbackSettings()
    wallboard: Wallboard = Wallboard()

    def hold_music(self, department: str | None) -> str:
        """What a caller waiting for `department` hears: its own music, else the hotline's."""
        known = self.departments.get(department or "")
        return (known.hold_music_url if known else None) or self.hotline.hold_music_url

    @field_validator("specialist_lines")
    @classmethod
    def _lines_e164(cls, value: dict[str, str]) -> dict[str, str]:
        for name, number in value.items():
            if not is_valid_e164(number):
                raise ValueError(f"{name}: {number!r} is not a valid phone number in E.164 (+8621...)")
        return value
