"""The webhooks of a caller in the queue: the hold loop, the connection to an agent, its outcome.

Why a hold loop of our own (Play + Redirect) rather than Twilio's `<Enqueue>`: Twilio's queues
are first-come-first-served only, while ours have priority classes, language lanes and skills,
and live in Redis where any process can match. Our loop also lets us speak position and wait in
the caller's language on our own cadence. The matcher moves a caller out of the loop with a
REST redirect to `/voice/connect`; if that redirect fails, the caller's next turn of the loop
finds the match on the call record and connects them itself.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, request
from twilio.twiml.voice_response import VoiceResponse

from ivr import keys
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.transfers import transfer_path_of
from ivr.phones import last_digits
from ivr.voice import twiml
from ivr.voice.callback import offer_gather
from ivr.voice.webhook import base_url, hotline_of_app, int_field, language_of, this_call, twilio_webhook
from ivr.waits.estimate import Estimate, QueueState, estimate

bp = Blueprint("waiting", __name__, url_prefix="/voice")


@bp.post("/hold")
@twilio_webhook
def hold() -> VoiceResponse:
    """One turn of the hold loop: position and wait when they changed, music, and again."""
    hotline = hotline_of_app()
    now = hotline.clock.now()
    record = this_call(now)
    sid, lang = record.sid, language_of(record)
    status, department = record.get("status"), record.get("department")
    if status == "connecting":  # matched, but the REST redirect did not reach Twilio
        return _connect_document(record)
    if status == "menu":  # on hold without a hand-off: the menu comes first
        resp = VoiceResponse()
        resp.redirect(f"{base_url()}/voice/incoming", method="POST")
        return resp
    cfg = hotline.config.file
    if status != "queued" or department not in cfg.departments:
        return twiml.overflow(hotline.config, lang)
    # Round trip 2: position, staffing and today's handle time, in one pipeline.
    pipe = hotline.stores.data.pipeline(transaction=False)
    hotline.queues.queue_position(pipe, sid, department)
    pipe.zcard(keys.staffed_agents(department))
    pipe.zcard(keys.ready_agents(department))
    pipe.hmget(keys.department_stats(department, record.get("day")), ["handled", "handle_ms"])
    position, staffed, ready, (handled, handle_ms) = pipe.execute()
    waited = now - datetime.fromisoformat(record.get("queued_at") or now.isoformat())
    if position == 0 or waited.total_seconds() > cfg.hotline.max_hold_minutes * 60:
        # Handed off but not in the queue: it was full. Or the caller waited too long.
        hotline.queues.leave(sid, department, record.get("day"), abandoned=False, overflowed=True)
        return twiml.overflow(hotline.config, lang)
    resp = VoiceResponse()
    # The last announcement rides in the loop's own (signed) URL: no write needed to remember it.
    last_position = int_field(request.args.get("p"), 0)
    last_at = int_field(request.args.get("t"), 0)
    announce = position != last_position or now.timestamp() - last_at >= cfg.hotline.announce_every_seconds
    wait = estimate(queue_state(position, staffed, ready, handled, handle_ms, waited.total_seconds()))
    offer = callback_offered(cfg, position, wait)
    # With a callback on offer, the turn's words sit in a Gather: a key asks for it, silence
    # falls through to the music.
    words = offer_gather(resp, lang) if offer else resp
    if announce:
        _announce(words, lang, position, wait)
        if offer:
            twiml.say(words, lang, lang.text("callback_offer"))
        last_position, last_at = position, int(now.timestamp())
    music = cfg.departments[department].hold_music_url or cfg.hotline.hold_music_url
    twiml.say(words, lang, lang.text("hold_message"))
    resp.play(music)
    resp.redirect(f"{base_url()}/voice/hold?p={last_position}&t={last_at}", method="POST")
    return resp


def queue_state(
    position: int, staffed: int, ready: int, handled: str | None, handle_ms: str | None, waited: float
) -> QueueState:
    """What the hold loop knows of the queue in front of the caller (one place to build it)."""
    mean_handle = int(handle_ms or 0) / 1000 / int(handled) if handled and int(handled) else None
    return QueueState(
        agents=int(staffed),
        ready=int(ready),
        ahead=max(position - 1, 0),
        mean_handle_seconds=mean_handle,
        waited_seconds=max(waited, 0.0),
    )


def callback_offered(cfg, position: int, wait: Estimate | None) -> bool:  # noqa: ANN001 - HotlineFile
    """A callback is offered on its own when the wait is long or the caller far back."""
    settings = cfg.callbacks
    if not settings.enabled:
        return False
    long_wait = wait is not None and wait.seconds >= settings.offer_after_wait_seconds
    return long_wait or position >= settings.offer_from_position


def _announce(resp, lang, position: int, estimate: Estimate | None) -> None:  # noqa: ANN001
    """Say where the caller stands and how long it should take."""
    ahead = position - 1
    twiml.say(
        resp, lang, lang.text("queue_first") if ahead == 0 else lang.text("queue_position", ahead=ahead)
    )
    if estimate is None:
        return  # nobody is serving the queue right now: no number we could stand behind
    if estimate.under_a_minute:
        twiml.say(resp, lang, lang.text("queue_wait_soon"))
    else:
        twiml.say(resp, lang, lang.text("queue_wait_minutes", minutes=estimate.minutes))


@bp.post("/connect")
@twilio_webhook
def connect() -> VoiceResponse:
    """Where the matcher redirects a caller: dial the agent, who first hears the whisper."""
    hotline = hotline_of_app()
    record = this_call(hotline.clock.now())
    if record.get("status") != "connecting":  # stale redirect: back to waiting
        resp = VoiceResponse()
        resp.redirect(f"{base_url()}/voice/hold", method="POST")
        return resp
    return _connect_document(record)


def _connect_document(record: CallRecord) -> VoiceResponse:
    hotline = hotline_of_app()
    agent = hotline.agents.get(record.get("agent"))
    lang = language_of(record)
    if agent is None:
        hotline.connections.requeue(record, hotline.clock.now())
        resp = VoiceResponse()
        resp.redirect(f"{base_url()}/voice/hold", method="POST")
        return resp
    base = base_url()
    return twiml.dial_agent(
        lang,
        agent.reach,
        action=f"{base}/voice/dial-result?agent={agent.id}",
        whisper=f"{base}/voice/whisper?call={record.sid}&agent={agent.id}",
        ring_timeout=hotline.config.file.hotline.ring_timeout_seconds,
    )


@bp.post("/whisper")
@twilio_webhook
def whisper() -> VoiceResponse:
    """Played to the agent who answered, before the caller is bridged: who is calling, and why."""
    hotline = hotline_of_app()
    caller_sid = request.args.get("call", "")
    agent_id = request.args.get("agent", "")
    now = hotline.clock.now()
    resp = VoiceResponse()
    fields = hotline.stores.data.hgetall(keys.call(caller_sid)) if caller_sid.startswith("CA") else {}
    agent = hotline.agents.get(agent_id)
    if not fields or agent is None:
        resp.hangup()  # nothing to bridge: ending the agent's leg returns the caller to the Dial action
        return resp
    record = CallRecord(caller_sid, fields)
    hotline.connections.answered(record, agent_id, now)
    lang = hotline.config.languages.get(agent.languages[0]) if agent.languages else None
    lang = lang or hotline.config.languages[hotline.config.locales[0]]
    twiml.say(resp, lang, whisper_text(record, lang, now))
    return resp


def whisper_text(record: CallRecord, lang, now: datetime) -> str:  # noqa: ANN001
    """What the agent hears: department, issue, masked account, verified, wait, reference."""
    cfg = hotline_of_app().config.file
    department = cfg.departments.get(record.get("department"))
    issue = record.get("issue") or "other"
    if record.get("account"):
        verified = "whisper_verified" if record.verified else "whisper_unverified"
        account = lang.text(
            "whisper_account", last4=last_digits(record.get("account")), verified=lang.text(verified)
        )
    else:
        account = lang.text("whisper_no_account")
    queued_at = datetime.fromisoformat(record.get("queued_at") or now.isoformat())
    return lang.text(
        "whisper",
        department=department.names.get(lang.locale, "") if department else "",
        issue=lang.text(f"label_{issue}") if f"label_{issue}" in lang.texts else issue,
        account=account,
        minutes=int((now - queued_at).total_seconds() // 60),
        reference=lang.spell(record.get("ref")),
    )


@bp.post("/dial-result")
@twilio_webhook
def dial_result() -> VoiceResponse:
    """The agent's leg ended: done (goodbye), not reached (back to the same place), or gone."""
    hotline = hotline_of_app()
    now = hotline.clock.now()
    record = this_call(now)
    lang = language_of(record)
    agent_id = request.args.get("agent", "") or record.get("agent")
    outcome = hotline.connections.dial_ended(
        record,
        agent_id,
        request.form.get("DialCallStatus", ""),
        int_field(request.form.get("DialCallDuration"), 0),
        now,
    )
    resp = VoiceResponse()
    if outcome == "requeued":
        twiml.say(resp, lang, lang.text("agent_missed"))
        hotline.jobs.match_department(None, record.get("department"))
        resp.redirect(f"{base_url()}/voice/hold", method="POST")
    elif outcome == "transferred":  # the old leg's late report, or its end if the redirect failed
        resp.redirect(f"{base_url()}{transfer_path_of(record)}", method="POST")
    else:
        twiml.say(resp, lang, lang.text("goodbye"))
        resp.hangup()
    return resp
