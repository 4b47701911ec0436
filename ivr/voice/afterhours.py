"""After hours and on holidays: the caller's department is closed and nobody else takes it.

The caller hears the department's opening hours, then may book a callback (key 1, offered only
when this app serves the callback scheduler at CALLBACK_PATH) or leave a voicemail (key 2). The
voicemail becomes a ticket of that department under the call's reference number, read back to
the caller; Twilio's transcription is added to it when the transcribe callback arrives.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from ivr import keys
from ivr.callcenter.calls import CallRecord
from ivr.followup.sms import WANTED, may_offer
from ivr.followup.tickets import Tickets
from ivr.hotline.hours import describe
from ivr.services import services
from ivr.voice import twiml
from ivr.voice.webhook import base_url, int_field, language_of, no_caller, this_call, twilio_webhook

bp = Blueprint("after_hours", __name__, url_prefix="/voice")

CALLBACK_PATH = "/voice/callback/schedule"
CALLBACK, VOICEMAIL = "1", "2"


def callbacks_served() -> bool:
    """Whether this app schedules callbacks: key 1 is offered only then."""
    return any(rule.rule == CALLBACK_PATH for rule in current_app.url_map.iter_rules())


def _department(record: CallRecord) -> str:
    """The closed department the caller needed (set by the hand-off), or the first one."""
    departments = services().config.file.departments
    wanted = record.get("department")
    return wanted if wanted in departments else next(iter(departments))


def _goodbye(resp: VoiceResponse, lang) -> VoiceResponse:  # noqa: ANN001
    twiml.say(resp, lang, lang.text("goodbye"))
    resp.hangup()
    return resp


@bp.post("/after-hours")
@twilio_webhook
def after_hours() -> VoiceResponse:
    """The department's hours, then the choice; silence asks again, then says goodbye."""
    hotline = services()
    record = this_call(hotline.clock.now())
    lang, cfg = language_of(record), hotline.config.file
    tries = min(max(int_field(request.args.get("try"), 1), 1), 10)
    resp = VoiceResponse()
    if tries > cfg.hotline.max_tries:
        return _goodbye(resp, lang)
    dept = cfg.departments[_department(record)]
    if tries == 1:
        hours = describe(cfg.hours[dept.hours], lang)
        twiml.say(resp, lang, lang.text("department_closed", department=dept.names[lang.locale], hours=hours))
    else:  # asked again: after a wrong key, or silence
        twiml.say(resp, lang, lang.text("invalid_input" if request.args.get("why") else "no_input"))
    g = twiml.gather(resp, lang, f"{base_url()}/voice/after-hours/choice?try={tries}", speech=False,
                     timeout=cfg.hotline.gather_timeout_seconds)  # fmt: skip
    if callbacks_served():
        twiml.say(g, lang, lang.text("afterhours_callback"))
    twiml.say(g, lang, lang.text("afterhours_voicemail"))
    resp.redirect(f"{base_url()}/voice/after-hours?try={tries + 1}", method="POST")
    return resp


@bp.post("/after-hours/choice")
@twilio_webhook
def choice() -> VoiceResponse:
    """Key 1: the callback scheduler of the department; key 2: record a voicemail."""
    hotline = services()
    record = this_call(hotline.clock.now())
    lang, cfg = language_of(record), hotline.config.file
    digits = request.form.get("Digits", "")
    tries = min(max(int_field(request.args.get("try"), 1), 1), 10)
    department = _department(record)
    resp = VoiceResponse()
    if digits == CALLBACK and callbacks_served():
        resp.redirect(f"{base_url()}{CALLBACK_PATH}?{urlencode({'department': department})}", method="POST")
        return resp
    if digits == VOICEMAIL:
        twiml.say(resp, lang, lang.text("voicemail_prompt"))
        settings = cfg.after_hours
        options: dict[str, object] = {}
        if settings.transcribe:
            query = urlencode({"ref": record.get("ref")})
            options = {
                "transcribe": True,
                "transcribe_callback": f"{base_url()}/voice/voicemail/transcription?{query}",
            }
        resp.record(
            action=f"{base_url()}/voice/voicemail",
            method="POST",
            max_length=settings.voicemail_max_seconds,
            timeout=5,
            finish_on_key="#",
            play_beep=True,
            **options,
        )
        return _goodbye(resp, lang)  # nothing was recorded: Twilio goes on here
    if tries >= cfg.hotline.max_tries:
        return _goodbye(resp, lang)
    resp.redirect(f"{base_url()}/voice/after-hours?try={tries + 1}&why=invalid", method="POST")
    return resp


@bp.post("/voicemail")
@twilio_webhook
def voicemail() -> VoiceResponse:
    """The recording is done: open the ticket, read back its reference number, offer the SMS."""
    hotline = services()
    now = hotline.clock.now()
    record = this_call(now)
    lang, cfg = language_of(record), hotline.config.file
    url = request.form.get("RecordingUrl", "")[:500]
    ref = record.get("ref")
    resp = VoiceResponse()
    if url.startswith("https://") and ref:
        Tickets(hotline.stores.data).open(
            ref,
            _department(record),
            record.day,
            now,
            call=record.sid,
            caller=record.get("caller") or record.get("from"),
            language=lang.locale,
            issue=record.get("issue") or "other",
            account=record.get("account"),
            recording_url=url,
            recording_seconds=str(int_field(request.form.get("RecordingDuration"), 0)),
        )
        hotline.stores.data.hset(keys.call(record.sid), "voicemail", ref)
    if not ref:
        return _goodbye(resp, lang)
    g = twiml.gather(resp, lang, f"{base_url()}/voice/after-hours/sms", speech=False, timeout=4)
    twiml.say(g, lang, lang.text("voicemail_saved", digits=lang.spell(ref)))
    if not record.get("sms") and may_offer(cfg, record):
        twiml.say(g, lang, lang.text("sms_offer"))
    return _goodbye(resp, lang)


@bp.post("/after-hours/sms")
@twilio_webhook
def sms_consent() -> VoiceResponse:
    """Key 1 after the voicemail: the reference number by text message when the call ends."""
    hotline = services()
    record = this_call(hotline.clock.now())
    lang = language_of(record)
    resp = VoiceResponse()
    if request.form.get("Digits") == "1" and not record.get("sms") and may_offer(hotline.config.file, record):
        hotline.stores.data.hset(keys.call(record.sid), "sms", WANTED)
        twiml.say(resp, lang, lang.text("sms_offer_ok"))
    return _goodbye(resp, lang)


@bp.post("/voicemail/transcription")
@twilio_webhook(outage=no_caller)
def transcription() -> VoiceResponse:
    """Twilio's transcribe callback: the text goes on the ticket. Twilio ignores the answer."""
    hotline = services()
    ref = request.args.get("ref", "")[:20]
    text = request.form.get("TranscriptionText", "")
    status = request.form.get("TranscriptionStatus", "")
    if ref:
        Tickets(hotline.stores.data).transcribed(ref, text, status or "completed")
    return VoiceResponse()
