"""The voice webhooks Twilio calls: the call comes in, each menu step, the hold loop, the end."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from ivr.callcenter.calls import CallRecord, CallWriter
from ivr.phones import mask_phone, to_e164
from ivr.voice import twiml
from ivr.voice.engine import Input, Position, Turn
from ivr.voice.webhook import base_url, call_sid, twilio_webhook

bp = Blueprint("voice", __name__, url_prefix="/voice")
log = logging.getLogger("ivr.voice")


def _hotline():  # noqa: ANN202 - the Hotline object (typed in ivr.app)
    return current_app.extensions["hotline"]


def _open_call(sid: str, now: datetime) -> CallRecord:
    """Round trip 1: the call's record, created when Twilio first tells us about the CallSid."""
    hotline = _hotline()
    cfg = hotline.config.file
    day = now.astimezone(ZoneInfo(cfg.hotline.timezone)).strftime("%y%m%d")
    raw_from = request.form.get("From", "")
    caller = to_e164(raw_from, cfg.hotline.default_region)
    record = hotline.calls.open(sid, now, day, caller, raw_from, request.form.get("To", ""))
    if record.is_new:
        log.info("call %s from %s: reference %s", sid, mask_phone(caller or raw_from), record.get("ref"))
    return record


def _turn(record: CallRecord, now: datetime) -> Turn:
    return Turn(
        call=record,
        writer=CallWriter(record.sid),
        now=now,
        base_url=base_url(),
        resp=VoiceResponse(),
    )


def _finish(turn: Turn) -> VoiceResponse:
    """Round trip 2: write what the step learned, then answer."""
    turn.writer.flush(_hotline().stores.data)
    return turn.resp


@bp.post("/incoming")
@twilio_webhook
def incoming() -> VoiceResponse:
    """The number's "a call comes in" URL."""
    hotline = _hotline()
    sid = call_sid()
    if sid is None:
        return twiml.overflow(hotline.config, None)
    now = hotline.clock.now()
    turn = _turn(_open_call(sid, now), now)
    hotline.engine.start(turn)
    return _finish(turn)


@bp.post("/step/<node_id>")
@twilio_webhook
def step(node_id: str) -> VoiceResponse:
    """The caller answered (or did not answer) a Gather."""
    hotline = _hotline()
    sid = call_sid()
    if sid is None:
        return twiml.overflow(hotline.config, None)
    now = hotline.clock.now()
    record = _open_call(sid, now)
    turn = _turn(record, now)
    said = Input(
        digits="".join(c for c in request.form.get("Digits", "") if c in "0123456789*#")[:32],
        speech=request.form.get("SpeechResult", "")[:500],
    )
    if record.is_new or record.get("status") == "ended":
        hotline.engine.start(turn)  # a CallSid we never saw: greet it rather than guess
    else:
        at = Position(
            node=node_id,
            phase=request.args.get("phase", "")[:16],
            tries=_int(request.args.get("try"), 1),
            confirm=_int(request.args.get("c"), 0),
        )
        hotline.engine.step(at, said, turn)
    return _finish(turn)


@bp.post("/hold")
@twilio_webhook
def hold() -> VoiceResponse:
    """The hold loop: music and reassurance until the queueing engine connects the caller."""
    hotline = _hotline()
    sid = call_sid()
    if sid is None:
        return twiml.overflow(hotline.config, None)
    now = hotline.clock.now()
    record = _open_call(sid, now)
    turn = _turn(record, now)
    lang = hotline.engine.lang(turn)
    department = record.get("department")
    if record.get("status") == "menu":  # on hold without a hand-off: the menu comes first
        hotline.engine.start(turn)
        return _finish(turn)
    if record.get("status") != "queued" or department not in hotline.config.file.departments:
        return twiml.overflow(hotline.config, lang)
    position = hotline.queues.position(sid, department)
    waited = now - datetime.fromisoformat(record.get("queued_at", now.isoformat()))
    cfg = hotline.config.file
    if position == 0 or waited.total_seconds() > cfg.hotline.max_hold_minutes * 60:
        # Not in the queue although handed off: the queue was full. Or waited too long.
        hotline.queues.leave(sid, department, record.get("day"), abandoned=False)
        return twiml.overflow(hotline.config, lang)
    music = cfg.departments[department].hold_music_url or cfg.hotline.hold_music_url
    return twiml.hold(lang, music, f"{base_url()}/voice/hold")


@bp.post("/status")
@twilio_webhook
def status() -> VoiceResponse:
    """The status callback: close the call record; a hang-up in the menu counts as abandoned."""
    hotline = _hotline()
    sid = call_sid()
    if sid is not None:
        now = hotline.clock.now()
        record = _open_call(sid, now)
        final = request.form.get("CallStatus", "completed")
        closed = hotline.calls.close(record, now, final, _int(request.form.get("CallDuration"), 0))
        department = record.get("department")
        if closed and record.get("status") == "queued" and department:
            queued_at = datetime.fromisoformat(record.get("queued_at") or now.isoformat())
            waited_ms = int((now - queued_at).total_seconds() * 1000)
            hotline.queues.leave(sid, department, record.get("day"), abandoned=True, waited_ms=waited_ms)
    return VoiceResponse()


@bp.post("/fallback")
@twilio_webhook
def fallback() -> VoiceResponse:
    """The number's Fallback URL: Twilio calls it when the Voice URL failed. Touches no Redis."""
    return twiml.overflow(_hotline().config, None)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
