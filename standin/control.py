"""The control API of the live stand-in: place calls, hear them, act on them, ring consoles.

Served next to the REST stand-in (same server, same account credentials in HTTP Basic auth)
under ``/control``. It is what a handset and a softphone are to Twilio; the terminal phone
(``make call``) and the agent console (``make console``) use it through ``Control``:

- ``POST /control/calls`` (``from``, ``to``): dial the hotline; 201 with the call's ``sid``.
- ``GET /control/calls/<sid>/events?after=N&wait=S``: the events after number N (what the
  caller hears, the call's state, an agent answering, the end), waiting up to S s for one.
- ``POST /control/calls/<sid>/actions`` (``kind``: keys, speech, silence, record, hangup; or,
  for a dialled number with no console, answer, end, busy, no-answer, failed; ``value``).
- ``POST /control/clients/<identity>``: register a console as ``client:<identity>``;
  ``DELETE`` unregisters it; ``GET .../events`` long-polls its rings (and keeps it registered);
  ``POST .../actions`` (``kind``: answer, busy, hangup) acts on the call ringing it.
"""

from __future__ import annotations

from typing import Any

import requests
from flask import Blueprint, Flask, jsonify, request
from flask.typing import ResponseReturnValue

from standin.interpreter import ENDED
from standin.live import CALLER_KINDS, DIALLED_KINDS, LiveCall, LiveCalls, Message
from standin.rest import ApiError

__all__ = ["Control", "ControlError", "add_control"]

MAX_WAIT = 25.0  # a long poll answers at least this often, inside any HTTP timeout


def _wait() -> float:
    """The ``wait`` query parameter, bounded."""
    try:
        return min(max(float(request.args.get("wait", "0")), 0.0), MAX_WAIT)
    except ValueError:
        raise ApiError(400, 20001, "wait must be a number of seconds") from None


def _after() -> int:
    """The ``after`` query parameter: the number of the last event already seen."""
    after = request.args.get("after", "0")
    if not (after.isascii() and after.isdigit()):
        raise ApiError(400, 20001, "after must be a whole number")
    return int(after)


def _body() -> dict[str, Any]:
    """The request's fields, from JSON or a form."""
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    return data if isinstance(data, dict) else {}


def add_control(app: Flask, live: LiveCalls) -> None:
    """Serve the control API of ``live`` from ``app`` (the REST stand-in, whose auth it shares)."""
    bp = Blueprint("control", __name__, url_prefix="/control")

    def the_call(sid: str) -> LiveCall:
        call = live.call(sid)
        if call is None:
            raise ApiError(404, 20404, f"no live call {sid}")
        return call

    @bp.post("/calls")
    def place() -> ResponseReturnValue:
        body = _body()
        from_, to = str(body.get("from", "")).strip(), str(body.get("to", "")).strip()
        if not from_ or not to:
            raise ApiError(400, 21201, "a call needs `from` and `to`")
        call = live.place(from_, to)
        return jsonify(sid=call.call_sid, speed=live.speed), 201

    @bp.get("/calls/<sid>/events")
    def call_events(sid: str) -> ResponseReturnValue:
        call = the_call(sid)
        events = call.events.since(_after(), _wait())
        return jsonify(events=events, state=call.state)

    @bp.post("/calls/<sid>/actions")
    def call_action(sid: str) -> ResponseReturnValue:
        call, body = the_call(sid), _body()
        kind, value = str(body.get("kind", "")), str(body.get("value", ""))
        if kind not in CALLER_KINDS | DIALLED_KINDS | {"hangup"}:
            raise ApiError(400, 20001, f"unknown action {kind!r}")
        if call.state in ENDED:
            raise ApiError(409, 21220, "Call is not in-progress.")
        call.inbox.put(Message(kind, value, by="caller"))
        return jsonify(accepted=kind, state=call.state), 202

    @bp.post("/clients/<identity>")
    def register(identity: str) -> ResponseReturnValue:
        client = live.register(identity)
        return jsonify(identity=identity, events=len(client.events)), 201

    @bp.delete("/clients/<identity>")
    def unregister(identity: str) -> ResponseReturnValue:
        live.unregister(identity)
        return "", 204

    @bp.get("/clients/<identity>/events")
    def client_events(identity: str) -> ResponseReturnValue:
        if live.registered(identity) is None:
            raise ApiError(404, 20404, f"client:{identity} is not registered")
        client = live.register(identity)  # polling keeps the console registered
        events = client.events.since(_after(), _wait())
        live.register(identity)
        return jsonify(events=events, call=client.call.call_sid if client.call else None)

    @bp.post("/clients/<identity>/actions")
    def client_action(identity: str) -> ResponseReturnValue:
        client = live.registered(identity)
        kind = str(_body().get("kind", ""))
        if kind not in ("answer", "busy", "hangup"):
            raise ApiError(400, 20001, f"unknown action {kind!r}: answer, busy or hangup")
        if client is None or client.call is None:
            raise ApiError(409, 21220, "no call is ringing or connected here")
        client.call.inbox.put(Message("end" if kind == "hangup" else kind, by=identity))
        return jsonify(accepted=kind, call=client.call.call_sid), 202

    app.register_blueprint(bp)


class ControlError(Exception):
    """The control API refused a request, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Control:
    """A client of the control API, with the account's credentials."""

    def __init__(self, url: str, account_sid: str, auth_token: str, timeout: float = 5.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.auth = (account_sid, auth_token)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, wait: float = 0) -> Any:
        """One request; the JSON answer. Raises ControlError."""
        try:
            resp = self.session.request(
                method, f"{self.url}/control{path}", json=body, timeout=self.timeout + wait
            )
        except requests.RequestException as exc:
            raise ControlError(0, f"the stand-in does not answer at {self.url}: {exc}") from exc
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message", resp.text)
            except ValueError:
                message = resp.text[:200]
            raise ControlError(resp.status_code, message)
        return resp.json() if resp.content else {}

    def place(self, from_: str, to: str) -> str:
        """Dial the hotline; the new call's sid."""
        return str(self.request("POST", "/calls", {"from": from_, "to": to})["sid"])

    def events(self, sid: str, after: int, wait: float = MAX_WAIT) -> dict[str, Any]:
        """The call's events after number ``after`` (waiting up to ``wait`` s) and its state."""
        return dict(self.request("GET", f"/calls/{sid}/events?after={after}&wait={wait}", wait=wait))

    def act(self, sid: str, kind: str, value: str = "") -> dict[str, Any]:
        """Do something on the call as its caller."""
        return dict(self.request("POST", f"/calls/{sid}/actions", {"kind": kind, "value": value}))

    def register(self, identity: str) -> int:
        """Register as ``client:<identity>``; the number of its events so far."""
        return int(self.request("POST", f"/clients/{identity}")["events"])

    def unregister(self, identity: str) -> None:
        """Stop being rung."""
        self.request("DELETE", f"/clients/{identity}")

    def client_events(self, identity: str, after: int, wait: float = MAX_WAIT) -> dict[str, Any]:
        """The console's events after number ``after`` (rings, whispers, ends)."""
        return dict(self.request("GET", f"/clients/{identity}/events?after={after}&wait={wait}", wait=wait))

    def client_act(self, identity: str, kind: str) -> dict[str, Any]:
        """Answer, refuse (busy) or hang up the call ringing (or connected to) the console."""
        return dict(self.request("POST", f"/clients/{identity}/actions", {"kind": kind}))
