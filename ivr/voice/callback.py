"""The callback webhooks: asked for on hold, the number checked, and the call back to the customer.

On hold (`/voice/callback/offer`, the action of the Gather around each whole hold turn): 1 keeps the
caller's place and calls them back, 2 picks a later hour (`/voice/callback/schedule`, also where
the after-hours menu sends callers). The number is the caller ID, read back digit by digit, or
one the caller keys in and confirms; it must pass the outbound checks and limits.

The outbound call (`answer`, `press`, `dial-result`, `status`) carries the original call's
CallSid and the attempt in its (signed) URLs: the original call record is the one that moves,
so the whisper, the agent's screen pop and the statistics see one call, however it reached them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import phonenumbers
from flask import Blueprint, request

from ivr import keys, routes
from ivr.callcenter.accounts import FOUND
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.connections import ANSWERED
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.transfers import customer_transfer_path, customer_wait_path
from ivr.digits import ASCII_DIGITS, whole_number
from ivr.outbound.numbers import callback_allowed, check_outbound_number
from ivr.prompts import Language
from ivr.services import services
from ivr.urlstate import HOLD_AGAIN, AgentLeg, Attempt, Greeting, NumberStep, Slots
from ivr.voice import survey, twiml
from ivr.voice.holdloop import LoopState, hold_through_outage, hold_url
from ivr.voice.room import connect_in_room, room_talked
from ivr.voice.webhook import (
    base_url,
    int_field,
    language_of,
    link,
    no_caller,
    this_call,
    twilio_webhook,
)
from ivr.waits.profile import quietest_slots

bp = Blueprint("callback", __name__)

NOT_REACHED = ("no-answer", "busy", "failed", "canceled")
CALL_OVER = ("completed", *NOT_REACHED)
# A later hour in a (signed) URL is believed only this far ahead: the scheduler offers days, not years.
SLOT_HORIZON_SECONDS = 60 * 86_400
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def spoken_number(lang: Language, e164: str, home_region: str) -> str:
    """A number read digit by digit: as dialled at home (with the trunk 0), else with its country code."""
    parsed = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(parsed) == home_region:
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return lang.spell("".join(c for c in national if c in ASCII_DIGITS))
    return lang.spell(e164.lstrip("+"))


def _back(record: CallRecord, lang: Language, *prompts: str) -> twiml.Document:
    """Back to the hold loop for a caller still in the queue; else a goodbye."""
    if record.get("status") not in ("queued", "connecting"):
        return twiml.goodbye(lang, *prompts)
    resp = twiml.document()
    for prompt in dict.fromkeys([*prompts, "callback_back_to_queue"]):
        twiml.say(resp, lang, lang.text(prompt))
    twiml.redirect(link("hold", HOLD_AGAIN), resp)
    return resp


# -- on hold -------------------------------------------------------------------------------


@bp.post(routes.rule("callback_offer"))
@twilio_webhook(outage=hold_through_outage)  # a key pressed during an outage: back to the music
def offer() -> twiml.Document:
    """A key pressed at any moment of a hold turn: 1 keeps the place and calls back, 2 a later hour.

    Any other key is not an option: the caller goes back to the same place in the hold loop
    (its state rides in this URL), so nothing already announced is said again.
    """
    hotline = services()
    record = this_call(hotline.clock.now())
    digits = request.form.get("Digits", "")
    loop = hold_url(base_url(), LoopState.from_args(request.args))
    if record.get("status") != "queued" or not hotline.config.file.callbacks.enabled:
        return twiml.redirect(loop)  # matched meanwhile: the loop connects them
    if digits == "1":
        return _number_start(record, NumberStep())
    if digits == "2":
        return twiml.redirect(link("callback_schedule", Slots(record.get("department"))))
    resp = twiml.document()
    if digits:
        lang = language_of(record)
        twiml.say(resp, lang, lang.text("hold_key_invalid"))
    twiml.redirect(loop, resp)
    return resp


def _flow_url(step: NumberStep, phase: str, tries: int = 1) -> str:
    return link("callback_number", replace(step, phase=phase, tries=tries))


def _number_start(record: CallRecord, step: NumberStep) -> twiml.Document:
    """Offer the caller ID when it could be called back, else ask for a number."""
    hotline = services()
    cfg = hotline.config.file
    check = check_outbound_number(cfg, record.get("caller") or record.get("from"))
    if not check.ok or check.e164 is None:
        return _ask_number(record, step, 1)
    hotline.stores.data.hset(keys.call(record.sid), "cb_pending", check.e164)
    return _confirm(record, step, "cid", check.e164, 1)


def _confirm(record: CallRecord, step: NumberStep, phase: str, e164: str, tries: int) -> twiml.Document:
    hotline = services()
    lang = language_of(record)
    resp = twiml.document()
    gather = twiml.gather(resp, lang, _flow_url(step, phase, tries), num_digits=1, speech=False)
    prompt = "callback_confirm_caller_id" if phase == "cid" else "callback_number_readback"
    digits = spoken_number(lang, e164, hotline.config.file.hotline.default_region)
    twiml.say(gather, lang, lang.text(prompt, digits=digits))
    twiml.redirect(_flow_url(step, phase, tries + 1), resp)
    return resp


def _ask_number(record: CallRecord, step: NumberStep, tries: int, *before: str) -> twiml.Document:
    lang = language_of(record)
    if tries > services().config.file.hotline.max_tries:
        return _back(record, lang, *before)
    resp = twiml.document()
    for prompt in before or (("callback_number_rule",) if tries == 1 else ()):
        twiml.say(resp, lang, lang.text(prompt))
    gather = twiml.gather(
        resp, lang, _flow_url(step, "enter", tries), num_digits=None, timeout=10, speech=False
    )
    twiml.say(gather, lang, lang.text("callback_enter_number"))
    twiml.redirect(_flow_url(step, "enter", tries + 1), resp)
    return resp


@bp.post(routes.rule("callback_number"))
@twilio_webhook
def number() -> twiml.Document:
    """Confirm the caller ID, key in another number, read it back: then keep the place or schedule."""
    hotline = services()
    cfg = hotline.config.file
    now = hotline.clock.now()
    record = this_call(now)
    lang = language_of(record)
    given = NumberStep.from_args(request.args)
    phase, tries, department, slot = given.phase, given.tries, given.department, given.slot
    mode = "later" if given.later else "now"
    step = NumberStep("later", department=department, slot=slot) if given.later else NumberStep()
    if mode == "now" and record.get("status") != "queued":
        return twiml.redirect(link("hold", HOLD_AGAIN))  # matched meanwhile, or no longer waiting
    digits = "".join(c for c in request.form.get("Digits", "") if c in ASCII_DIGITS)[:20]
    pending = record.get("cb_pending")
    if phase == "enter":
        if "Digits" not in request.form:
            return _ask_number(record, step, tries)
        check = check_outbound_number(cfg, digits)
        if not check.ok or check.e164 is None:
            refused = (
                "callback_number_garbled"
                if check.reason in ("garbled", "invalid")
                else "callback_number_refused"
            )
            return _ask_number(record, step, tries + 1, refused)
        if not _may_call(record, check.e164):
            return _ask_number(record, step, tries + 1, "callback_number_not_allowed")
        hotline.stores.data.hset(keys.call(record.sid), "cb_pending", check.e164)
        return _confirm(record, step, "readback", check.e164, 1)
    if phase in ("cid", "readback") and pending:
        if digits == "1":
            return _accept(record, mode, pending, department, slot, now)
        if digits == "2":
            return _ask_number(record, step, 1)
        if tries > cfg.hotline.max_tries:
            return _back(record, lang)
        return _confirm(record, step, phase, pending, tries)
    return _back(record, lang)


def _may_call(record: CallRecord, e164: str) -> bool:
    """The caller's own number, their account's registered mobile, or one an operator allows."""
    hotline = services()
    cfg, caller = hotline.config.file, record.get("caller") or None
    if callback_allowed(cfg, e164, caller, None):
        return True
    account = record.get("account")
    if not account or record.get("account_state") != FOUND:
        return False  # an account the caller only typed in, not found: no mobile of theirs to trust
    return callback_allowed(cfg, e164, caller, hotline.directory.registered_mobile(account))


def _slot_time(slot: int | None, now: datetime) -> datetime | None:
    """A later hour from a URL, if the scheduler could have offered it (ahead, within the horizon)."""
    if slot is None or not now.timestamp() < slot <= now.timestamp() + SLOT_HORIZON_SECONDS:
        return None
    return datetime.fromtimestamp(slot, UTC)


def _accept(
    record: CallRecord, mode: str, e164: str, department: str, slot: int, now: datetime
) -> twiml.Document:
    """The number is confirmed: count it against the limits, then keep the place or schedule."""
    hotline = services()
    lang = language_of(record)
    if hotline.limits.allow("callback", e164, now):
        return _back(record, lang, "callback_limited")
    digits = spoken_number(lang, e164, hotline.config.file.hotline.default_region)
    if mode == "now":
        if not hotline.callbacks.keep_place(record, e164, now):
            # An agent was found meanwhile: the loop connects them.
            return twiml.redirect(link("hold", HOLD_AGAIN))
        return twiml.goodbye(lang, "callback_kept", digits=digits)
    when = _slot_time(slot, now)
    if department not in hotline.config.file.departments or when is None:
        return _back(record, lang, "callback_slot_none")
    if not hotline.callbacks.schedule(record, department, e164, when, now):
        return twiml.redirect(link("hold", HOLD_AGAIN))
    return twiml.goodbye(lang, "callback_scheduled", digits=digits, slot=slot_text(lang, when))


# -- a later hour --------------------------------------------------------------------------


def slot_text(lang: Language, when: datetime) -> str:
    """An hour as the caller hears it, in the hotline's time zone."""
    local = when.astimezone(ZoneInfo(services().config.file.hotline.timezone))
    return lang.text(
        "callback_slot_time",
        weekday=lang.voice.days[local.weekday()],
        month=local.month,
        day=local.day,
        hour=local.hour,
    )


@bp.post(routes.rule("callback_schedule"))
@twilio_webhook
def schedule() -> twiml.Document:
    """Offer the quietest open hours ahead, quietest first; the chosen one goes to the number step."""
    hotline = services()
    now = hotline.clock.now()
    record = this_call(now)
    lang = language_of(record)
    offered = Slots.from_args(request.args)
    department, tries = offered.department, offered.tries
    if not hotline.config.file.callbacks.enabled or department not in hotline.config.file.departments:
        return _back(record, lang, "callback_slot_none")
    given = offered.slots
    if given:
        limit = hotline.config.file.callbacks.schedule_slots
        slots = [
            s
            for s in (whole_number(s) for s in given.split(",")[:limit])
            if s is not None and _slot_time(s, now)
        ]
    else:
        count = hotline.config.file.callbacks.schedule_slots
        slots = [
            int(s.timestamp())
            for s in quietest_slots(hotline.config.file, hotline.stores.data, department, now, count)
        ]
    if not slots:
        return _back(record, lang, "callback_slot_none")
    choice = whole_number(request.form.get("Digits", "")[:2])
    if choice is not None and 1 <= choice <= len(slots):
        return _number_start(record, NumberStep("later", department=department, slot=slots[choice - 1]))
    if tries > hotline.config.file.hotline.max_tries:
        return _back(record, lang)
    again = link("callback_schedule", Slots(department, ",".join(map(str, slots)), tries + 1))
    resp = twiml.document()
    gather = twiml.gather(resp, lang, again, num_digits=1, speech=False)
    if tries == 1:
        twiml.say(gather, lang, lang.text("callback_schedule_intro"))
    for i, ts in enumerate(slots, start=1):
        when = datetime.fromtimestamp(ts, UTC)
        twiml.say(gather, lang, lang.text("callback_slot_option", slot=slot_text(lang, when), digit=i))
    twiml.redirect(again, resp)
    return resp


# -- the call to the customer --------------------------------------------------------------


def _attempt() -> tuple[CallRecord | None, int]:
    hotline = services()
    given = Attempt.from_args(request.args)
    return hotline.callbacks.load(given.call), given.attempt


def _lang_of(record: CallRecord | None) -> Language:
    if record is None:
        config = services().config
        return config.languages[config.locales[0]]
    return language_of(record)


def _greeting(record: CallRecord, attempt: int, tries: int) -> twiml.Document:
    hotline = services()
    lang = language_of(record)
    press = link("callback_press", Greeting(record.sid, attempt, tries))
    resp = twiml.document()
    gather = twiml.gather(resp, lang, press, num_digits=1, timeout=8, speech=False)
    twiml.say(
        gather,
        lang,
        lang.text(
            "callback_greeting",
            name=hotline.config.file.hotline.name,
            reference=lang.spell(record.get("ref")),
        ),
    )
    twiml.redirect(press, resp)
    return resp


@bp.post(routes.rule("callback_answer"))
@twilio_webhook
def answer() -> twiml.Document:
    """The customer's phone was answered: an answering machine is hung up on, a person is greeted."""
    hotline = services()
    record, attempt = _attempt()
    lang = _lang_of(record)
    if record is None or record.get("cb_attempt") != str(attempt):
        return twiml.goodbye(lang)
    answered_by = request.form.get("AnsweredBy", "")
    if answered_by in MACHINE:
        hotline.stores.data.hset(keys.call(record.sid), "cb_answered_by", answered_by)
        return twiml.hangup()  # a message would tell a stranger's voicemail that this number called us
    sid = request.form.get("CallSid", "")
    if not hotline.callbacks.move(record.sid, attempt, ("dialling", "calling"), "calling", cb_call=sid):
        return twiml.goodbye(lang)
    return _greeting(record, attempt, 1)


@bp.post(routes.rule("callback_press"))
@twilio_webhook
def press() -> twiml.Document:
    """1 connects the agent kept for this callback (who hears the whisper first)."""
    hotline = services()
    record, attempt = _attempt()
    lang = _lang_of(record)
    tries = Greeting.from_args(request.args).tries
    if record is None or record.get("cb_status") != "calling" or record.get("cb_attempt") != str(attempt):
        return twiml.goodbye(lang)
    if request.form.get("Digits", "") != "1":
        if tries >= 2:
            return twiml.goodbye(lang, "callback_no_response")
        return _greeting(record, attempt, tries + 1)
    agent = hotline.agents.get(record.get("agent"))
    if agent is None or not hotline.callbacks.move(
        record.sid, attempt, ("calling",), "answered", CallStatus.CONNECTING
    ):
        return twiml.goodbye(lang)
    if hotline.config.file.hotline.connect_via == "conference":
        room = connect_in_room(
            record, agent, link("callback_dial_result", Attempt(record.sid, attempt, agent.id))
        )
        if room is None:  # the agent's leg could not be placed: called again soon
            hotline.callbacks.agent_missed(record)
            return twiml.goodbye(lang, "callback_agent_missed")
        return room
    return twiml.dial_agent(
        lang,
        agent.reach,
        action=link("callback_dial_result", Attempt(record.sid, attempt, agent.id)),
        whisper=link("whisper", AgentLeg(record.sid, agent.id)),
        ring_timeout=hotline.config.file.hotline.ring_timeout_seconds,
    )


def _connected(record: CallRecord, attempt: int) -> None:
    """Count the callback as connected, once."""
    hotline = services()
    if hotline.callbacks.move(record.sid, attempt, ("answered",), "connected", outcome="callback_served"):
        hotline.callbacks.count(record, "callbacks_connected")


@bp.post(routes.rule("callback_dial_result"))
@twilio_webhook
def dial_result() -> twiml.Document:
    """The agent's leg ended: goodbye after a conversation; a missed agent means a new call soon."""
    hotline = services()
    now = hotline.clock.now()
    record, attempt = _attempt()
    lang = _lang_of(record)
    if record is None:
        return twiml.goodbye(lang)
    if record.get("status") == CallStatus.CALLBACK and record.get("cb_status") == "waiting":
        # The agent's leg into the customer's room was not answered (ivr/voice/room.py).
        return twiml.goodbye(lang, "callback_agent_missed")
    if "DialCallStatus" in request.form:
        status = request.form.get("DialCallStatus", "")
        duration = int_field(request.form.get("DialCallDuration"), 0)
    else:  # the customer's room ended: as a Dial would report it
        status, duration = "completed", room_talked(record, now)
    was = record.get("status")
    agent_id = Attempt.from_args(request.args).agent
    outcome = hotline.connections.dial_ended(record, agent_id, status, duration, now)
    if outcome == "done" and status in ANSWERED and was in ("on_call", "served"):
        _connected(record, attempt)
    if record.get("cb_status") == "transferred" and outcome == "transferred":
        return twiml.redirect(f"{base_url()}{customer_transfer_path(record)}")  # the old leg's late report
    if record.get("cb_status") == "transferred" and outcome == "requeued":
        # A transferred customer whose next agent did not answer: back at their place, waiting.
        hotline.jobs.match_department(None, record.get("department"))
        resp = twiml.document()
        twiml.say(resp, lang, lang.text("agent_missed"))
        return twiml.redirect(f"{base_url()}{customer_wait_path(record)}", resp)
    if outcome == "requeued":
        hotline.callbacks.agent_missed(record)
        return twiml.goodbye(lang, "callback_agent_missed")
    # The conversation is over (the agent hung up; after a warm transfer, the agent who took the
    # customer over): the customer rates it, as a caller would.
    rated = record.get("agent") or agent_id
    if (
        outcome in ("done", "transferred")
        and status in ANSWERED
        and rated
        and hotline.config.file.survey.enabled
    ):
        return survey.ask(twiml.document(), lang, rated, call=record.sid)
    return twiml.goodbye(lang)


@bp.post(routes.rule("callback_status"))
@twilio_webhook(outage=no_caller)  # no caller to keep: the reaper asks Twilio
def status() -> twiml.Document:
    """The call to the customer ended: not reached (retry or fail), or the talk ended."""
    hotline = services()
    now = hotline.clock.now()
    record, attempt = _attempt()
    if record is None or record.get("cb_attempt") != str(attempt):
        return twiml.document()
    call_status = request.form.get("CallStatus", "")
    cb_status = record.get("cb_status")
    if cb_status in ("answered", "transferred") and call_status in CALL_OVER:
        # Written before the record is read again: a transfer in flight sees it (transfers.py).
        hotline.stores.data.hset(keys.call(record.sid), "cb_ended_at", now.isoformat())
        record = hotline.callbacks.load(record.sid) or record
        cb_status = record.get("cb_status")
    if cb_status == "transferred":
        # Their agent handed them on: their leg is the call now, and its end closes it as an
        # inbound call's would (abandoned while waiting or ringing, the agent to wrap-up...).
        duration = int_field(request.form.get("CallDuration"), 0)
        hotline.ending.call_ended(record, now, call_status, duration)
        return twiml.document()
    if cb_status in ("dialling", "calling"):
        answered_by = record.get("cb_answered_by") or request.form.get("AnsweredBy", "")
        if call_status in NOT_REACHED:
            reason = call_status
        elif answered_by in MACHINE:
            reason = "voicemail"
        else:
            reason = "no_response"
        hotline.callbacks.not_reached(record.sid, attempt, reason, now)
    elif cb_status == "answered" and record.get("status") == CallStatus.CONNECTING:
        # The customer hung up while the agent's phone rang: the agent is freed, and the customer
        # is called again after the backoff (or the callback fails after its last attempt).
        hotline.callbacks.not_reached(record.sid, attempt, "hung_up_waiting", now)
        hotline.rooms.end_agent_leg(record)  # a room's agent leg rings on its own
    elif cb_status == "answered" and record.get("status") == CallStatus.ON_CALL:
        _connected(record, attempt)
        hotline.connections.caller_hung_up(record, now, CallStatus.ON_CALL)
    return twiml.document()
