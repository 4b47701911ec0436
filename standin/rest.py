"""Twilio's REST API as the hotline uses it (calls and messages), served by the stand-in.

``Switchboard`` is what Twilio holds: the live calls (stand-in ``Call`` objects register
themselves), the outbound calls created through the API and the messages sent. An outbound call
is a record that stays ``queued`` unless the switchboard has a ``dialer`` (the live stand-in,
``standin.live.LiveCalls``), which rings its ``To`` and runs it as Twilio would.
``create_rest_app`` serves it under ``/2010-04-01/Accounts/{AccountSid}/``
with Twilio's JSON shapes, errors (``code``, ``message``, ``more_info``, ``status``) and HTTP
Basic auth (AccountSid and auth token), to the real twilio-python client. ``serve_in_thread``
runs it on a local port.

Updating a live call (``POST /Calls/{CallSid}.json`` with ``Url``, ``Twiml`` or
``Status=completed``) only records the update on the ``Call``: the request may come from inside
one of that call's own webhooks, so the call takes it at its next step (see ``standin.phone``).
A live call of ``standin.live`` runs on its own thread and is woken at once: its hold music stops.
``GET /Calls.json`` lists live and created calls, filtered by ``To``, ``From`` and ``Status``.
An outbound call not answered yet is its record (queued, ringing, or how it ended); once
answered, it is a live call like the others (``Direction`` outbound-api).
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import phonenumbers
from flask import Flask, Response, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from standin.conference import Conference, Conferences, Participant, Recording, RoomSettings
from standin.errors import CallStateError
from standin.interpreter import ENDED
from standin.phone import Call
from standin.twiml_tables import CONFERENCE_EVENTS
from standin.webhook import new_sid

__all__ = ["ApiError", "Dialer", "OutboundCall", "Switchboard", "create_rest_app", "serve_in_thread"]

API_VERSION = "2010-04-01"
CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
NOT_ANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})  # final, never answered


def rfc2822_now() -> str:
    """Now, as Twilio dates its resources: RFC 2822 in GMT (``Tue, 24 Nov 2026 02:30:00 +0000``)."""
    return format_datetime(datetime.now(UTC))


@dataclass
class OutboundCall:
    """A call created with ``POST /Calls.json``: what the app asked for, and where it is."""

    sid: str
    account_sid: str
    to: str
    from_: str
    url: str | None
    method: str
    twiml: str | None
    status_callback: str | None
    status_callback_method: str
    status_callback_event: list[str]
    timeout: int
    status: str = "queued"
    date_created: str = field(default_factory=rfc2822_now)
    machine_detection: str | None = None  # Enable or DetectMessageEnd: the answer says AnsweredBy
    conference: str | None = None  # a participant's leg: answered, it joins this room


class Dialer(Protocol):
    """What runs the outbound calls created through the API (the live stand-in)."""

    def dial(self, record: OutboundCall) -> None:
        """Start ringing the call's ``To`` (on a thread of its own: this runs inside the API request)."""
        ...

    def updated(self, sid: str) -> None:
        """The record of a call not answered yet was changed through the API (canceled, new Url)."""
        ...


class Switchboard:
    """What Twilio holds for the account; safe to use from the server's and the tests' threads."""

    def __init__(self) -> None:
        """Start with no calls and no messages."""
        self._lock = threading.Lock()
        self._live: dict[str, tuple[Call, str]] = {}  # CallSid -> (call, date registered)
        self._outbound: dict[str, OutboundCall] = {}
        self._messages: list[dict[str, Any]] = []
        self._message_failures: list[tuple[int, int, str]] = []
        self.dialer: Dialer | None = None  # without one, outbound calls stay queued
        self.conferences = Conferences()
        self.conferences.on_call_status = self._participant_call_status

    def register(self, call: Call) -> Call:
        """Make a stand-in call reachable through the API by its CallSid; return it.

        Its ``<Dial><Conference>`` joins the switchboard's rooms (whose REST-made rooms sign
        their callbacks with the first registered call's transport).
        """
        with self._lock:
            self._live[call.call_sid] = (call, rfc2822_now())
        call.conferences = self.conferences
        if self.conferences.transport is None:
            self.conferences.transport = call.transport
        return call

    def _participant_call_status(self, sid: str, status: str) -> None:
        """A participant the API dialled answered or ended: its call's record follows."""
        with self._lock:
            record = self._outbound.get(sid)
            if record is not None and record.status not in NOT_ANSWERED | {"completed"}:
                self._outbound[sid] = replace(record, status=status)

    def live_call(self, sid: str) -> tuple[Call, str] | None:
        """The registered call with this CallSid and the date it was registered, if any."""
        with self._lock:
            return self._live.get(sid)

    def live_calls(self) -> list[tuple[Call, str]]:
        """Every registered call with the date it was registered, oldest first."""
        with self._lock:
            return list(self._live.values())

    def place(self, record: OutboundCall) -> None:
        """Keep an outbound call created through the API (or its updated record)."""
        with self._lock:
            self._outbound[record.sid] = record

    def update_outbound(self, sid: str, **changes: Any) -> OutboundCall | None:
        """Change an outbound call's record unless it ended already; the record after, if changed."""
        with self._lock:
            record = self._outbound.get(sid)
            if record is None or record.status in NOT_ANSWERED | {"completed"}:
                return None
            self._outbound[sid] = replace(record, **changes)
            return self._outbound[sid]

    def outbound_call(self, sid: str) -> OutboundCall | None:
        """The outbound call with this sid, if the API created one."""
        with self._lock:
            return self._outbound.get(sid)

    @property
    def outbound_calls(self) -> list[OutboundCall]:
        """Every outbound call created through the API, oldest first."""
        with self._lock:
            return list(self._outbound.values())

    def send(self, message: dict[str, Any]) -> None:
        """Keep a message sent through the API."""
        with self._lock:
            self._messages.append(dict(message))

    def fail_messages(
        self, count: int = 1, status: int = 503, code: int = 20503, message: str = "Service Unavailable"
    ) -> None:
        """Refuse the next ``count`` message sends with this Twilio error (an outage, a 429...)."""
        with self._lock:
            self._message_failures.extend([(status, code, message)] * count)

    def next_message_failure(self) -> tuple[int, int, str] | None:
        """The error the next message send gets, if one was asked for (used up by the send)."""
        with self._lock:
            return self._message_failures.pop(0) if self._message_failures else None

    def forget_calls(self) -> None:
        """Forget every live and created call (a session-wide switchboard, between tests)."""
        with self._lock:
            self._live.clear()
            self._outbound.clear()
        self.conferences.forget()

    def clear(self) -> None:
        """Forget the messages sent and any failures still due (a session-wide switchboard)."""
        with self._lock:
            self._messages.clear()
            self._message_failures.clear()

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Copies of the messages sent (sid, to, from, body, status, date_created, ...)."""
        with self._lock:
            return [dict(message) for message in self._messages]


class ApiError(Exception):
    """A request Twilio would refuse, with the HTTP status and Twilio error code it would give."""

    def __init__(self, status: int, code: int, message: str) -> None:
        """``code`` is Twilio's (https://www.twilio.com/docs/errors/<code>)."""
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        """The error as Twilio's JSON body."""
        more_info = f"https://www.twilio.com/docs/errors/{self.code}"
        body = {"code": self.code, "message": self.message, "more_info": more_info, "status": self.status}
        answer = jsonify(body)
        answer.status_code = self.status
        if self.status == 401:
            answer.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return answer


def is_e164_number(number: str) -> bool:
    """Whether ``number`` is a valid phone number written in E.164 (``+8613800138000``)."""
    if not re.fullmatch(r"\+[1-9]\d{1,14}", number):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def _dialable(to: str) -> bool:
    """A call's To: an E.164 number, ``client:name`` or a ``sip:user@host`` address."""
    if to.startswith("client:"):
        return bool(re.fullmatch(r"client:[A-Za-z0-9_.\-]+", to))
    if to.startswith("sip:"):
        return bool(re.fullmatch(r"sip:[^@\s]+@[^@\s]+", to))
    return is_e164_number(to)


def _url(form: MultiDict[str, str], name: str, code: int) -> str | None:
    """An optional absolute http(s) URL parameter."""
    value = form.get(name) or None
    if value is not None and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc):
        raise ApiError(400, code, f"{name} is not a valid URL: {value}")
    return value


def _method(form: MultiDict[str, str], name: str) -> str:
    """An HTTP method parameter Twilio uses for a URL: GET or POST (the default)."""
    method = (form.get(name) or "POST").upper()
    if method not in ("GET", "POST"):
        raise ApiError(400, 20001, f"{name} must be GET or POST, not {form.get(name)!r}")
    return method


def _instructions(form: MultiDict[str, str]) -> tuple[str | None, str, str | None]:
    """``(Url, Method, Twiml)``; the stand-in refuses Url and Twiml together, where Twilio picks one."""
    url, twiml = _url(form, "Url", 21205), form.get("Twiml") or None
    if url and twiml:
        raise ApiError(400, 21205, "Url and Twiml are mutually exclusive")
    return url, _method(form, "Method"), twiml


def _update_live(call: Call, status: str | None, url: str | None, method: str, twiml: str | None) -> None:
    """Record a REST update on a live call, which takes it at its next step.

    ``canceled`` only stops calls not answered yet (Twilio's rule); a live stand-in call is answered.
    """
    try:
        if status == "completed" and _live_status(call) != "completed":
            call.end_pending()
        elif not status and url:
            call.redirect_pending(url, method)
        elif not status and twiml:
            call.twiml_pending(twiml)
    except CallStateError as exc:
        raise ApiError(400, 21220, "Call is not in-progress. Cannot redirect.") from exc


def _call_json(
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


def _live_status(call: Call) -> str:
    """The Call resource status of a stand-in call; a recorded end already counts."""
    pending = call.pending_update
    if (pending is not None and pending.kind == "end") or call.state == "completed":
        return "completed"
    if call.state in ENDED:
        return "no-answer"  # rejected before being answered
    return "ringing" if call.state == "new" else "in-progress"


def _conference_json(room: Conference) -> dict[str, Any]:
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


def _participant_json(room: Conference, participant: Participant) -> dict[str, Any]:
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


def _recording_json(recording: Recording) -> dict[str, Any]:
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


def _page(name: str, uri: str, items: list[dict[str, Any]]) -> Response:
    """One page of a list resource holding every item."""
    return jsonify(
        **{name: items}, page=0, page_size=max(len(items), 50), start=0, end=max(len(items) - 1, 0),
        uri=uri, first_page_uri=uri, next_page_uri=None, previous_page_uri=None,
    )  # fmt: skip


def _flag(form: MultiDict[str, str], name: str, default: bool = False) -> bool:
    """A true/false parameter: Twilio reads anything but ``true`` as false."""
    return form[name].lower() == "true" if name in form else default


def _maybe_flag(form: MultiDict[str, str], name: str) -> bool | None:
    """A true/false parameter, or None when the request leaves it as it is."""
    return _flag(form, name) if name in form else None


def _method_or_none(form: MultiDict[str, str], name: str) -> str | None:
    return _method(form, name) if name in form else None


def _message_json(account_sid: str, message: dict[str, Any]) -> dict[str, Any]:
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


def create_rest_app(switchboard: Switchboard, account_sid: str, auth_token: str) -> Flask:
    """The REST API of one account, backed by ``switchboard``."""
    app = Flask("standin.rest")
    base = f"/{API_VERSION}/Accounts/<account>"

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error.response()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Unknown paths and methods get Twilio's JSON errors too, never an HTML page.
        if error.code == 405:
            return ApiError(405, 20004, "Method not allowed").response()
        return ApiError(404, 20404, f"The requested resource {request.path} was not found").response()

    @app.before_request
    def authenticate() -> None:
        auth = request.authorization
        given = (auth.username or "", auth.password or "") if auth and auth.type == "basic" else ("", "")
        expected = (account_sid, auth_token)
        if not all(hmac.compare_digest(a.encode(), b.encode()) for a, b in zip(given, expected, strict=True)):
            raise ApiError(401, 20003, "Authenticate")
        # Valid credentials for another account's resources: error 20003, "Permission Denied".
        # Read from the path itself: view_args is empty when no route matched (404, 405).
        in_path = re.match(rf"/{API_VERSION}/Accounts/([^/]+?)(?:\.json)?(?:/|$)", request.path)
        if in_path and in_path.group(1) != account_sid:
            raise ApiError(403, 20003, "Permission Denied")

    def not_found() -> ApiError:
        return ApiError(404, 20404, f"The requested resource {request.path} was not found")

    def live_call(sid: str) -> tuple[Call, str] | None:
        live = switchboard.live_call(sid)
        return live if live is not None and live[0].account_sid == account_sid else None

    def answered(sid: str) -> Call | None:
        """The live call with this sid, once it runs (an outbound call that never got answered does not)."""
        live, record = live_call(sid), switchboard.outbound_call(sid)
        if live is None or record is None:
            return live[0] if live is not None else None
        if record.status in NOT_ANSWERED or (live[0].state == "new" and record.status != "in-progress"):
            return None  # it rings, or it ended without an answer: the record says which
        return live[0]

    def call_json(sid: str) -> dict[str, Any]:
        live, record = live_call(sid), switchboard.outbound_call(sid)
        if live is not None and answered(sid) is not None:
            call, date = live
            return _call_json(
                account_sid, sid, to=call.to, from_=call.from_, status=_live_status(call),
                direction="inbound" if record is None else "outbound-api",
                date=date if record is None else record.date_created,
            )  # fmt: skip
        if record is None:
            raise not_found()
        return _call_json(
            account_sid, sid, to=record.to, from_=record.from_, status=record.status,
            direction="outbound-api", date=record.date_created,
        )  # fmt: skip

    @app.post(f"{base}/Calls.json")
    def create_call(account: str) -> tuple[Response, int]:
        form = request.form
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            raise ApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise ApiError(400, 21213, "No 'From' number is specified")
        url, method, twiml = _instructions(form)
        if not url and not twiml:
            raise ApiError(400, 21205, "Url parameter is required.")
        if not _dialable(to):
            raise ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        events = [event for value in form.getlist("StatusCallbackEvent") for event in value.split()]
        if not set(events) <= set(CALL_EVENTS):
            raise ApiError(400, 20001, f"StatusCallbackEvent must be among {', '.join(CALL_EVENTS)}")
        timeout = form.get("Timeout", "60")
        if not (timeout.isascii() and timeout.isdigit()) or not 1 <= int(timeout) <= 600:
            raise ApiError(400, 20001, f"Timeout must be a whole number of seconds, 1 to 600: {timeout!r}")
        record = OutboundCall(
            sid=new_sid("CA"), account_sid=account, to=to, from_=from_, url=url, method=method, twiml=twiml,
            status_callback=_url(form, "StatusCallback", 21609),
            status_callback_method=_method(form, "StatusCallbackMethod"),
            status_callback_event=events or ["completed"], timeout=int(timeout),
            machine_detection=form.get("MachineDetection") or None,
        )  # fmt: skip
        switchboard.place(record)
        body = call_json(record.sid)  # queued, as Twilio answers, whatever the dialer does next
        if switchboard.dialer is not None:
            switchboard.dialer.dial(record)
        return jsonify(body), 201

    @app.get(f"{base}/Calls.json")
    def list_calls(account: str) -> Response:
        # Twilio's filters: To, From and Status; newest first, as Twilio lists them.
        sids = [call.call_sid for call, _ in switchboard.live_calls() if call.account_sid == account_sid]
        sids += [record.sid for record in switchboard.outbound_calls if record.account_sid == account_sid]
        sids = list(dict.fromkeys(sids))  # an outbound call that rings or runs is also a live one
        filters = (("to", "To"), ("from", "From"), ("status", "Status"))
        wanted = {key: request.args[arg] for key, arg in filters if arg in request.args}
        found = [c for c in map(call_json, sids) if all(c[k] == v for k, v in wanted.items())]
        uri = f"/{API_VERSION}/Accounts/{account}/Calls.json"
        return jsonify(
            calls=list(reversed(found)), page=0, page_size=max(len(found), 50), start=0,
            end=max(len(found) - 1, 0), uri=uri, first_page_uri=uri, next_page_uri=None,
            previous_page_uri=None,
        )  # fmt: skip

    @app.get(f"{base}/Calls/<sid>.json")
    def fetch_call(account: str, sid: str) -> Response:
        return jsonify(call_json(sid))

    @app.post(f"{base}/Calls/<sid>.json")
    def update_call(account: str, sid: str) -> Response:
        call_json(sid)  # 404 for a call the account does not have
        status = request.form.get("Status")
        if status not in (None, "completed", "canceled"):
            raise ApiError(400, 20001, f"Status must be completed or canceled, not {status!r}")
        url, method, twiml = _instructions(request.form)
        call, record = answered(sid), switchboard.outbound_call(sid)
        if call is not None:
            _update_live(call, status, url, method, twiml)
        elif record is not None and record.status in ("queued", "ringing") and (status or url or twiml):
            # Not answered yet: it can still be canceled, or pointed at other TwiML.
            changes = {"status": "canceled"} if status else {"url": url, "method": method, "twiml": twiml}
            if switchboard.update_outbound(sid, **changes) is not None and switchboard.dialer is not None:
                switchboard.dialer.updated(sid)
        return jsonify(call_json(sid))

    # -- conferences and their participants ----------------------------------------------------

    rooms = switchboard.conferences

    def room_of(sid: str) -> Conference:
        # Only creating a participant may name the room by its friendly name.
        room = rooms.find(sid, account_sid) if sid.startswith("CF") else None
        if room is None:
            raise not_found()
        return room

    def participant_of(room: Conference, sid: str) -> Participant:
        # Ended calls and rooms have no participants left: Twilio answers 404 for them.
        found = room.participant(sid) if room.status != "completed" else None
        if found is None:
            raise not_found()
        return found

    @app.get(f"{base}/Conferences.json")
    def list_conferences(account: str) -> Response:
        found = [_conference_json(room) for room in rooms.rooms(account_sid)]
        filters = (("friendly_name", "FriendlyName"), ("status", "Status"))
        wanted = {key: request.args[arg] for key, arg in filters if arg in request.args}
        found = [c for c in found if all(c[k] == v for k, v in wanted.items())]
        return _page("conferences", f"/{API_VERSION}/Accounts/{account}/Conferences.json", found[::-1])

    @app.get(f"{base}/Conferences/<sid>.json")
    def fetch_conference(account: str, sid: str) -> Response:
        return jsonify(_conference_json(room_of(sid)))

    @app.post(f"{base}/Conferences/<sid>.json")
    def update_conference(account: str, sid: str) -> Response:
        room = room_of(sid)
        status = request.form.get("Status")
        if status not in (None, "completed"):
            raise ApiError(400, 20001, f"Status must be completed, not {status!r}")
        announce = _url(request.form, "AnnounceUrl", 21205)
        if announce and room.status != "completed":
            for participant in room.connected():
                rooms.update(room, participant, announce_url=announce)
        if status == "completed":
            rooms.end(room)
        return jsonify(_conference_json(room))

    @app.get(f"{base}/Conferences/<sid>/Participants.json")
    def list_participants(account: str, sid: str) -> Response:
        room = room_of(sid)
        found = (
            [_participant_json(room, p) for p in room.participants.values()]
            if room.status != "completed"
            else []
        )
        for key, arg in (("muted", "Muted"), ("hold", "Hold"), ("coaching", "Coaching")):
            if arg in request.args:
                found = [p for p in found if p[key] == (request.args[arg] == "true")]
        uri = f"/{API_VERSION}/Accounts/{account}/Conferences/{room.sid}/Participants.json"
        return _page("participants", uri, found)

    @app.post(f"{base}/Conferences/<sid>/Participants.json")
    def create_participant(account: str, sid: str) -> tuple[Response, int]:
        form = request.form
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            raise ApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise ApiError(400, 21213, "No 'From' number is specified")
        if not _dialable(to):
            raise ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        coaching, coached = _flag(form, "Coaching"), form.get("CallSidToCoach") or None
        if coaching and not coached:
            raise ApiError(400, 20001, "CallSidToCoach is required when Coaching is true")
        events = [event for value in form.getlist("StatusCallbackEvent") for event in value.split()]
        if not set(events) <= set(CALL_EVENTS):
            raise ApiError(400, 20001, f"StatusCallbackEvent must be among {', '.join(CALL_EVENTS)}")
        room_events = [e for value in form.getlist("ConferenceStatusCallbackEvent") for e in value.split()]
        if not set(room_events) <= CONFERENCE_EVENTS:
            raise ApiError(
                400, 20001, f"ConferenceStatusCallbackEvent must be among {sorted(CONFERENCE_EVENTS)}"
            )
        timeout = form.get("Timeout", "60")
        if not (timeout.isascii() and timeout.isdigit()) or not 5 <= int(timeout) <= 600:
            raise ApiError(400, 20001, f"Timeout must be a whole number of seconds, 5 to 600: {timeout!r}")
        # The path names the room by its sid, or by its friendly name (made if it is not there).
        room = rooms.find(sid, account_sid)
        if room is None and re.fullmatch(r"CF[0-9a-fA-F]{32}", sid):
            raise not_found()
        if room is None:
            settings = RoomSettings(
                status_callback=_url(form, "ConferenceStatusCallback", 21609),
                status_callback_method=_method(form, "ConferenceStatusCallbackMethod"),
                status_callback_events=frozenset(room_events),
            )
            room = rooms.open(sid, account_sid, settings, None)
        label = form.get("Label") or None
        if label and room.participant(label) is not None:
            raise ApiError(400, 20001, f"A participant labelled {label!r} is already in the conference")
        wait_url = form.get("WaitUrl")
        participant = Participant(
            call_sid=new_sid("CA"), account_sid=account_sid, conference_sid=room.sid, label=label,
            muted=_flag(form, "Muted"), coaching=coaching or coached is not None, call_sid_to_coach=coached,
            start_conference_on_enter=_flag(form, "StartConferenceOnEnter", True),
            end_conference_on_exit=_flag(form, "EndConferenceOnExit"),
            wait_url=wait_url if wait_url is None else (wait_url and _url(form, "WaitUrl", 21205)),
            wait_method=_method(form, "WaitMethod"), from_=from_, to=to,
            status_callback=_url(form, "StatusCallback", 21609),
            status_callback_method=_method(form, "StatusCallbackMethod"),
            status_callback_events=tuple(events or ["completed"]),
        )  # fmt: skip
        record = OutboundCall(
            sid=participant.call_sid, account_sid=account_sid, to=to, from_=from_, url=None, method="POST",
            twiml=None, status_callback=None, status_callback_method="POST", status_callback_event=[],
            timeout=int(timeout), conference=room.sid,
        )  # fmt: skip
        switchboard.place(record)
        rooms.add(room, participant)
        body = _participant_json(room, participant)
        if switchboard.dialer is not None:
            switchboard.dialer.dial(record)
        return jsonify(body), 201

    @app.get(f"{base}/Conferences/<sid>/Participants/<call>.json")
    def fetch_participant(account: str, sid: str, call: str) -> Response:
        room = room_of(sid)
        return jsonify(_participant_json(room, participant_of(room, call)))

    @app.post(f"{base}/Conferences/<sid>/Participants/<call>.json")
    def update_participant(account: str, sid: str, call: str) -> Response:
        room = room_of(sid)
        participant = participant_of(room, call)
        form = request.form
        coached = form.get("CallSidToCoach") or None
        coaching = _maybe_flag(form, "Coaching")
        if coaching and not (coached or participant.call_sid_to_coach):
            raise ApiError(400, 20001, "CallSidToCoach is required when Coaching is true")
        rooms.update(
            room, participant,
            muted=_maybe_flag(form, "Muted"), hold=_maybe_flag(form, "Hold"),
            hold_url=_url(form, "HoldUrl", 21205), hold_method=_method_or_none(form, "HoldMethod"),
            coaching=coaching, call_sid_to_coach=coached,
            end_conference_on_exit=_maybe_flag(form, "EndConferenceOnExit"),
            announce_url=_url(form, "AnnounceUrl", 21205), announce_method=_method(form, "AnnounceMethod"),
        )  # fmt: skip
        return jsonify(_participant_json(room, participant))

    @app.delete(f"{base}/Conferences/<sid>/Participants/<call>.json")
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

    # -- recordings ----------------------------------------------------------------------------

    def recording_of(room: Conference, sid: str) -> Recording:
        found = rooms.recording(room, sid)
        if found is None or found.deleted:
            raise not_found()
        return found

    @app.get(f"{base}/Conferences/<sid>/Recordings.json")
    def list_room_recordings(account: str, sid: str) -> Response:
        room = room_of(sid)
        found = [_recording_json(r) for r in room.recordings if not r.deleted]
        return _page(
            "recordings", f"/{API_VERSION}/Accounts/{account}/Conferences/{room.sid}/Recordings.json", found
        )

    @app.get(f"{base}/Conferences/<sid>/Recordings/<rec>.json")
    def fetch_room_recording(account: str, sid: str, rec: str) -> Response:
        return jsonify(_recording_json(recording_of(room_of(sid), rec)))

    @app.post(f"{base}/Conferences/<sid>/Recordings/<rec>.json")
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
        return jsonify(_recording_json(recording))

    @app.get(f"{base}/Recordings.json")
    def list_recordings(account: str) -> Response:
        wanted = request.args.get("ConferenceSid")
        found = [
            _recording_json(r)
            for room in rooms.rooms(account_sid)
            if wanted in (None, room.sid)
            for r in room.recordings
            if not r.deleted
        ]
        return _page("recordings", f"/{API_VERSION}/Accounts/{account}/Recordings.json", found[::-1])

    @app.get(f"{base}/Recordings/<rec>.json")
    def fetch_recording(account: str, rec: str) -> Response:
        found = rooms.find_recording(rec, account_sid)
        if found is None:
            raise not_found()
        return jsonify(_recording_json(found[1]))

    @app.delete(f"{base}/Recordings/<rec>.json")
    def delete_recording(account: str, rec: str) -> tuple[str, int]:
        found = rooms.find_recording(rec, account_sid)
        if found is None:
            raise not_found()
        if found[1].status in ("in-progress", "paused"):
            raise ApiError(400, 20001, "A recording in progress cannot be deleted")
        found[1].deleted = True
        return "", 204

    @app.post(f"{base}/Messages.json")
    def create_message(account: str) -> tuple[Response, int]:
        form = request.form
        to, from_, service = form.get("To", ""), form.get("From"), form.get("MessagingServiceSid")
        body = form.get("Body", "")
        if not to:
            raise ApiError(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service:
            raise ApiError(400, 21603, "A 'From' phone number is required.")
        if not body:
            raise ApiError(400, 21602, "Message body is required.")
        if len(body) > 1600:
            raise ApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if not is_e164_number(to):
            raise ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        failure = switchboard.next_message_failure()
        if failure is not None:
            raise ApiError(*failure)
        message = {
            "sid": new_sid("SM"), "to": to, "from": from_ or None, "body": body,
            # A Messaging Service picks the sender later: the message is only accepted so far.
            "status": "queued" if from_ else "accepted", "date_created": rfc2822_now(),
            "messaging_service_sid": service,
        }  # fmt: skip
        switchboard.send(message)
        return jsonify(_message_json(account, message)), 201

    @app.get(f"{base}/Messages.json")
    def list_messages(account: str) -> Response:
        wanted = {
            key: request.args[arg] for key, arg in (("to", "To"), ("from", "From")) if arg in request.args
        }
        found = [m for m in switchboard.messages if all(m[k] == v for k, v in wanted.items())]
        uri = f"/{API_VERSION}/Accounts/{account}/Messages.json"
        return jsonify(
            messages=[_message_json(account, message) for message in reversed(found)],  # newest first
            page=0, page_size=max(len(found), 50), start=0, end=max(len(found) - 1, 0), uri=uri,
            first_page_uri=uri, next_page_uri=None, previous_page_uri=None,
        )  # fmt: skip

    return app


def serve_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve ``app`` over HTTP from a daemon thread; return its base URL and a ``stop()``.

    ``port=0`` takes a free port. The server is threaded, so a request the app makes to the
    stand-in while it is itself being called does not wait for the first one to finish.
    """
    server = make_server(host, port, app, threaded=True)
    # A short poll interval: stop() waits for the next poll, and tests start and stop many servers.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"standin-{app.name}", daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.server_port}", stop
