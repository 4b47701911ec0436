"""A conference room as the stand-in holds it: its settings, participants and recordings, who
hears whom, and the status callback each of them sends (``standin.conference`` tells the rules).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Protocol

from standin.transport import Transport
from standin.webhook import Heard

__all__ = [
    "DEFAULT_WAIT_MUSIC",
    "EVENT_WORDS",
    "Conference",
    "ConferenceCall",
    "Participant",
    "Recording",
    "RoomSettings",
]

# What Twilio plays to a waiting participant when the <Conference> names no waitUrl.
DEFAULT_WAIT_MUSIC = "http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical"
# The statusCallbackEvent words and the StatusCallbackEvent values each one asks for.
EVENT_WORDS = {
    "conference-start": "start", "conference-end": "end", "participant-join": "join",
    "participant-leave": "leave", "participant-mute": "mute", "participant-unmute": "mute",
    "participant-hold": "hold", "participant-unhold": "hold", "participant-modify": "modify",
    "announcement-end": "announcement", "announcement-fail": "announcement",
}  # fmt: skip


class ConferenceCall(Protocol):
    """A call that joined a room through TwiML (a ``standin.phone.Call``)."""

    call_sid: str
    heard: list[Heard]

    def conference_params(self) -> dict[str, str]:
        """The parameters Twilio sends with a request about this call."""
        ...

    def leave_conference(self) -> None:
        """The room let the call go: it goes on with its Dial's action, or the next verb."""
        ...


@dataclass
class RoomSettings:
    """A room's own settings, taken from its first participant."""

    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset()
    record: bool = False  # record="record-from-start": recorded from the moment it starts
    recording_status_callback: str | None = None
    recording_status_callback_method: str = "POST"
    recording_status_callback_events: frozenset[str] = frozenset({"completed"})


@dataclass
class Recording:
    """A room's recording: started with the room, paused and resumed, completed at its end."""

    sid: str
    conference_sid: str
    account_sid: str
    status: str = "in-progress"  # in-progress, paused, stopped, completed
    started_at: float = 0.0
    paused_at: float | None = None
    paused_seconds: float = 0.0
    duration: int = 0
    deleted: bool = False
    date_created: str = field(default_factory=lambda: formatdate(usegmt=True))

    @property
    def url(self) -> str:
        return f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{self.sid}"

    def status_params(self, event: str) -> dict[str, str]:
        """Its ``recordingStatusCallback`` parameters for ``event`` (in-progress or completed)."""
        return {
            "AccountSid": self.account_sid,
            "ConferenceSid": self.conference_sid,
            "RecordingSid": self.sid,
            "RecordingUrl": self.url,
            "RecordingStatus": event,
            "RecordingDuration": str(self.duration) if event == "completed" else "0",
            "RecordingChannels": "1",
            "RecordingStartTime": self.date_created,
            "RecordingSource": "DialConference",
        }


@dataclass
class Participant:
    """One call in a room (or on its way to it)."""

    call_sid: str
    account_sid: str
    conference_sid: str
    label: str | None = None
    muted: bool = False
    hold: bool = False
    coaching: bool = False
    call_sid_to_coach: str | None = None
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    status: str = "connected"  # queued, connecting, ringing, connected, complete, failed
    wait_url: str | None = None  # None: Twilio's music; "": silence
    wait_method: str = "POST"
    hold_url: str | None = None
    hold_method: str = "GET"
    call: ConferenceCall | None = None  # a call that joined by TwiML
    # A participant the REST API dialled: its call's own record and progress callbacks.
    from_: str = ""
    to: str = ""
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: tuple[str, ...] = ()
    heard: list[Heard] = field(default_factory=list)  # what it heard, when it has no call
    date_created: str = field(default_factory=lambda: formatdate(usegmt=True))
    music: tuple[str, str] | None = None  # the document its music goes on with (url, method)
    on_left: Callable[[], None] | None = None  # a dialled leg hears that the room let it go
    _progress: int = 0

    @property
    def in_room(self) -> bool:
        return self.status == "connected"

    def hear(self, items: list[Heard]) -> None:
        """What the participant hears goes to its call's transcript (or its own)."""
        (self.call.heard if self.call is not None else self.heard).extend(items)

    def event_fields(self) -> dict[str, str]:
        fields = {
            "CallSid": self.call_sid,
            "Muted": _flag(self.muted),
            "Hold": _flag(self.hold),
            "Coaching": _flag(self.coaching),
            "StartConferenceOnEnter": _flag(self.start_conference_on_enter),
            "EndConferenceOnExit": _flag(self.end_conference_on_exit),
        }
        if self.coaching and self.call_sid_to_coach:
            fields["CallSidToCoach"] = self.call_sid_to_coach
        if self.label:
            fields["ParticipantLabel"] = self.label
        return fields

    def progress_params(self, event: str, status: str) -> dict[str, str] | None:
        """A dialled participant's own call progress callback (StatusCallback), numbered, if asked."""
        if self.call is not None or not self.status_callback or event not in self.status_callback_events:
            return None
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "CallStatus": status,
            "Direction": "outbound-api",
            "From": self.from_,
            "To": self.to,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._progress),
            "Timestamp": formatdate(usegmt=True),
        }
        if event == "completed":
            params["CallDuration"] = "0"
        self._progress += 1
        return params


@dataclass
class Conference:
    """A room: its participants (joined or on their way), its settings and what it sent."""

    sid: str
    account_sid: str
    friendly_name: str
    settings: RoomSettings
    transport: Transport | None
    status: str = "init"  # init, in-progress, completed
    participants: dict[str, Participant] = field(default_factory=dict)
    reason_conference_ended: str | None = None
    call_sid_ending_conference: str | None = None
    date_created: str = field(default_factory=lambda: formatdate(usegmt=True))
    date_updated: str = field(default_factory=lambda: formatdate(usegmt=True))
    sent: list[dict[str, str]] = field(default_factory=list)  # the status callbacks sent
    recordings: list[Recording] = field(default_factory=list)
    _sequence: int = 0

    def connected(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.in_room]

    def participant(self, call_sid_or_label: str) -> Participant | None:
        """A participant by its CallSid, or by its label (as the REST API allows)."""
        found = self.participants.get(call_sid_or_label)
        if found is None:
            found = next((p for p in self.participants.values() if p.label == call_sid_or_label), None)
        return found

    def hears(self, listener: str, speaker: str) -> bool:
        """Whether the participant ``listener`` hears ``speaker`` (CallSids or labels) now."""
        heard, talking = self.participant(listener), self.participant(speaker)
        if heard is None or talking is None or heard is talking or self.status != "in-progress":
            return False
        if not (heard.in_room and talking.in_room) or heard.hold or talking.hold or talking.muted:
            return False
        return not talking.coaching or talking.call_sid_to_coach == heard.call_sid

    def status_params(
        self, name: str, participant: Participant | None = None, **extra: str
    ) -> dict[str, str] | None:
        """The status callback of event ``name``, numbered and kept in ``sent``, if the room asked
        for it."""
        settings = self.settings
        if not settings.status_callback or EVENT_WORDS[name] not in settings.status_callback_events:
            return None
        self._sequence += 1
        params = {
            "AccountSid": self.account_sid,
            "ConferenceSid": self.sid,
            "FriendlyName": self.friendly_name,
            "StatusCallbackEvent": name,
            "SequenceNumber": str(self._sequence),
            "Timestamp": formatdate(usegmt=True),
            **(participant.event_fields() if participant is not None else {}),
            **extra,
        }
        self.sent.append(params)
        return params


def _flag(value: bool) -> str:
    return "true" if value else "false"
