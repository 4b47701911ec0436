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

``room`` holds a room, its participants and recordings and the callbacks each sends;
``conferences`` their moves (``Conferences``: join, leave, hold, record...) and the outbox,
delivered at safe points only; ``requests`` what the outbox asks of the app.
"""

from standin.conference.conferences import Conferences
from standin.conference.room import (
    DEFAULT_WAIT_MUSIC,
    Conference,
    ConferenceCall,
    Participant,
    Recording,
    RoomSettings,
)

__all__ = [
    "DEFAULT_WAIT_MUSIC",
    "Conference",
    "ConferenceCall",
    "Conferences",
    "Participant",
    "Recording",
    "RoomSettings",
]
