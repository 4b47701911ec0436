"""A called-back customer their agent transferred: told, waiting on the line, then connected.

The customer is on the hotline's own outbound call, so their leg's CallSid is not the record's:
every URL here carries the original call (and the callback's attempt) in its signed query, as
the callback's own webhooks do. Their record is the one that moves (ivr/callcenter/transfers.py):
`cb_status: transferred`, `status: queued` at their place in the target department, then
`connecting` when the matcher gives them an agent (it redirects this leg to `connect`; if that
redirect is lost, the next waiting turn connects them). Their leg's status callback
(`/voice/callback/status`) ends the wait: abandoned while waiting, the agent freed while ringing.

`/voice/customer/transfer`: "transferring you to ..." and the waiting turns, or a Dial to the
specialist line the agent chose (only the number on the record is dialled).
`/voice/customer/wait`: a turn of the target department's music, again and again.
`/voice/customer/connect`: the agent is rung, through a Dial or into the customer's room.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, request

from ivr import keys, routes
from ivr.callcenter.agents import RING_MARGIN_SECONDS
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.transfers import customer_wait_path
from ivr.services import services
from ivr.urlstate import AgentLeg, Attempt, CustomerMove
from ivr.voice import twiml
from ivr.voice.room import connect_in_room
from ivr.voice.transfer import OUTSIDE_RING_SECONDS
from ivr.voice.waiting import CONNECT_PAUSE_SECONDS, redirect_missed
from ivr.voice.webhook import base_url, language_of, link, twilio_webhook

bp = Blueprint("customer", __name__)


def _customer(call: str, attempt: int) -> CallRecord | None:
    """The record of a transferred customer's callback, if this URL is still theirs."""
    record = services().callbacks.load(call)
    if record is None or record.get("cb_status") != "transferred":
        return None
    if record.get("cb_attempt") != str(attempt) or record.get("cb_ended_at"):
        return None
    return record


def _goodbye() -> twiml.Document:
    config = services().config
    return twiml.goodbye(config.languages[config.locales[0]])


def _music_turn(state: Attempt) -> twiml.Document:
    """Music, then the next turn (what a turn plays when Redis is out of reach, too)."""
    cfg = services().config.file
    resp = twiml.document()
    resp.play(cfg.hotline.hold_music_url)
    twiml.redirect(f"{base_url()}{routes.path('customer_wait', state)}", resp)
    return resp


def _wait_through_outage() -> twiml.Document:
    return _music_turn(Attempt.from_args(request.args))


@bp.post(routes.rule("customer_transfer"))
@twilio_webhook
def transfer() -> twiml.Document:
    """Tell the customer they are transferred; then wait for the department, or dial the line."""
    hotline = services()
    move = CustomerMove.from_args(request.args)
    record = _customer(move.call, move.attempt)
    if record is None:
        return _goodbye()
    lang = language_of(record)
    if move.number:
        if record.get("status") != CallStatus.TRANSFERRED or record.get("transfer_number") != move.number:
            return twiml.overflow(hotline.config, lang)  # not a transfer we made: never dial it
        return twiml.dial_outside(lang, move.number, OUTSIDE_RING_SECONDS)
    resp = twiml.document()
    department = hotline.config.file.departments.get(move.to)
    if department is not None and record.get("department") == move.to:
        twiml.say(
            resp, lang, lang.text("transfer_department", department=department.names.get(lang.locale, ""))
        )
    twiml.redirect(f"{base_url()}{customer_wait_path(record)}", resp)
    return resp


@bp.post(routes.rule("customer_wait"))
@twilio_webhook(outage=_wait_through_outage)
def wait() -> twiml.Document:
    """A waiting turn: the department's music; connected once matched (if the redirect was lost)."""
    hotline = services()
    now = hotline.clock.now()
    state = Attempt.from_args(request.args)
    record = _customer(state.call, state.attempt)
    if record is None:
        return _goodbye()
    status = record.get("status")
    if status == CallStatus.CONNECTING:
        if redirect_missed(record, now):
            return _connect(record, state)
        resp = twiml.document()
        resp.pause(length=CONNECT_PAUSE_SECONDS)  # the matcher's redirect is on its way
        twiml.redirect(f"{base_url()}{routes.path('customer_wait', state)}", resp)
        return resp
    if status != CallStatus.QUEUED:
        return twiml.goodbye(language_of(record))
    lang = language_of(record)
    resp = twiml.document()
    twiml.say(resp, lang, lang.text("hold_message"))
    resp.play(hotline.config.file.hold_music(record.get("department")))
    twiml.redirect(f"{base_url()}{routes.path('customer_wait', state)}", resp)
    return resp


@bp.post(routes.rule("customer_connect"))
@twilio_webhook(outage=_wait_through_outage)
def connect() -> twiml.Document:
    """Where the matcher redirects a transferred customer: ring the agent (whisper first)."""
    state = Attempt.from_args(request.args)
    record = _customer(state.call, state.attempt)
    if record is None:
        return _goodbye()
    if record.get("status") != CallStatus.CONNECTING:  # stale redirect: back to waiting
        return twiml.redirect(f"{base_url()}{routes.path('customer_wait', state)}")
    return _connect(record, state)


def _connect(record: CallRecord, state: Attempt) -> twiml.Document:
    """Ring the matched agent: a Dial, or their leg into the customer's room."""
    hotline = services()
    cfg = hotline.config.file
    now = hotline.clock.now()
    agent_id = record.get("agent")
    ring = cfg.hotline.ring_timeout_seconds
    # The agent's phone rings from now: their ringing lease runs from here, as for a caller.
    pipe = hotline.stores.data.pipeline(transaction=False)
    hotline.agents.extend_hold(agent_id, now + timedelta(seconds=ring + RING_MARGIN_SECONDS), pipe)
    pipe.hset(keys.call(record.sid), "dialled_at", now.isoformat())
    pipe.execute()
    agent = hotline.agents.get(agent_id)
    action = link("callback_dial_result", Attempt(record.sid, state.attempt, agent_id))
    if agent is None:
        hotline.connections.requeue(record, now)
        return _music_turn(state)
    if cfg.hotline.connect_via == "conference":
        room = connect_in_room(record, agent, action)
        if room is None:  # the agent's leg could not be placed: back at their place
            hotline.jobs.match_department(None, record.get("department"))
            return _music_turn(state)
        return room
    return twiml.dial_agent(
        language_of(record),
        agent.reach,
        action=action,
        whisper=link("whisper", AgentLeg(record.sid, agent.id)),
        ring_timeout=ring,
    )
