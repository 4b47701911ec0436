"""Twilio's conferences as the stand-in holds them: rooms, participants, who hears whom, events.

A call joins a room with ``<Dial><Conference>name</Conference></Dial>`` (see
``standin.interpreter``), or the REST API adds a participant (``POST
/Conferences/{Sid or FriendlyName}/Participants.json``: Twilio dials ``To`` and puts whoever
answers in the room). What the stand-in follows, from Twilio's documentation:

- A room is created by its first participant and ``init`` until it starts; it starts
  (``in-progress``) when two participants are connected and one of them has
  ``startConferenceOnEnter`` (the default). Until then a participant hears the ``waitUrl``
  (Twilio's own hold music by default, nothing for ``""``), requested with ``waitMethod`` (POST)
  again each time its document ends; its TwiML may hold only Say, Play, Pause and Redirect
  (error 13238), as may a ``holdUrl`` (GET by default) and an ``announceUrl``.
- The first participant's conference settings (``statusCallback``, its events and method) are
  the room's; later ones are ignored.
- It ends (``completed``) when a participant with ``endConferenceOnExit`` leaves
  (``participant-with-end-conference-on-exit-left``, or ``-kicked`` when removed through the
  API), when the last participant leaves (``last-participant-left`` / ``-kicked``) or through
  the API (``conference-ended-via-api``). Everyone still in it leaves: a call that joined by
  TwiML goes on with its Dial's action (or the next verb), a participant the API dialled hangs up.
- A participant can be muted (nobody hears them), held (they hear the ``holdUrl`` and nobody
  hears them or is heard by them) and coaching (only ``CallSidToCoach`` hears them).
- A room whose first participant asked ``record="record-from-start"`` is recorded from its
  start; the Conference Recording resource pauses, resumes or stops it (``Twilio.CURRENT`` names
  the running one), a paused stretch is left out of its duration, and its
  ``recordingStatusCallback`` hears ``in-progress`` and ``completed`` (as asked) with
  ``RecordingSid``, ``RecordingUrl``, ``RecordingDuration``; a completed recording can be deleted.
- Status callbacks: ``conference-start``, ``conference-end``, ``participant-join``,
  ``participant-leave`` (with ``ParticipantCallStatus``), ``participant-mute`` / ``-unmute``,
  ``participant-hold`` / ``-unhold``, ``participant-modify`` (coaching), ``announcement-end``,
  for the events the room asked for (``start end join leave mute hold modify announcement``),
  each with ``ConferenceSid``, ``FriendlyName``, ``AccountSid``, ``SequenceNumber`` (counting
  from 1 per room), ``Timestamp`` and ``StatusCallbackEvent``; a participant's event adds its
  ``CallSid``, ``Muted``, ``Hold``, ``Coaching``, ``StartConferenceOnEnter``,
  ``EndConferenceOnExit`` (and ``CallSidToCoach``, ``ParticipantLabel`` when set); the end
  adds ``ReasonConferenceEnded``, ``Reason`` and ``CallSidEndingConference``.

Nothing here calls the app while it may be serving a request: what the REST API changes is put
in an outbox (callbacks, hold music, a call going on after its Dial) and delivered at the next
safe point: the next step of a stand-in call, an explicit ``deliver()``, or at once on a thread
of its own in the live stand-in (``on_pending``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import urljoin

from standin.errors import CallbackError
from standin.transport import Transport, TransportError
from standin.twiml_check import TwiMLError, check_twiml
from standin.webhook import Heard, answer_problem, heard_from, new_sid

__all__ = [
    "DEFAULT_WAIT_MUSIC",
    "Conference",
    "Recording",
    "ConferenceCall",
    "Conferences",
    "Participant",
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
PARTICIPANT_PROGRESS = ("initiated", "ringing", "answered", "completed")


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


class Conferences:
    """Every room of the stand-in, and the outbox of what they still have to tell the app."""

    def __init__(self, transport: Transport | None = None) -> None:
        """``transport`` signs the callbacks of a room the REST API made (TwiML rooms use their
        first call's)."""
        self.transport = transport
        self.on_pending: Callable[[], None] | None = None  # the live stand-in delivers at once
        self.on_call_status: Callable[[str, str], None] | None = None  # a dialled leg's record
        self.on_change: Callable[[Conference], None] | None = None  # the live phones show who is in
        self.problems: list[str] = []  # callbacks the app refused, in order
        self.ticks: Callable[[], float] = time.monotonic  # recordings' durations (scaled when live)
        self._lock = threading.RLock()
        self._rooms: dict[str, Conference] = {}
        self._outbox: list[Callable[[], str | None]] = []

    def forget(self) -> None:
        """Forget every room, what is left to deliver, and the transport (between tests)."""
        with self._lock:
            self._rooms.clear()
            self._outbox.clear()
            self.problems.clear()
            self.transport = None
            self.on_pending = None  # a live stand-in of an earlier test no longer delivers

    # -- finding rooms -------------------------------------------------------------------------

    def rooms(self, account_sid: str | None = None) -> list[Conference]:
        """Every room so far, oldest first."""
        with self._lock:
            return [c for c in self._rooms.values() if account_sid in (None, c.account_sid)]

    def find(self, sid_or_name: str, account_sid: str | None = None) -> Conference | None:
        """A room by its sid, or the room not yet ended with this friendly name."""
        with self._lock:
            room = self._rooms.get(sid_or_name)
            if room is None:
                room = next(
                    (
                        c
                        for c in reversed(self._rooms.values())
                        if c.friendly_name == sid_or_name and c.status != "completed"
                    ),
                    None,
                )
            if room is not None and account_sid not in (None, room.account_sid):
                return None
            return room

    def of_call(self, call_sid: str) -> tuple[Conference, Participant] | None:
        """The room a call is in (or on its way to), and its participant there."""
        with self._lock:
            for room in self._rooms.values():
                found = room.participants.get(call_sid)
                if found is not None and room.status != "completed":
                    return room, found
            return None

    def open(
        self, name: str, account_sid: str, settings: RoomSettings, transport: Transport | None
    ) -> Conference:
        """The live room with this name, or a new one with these (first participant's) settings."""
        with self._lock:
            room = self.find(name, account_sid)
            if room is None:
                room = Conference(
                    sid=new_sid("CF"),
                    account_sid=account_sid,
                    friendly_name=name,
                    settings=settings,
                    transport=transport or self.transport,
                )
                self._rooms[room.sid] = room
            elif room.transport is None:
                room.transport = transport
            return room

    # -- joining and leaving -------------------------------------------------------------------

    def join(self, room: Conference, participant: Participant) -> None:
        """A participant is connected: the join event, the start when due, their music."""
        with self._lock:
            participant.status = "connected"
            room.participants[participant.call_sid] = participant
            self._event(room, "participant-join", participant)
            if room.status == "init" and self._may_start(room):
                room.status = "in-progress"
                room.date_updated = formatdate(usegmt=True)
                self._event(room, "conference-start")
                if room.settings.record:
                    self._start_recording(room)
            elif room.status == "init":
                self._music(room, participant, waiting=True)
        self._pending()

    def add(self, room: Conference, participant: Participant) -> None:
        """A participant the REST API is dialling: in the room's list, not connected yet."""
        with self._lock:
            participant.status = "queued"
            room.participants[participant.call_sid] = participant
            self._progress(participant, "initiated", "queued")
            participant.status = "ringing"
            self._progress(participant, "ringing", "ringing")
        self._pending()

    # What people do (the called party of a dialled participant): delivered at once.

    def answered(self, call_sid: str) -> Participant:
        """The dialled participant picked up: it joins its room."""
        room, participant = self._dialled(call_sid)
        with self._lock:
            self._call_status(participant, "in-progress")
            self._progress(participant, "answered", "in-progress")
            self.join(room, participant)
        self._deliver_or_raise()
        return participant

    def not_answered(self, call_sid: str, status: str = "no-answer") -> None:
        """The dialled participant did not pick up (no-answer, busy, failed)."""
        self.cancel(call_sid, status)
        self._deliver_or_raise()

    def hang_up(self, call_sid: str) -> None:
        """A dialled participant hangs up."""
        self.leave(call_sid)
        self._deliver_or_raise()

    def _deliver_or_raise(self) -> None:
        problems = self.deliver()
        if problems:
            raise CallbackError("; ".join(problems))

    # What the REST API and the calls' TwiML do: delivered at the next safe point.

    def cancel(self, call_sid: str, status: str = "canceled") -> None:
        """A dialled participant's call ends before it was answered."""
        room, participant = self._dialled(call_sid)
        with self._lock:
            participant.status = "failed" if status == "failed" else "complete"
            room.participants.pop(call_sid, None)
            self._call_status(participant, status)
            self._progress(participant, "completed", status)
            self._event(room, "participant-leave", participant, ParticipantCallStatus=status)
            if not room.connected() and room.status != "completed":
                self._end(room, "last-participant-left", call_sid)
        self._pending()

    def leave(self, call_sid: str, *, kicked: bool = False, call_status: str = "completed") -> None:
        """A participant leaves (hangs up, is redirected, or is removed through the API)."""
        with self._lock:
            found = self.of_call(call_sid)
            if found is None:
                return
            room, participant = found
            was_in = participant.in_room
            participant.status = "complete"
            room.participants.pop(call_sid, None)
            if participant.call is None:
                self._call_status(participant, call_status)
                self._progress(participant, "completed", call_status)
            self._event(room, "participant-leave", participant, ParticipantCallStatus=call_status)
            if kicked and participant.call is not None:
                self._outbox.append(_quietly(participant.call.leave_conference))
            elif kicked and participant.on_left is not None:
                participant.on_left()
            if room.status == "completed":
                pass
            elif was_in and participant.end_conference_on_exit:
                how = "kicked" if kicked else "left"
                self._end(room, f"participant-with-end-conference-on-exit-{how}", call_sid)
            elif not room.connected():
                self._end(room, "last-participant-kicked" if kicked else "last-participant-left", call_sid)
        self._pending()

    def end(self, room: Conference) -> None:
        """End the room through the API: everyone in it leaves."""
        with self._lock:
            if room.status != "completed":
                self._end(room, "conference-ended-via-api", None)
        self._pending()

    # -- changing a participant -----------------------------------------------------------------

    def update(
        self,
        room: Conference,
        participant: Participant,
        *,
        muted: bool | None = None,
        hold: bool | None = None,
        hold_url: str | None = None,
        hold_method: str | None = None,
        coaching: bool | None = None,
        call_sid_to_coach: str | None = None,
        end_conference_on_exit: bool | None = None,
        announce_url: str | None = None,
        announce_method: str = "POST",
    ) -> None:
        """Mute, hold (with music), coach, or announce to one participant, with their events."""
        with self._lock:
            if hold_url is not None:
                participant.hold_url = hold_url
            if hold_method is not None:
                participant.hold_method = hold_method
            if end_conference_on_exit is not None:
                participant.end_conference_on_exit = end_conference_on_exit
            if muted is not None and muted != participant.muted:
                participant.muted = muted
                self._event(room, "participant-mute" if muted else "participant-unmute", participant)
            if hold is not None and hold != participant.hold:
                participant.hold = hold
                self._event(room, "participant-hold" if hold else "participant-unhold", participant)
                if hold:
                    self._music(room, participant, waiting=False)
            if call_sid_to_coach is not None:
                participant.call_sid_to_coach = call_sid_to_coach
            if coaching is not None and coaching != participant.coaching:
                participant.coaching = coaching
                self._event(room, "participant-modify", participant)
            if announce_url is not None:
                self._announce(room, participant, announce_url, announce_method)
        self._pending()

    # -- recordings ---------------------------------------------------------------------------

    def recording(self, room: Conference, sid: str) -> Recording | None:
        """A room's recording by sid, or `Twilio.CURRENT`: the one running or paused."""
        with self._lock:
            if sid == "Twilio.CURRENT":
                return next((r for r in room.recordings if r.status in ("in-progress", "paused")), None)
            return next((r for r in room.recordings if r.sid == sid), None)

    def find_recording(self, sid: str, account_sid: str) -> tuple[Conference, Recording] | None:
        """Any room's recording by its sid."""
        with self._lock:
            for room in self._rooms.values():
                for recording in room.recordings:
                    if recording.sid == sid and room.account_sid == account_sid and not recording.deleted:
                        return room, recording
            return None

    def set_recording(self, room: Conference, recording: Recording, status: str) -> None:
        """Pause (`paused`), resume (`in-progress`) or stop (`stopped`) a running recording."""
        with self._lock:
            now = self.ticks()
            if status == "paused" and recording.status == "in-progress":
                recording.status, recording.paused_at = "paused", now
            elif status == "in-progress" and recording.status == "paused":
                recording.paused_seconds += now - (recording.paused_at or now)
                recording.status, recording.paused_at = "in-progress", None
            elif status == "stopped" and recording.status in ("in-progress", "paused"):
                self._finish_recording(room, recording, "stopped")
        self._pending()

    def _start_recording(self, room: Conference) -> None:
        recording = Recording(new_sid("RE"), room.sid, room.account_sid, started_at=self.ticks())
        room.recordings.append(recording)
        self._recording_event(room, recording, "in-progress")

    def _finish_recording(self, room: Conference, recording: Recording, status: str) -> None:
        now = self.ticks()
        if recording.status == "paused":
            recording.paused_seconds += now - (recording.paused_at or now)
        recording.duration = max(int(now - recording.started_at - recording.paused_seconds), 0)
        recording.status = "completed" if status == "completed" else "stopped"
        self._recording_event(room, recording, "completed")

    def _recording_event(self, room: Conference, recording: Recording, event: str) -> None:
        settings = room.settings
        url = settings.recording_status_callback
        if not url or event not in settings.recording_status_callback_events:
            return
        params = {
            "AccountSid": room.account_sid,
            "ConferenceSid": room.sid,
            "RecordingSid": recording.sid,
            "RecordingUrl": recording.url,
            "RecordingStatus": event,
            "RecordingDuration": str(recording.duration) if event == "completed" else "0",
            "RecordingChannels": "1",
            "RecordingStartTime": recording.date_created,
            "RecordingSource": "DialConference",
        }
        method, transport = settings.recording_status_callback_method, room.transport
        self._outbox.append(lambda: _send(transport, method, url, params))

    # -- music, for a call's hold loop --------------------------------------------------------

    def more_music(self, call_sid: str) -> bool:
        """A waiting or held participant hears its music document again; False if it talks."""
        found = self.of_call(call_sid)
        if found is None:
            return False
        room, participant = found
        if not (participant.hold or room.status == "init"):
            return False
        with self._lock:
            self._music(room, participant, waiting=not participant.hold, again=True)
        return True

    # -- delivering ----------------------------------------------------------------------------

    def deliver(self) -> list[str]:
        """Send what the rooms have to tell the app, in order; return what went wrong."""
        problems: list[str] = []
        while True:
            with self._lock:
                if not self._outbox:
                    break
                action = self._outbox.pop(0)
            problem = action()
            if problem:
                problems.append(problem)
        with self._lock:
            self.problems.extend(problems)
        return problems

    @property
    def pending(self) -> int:
        """How many deliveries wait for the next safe point."""
        with self._lock:
            return len(self._outbox)

    # -- inside ------------------------------------------------------------------------------

    def _pending(self) -> None:
        if self.on_pending is not None and self.pending:
            self.on_pending()

    def _dialled(self, call_sid: str) -> tuple[Conference, Participant]:
        found = self.of_call(call_sid)
        if found is None or found[1].call is not None or found[1].in_room:
            raise LookupError(f"no participant {call_sid} is being dialled")
        return found

    @staticmethod
    def _may_start(room: Conference) -> bool:
        joined = room.connected()
        return len(joined) >= 2 and any(p.start_conference_on_enter for p in joined)

    def _end(self, room: Conference, reason: str, by: str | None) -> None:
        room.status = "completed"
        room.reason_conference_ended, room.call_sid_ending_conference = reason, by
        room.date_updated = formatdate(usegmt=True)
        for participant in list(room.participants.values()):
            room.participants.pop(participant.call_sid, None)
            participant.status = "complete"
            if participant.call is not None:
                self._event(room, "participant-leave", participant, ParticipantCallStatus="in-progress")
                self._outbox.append(_quietly(participant.call.leave_conference))
            else:
                self._call_status(participant, "completed")
                self._progress(participant, "completed", "completed")
                self._event(room, "participant-leave", participant, ParticipantCallStatus="completed")
                if participant.on_left is not None:
                    participant.on_left()
        for recording in room.recordings:
            if recording.status in ("in-progress", "paused"):
                self._finish_recording(room, recording, "completed")
        extra = {"ReasonConferenceEnded": reason, "Reason": _REASONS[reason]}
        if by:
            extra["CallSidEndingConference"] = by
        self._event(room, "conference-end", None, **extra)

    def _event(
        self, room: Conference, name: str, participant: Participant | None = None, **extra: str
    ) -> None:
        if self.on_change is not None:  # every move in a room is one of its events, sent or not
            self.on_change(room)
        settings = room.settings
        if not settings.status_callback or EVENT_WORDS[name] not in settings.status_callback_events:
            return
        room._sequence += 1
        params = {
            "AccountSid": room.account_sid,
            "ConferenceSid": room.sid,
            "FriendlyName": room.friendly_name,
            "StatusCallbackEvent": name,
            "SequenceNumber": str(room._sequence),
            "Timestamp": formatdate(usegmt=True),
            **(participant.event_fields() if participant is not None else {}),
            **extra,
        }
        room.sent.append(params)
        url, method, transport = settings.status_callback, settings.status_callback_method, room.transport
        self._outbox.append(lambda: _send(transport, method, url, params))

    def _progress(self, participant: Participant, event: str, status: str) -> None:
        """A dialled participant's own call progress callback (StatusCallback), if asked."""
        if participant.call is not None or not participant.status_callback:
            return
        if event not in participant.status_callback_events:
            return
        params = {
            "AccountSid": participant.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": participant.call_sid,
            "CallStatus": status,
            "Direction": "outbound-api",
            "From": participant.from_,
            "To": participant.to,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(participant._progress),
            "Timestamp": formatdate(usegmt=True),
        }
        if event == "completed":
            params["CallDuration"] = "0"
        participant._progress += 1
        room = self._rooms.get(participant.conference_sid)
        transport = room.transport if room is not None else self.transport
        url, method = participant.status_callback, participant.status_callback_method
        self._outbox.append(lambda: _send(transport, method, url, params))

    def _call_status(self, participant: Participant, status: str) -> None:
        if participant.call is None and self.on_call_status is not None:
            self.on_call_status(participant.call_sid, status)

    def _music(
        self, room: Conference, participant: Participant, *, waiting: bool, again: bool = False
    ) -> None:
        """Queue the participant's wait (or hold) music: a document fetched at the next safe point."""
        if again and participant.music is not None:
            url, method = participant.music
        elif waiting:
            url, method = participant.wait_url or "", participant.wait_method
            if participant.wait_url is None:
                participant.music = None
                participant.hear([Heard("play", DEFAULT_WAIT_MUSIC)])
                return
        else:
            url, method = participant.hold_url or "", participant.hold_method
            if participant.hold_url is None:
                participant.music = None
                participant.hear([Heard("play", DEFAULT_WAIT_MUSIC)])
                return
        if not url:
            return  # waitUrl="": silence
        participant.music = (url, method)

        def play() -> str | None:
            with self._lock:
                still = participant.hold if not waiting else room.status == "init" and participant.in_room
            if not still:
                return None
            return self._play(room, participant, url, method)

        self._outbox.append(play)

    def _announce(self, room: Conference, participant: Participant, url: str, method: str) -> None:
        def announce() -> str | None:
            problem = self._play(room, participant, url, method, follow=False)
            with self._lock:
                self._event(room, "announcement-fail" if problem else "announcement-end", participant)
            return problem

        self._outbox.append(announce)

    def _play(
        self, room: Conference, participant: Participant, url: str, method: str, *, follow: bool = True
    ) -> str | None:
        """Fetch a wait, hold or announce document and let the participant hear it."""
        transport = room.transport
        if transport is None:
            return f"{method} {url}: the stand-in has no transport to reach the app"
        params = (
            participant.call.conference_params()
            if participant.call is not None
            else {"AccountSid": participant.account_sid, "CallSid": participant.call_sid}
        )
        params = {**params, "ConferenceSid": room.sid, "FriendlyName": room.friendly_name}
        try:
            answer = transport.request(method, url, params)
        except TransportError as exc:
            return f"{method} {url}: the app could not be reached: {exc}"
        problem = answer_problem(answer, twiml=True)
        if problem:
            return f"{method} {url}: {problem}"
        try:
            root = check_twiml(answer.body, conference_audio=True)
        except TwiMLError as exc:
            return f"{method} {url}: invalid TwiML (error 13238): {exc}"
        heard: list[Heard] = []
        next_music = (url, method)
        for verb in root:
            if verb.tag == "Redirect":
                next_music = (urljoin(url, (verb.text or "").strip()), verb.get("method", "POST"))
                break
            heard.extend(heard_from(verb))
        with self._lock:
            participant.hear(heard)
            if follow:
                participant.music = next_music
        return None


_REASONS = {
    "conference-ended-via-api": "Conference ended via API",
    "participant-with-end-conference-on-exit-left": "Participant with endConferenceOnExit left",
    "participant-with-end-conference-on-exit-kicked": "Participant with endConferenceOnExit was kicked",
    "last-participant-left": "Last participant left the conference",
    "last-participant-kicked": "Last participant was kicked",
}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _send(transport: Transport | None, method: str, url: str, params: dict[str, str]) -> str | None:
    """Send one callback whose answer Twilio ignores; say what went wrong, if anything."""
    if transport is None:
        return f"{method} {url}: the stand-in has no transport to reach the app"
    try:
        answer = transport.request(method, url, params)
    except TransportError as exc:
        return f"{method} {url}: the app could not be reached: {exc}"
    problem = answer_problem(answer, twiml=False)
    return f"{method} {url}: {problem}" if problem else None


def _quietly(action: Callable[[], Any]) -> Callable[[], str | None]:
    """An outbox entry that runs a call's next step; its own errors are the call's to report."""

    def run() -> str | None:
        try:
            action()
        except Exception as exc:  # the call records an application error on itself
            return f"a call going on after its conference: {exc}"
        return None

    return run
