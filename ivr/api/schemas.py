"""What the API reads and writes, as pydantic models: views validate and build bodies with them,
and the OpenAPI document's schemas are generated from the same models, so the two cannot drift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ivr.callcenter.agents import STATES
from ivr.callcenter.notes import NOTES_MAX_CHARS, Disposition
from ivr.phones import is_valid_e164

AgentState = Literal["offline", "ready", "reserved", "ringing", "on_call", "wrap_up", "not_ready"]
assert set(get_args(AgentState)) == set(STATES)  # the API's states are the agents' states
# An agent's state (a plain string in the domain and in Redis) as the API's type names it.
API_STATE: dict[str, AgentState] = {state: state for state in get_args(AgentState)}


class Body(BaseModel):
    """A request body: unknown fields are errors, so a misspelt field is never ignored."""

    model_config = ConfigDict(extra="forbid")


class StateChange(Body):
    """The state an agent chooses."""

    state: Literal["ready", "not_ready", "offline"]
    reason: str = Field(default="", max_length=80, validate_default=True, description="needed with not_ready")

    @field_validator("reason")
    @classmethod
    def _reason_with_not_ready(cls, value: str, info: ValidationInfo) -> str:
        """A supervisor should see why an agent is not taking calls."""
        if info.data.get("state") == "not_ready" and not value.strip():
            raise ValueError("say why the agent is not ready (e.g. break, training)")
        return value.strip()


class TransferRequest(Body):
    """Where the agent sends their caller: a department, or an outside number (give one)."""

    department: str | None = None
    number: str | None = Field(default=None, description="E.164, e.g. +862150001234")
    notes: str = Field(default="", max_length=NOTES_MAX_CHARS, description="travel with the call")
    ref: str | None = Field(default=None, description="the call the console shows; must be the agent's")

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        """The same rule as the hotline file's numbers."""
        if value is not None and not is_valid_e164(value):
            raise ValueError(f"{value!r} is not a valid phone number in E.164 (+86...)")
        return value


class WrapUpRequest(Body):
    """Wrap-up notes and the call's disposition."""

    disposition: Disposition
    notes: str = Field(default="", max_length=NOTES_MAX_CHARS)
    ref: str | None = Field(default=None, description="the call the console shows; must be the agent's")


class Error(BaseModel):
    """Every error under /api."""

    error: str
    field: str | None = Field(default=None, description="the request body field at fault (400)")


class AgentMe(BaseModel):
    """The agent's own state."""

    id: str
    name: str
    state: AgentState
    since: datetime
    seconds_in_state: int
    reason: str
    departments: dict[str, int]
    languages: list[str]
    call: str | None = Field(description="reference number of the current or last call")


class StateChanged(BaseModel):
    """The state the agent is now in."""

    state: AgentState
    previous: AgentState
    since: datetime


class MonitorRequest(Body):
    """How the supervisor joins the call, and their phone (needed the first time only)."""

    mode: Literal["listen", "coach", "barge"] = Field(
        description="listen: muted; coach: heard by the agent only; barge: heard by both"
    )
    reach: str = Field(
        default="", max_length=200, description="client:<identity>, +number (E.164) or sip:..."
    )


class Monitored(BaseModel):
    """A supervisor on a call (mode null: they left)."""

    ref: str
    supervisor: str
    mode: Literal["listen", "coach", "barge"] | None


class AgentForced(BaseModel):
    """The state a supervisor set, and what happened to the agent's caller."""

    id: str
    state: AgentState
    previous: AgentState
    since: datetime
    caller: Literal["requeued", "callback_requeued", "finished"] | None = Field(
        description="requeued: back at their place in the queue; callback_requeued: a callback's place "
        "back in the queue; finished: the agent's part of the call ended; null: no caller"
    )
    call: str | None = Field(description="reference number of the call the agent was freed from")


class HeartbeatAck(BaseModel):
    """The heartbeat was recorded."""

    state: AgentState
    timeout_seconds: int = Field(description="silence this long takes the agent offline")


class Note(BaseModel):
    """One note on a call."""

    at: datetime
    agent: str
    kind: Literal["transfer", "wrapup"]
    text: str
    to: str | None = None
    disposition: Disposition | None = None


class ScreenPop(BaseModel):
    """What the agent's console shows about a call."""

    ref: str
    status: str
    department: str | None
    issue: str | None
    priority: str | None
    language: str | None
    account: str | None = Field(description="masked: only the last four characters show")
    verified: bool
    verification: Literal["caller_id", "second_factor"] | None
    waited_seconds: int
    previous_calls_7d: int = Field(description="calls from the same number in the 7 days before")
    transfers: int
    notes: list[Note]
    disposition: Disposition | None
    on_hold: bool = Field(default=False, description="the agent put the caller on hold (music)")
    consulting: str | None = Field(default=None, description="the agent being consulted, if any")
    consult_state: Literal["ringing", "talking"] | None = None
    consulted_by: str | None = Field(
        default=None, description="during a consultation, the agent who consults (and has the caller)"
    )
    supervisor: str | None = Field(default=None, description="a supervisor on the call, if any")
    supervisor_mode: Literal["listen", "coach", "barge"] | None = None
    recording: Literal["in-progress", "paused", "completed", "absent", "failed"] | None = Field(
        default=None, description="the conversation's recording, if the department records"
    )
    recording_declined: bool = Field(
        default=False, description="the caller pressed the key at the notice: this call is never recorded"
    )


class HoldRequest(Body):
    """Hold the caller (they hear music, and neither side hears the other) or take them back."""

    hold: bool
    ref: str | None = Field(default=None, description="the call the console shows; must be the agent's")


class ConsultRequest(Body):
    """Whom to consult before handing the caller over: a named agent, or a department's (one)."""

    agent: str | None = Field(default=None, description="an agent's id")
    department: str | None = Field(
        default=None, description="its longest-idle ready agent who speaks the caller's language"
    )
    line: str | None = Field(
        default=None,
        description="a specialist line's name (hotline.yaml `specialist_lines`): its number is dialled",
    )
    ref: str | None = Field(default=None, description="the call the console shows; must be the agent's")


class ConsultResult(BaseModel):
    """A consultation: ringing, talking, completed (the consulted agent has the caller) or canceled."""

    ref: str
    agent: str = Field(description="the consulted agent's id, or `line:<name>` for a specialist line")
    state: Literal["ringing", "talking", "completed", "canceled"]


class RecordingRequest(Body):
    """Pause the recording while the caller says a card number or a password, then resume it."""

    paused: bool


class RecordingState(BaseModel):
    """The conversation's recording, as asked."""

    ref: str
    recording: Literal["in-progress", "paused"]


class RecordingInfo(BaseModel):
    """A call's recording, as its status callback reported it."""

    sid: str
    status: str
    url: str
    duration_seconds: int


class RecordingsReport(BaseModel):
    """The recordings of one call."""

    ref: str
    recordings: list[RecordingInfo]


class HoldResult(BaseModel):
    """The caller's hold, as asked."""

    ref: str
    on_hold: bool


class TransferResult(BaseModel):
    """A transfer that was made; the agent is now in wrap-up."""

    ref: str
    department: str | None
    number: str | None
    redirected: bool = Field(description="false: the caller moves on when the agent hangs up")
    agent_state: AgentState


class WrapUpResult(BaseModel):
    """The wrap-up was filed."""

    ref: str
    disposition: Disposition
    notes: int = Field(description="entries in the call's notes: every wrap-up is one, with or without words")
    your_notes: int = Field(
        description="notes with words the agent wrote on the call (transfers and wrap-ups)"
    )


class CallbackStats(BaseModel):
    """A department's callbacks today: callers who hung up and kept their place, or chose an hour."""

    callbacks_requested: int = Field(description="callers who kept their place to be called back")
    callbacks_connected: int = Field(description="called back and talked to an agent")
    callbacks_retried: int = Field(description="attempts that did not reach the customer and were retried")
    callbacks_failed: int = Field(description="given up after the last attempt")
    callbacks_scheduled: int = Field(description="callbacks booked for a later hour")
    returned: int = Field(description="callers who called again and got their kept place back")
    failed_reasons: dict[str, int] = Field(description="failed callbacks by the last attempt's reason")


class SpokenWait(BaseModel):
    """The wait a caller joining now hears, as the hold loop says it."""

    kind: str = Field(
        description="'soon' (less than a minute), 'up_to_90s' (up to a minute and a half), 'up_to', 'about',"
        " 'range', or 'long' (no figure said)"
    )
    low_minutes: int = Field(description="the range's low end ('range')")
    high_minutes: int = Field(description="the figure said ('up_to', 'about') or the range's high end")
    high_seconds: int = Field(description="the longest wait the words stand for, in seconds (0: 'long')")


class QueueStats(BaseModel):
    """One department's queue, now and today."""

    department: str
    waiting: int
    longest_wait_seconds: int
    estimated_wait_seconds: int | None = Field(description="for a caller joining now; null: nobody staffed")
    agents: dict[str, int] = Field(description="agents of the department by state")
    offered: int
    answered: int
    abandoned: int
    answered_within_service_level: int
    abandonment_rate: float | None = Field(description="abandoned / offered")
    service_level: float | None = Field(description="answered within the threshold / (answered + abandoned)")
    average_wait_seconds: float | None = Field(description="of answered callers")
    average_abandon_wait_seconds: float | None
    average_handle_seconds: float | None
    handled: int
    transferred_out: int
    queue_full: int
    overflowed: int = Field(description="sent to the overflow number after the longest hold allowed")
    estimated_wait_range: list[int] | None = Field(
        min_length=2,
        max_length=2,
        description="[low, high] seconds: the range meant to hold 80% of the waits of a caller joining now",
    )
    estimated_wait_spoken: SpokenWait | None = Field(description="null: nobody staffed, no figure")
    peak_hour_now: bool = Field(description="this hour of the week is one of the department's busiest")
    peak_hours: list[int] = Field(
        description="the busiest hours of the week (0 = Monday 00:00-01:00 in the hotline's time zone)"
    )
    callbacks: CallbackStats


class QueuesReport(BaseModel):
    """Every department's queue statistics."""

    as_of: datetime
    day: str = Field(description="yymmdd in the hotline's time zone")
    service_level_seconds: int
    queues: list[QueueStats]
    outbound_refused: dict[str, int] = Field(
        default_factory=dict, description="callbacks, calls and messages refused today, by 'kind:limit'"
    )


class AgentStatus(AgentMe):
    """One agent as the supervisor sees them: what the agent sees, and how busy they were."""

    answered_today: int
    seconds_since_heartbeat: int | None


class AgentsReport(BaseModel):
    """Every agent."""

    as_of: datetime
    agents: list[AgentStatus]


class SurveyRow(BaseModel):
    """Survey answers of one agent or department today."""

    agent: str | None = None
    department: str | None = None
    answered: int = Field(description="calls rated")
    average_score: float | None = Field(description="1 (very poor) to 5 (excellent); null: none yet")
    scores: dict[str, int] = Field(description="how many calls got each score, '1' to '5'")
    comments: int = Field(description="spoken comments recorded")


class SurveyResults(BaseModel):
    """Survey results per agent and per department."""

    agents: list[SurveyRow]
    departments: list[SurveyRow]


class MessageCounts(BaseModel):
    """After-call text messages today."""

    sent: int
    failed: int = Field(description="refused by Twilio for good (an unreachable number)")
    refused: int = Field(description="not sent: the number failed the checks or a rate limit")


class FollowupsReport(BaseModel):
    """What happened after today's calls."""

    as_of: datetime
    day: str = Field(description="yymmdd in the hotline's time zone")
    surveys: SurveyResults
    voicemails: dict[str, int] = Field(description="voicemail tickets per department")
    transcribed: int = Field(description="voicemails whose transcription arrived")
    messages: MessageCounts
    refusals: dict[str, int] = Field(description="outbound actions refused by a rate limit, by 'kind:limit'")
    failed_jobs: int = Field(description="jobs in the worker's failed-job registry (retries exhausted)")


class Ticket(BaseModel):
    """A voicemail left after hours, under the reference number of the call."""

    ref: str
    department: str
    created_at: datetime
    language: str
    issue: str
    caller: str | None = Field(description="the caller ID, to call back")
    recording_url: str
    recording_seconds: int
    transcription: str | None
    transcription_status: str | None


class TicketsReport(BaseModel):
    """A department's newest voicemail tickets."""

    department: str
    tickets: list[Ticket]


class IntervalRow(BaseModel):
    """One department's 15 minutes, from the event log."""

    department: str
    start: datetime
    offered: int = Field(description="callers who joined the queue (transfers into it included)")
    answered: int
    abandoned: int = Field(description="hung up in the queue or while an agent's phone rang")
    answered_within: int = Field(description="answered within service_level_seconds of joining")
    service_level: float | None = Field(description="answered_within / (answered + abandoned)")


class IntervalReport(BaseModel):
    """A day in 15-minute intervals (only those in which something happened)."""

    day: str = Field(description="yymmdd in the hotline's time zone")
    service_level_seconds: int
    intervals: list[IntervalRow]


class AgentDayRow(BaseModel):
    """One agent's day, from the event log."""

    agent: str
    offered: int = Field(description="calls that rang the agent")
    answered: int
    missed: int = Field(description="rings that ended with the agent not ready")
    ready_seconds: int
    on_call_seconds: int
    wrap_up_seconds: int
    not_ready_seconds: int


class AgentDayReport(BaseModel):
    """Every agent who did anything on a day."""

    day: str = Field(description="yymmdd in the hotline's time zone")
    agents: list[AgentDayRow]
