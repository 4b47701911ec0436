"""The Calls resource of the REST stand-in: create, list, fetch and update calls.

Updating a live call (``POST /Calls/{CallSid}.json`` with ``Url``, ``Twiml`` or
``Status=completed``) only records the update on the ``Call``: the request may come from inside
one of that call's own webhooks, so the call takes it at its next step (see ``standin.phone``).
A live call of ``standin.live`` runs on its own thread and is woken at once: its hold music stops.
``GET /Calls.json`` lists live and created calls, filtered by ``To``, ``From`` and ``Status``.
An outbound call not answered yet is its record (queued, ringing, or how it ended); once
answered, it is a live call like the others (``Direction`` outbound-api).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from standin.errors import CallStateError
from standin.interpreter import ENDED
from standin.phone import Call
from standin.rest.params import (
    ApiError,
    call_events,
    check_dialable,
    filtered,
    instructions,
    method_param,
    not_found,
    timeout_seconds,
    to_and_from,
    url_param,
)
from standin.rest.resources import ACCOUNT_PATH, API_VERSION, call_json, page
from standin.rest.switchboard import NOT_ANSWERED, OutboundCall, Switchboard
from standin.webhook import new_sid

__all__ = ["add_call_routes"]


def add_call_routes(app: Flask, switchboard: Switchboard, account_sid: str) -> None:
    """Serve the account's calls from ``switchboard`` on ``app``."""

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

    def call_resource(sid: str) -> dict[str, Any]:
        live, record = live_call(sid), switchboard.outbound_call(sid)
        if live is not None and answered(sid) is not None:
            call, date = live
            return call_json(
                account_sid, sid, to=call.to, from_=call.from_, status=live_status(call),
                direction="inbound" if record is None else "outbound-api",
                date=date if record is None else record.date_created,
            )  # fmt: skip
        if record is None:
            raise not_found()
        return call_json(
            account_sid, sid, to=record.to, from_=record.from_, status=record.status,
            direction="outbound-api", date=record.date_created,
        )  # fmt: skip

    @app.post(f"{ACCOUNT_PATH}/Calls.json")
    def create_call(account: str) -> tuple[Response, int]:
        form = request.form
        to, from_ = to_and_from(form)
        url, method, twiml = instructions(form)
        if not url and not twiml:
            raise ApiError(400, 21205, "Url parameter is required.")
        check_dialable(to)
        events = call_events(form)
        timeout = timeout_seconds(form, shortest=1)
        record = OutboundCall(
            sid=new_sid("CA"), account_sid=account, to=to, from_=from_, url=url, method=method, twiml=twiml,
            status_callback=url_param(form, "StatusCallback", 21609),
            status_callback_method=method_param(form, "StatusCallbackMethod"),
            status_callback_event=events or ["completed"], timeout=timeout,
            machine_detection=form.get("MachineDetection") or None,
        )  # fmt: skip
        switchboard.place(record)
        body = call_resource(record.sid)  # queued, as Twilio answers, whatever the dialer does next
        if switchboard.dialer is not None:
            switchboard.dialer.dial(record)
        return jsonify(body), 201

    @app.get(f"{ACCOUNT_PATH}/Calls.json")
    def list_calls(account: str) -> Response:
        # Twilio's filters: To, From and Status; newest first, as Twilio lists them.
        sids = [call.call_sid for call, _ in switchboard.live_calls() if call.account_sid == account_sid]
        sids += [record.sid for record in switchboard.outbound_calls if record.account_sid == account_sid]
        sids = list(dict.fromkeys(sids))  # an outbound call that rings or runs is also a live one
        found = filtered(
            list(map(call_resource, sids)), (("to", "To"), ("from", "From"), ("status", "Status"))
        )
        return page("calls", f"/{API_VERSION}/Accounts/{account}/Calls.json", found[::-1])

    @app.get(f"{ACCOUNT_PATH}/Calls/<sid>.json")
    def fetch_call(account: str, sid: str) -> Response:
        return jsonify(call_resource(sid))

    @app.post(f"{ACCOUNT_PATH}/Calls/<sid>.json")
    def update_call(account: str, sid: str) -> Response:
        call_resource(sid)  # 404 for a call the account does not have
        status = request.form.get("Status")
        if status not in (None, "completed", "canceled"):
            raise ApiError(400, 20001, f"Status must be completed or canceled, not {status!r}")
        url, method, twiml = instructions(request.form)
        call, record = answered(sid), switchboard.outbound_call(sid)
        if call is not None:
            update_live(call, status, url, method, twiml)
        elif record is not None and record.status in ("queued", "ringing") and (status or url or twiml):
            # Not answered yet: it can still be canceled, or pointed at other TwiML.
            changes = {"status": "canceled"} if status else {"url": url, "method": method, "twiml": twiml}
            if switchboard.update_outbound(sid, **changes) is not None and switchboard.dialer is not None:
                switchboard.dialer.updated(sid)
        return jsonify(call_resource(sid))


def update_live(call: Call, status: str | None, url: str | None, method: str, twiml: str | None) -> None:
    """Record a REST update on a live call, which takes it at its next step.

    ``canceled`` only stops calls not answered yet (Twilio's rule); a live stand-in call is answered.
    """
    try:
        if status == "completed" and live_status(call) != "completed":
            call.end_pending()
        elif not status and url:
            call.redirect_pending(url, method)
        elif not status and twiml:
            call.twiml_pending(twiml)
    except CallStateError as exc:
        raise ApiError(400, 21220, "Call is not in-progress. Cannot redirect.") from exc


def live_status(call: Call) -> str:
    """The Call resource status of a stand-in call; a recorded end already counts."""
    pending = call.pending_update
    if (pending is not None and pending.kind == "end") or call.state == "completed":
        return "completed"
    if call.state in ENDED:
        return "no-answer"  # rejected before being answered
    return "ringing" if call.state == "new" else "in-progress"
