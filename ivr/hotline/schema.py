"""The shape of the hotline file: what an operator may write, field by field.

Field-level checks live here (pydantic); checks that need the whole file (a menu target that
does not exist, a prompt missing in one language) live in `checks.py`.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ivr.hotline.nodes import KINDS
from ivr.phones import is_valid_e164

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Digit = Annotated[str, StringConstraints(pattern=r"^[1-9#]$")]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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
        if not is_valid_e164(value):
            raise ValueError(f"{value!r} is not a valid phone number in E.164 (+8621...)")
        return value


class LanguageChoice(Strict):
    """A language callers can choose, with the key that chooses it."""

    locale: Locale
    digit: Digit


class DayRange(Strict):
    """Opening time and closing time on one day (closing may be 24:00)."""

    opens: time
    closes: time | None  # None means midnight at the end of the day


def parse_range(text: str) -> DayRange:
    """'09:00-21:00' -> DayRange; raises ValueError with the reason."""
    match = _RANGE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a range like 09:00-21:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} has an impossible time")
    opens = time(h1, m1)
    closes = None if h2 == 24 else time(h2, m2)
    if closes is not None and closes <= opens:
        raise ValueError(f"{text!r} closes before it opens")
    return DayRange(opens=opens, closes=closes)


class Schedule(Strict):
    """Opening hours per weekday; a day that is absent is closed.

    Written in the file as "24/7", or as a mapping of days ("mon", "mon-fri", "sat,sun") to
    ranges ("09:00-21:00").
    """

    always_open: bool = False
    days: dict[str, DayRange] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_file(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip() == "24/7":
                return {"always_open": True}
            raise ValueError(f'{value!r}: write "24/7" or a mapping of days to hours')
        if not isinstance(value, dict) or "days" in value or "always_open" in value:
            return value
        days: dict[str, DayRange] = {}
        for spec, hours in value.items():
            for day in expand_days(str(spec)):
                if day in days:
                    raise ValueError(f"{day} is given twice")
                days[day] = parse_range(str(hours))
        return {"days": days}


def expand_days(spec: str) -> list[str]:
    """'mon-fri' -> ['mon', ..., 'fri']; 'sat,sun' -> ['sat', 'sun']."""
    out: list[str] = []
    for part in spec.replace(" ", "").split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            if first not in WEEKDAYS or last not in WEEKDAYS:
                raise ValueError(f"{spec!r}: days are written mon..sun")
            i, j = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if j < i:
                raise ValueError(f"{spec!r}: the range runs backwards")
            out.extend(WEEKDAYS[i : j + 1])
        elif part in WEEKDAYS:
            out.append(part)
        else:
            raise ValueError(f"{spec!r}: days are written mon..sun")
    return out


STAFFING_STEP_MINUTES = 15  # planned staffing changes on the quarter hour at the finest
_STEPS_A_DAY = 24 * 60 // STAFFING_STEP_MINUTES


class Staffing(Strict):
    """Planned agents by quarter hour of the week: `agents[day][step]`, None where nothing is planned.

    Written in the file as a mapping of days ("mon-fri") to time ranges and head counts, the
    ranges on whole hours, half hours or quarter hours:
    `mon-fri: {"09:00-12:00": 8, "12:00-12:30": 10, "12:30-21:00": 12}`. The wait estimate reads
    when agents arrive or leave from it; a plan that lags demand by half an hour is written so.
    """

    agents: dict[str, list[int | None]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_file(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError('write a mapping of days to hours and agents: mon-fri: {"09:00-18:00": 10}')
        if "agents" in value:
            hourly = {  # an hour a slot (an earlier form): each hour is four quarter hours
                day: [count for count in steps for _ in range(4)] if len(steps) == 24 else steps
                for day, steps in dict(value["agents"]).items()
            }
            return {"agents": hourly}
        agents: dict[str, list[int | None]] = {}
        step = STAFFING_STEP_MINUTES
        for spec, ranges in value.items():
            if not isinstance(ranges, dict):
                raise ValueError(f'{spec}: write hours and agents: {{"09:00-18:00": 10}}')
            for day in expand_days(str(spec)):
                steps = agents.setdefault(day, [None] * _STEPS_A_DAY)
                for text, count in ranges.items():
                    span = parse_range(str(text))
                    opens = span.opens.hour * 60 + span.opens.minute
                    closes = 24 * 60 if span.closes is None else span.closes.hour * 60 + span.closes.minute
                    if opens % step or closes % step:
                        raise ValueError(f"{spec} {text!r}: planned staffing changes on the quarter hour")
                    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 10000:
                        raise ValueError(f"{spec} {text!r}: {count!r} is not a number of agents (0..10000)")
                    for slot in range(opens // step, closes // step):
                        if steps[slot] is not None:
                            minute = slot * step
                            raise ValueError(f"{day} {minute // 60:02d}:{minute % 60:02d} is planned twice")
                        steps[slot] = count
        return {"agents": agents}

    def at_minute(self, weekday: int, minute: int) -> int | None:
        """Planned agents on `weekday` (0 = Monday) at `minute` of the day, or None when nothing is."""
        steps = self.agents.get(WEEKDAYS[weekday])
        return steps[min(max(minute, 0), 24 * 60 - 1) // STAFFING_STEP_MINUTES] if steps else None

    def at(self, weekday: int, hour: int) -> int | None:
        """Planned agents on `weekday` at `hour`: the mean over its quarter hours (rounded), or None."""
        planned = [self.at_minute(weekday, hour * 60 + q * STAFFING_STEP_MINUTES) for q in range(4)]
        counts = [count for count in planned if count is not None]
        return round(sum(counts) / len(counts)) if counts else None


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
        return _https(value) if value is not None else None


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


class OutboundLimitSettings(Strict):
    """How often the hotline may call back or text: per number, across the hotline, per hour."""

    callbacks_per_number_per_day: int = Field(default=3, ge=1, le=50)
    callbacks_per_minute: int = Field(default=30, ge=1, le=10000)
    calls_per_hour: int = Field(default=600, ge=1, le=100000)  # every outbound call, retries too
    messages_per_number_per_day: int = Field(default=5, ge=1, le=50)
    messages_per_minute: int = Field(default=60, ge=1, le=10000)
    messages_per_hour: int = Field(default=1200, ge=1, le=100000)


NumberType = Literal["mobile", "fixed_line"]
NUMBER_TYPES: tuple[NumberType, ...] = ("mobile", "fixed_line")


class Outbound(Strict):
    """Which numbers callbacks and messages may go to, and how often."""

    countries: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] = Field(
        default_factory=lambda: ["CN"], min_length=1
    )
    number_types: list[NumberType] = Field(default_factory=lambda: list(NUMBER_TYPES), min_length=1)
    limits: OutboundLimitSettings = OutboundLimitSettings()

    @field_validator("countries")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        unknown = [code for code in value if code not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"not a country phonenumbers knows: {', '.join(unknown)}")
        return value


def _https(value: str) -> str:
    """A link sent to a customer's phone must be https (a text message is easy to spoof)."""
    if not re.fullmatch(r"https://[^\s/]+(/\S*)?", value):
        raise ValueError(f"{value!r} is not an https:// link")
    return value


class Messages(Strict):
    """The text message a caller may ask for: reference number, summary, self-service link."""

    offer_sms: bool = True  # asked with the reference number, only of numbers a message may reach
    sender: str  # the hotline's SMS-capable number (E.164), the message's From
    help_url: str  # the self-service link for issues without their own self_service_url
    # Seconds between tries when Twilio does not take the message (one retry per entry).
    retry_seconds: list[Annotated[int, Field(ge=0, le=86400)]] = Field(
        default_factory=lambda: [30, 120, 600], max_length=10
    )

    @field_validator("sender")
    @classmethod
    def _sender_e164(cls, value: str) -> str:
        if not is_valid_e164(value):
            raise ValueError(f"{value!r} is not a valid phone number in E.164 (+8621...)")
        return value

    @field_validator("help_url")
    @classmethod
    def _help_https(cls, value: str) -> str:
        return _https(value)


class Survey(Strict):
    """The question after the agent hangs up: a score from 1 to 5, then an optional spoken comment."""

    enabled: bool = True
    comment_max_seconds: int = Field(default=60, ge=0, le=300)  # 0: no comment is recorded


class AfterHours(Strict):
    """What a caller whose department is closed may do: book a callback or leave a voicemail."""

    voicemail_max_seconds: int = Field(default=120, ge=10, le=600)
    transcribe: bool = True  # Twilio transcribes the message for the ticket


class CallbackSettings(Strict):
    """Calling waiting callers back at their place in the queue, or at a quieter hour."""

    enabled: bool = True
    # The offer is made on its own when the expected wait reaches this, or the position this.
    offer_after_wait_seconds: int = Field(default=600, ge=0, le=86400)
    offer_from_position: int = Field(default=10, ge=1, le=100000)
    max_attempts: int = Field(default=3, ge=1, le=10)  # customer not reached this often: failed
    retry_backoff_seconds: list[Annotated[int, Field(ge=10, le=86400)]] = Field(
        default_factory=lambda: [120, 600], min_length=1
    )  # before the 2nd, 3rd... attempt (the last one repeats)
    keep_place_minutes: int = Field(default=10, ge=0, le=1440)  # a caller who hung up gets it back
    ring_timeout_seconds: int = Field(default=30, ge=5, le=120)  # the customer's phone rings this long
    caller_id: str | None = None  # shown to the customer; default: the number they called
    schedule_slots: int = Field(default=3, ge=1, le=8)  # later hours offered, quietest first
    # Besides the caller ID and the account's registered mobile, the only numbers a caller may
    # key in to be called back at (a branch's desk, say): anything else would let anyone make
    # the hotline ring a stranger or pump calls to a costly exchange.
    allowed_numbers: list[str] = Field(default_factory=list, max_length=1000)

    @field_validator("caller_id")
    @classmethod
    def _caller_id(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_e164(value):
            raise ValueError(f"{value!r} is not a valid phone number in E.164 (+8621...)")
        return value

    @field_validator("allowed_numbers")
    @classmethod
    def _allowed_e164(cls, value: list[str]) -> list[str]:
        wrong = [number for number in value if not is_valid_e164(number)]
        if wrong:
            raise ValueError(f"not valid phone numbers in E.164 (+8621...): {', '.join(map(repr, wrong))}")
        return value


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
