"""The voice webhooks of the menu: the call comes in, each menu step, the end of the call."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from flask import Blueprint, request

from ivr import routes
from ivr.callcenter.calls import CallRecord, CallWriter
from ivr.services import services
from ivr.voice import twiml
from ivr.voice.engine import Input, Position, Turn
from ivr.voice.webhook import base_url, call_sid, int_field, no_caller, this_call, twilio_webhook

bp = Blueprint("voice", __name__)
log = logging.getLogger("ivr.voice")


def _turn(record: CallRecord, now: datetime) -> Turn:
    return Turn(
        call=record,
        writer=CallWriter(record.sid),
        now=now,
        base_url=base_url(),
        resp=twiml.document(),
    )


def _finish(turn: Turn) -> twiml.Document:
    """Round trip 2: write what the step learned, then answer."""
    turn.writer.flush(services().stores.data)
    return turn.resp


@bp.post(routes.rule("incoming"))
@twilio_webhook
def incoming() -> twiml.Document:
    """The number's "a call comes in" URL."""
    hotline = services()
    now = hotline.clock.now()
    turn = _turn(this_call(now, first=True), now)
    hotline.engine.start(turn)
    return _finish(turn)


@bp.post(routes.rule("step"))
@twilio_webhook
def step(node_id: str) -> twiml.Document:
    """The caller answered (or did not answer) a Gather."""
    hotline = services()
    now = hotline.clock.now()
    record = this_call(now)
    turn = _turn(record, now)
    said = Input(
        digits="".join(c for c in request.form.get("Digits", "") if c in "0123456789*#")[:32],
        speech=request.form.get("SpeechResult", "")[:500],
    )
    if record.is_new or record.get("status") == "ended":
        hotline.engine.start(turn)  # a CallSid we never saw: greet it rather than guess
    else:
        at = replace(Position.from_args(request.args), node=node_id)
        hotline.engine.step(at, said, turn)
    return _finish(turn)


@bp.post(routes.rule("status"))
@twilio_webhook(outage=no_caller)  # no caller to keep: reconciliation recovers a lost one
def status() -> twiml.Document:
    """The status callback: close the call record; a hang-up in the menu counts as abandoned."""
    hotline = services()
    sid = call_sid()
    # A call we never saw (its first webhook failed and the Fallback URL answered) is not
    # invented here: it would count as offered and abandoned in the statistics.
    record = hotline.calls.load(sid) if sid is not None else None
    if record is None:
        return twiml.document()
    now = hotline.clock.now()
    hotline.ending.call_ended(
        record,
        now,
        request.form.get("CallStatus", "completed"),
        int_field(request.form.get("CallDuration"), 0),
    )
    return twiml.document()


@bp.post(routes.rule("fallback"))
@twilio_webhook
def fallback() -> twiml.Document:
    """The number's Fallback URL: Twilio calls it when the Voice URL failed. Touches no Redis."""
    return twiml.overflow(services().config, None)
