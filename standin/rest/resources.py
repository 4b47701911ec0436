"""The resources of Twilio's REST API as it returns them in JSON: calls, conferences, participants,
recordings, messages, and a page of a list.

Fields the stand-in does not model are there, null, so that twilio-python parses every one.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from standin.conference import Conference, Participant, Recording
from standin.rest.switchboard import rfc2822_now

__all__ = [
    "ACCOUNT_PATH",
    "API_VERSION",
    "call_json",
    "conference_json",
    "message_json",
    "page",
    "participant_json",
    "recording_json",
]

API_VERSION = "2010-04-01"
ACCOUNT_PATH = f"/{API_VERSION}/Accounts/<account>"  # a route's start: the account's resources


def call_json(
    account_sid: str, sid: str, *, to: str, from_: str, status: str, direction: str, date: str
) -> dict[str, Any]:
    """A Call resource as Twilio returns it (fields the stand-in does not model are null)."""
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}"
    ended = status in ("completed", "canceled", "failed", "busy", "no-answer")
    return {
        "sid": sid, "date_created": date, "date_updated": rfc2822_now(), "parent_call_sid": None,
        "account_sid": account_sid, "to": to, "to_formatted": to, "from": from_,
        "from_formatted": from_, "phone_number_sid": None, "status": status,
        "start_time": None if status in ("queued", "ringing") else date,
        "end_time": rfc2822_now() if ended else None, "duration": None, "price": None,
        "price_unit": "USD", "direction": direction, "answered_by": None,
        "api_version": API_VERSION, "forwarded_from": None, "group_sid": None,
        "caller_name": None, "queue_time": "0", "trunk_sid": None, "uri": f"{uri}.json",
        "subresource_uris": {
            name: f"{uri}/{name.title().replace('_', '')}.json"
            for name in ("notifications", "recordings", "payments", "events", "siprec", "streams")
        },
    }  # fmt: skip


def conference_json(room: Conference) -> dict[str, Any]:
    """A Conference resource as Twilio returns it."""
    uri = f"/{API_VERSION}/Accounts/{room.account_sid}/Conferences/{room.sid}"
    return {
        "sid": room.sid, "account_sid": room.account_sid, "friendly_name": room.friendly_name,
        "status": room.status, "date_created": room.date_created, "date_updated": room.date_updated,
        "api_version": API_VERSION, "region": "us1", "uri": f"{uri}.json",
        "reason_conference_ended": room.reason_conference_ended,
        "call_sid_ending_conference": room.call_sid_ending_conference,
        "subresource_uris": {
            "participants": f"{uri}/Participants.json", "recordings": f"{uri}/Recordings.json",
        },
    }  # fmt: skip


def participant_json(room: Conference, participant: Participant) -> dict[str, Any]:
    """A Participant resource as Twilio returns it."""
    uri = f"/{API_VERSION}/Accounts/{room.account_sid}/Conferences/{room.sid}/Participants"
    return {
        "account_sid": room.account_sid, "call_sid": participant.call_sid,
        "conference_sid": room.sid, "label": participant.label, "muted": participant.muted,
        "hold": participant.hold, "coaching": participant.coaching,
        "call_sid_to_coach": participant.call_sid_to_coach if participant.coaching else None,
        "start_conference_on_enter": participant.start_conference_on_enter,
        "end_conference_on_exit": participant.end_conference_on_exit,
        "status": participant.status, "date_created": participant.date_created,
        "date_updated": rfc2822_now(), "queue_time": None,
        "uri": f"{uri}/{participant.call_sid}.json",
    }  # fmt: skip


def recording_json(recording: Recording) -> dict[str, Any]:
    """A Recording resource as Twilio returns it (duration -1 until it is complete)."""
    done = recording.status in ("completed", "stopped")
    return {
        "sid": recording.sid, "account_sid": recording.account_sid,
        "conference_sid": recording.conference_sid, "call_sid": None, "api_version": API_VERSION,
        "status": "completed" if done else recording.status, "channels": 1, "source": "DialConference",
        "duration": str(recording.duration) if done else "-1", "date_created": recording.date_created,
        "date_updated": rfc2822_now(), "start_time": recording.date_created, "price": None,
        "price_unit": "USD", "error_code": None, "encryption_details": None,
        "uri": f"/{API_VERSION}/Accounts/{recording.account_sid}/Recordings/{recording.sid}.json",
    }  # fmt: skip


def page(name: str, uri: str, items: list[dict[str, Any]]) -> Response:
    """One page of a list resource holding every item."""
    return jsonify(
        **{name: items}, page=0, page_size=max(len(items), 50), start=0, end=max(len(items) - 1, 0),
        uri=uri, first_page_uri=uri, next_page_uri=None, previous_page_uri=None,
    )  # fmt: skip


def message_json(account_sid: str, message: dict[str, Any]) -> dict[str, Any]:
    """A Message resource as Twilio returns it after accepting it for delivery."""
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message['sid']}"
    return {
        "account_sid": account_sid, "api_version": API_VERSION, "body": message["body"],
        "date_created": message["date_created"], "date_sent": None,
        "date_updated": message["date_created"], "direction": "outbound-api", "error_code": None,
        "error_message": None, "from": message["from"],
        "messaging_service_sid": message["messaging_service_sid"], "num_media": "0",
        "num_segments": "1", "price": None, "price_unit": "USD", "sid": message["sid"],
        "status": message["status"], "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": message["to"], "uri": f"{uri}.json",
    }  # fmt: skip
