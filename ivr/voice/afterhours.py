"""After hours and on holidays: the caller's department is closed and nobody else takes it.

The caller hears the department's opening hours, then may book a callback (key 1, offered only
when this app serves the callback scheduler, route `callback_schedule`) or leave a voicemail (key 2). The
voicemail becomes a ticket of that department under the call's reference number, read back to
the caller; Twilio's transcription is added to it when the transcribe callback arrives.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from ivr import keys, routes
from ivr.callcenter.calls import CallRecord
from ivr.followup.sms import WANTED, may_offer
from ivr.followup.tickets import Tickets
from ivr.hotline.hours import describe
from ivr.services import services
from ivr.urlstate import Slots, Tries, Voicemail
from ivr.voice import twiml
from ivr.voice.webhook import int_field, language_of, link, no_caller, this_call, twilio_webhook

bp = Blueprint("after_hours", __name__)

CALLBACK, VOICEMAIL = "1", "2"


def callbacks_served() -> bool:
    """Whether this app schedules callbacks: key 1 is offered only then."""
    return any(rule.rule == routes.rule("callback_schedule") for rule in current_app.url_map.iter_rules())


def _department(record: CallRecord) -> str:
    """The closed department the caller needed (set by the hand-off), or the first one."""
    departments = services().config.file.departments
    wanted = record.get("department")
    return wanted if wanted in departments else next(iter(departments))


@bp.post(routes.rule("after_hours"))
@twilio_webhook
def after_hours() -> twiml.Document:
    """The department's hours, then the choice; silence asks again, then says goodbye."""
    hotline = services()
    record = this_call(hotline.clock.now())
    lang, cfg = language_of(record), hotline.config.file
    asked = Tries.from_args(request.args)
    tries = asked.tries
    resp = twiml.document()
    if tries > cfg.hotline.max_tries:
        return twiml.goodbye(lang, resp=resp)
    dept = cfg.departments[_department(record)]
    if tries == 1:
        hours = describe(cfg.hours[dept.hours], lang)
        twiml.say(resp, lang, lang.text("department_closed", department=dept.names[lang.locale], hours=hours))
    else:  # asked again: after a wrong key, or silence
        twiml.say(resp, lang, lang.text("invalid_input" if asked.why else "no_input"))
    g = twiml.gather(resp, lang, link("after_hours_choice", Tries(tries)), speech=False,
                     timeout=cfg.hotline.gather_timeout_seconds)  # fmt: skip
    if callbacks_served():
        twiml.say(g, lang, lang.text("afterhours_callback"))
    twiml.say(g, lang, lang.text("afterhours_voicemail"))
    twiml.redirect(link("after_hours", Tries(tries + 1)), resp)
    return resp


@bp.post(routes.rule("after_hours_choice"))
@twilio_webhook
def choice() -> twiml.Document:
    """Key 1: the callback scheduler of the department; key 2: record a voicemail."""
    hotline = services()
    record = this_call(hotline.clock.now())
    lang, cfg = language_of(record), hotline.config.file
    digits = request.form.get("Digits", "")
    tries = Tries.from_args(request.args).tries
    department = _department(record)
    resp = twiml.document()
    if digits == CALLBACK and callbacks_served():
        twiml.redirect(link("callback_schedule", Slots(department)), resp)
        return resp
    if digits == VOICEMAIL:
        twiml.say(resp, lang, lang.text("voicemail_prompt"))
        settings = cfg.after_hours
        options: dict[str, object] = {}
        if settings.transcribe:
            options = {
                "transcribe": True,
                "transcribe_callback": link("voicemail_transcription", Voicemail(record.get("ref"))),
            }
        resp.record(
            action=link("voicemail"),
            method="POST",
            max_length=settings.voicemail_max_seconds,
            timeout=5,
            finish_on_key="#",
            play_beep=True,
            **options,
        )
        return twiml.goodbye(lang, resp=resp)  # nothing was recorded: Twilio goes on here
    if tries >= cfg.hotline.max_tries:
        return twiml.goodbye(lang, resp=resp)
    twiml.redirect(link("after_hours", Tries(tries + 1, "invalid")), resp)
    return resp


@bp.post(routes.rule("voicemail"))
@twilio_webhook
def voicemail() -> twiml.Document:
    """The recording is done: open the ticket, read back its reference number, offer the SMS."""
    hotline = services()
    now = hotline.clock.now()
    record = this_call(now)
    lang, cfg = language_of(record), hotline.config.file
    url = request.form.get("RecordingUrl", "")[:500]
    ref = record.get("ref")
    resp = twiml.document()
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
        return twiml.goodbye(lang, resp=resp)
    g = twiml.gather(resp, lang, link("after_hours_sms"), speech=False, timeout=4)
    twiml.say(g, lang, lang.text("voicemail_saved", digits=lang.spell(ref)))
    if not record.get("sms") and may_offer(cfg, record):
        twiml.say(g, lang, lang.text("sms_offer"))
    return twiml.goodbye(lang, resp=resp)


@bp.post(routes.rule("after_hours_sms"))
@twilio_webhook
def sms_consent() -> twiml.Document:
    """Key 1 after the voicemail: the reference number by text message when the call ends."""
    hotline = services()
    record = this_call(hotline.clock.now())
    lang = language_of(record)
    resp = twiml.document()
    if request.form.get("Digits") == "1" and not record.get("sms") and may_offer(hotline.config.file, record):
        hotline.stores.data.hset(keys.call(record.sid), "sms", WANTED)
        twiml.say(resp, lang, lang.text("sms_offer_ok"))
    return twiml.goodbye(lang, resp=resp)


@bp.post(routes.rule("voicemail_transcription"))
@twilio_webhook(outage=no_caller)
def transcription() -> twiml.Document:
    """Twilio's transcribe callback: the text goes on the ticket. Twilio ignores the answer."""
    hotline = services()
    ref = Voicemail.from_args(request.args).ref
    text = request.form.get("TranscriptionText", "")
    status = request.form.get("TranscriptionStatus", "")
    if ref:
        Tickets(hotline.stores.data).transcribed(ref, text, status or "completed")
    return twiml.document()
