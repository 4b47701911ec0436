"""The recordings of conference rooms in the REST stand-in: list, fetch, pause, resume, stop and
delete them, through a room (``/Conferences/{Sid}/Recordings``) or the account
(``/Recordings``). A deletion can be refused as asked (``Switchboard.fail_recording_deletes``)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from standin.conference import Conference, Recording
from standin.rest.conferences import find_room
from standin.rest.params import ApiError, not_found
from standin.rest.resources import ACCOUNT_PATH, API_VERSION, page, recording_json
from standin.rest.switchboard import Switchboard

__all__ = ["add_recording_routes"]


def add_recording_routes(app: Flask, switchboard: Switchboard, account_sid: str) -> None:
    """Serve the recordings of the account's rooms from ``switchboard`` on ``app``."""
    rooms = switchboard.conferences

    def room_of(sid: str) -> Conference:
        return find_room(rooms, account_sid, sid)

    def recording_of(room: Conference, sid: str) -> Recording:
        found = rooms.recording(room, sid)
        if found is None or found.deleted:
            raise not_found()
        return found

    @app.get(f"{ACCOUNT_PATH}/Conferences/<sid>/Recordings.json")
    def list_room_recordings(account: str, sid: str) -> Response:
        room = room_of(sid)
        found = [recording_json(r) for r in room.recordings if not r.deleted]
        return page(
            "recordings", f"/{API_VERSION}/Accounts/{account}/Conferences/{room.sid}/Recordings.json", found
        )

    @app.get(f"{ACCOUNT_PATH}/Conferences/<sid>/Recordings/<rec>.json")
    def fetch_room_recording(account: str, sid: str, rec: str) -> Response:
        return jsonify(recording_json(recording_of(room_of(sid), rec)))

    @app.post(f"{ACCOUNT_PATH}/Conferences/<sid>/Recordings/<rec>.json")
    def update_room_recording(account: str, sid: str, rec: str) -> Response:
        room = room_of(sid)
        recording = recording_of(room, rec)
        status = request.form.get("Status", "")
        if status not in ("paused", "in-progress", "stopped"):
            raise ApiError(400, 20001, f"Status must be paused, in-progress or stopped, not {status!r}")
        if request.form.get("PauseBehavior", "silence") not in ("skip", "silence"):
            raise ApiError(400, 20001, "PauseBehavior must be skip or silence")
        if recording.status not in ("in-progress", "paused"):
            raise ApiError(400, 21220, "The recording is not in progress")
        rooms.set_recording(room, recording, status)
        return jsonify(recording_json(recording))

    @app.get(f"{ACCOUNT_PATH}/Recordings.json")
    def list_recordings(account: str) -> Response:
        wanted = request.args.get("ConferenceSid")
        found = [
            recording_json(r)
            for room in rooms.rooms(account_sid)
            if wanted in (None, room.sid)
            for r in room.recordings
            if not r.deleted
        ]
        return page("recordings", f"/{API_VERSION}/Accounts/{account}/Recordings.json", found[::-1])

    @app.get(f"{ACCOUNT_PATH}/Recordings/<rec>.json")
    def fetch_recording(account: str, rec: str) -> Response:
        found = rooms.find_recording(rec, account_sid)
        if found is None:
            raise not_found()
        return jsonify(recording_json(found[1]))

    @app.delete(f"{ACCOUNT_PATH}/Recordings/<rec>.json")
    def delete_recording(account: str, rec: str) -> tuple[str, int]:
        found = rooms.find_recording(rec, account_sid)
        if found is None:
            raise not_found()
        if found[1].status in ("in-progress", "paused"):
            raise ApiError(400, 20001, "A recording in progress cannot be deleted")
        failure = switchboard.next_recording_delete_failure()
        if failure is not None:
            raise ApiError(*failure)
        found[1].deleted = True
        return "", 204
