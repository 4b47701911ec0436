"""The Conferences resource of the REST stand-in and its participants: list, fetch and end rooms;
add (dial), fetch, update (mute, hold, coach, announce) and remove participants.

The rooms themselves are ``standin.conference``'s; this is what Twilio's REST API lets an
account do to them.
"""

from __future__ import annotations

import re

from flask import Flask, Response, jsonify, request

from standin.conference import Conference, Conferences, Participant, RoomSettings
from standin.rest.params import (
    ApiError,
    call_events,
    check_dialable,
    filtered,
    flag_param,
    maybe_flag,
    method_or_none,
    method_param,
    not_found,
    timeout_seconds,
    to_and_from,
    url_param,
)
from standin.rest.resources import ACCOUNT_PATH, API_VERSION, conference_json, page, participant_json
from standin.rest.switchboard import OutboundCall, Switchboard
from standin.twiml_tables import CONFERENCE_EVENTS
from standin.webhook import new_sid

__all__ = ["add_conference_routes", "find_room"]


def find_room(rooms: Conferences, account_sid: str, sid: str) -> Conference:
    """The account's room with this sid, or Twilio's 404."""
    # Only creating a participant may name the room by its friendly name.
    room = rooms.find(sid, account_sid) if sid.startswith("CF") else None
    if room is None:
        raise not_found()
    return room


def add_conference_routes(app: Flask, switchboard: Switchboard, account_sid: str) -> None:
    """Serve the account's conferences and their participants from ``switchboard`` on ``app``."""
    rooms = switchboard.conferences

    def room_of(sid: str) -> Conference:
        return find_room(rooms, account_sid, sid)

    def participant_of(room: Conference, sid: str) -> Participant:
        # Ended calls and rooms have no participants left: Twilio answers 404 for them.
        found = room.participant(sid) if room.status != "completed" else None
        if found is None:
            raise not_found()
        return found

    @app.get(f"{ACCOUNT_PATH}/Conferences.json")
    def list_conferences(account: str) -> Response:
        found = [conference_json(room) for room in rooms.rooms(account_sid)]
        found = filtered(found, (("friendly_name", "FriendlyName"), ("status", "Status")))
        return page("conferences", f"/{API_VERSION}/Accounts/{account}/Conferences.json", found[::-1])

    @app.get(f"{ACCOUNT_PATH}/Conferences/<sid>.json")
    def fetch_conference(account: str, sid: str) -> Response:
        return jsonify(conference_json(room_of(sid)))

    @app.post(f"{ACCOUNT_PATH}/Conferences/<sid>.json")
    def update_conference(account: str, sid: str) -> Response:
        room = room_of(sid)
        status = request.form.get("Status")
        if status not in (None, "completed"):
            raise ApiError(400, 20001, f"Status must be completed, not {status!r}")
        announce = url_param(request.form, "AnnounceUrl", 21205)
        if announce and room.status != "completed":
            for participant in room.connected():
                rooms.update(room, participant, announce_url=announce)
        if status == "completed":
            rooms.end(room)
        return jsonify(conference_json(room))

    @app.get(f"{ACCOUNT_PATH}/Conferences/<sid>/Participants.json")
    def list_participants(account: str, sid: str) -> Response:
        room = room_of(sid)
        found = (
            [participant_json(room, p) for p in room.participants.values()]
            if room.status != "completed"
            else []
        )
        for key, arg in (("muted", "Muted"), ("hold", "Hold"), ("coaching", "Coaching")):
            if arg in request.args:
                found = [p for p in found if p[key] == (request.args[arg] == "true")]
        uri = f"/{API_VERSION}/Accounts/{account}/Conferences/{room.sid}/Participants.json"
        return page("participants", uri, found)

    @app.post(f"{ACCOUNT_PATH}/Conferences/<sid>/Participants.json")
    def create_participant(account: str, sid: str) -> tuple[Response, int]:
        form = request.form
        to, from_ = to_and_from(form)
        check_dialable(to)
        coaching, coached = flag_param(form, "Coaching"), form.get("CallSidToCoach") or None
        if coaching and not coached:
            raise ApiError(400, 20001, "CallSidToCoach is required when Coaching is true")
        events = call_events(form)
        room_events = [e for value in form.getlist("ConferenceStatusCallbackEvent") for e in value.split()]
        if not set(room_events) <= CONFERENCE_EVENTS:
            raise ApiError(
                400, 20001, f"ConferenceStatusCallbackEvent must be among {sorted(CONFERENCE_EVENTS)}"
            )
        timeout = timeout_seconds(form, shortest=5)
        # The path names the room by its sid, or by its friendly name (made if it is not there).
        room = rooms.find(sid, account_sid)
        if room is None and re.fullmatch(r"CF[0-9a-fA-F]{32}", sid):
            raise not_found()
        if room is None:
            settings = RoomSettings(
                status_callback=url_param(form, "ConferenceStatusCallback", 21609),
                status_callback_method=method_param(form, "ConferenceStatusCallbackMethod"),
                status_callback_events=frozenset(room_events),
            )
            room = rooms.open(sid, account_sid, settings, None)
        label = form.get("Label") or None
        if label and room.participant(label) is not None:
            raise ApiError(400, 20001, f"A participant labelled {label!r} is already in the conference")
        wait_url = form.get("WaitUrl")
        participant = Participant(
            call_sid=new_sid("CA"), account_sid=account_sid, conference_sid=room.sid, label=label,
            muted=flag_param(form, "Muted"), coaching=coaching or coached is not None,
            call_sid_to_coach=coached,
            start_conference_on_enter=flag_param(form, "StartConferenceOnEnter", True),
            end_conference_on_exit=flag_param(form, "EndConferenceOnExit"),
            wait_url=wait_url if wait_url is None else (wait_url and url_param(form, "WaitUrl", 21205)),
            wait_method=method_param(form, "WaitMethod"), from_=from_, to=to,
            status_callback=url_param(form, "StatusCallback", 21609),
            status_callback_method=method_param(form, "StatusCallbackMethod"),
            status_callback_events=tuple(events or ["completed"]),
        )  # fmt: skip
        record = OutboundCall(
            sid=participant.call_sid, account_sid=account_sid, to=to, from_=from_, url=None, method="POST",
            twiml=None, status_callback=None, status_callback_method="POST", status_callback_event=[],
            timeout=timeout, conference=room.sid,
        )  # fmt: skip
        switchboard.place(record)
        rooms.add(room, participant)
        body = participant_json(room, participant)
        if switchboard.dialer is not None:
            switchboard.dialer.dial(record)
        return jsonify(body), 201

    @app.get(f"{ACCOUNT_PATH}/Conferences/<sid>/Participants/<call>.json")
    def fetch_participant(account: str, sid: str, call: str) -> Response:
        room = room_of(sid)
        return jsonify(participant_json(room, participant_of(room, call)))

    @app.post(f"{ACCOUNT_PATH}/Conferences/<sid>/Participants/<call>.json")
    def update_participant(account: str, sid: str, call: str) -> Response:
        room = room_of(sid)
        participant = participant_of(room, call)
        form = request.form
        coached = form.get("CallSidToCoach") or None
        coaching = maybe_flag(form, "Coaching")
        if coaching and not (coached or participant.call_sid_to_coach):
            raise ApiError(400, 20001, "CallSidToCoach is required when Coaching is true")
        rooms.update(
            room, participant,
            muted=maybe_flag(form, "Muted"), hold=maybe_flag(form, "Hold"),
            hold_url=url_param(form, "HoldUrl", 21205), hold_method=method_or_none(form, "HoldMethod"),
            coaching=coaching, call_sid_to_coach=coached,
            end_conference_on_exit=maybe_flag(form, "EndConferenceOnExit"),
            announce_url=url_param(form, "AnnounceUrl", 21205),
            announce_method=method_param(form, "AnnounceMethod"),
        )  # fmt: skip
        return jsonify(participant_json(room, participant))

    @app.delete(f"{ACCOUNT_PATH}/Conferences/<sid>/Participants/<call>.json")
    def remove_participant(account: str, sid: str, call: str) -> tuple[str, int]:
        room = room_of(sid)
        participant = participant_of(room, call)
        if participant.in_room or participant.call is not None:
            rooms.leave(participant.call_sid, kicked=True)
        else:
            rooms.cancel(participant.call_sid, "canceled")
            if switchboard.dialer is not None:
                switchboard.dialer.updated(participant.call_sid)  # it stops ringing
        return "", 204
