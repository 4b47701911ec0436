"""The webhooks of a connection through a conference room (`hotline.connect_via: conference`).

`/voice/connect` (ivr/voice/waiting.py) puts the matched caller in their call's room and has the
agent's leg placed (ivr/callcenter/rooms.py). Here: the room's music while the caller waits (and
the way out of the room for a caller put back in the queue meanwhile), the agent's leg answered
(the whisper, then the room), the leg's end (no answer or busy: the caller back at their place),
the end of the conversation (the caller's Dial action: survey or goodbye) and the room's own
events, which keep the room's sid on the call record.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, request

from ivr import routes
from ivr.callcenter.agents import AgentView
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.rooms import caller_leg, room_name
from ivr.callcenter.transfers import TransferRefused, customer_wait_path, transfer_path_of
from ivr.services import services
from ivr.twilio_rest import TwilioError
from ivr.urlstate import HOLD_AGAIN, AgentLeg, Attempt
from ivr.voice import survey, twiml
from ivr.voice.webhook import (
    base_url,
    call_sid,
    int_field,
    language_of,
    link,
    no_caller,
    ride_out_outage,
    this_call,
    twilio_webhook,
)
from ivr.voice.whisper import whisper_text

bp = Blueprint("room", __name__)
log = logging.getLogger("ivr.voice.room")

NOT_REACHED = ("no-answer", "busy", "failed")


def connect_in_room(record: CallRecord, agent: AgentView, action: str | None = None) -> twiml.Document | None:
    """The matched caller goes into their room; the agent's leg is placed (once per match).

    `action`: the room's Dial action (a called-back customer's own); None when the agent's leg
    could not be placed (the agent counted as not reached: the caller's view says what next).
    """
    hotline = services()
    base = base_url()
    if hotline.rooms.dial_agent(record, agent, base) == "failed":  # Twilio refused or is out of reach
        hotline.connections.dial_ended(record, agent.id, "failed", 0, hotline.clock.now())
        return None
    department = hotline.config.file.departments.get(record.get("department"))
    # Recorded per department, unless the caller declined by key at the notice (steps/announce.py).
    recorded = department is not None and department.record and not record.get("recording_declined")
    return twiml.join_room(
        language_of(record),
        room_name(record.sid),
        action=action or routes.url(base, "room_result", AgentLeg(agent=agent.id)),
        wait_url=routes.url(base, "room_wait"),
        events_url=routes.url(base, "room_events"),
        recording_url=routes.url(base, "room_recording", AgentLeg(call=record.sid)) if recorded else "",
    )


def room_talked(record: CallRecord, now: datetime) -> int:
    """Seconds the caller talked with the agent in their room, as a Dial reports them.

    0 if the agent never answered: a room left while the agent's phone rang is a hang-up during
    the ring, which frees the agent.
    """
    answered = record.get("answered_at")
    if record.get("status") == CallStatus.CONNECTING or not answered:
        return 0
    return max(int((now - _parsed(answered, now)).total_seconds()), 1)


def _room_music() -> twiml.Document:
    return twiml.room_music(services().config.file.hotline.hold_music_url)


@bp.post(routes.rule("room_wait"))
@twilio_webhook(outage=_room_music)
def wait() -> twiml.Document:
    """The room's music for the waiting caller, requested again each time it ends.

    A caller put back in the queue while in the room (the agent's leg was lost and the lease
    ran out) is moved back to the hold loop from here, if the redirect that should have done it
    did not.
    """
    hotline = services()
    # Read, never opened: a called-back customer's leg has no record of its own (and the
    # music needs none).
    sid = call_sid()
    record = hotline.calls.load(sid) if sid else None
    if record is None:
        return _room_music()
    if record.get("status") == CallStatus.QUEUED:
        hotline.connector.redirect(record.sid, routes.path("hold", HOLD_AGAIN))
    return twiml.room_music(hotline.config.file.hold_music(record.get("department")))


def _agent_through_outage() -> twiml.Document:
    """The agent picked up while Redis is out of reach: kept on the line (a word, a pause, the
    same request) while the grace lasts, then the whisper and the room. Hanging up on them would
    leave the hotline thinking their phone still rings (its report would meet the outage too);
    past the grace their leg ends, and the reaper settles the match."""
    return ride_out_outage() or twiml.hangup()


@bp.post(routes.rule("room_agent"))
@twilio_webhook(outage=_agent_through_outage)
def agent_answered() -> twiml.Document:
    """The agent's leg is answered: the whisper, then the caller's room (it starts then)."""
    hotline = services()
    leg = AgentLeg.from_args(request.args)
    now = hotline.clock.now()
    record = hotline.calls.load(leg.call) if leg.call.startswith("CA") else None
    agent = hotline.agents.get(leg.agent)
    if record is None or agent is None or not hotline.connections.answered(record, leg.agent, now):
        return twiml.hangup()  # the caller left (or the match was undone) before the answer
    lang = hotline.config.languages.get(agent.languages[0]) if agent.languages else None
    lang = lang or hotline.config.languages[hotline.config.locales[0]]
    return twiml.agent_room(lang, whisper_text(record, lang, now), room_name(record.sid))


@bp.post(routes.rule("room_agent_status"))
@twilio_webhook(outage=no_caller)  # no caller here: the reaper's lease covers a lost report
def agent_leg_ended() -> twiml.Document:
    """The agent's leg ended: not reached (the caller back at their place), or the talk is over."""
    hotline = services()
    leg = AgentLeg.from_args(request.args)
    now = hotline.clock.now()
    record = hotline.calls.load(leg.call) if leg.call.startswith("CA") else None
    status = request.form.get("CallStatus", "")
    if record is not None and hotline.monitoring.leg_ended(
        record, leg.agent if status != "in-progress" else ""
    ):
        return twiml.document()  # a supervisor's leg ended
    if record is not None and record.get("consult_agent") == leg.agent:  # a consulted agent's leg
        if status == "in-progress":
            hotline.consults.leg_answered(record, leg.agent, now)
        else:
            hotline.consults.leg_ended(record, leg.agent, status, now, base_url())
        return twiml.document()
    if record is None or record.get("agent") != leg.agent or status == "in-progress":
        return twiml.document()
    left = (
        hotline.consults.first_agent_left(record, leg.agent, now, base_url()) if status == "completed" else ""
    )
    if left == "handed":
        return twiml.document()  # hung up while consulting: the caller goes on with the consulted agent
    if left == "requeue":  # hung up while the consulted agent's phone rang: back to their place
        try:
            hotline.transfers.to_department(leg.agent, record.get("department"), "", now)
            return twiml.document()
        except (TransferRefused, ValueError) as exc:
            log.warning("caller %s not put back after their agent left: %s", record.sid, exc)
            try:  # out of the room: their Dial's action ends the call as an ended conversation
                hotline.rest.remove_participant(record.get("room"), caller_leg(record))
            except TwilioError as gone:
                log.warning("caller %s stays in their room: %s", record.sid, gone)
    duration = int_field(request.form.get("CallDuration"), 0)
    if status in NOT_REACHED or status == "canceled":
        dial_status = status if status in NOT_REACHED else "canceled"
        outcome = hotline.connections.dial_ended(record, leg.agent, dial_status, 0, now)
        customer = record.get("cb_call")
        if outcome == "requeued" and record.get("cb_status") == "transferred":
            # A customer their agent transferred: back at their place, out of the room to wait.
            hotline.jobs.match_department(None, record.get("department"))
            hotline.connector.redirect(customer, customer_wait_path(record))
        elif outcome == "requeued" and customer:
            # A called-back customer: called again soon; their leg hears why, and goodbye.
            hotline.callbacks.agent_missed(record)
            attempt = Attempt(record.sid, int_field(record.get("cb_attempt"), 0), leg.agent)
            hotline.connector.redirect(customer, routes.path("callback_dial_result", attempt))
        elif outcome == "requeued":
            hotline.jobs.match_department(None, record.get("department"))
            # Out of the room, back to the hold loop (the room's music does it if this fails).
            hotline.connector.redirect(record.sid, routes.path("hold", HOLD_AGAIN))
    elif record.get("status") == CallStatus.ON_CALL:
        hotline.connections.dial_ended(record, leg.agent, "completed", max(duration, 1), now)
    return twiml.document()


@bp.post(routes.rule("room_result"))
@twilio_webhook
def result() -> twiml.Document:
    """The caller's room ended (the agent hung up): the survey, or goodbye."""
    hotline = services()
    now = hotline.clock.now()
    record = this_call(now)
    lang = language_of(record)
    if record.get("status") == CallStatus.TRANSFERRED and record.get("room_line"):
        return twiml.goodbye(lang)  # handed to a specialist line in the room, which hung up
    # The room's agent now (after a warm transfer, not the one who was first dialled in).
    agent_id = record.get("agent") or AgentLeg.from_args(request.args).agent
    outcome = hotline.connections.dial_ended(record, agent_id, "completed", room_talked(record, now), now)
    resp = twiml.document()
    if outcome == "requeued":
        twiml.redirect(link("hold", HOLD_AGAIN), resp)
    elif outcome == "transferred":
        twiml.redirect(f"{base_url()}{transfer_path_of(record)}", resp)
    elif outcome == "done" and hotline.config.file.survey.enabled and agent_id:
        survey.ask(resp, lang, agent_id)
    else:
        twiml.goodbye(lang, resp=resp)
    return resp


@bp.post(routes.rule("room_events"))
@twilio_webhook(outage=no_caller)
def events() -> twiml.Document:
    """The room's status callbacks: the caller's record keeps the room's sid while it lasts."""
    hotline = services()
    event = request.form.get("StatusCallbackEvent", "")
    name = request.form.get("FriendlyName", "")
    caller = name.removeprefix("call-")
    record = hotline.calls.load(caller) if caller.startswith("CA") else None
    if record is None:
        return twiml.document()
    held = None
    if request.form.get("CallSid") == caller_leg(record):
        if event in ("participant-hold", "participant-unhold"):
            held = "1" if event == "participant-hold" else ""
    hotline.calls.note_room(caller, event, request.form.get("ConferenceSid", ""), held)
    return twiml.document()


def _parsed(value: str, default: datetime) -> datetime:
    try:
        return datetime.fromisoformat(value) if value else default
    except ValueError:
        return default


@bp.post(routes.rule("room_recording"))
@twilio_webhook(outage=no_caller)
def recording() -> twiml.Document:
    """The room's recording started or is complete: its sid, URL, status and duration on the record."""
    hotline = services()
    caller = AgentLeg.from_args(request.args).call
    if caller.startswith("CA"):
        hotline.calls.note_recording(
            caller,
            recording=request.form.get("RecordingSid", ""),
            status=request.form.get("RecordingStatus", ""),
            url=request.form.get("RecordingUrl", ""),
            duration=int_field(request.form.get("RecordingDuration"), 0),
            now=hotline.clock.now(),
        )
    return twiml.document()
