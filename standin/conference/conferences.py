"""Every conference room of the stand-in and what happens in them: joining, leaving, ending,
holding, muting, coaching, announcing, recording, and the outbox of what they still have to tell
the app (``standin.conference`` tells Twilio's rules the rooms follow).

Nothing here calls the app while it may be serving a request: what the REST API changes is put
in the outbox (callbacks, hold music, a call going on after its Dial) and delivered at the next
safe point: the next step of a stand-in call, an explicit ``deliver()``, or at once on a thread
of its own in the live stand-in (``on_pending``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email.utils import formatdate

from standin.conference.requests import fetch_audio, quietly, send
from standin.conference.room import DEFAULT_WAIT_MUSIC, Conference, Participant, Recording, RoomSettings
from standin.errors import CallbackError
from standin.transport import Transport
from standin.webhook import Heard, new_sid

__all__ = ["Conferences"]

_REASONS = {
    "conference-ended-via-api": "Conference ended via API",
    "participant-with-end-conference-on-exit-left": "Participant with endConferenceOnExit left",
    "participant-with-end-conference-on-exit-kicked": "Participant with endConferenceOnExit was kicked",
    "last-participant-left": "Last participant left the conference",
    "last-participant-kicked": "Last participant was kicked",
}


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
                self._outbox.append(quietly(participant.call.leave_conference))
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
        params = recording.status_params(event)
        method, transport = settings.recording_status_callback_method, room.transport
        self._outbox.append(lambda: send(transport, method, url, params))

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
                self._outbox.append(quietly(participant.call.leave_conference))
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
        params, url = room.status_params(name, participant, **extra), room.settings.status_callback
        if params is None or url is None:  # the room did not ask for this event
            return
        method, transport = room.settings.status_callback_method, room.transport
        self._outbox.append(lambda: send(transport, method, url, params))

    def _progress(self, participant: Participant, event: str, status: str) -> None:
        """A dialled participant's own call progress callback (StatusCallback), if asked."""
        params, url = participant.progress_params(event, status), participant.status_callback
        if params is None or url is None:
            return
        room = self._rooms.get(participant.conference_sid)
        transport = room.transport if room is not None else self.transport
        method = participant.status_callback_method
        self._outbox.append(lambda: send(transport, method, url, params))

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
        problem, heard, next_music = fetch_audio(room, participant, url, method)
        if problem:
            return problem
        with self._lock:
            participant.hear(heard)
            if follow:
                participant.music = next_music
        return None
