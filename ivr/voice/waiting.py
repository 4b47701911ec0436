"""The webhooks of a caller in the queue: the hold loop, the connection to an agent, its outcome.

Why a hold loop of our own (Play + Redirect) rather than Twilio's `<Enqueue>`: Twilio's queues
are first-come-first-served only, while ours have priority classes, language lanes and skills,
and live in Redis where any process can match. Our loop also lets us speak position and wait in
the caller's language on our own cadence. The matcher moves a caller out of the loop with a
REST redirect to `/voice/connect`; if that redirect fails (or never comes: the worker died), the
caller's next turn of the loop finds the match on the call record and connects them itself. Only
one of the two dials the agent: the hold loop waits for the redirect while it may still come.

A turn that cannot reach Redis (a failover, a restart) plays the music and comes back, for
`hotline.redis_grace_seconds` counted from the first such turn (`g` in the turn's signed URL:
nothing is written where nothing can be written); only past it does the caller go to the
overflow number. Their place in the queue is untouched meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, request

from ivr import keys, routes
from ivr.callcenter.agents import RING_MARGIN_SECONDS, AgentView
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.lifecycle import CallLife, CallStatus
from ivr.callcenter.transfers import transfer_path_of
from ivr.clock import business_day
from ivr.hotline.schema import HotlineFile
from ivr.prompts import Language
from ivr.redis_types import text_hash
from ivr.services import services
from ivr.urlstate import HOLD_AGAIN, AgentLeg
from ivr.voice import survey, twiml
from ivr.voice.holdloop import LoopState, hold_through_outage, hold_url, key_gather, keys_url
from ivr.voice.room import connect_in_room
from ivr.voice.webhook import (
    NoCallSid,
    base_url,
    call_sid,
    int_field,
    language_of,
    link,
    no_caller,
    this_call,
    twilio_webhook,
)
from ivr.voice.whisper import whisper_text
from ivr.waits.estimate import Estimate
from ivr.waits.live import Wait, turn_wait, wait_for_caller

bp = Blueprint("waiting", __name__)

# A matched caller's hold turn waits this long for the matcher's REST redirect before it dials the
# agent itself (the redirect failed, or the worker died before sending it).
REDIRECT_GRACE_SECONDS = 5
CONNECT_PAUSE_SECONDS = 2


@bp.post(routes.rule("hold"))
@twilio_webhook(outage=hold_through_outage)
def hold() -> twiml.Document | twiml.Rendered:
    """One turn of the hold loop: position and wait when they changed, music, and again."""
    hotline = services()
    now = hotline.clock.now()
    cfg = hotline.config.file
    # The loop's memory (last announcement, peak message, key hint, the queue) rides in its own
    # signed URLs: no write needed to remember it. See ivr/voice/holdloop.py.
    was = LoopState.from_args(request.args)
    record, wait = None, None
    if was.department in cfg.departments:  # one round trip: the record, and the queue it names
        day = business_day(now, cfg.hotline.timezone)
        record, wait = turn_wait(hotline.live, _sid(), was.department, day, now)
    if record is None or wait is None:  # the first turn, or the record says otherwise: two trips
        record = record or this_call(now)
        elsewhere = _not_waiting(record, now)
        if elsewhere is not None:
            return elsewhere
        wait = wait_for_caller(hotline.live, record, now)
    if wait.position == 0 or wait.state.waited_seconds > cfg.hotline.max_hold_minutes * 60:
        return _overflow(record)
    plan = TurnPlan.of(cfg, wait, was, now)
    return turn_rendered(_turn_words(cfg, record, wait, plan, now))


def _sid() -> str:
    """The request's CallSid; NoCallSid (the overflow) without one of Twilio's shape."""
    sid = call_sid()
    if sid is None:
        raise NoCallSid
    return sid


def _not_waiting(record: CallRecord, now: datetime) -> twiml.Document | None:
    """The turn of a caller who is not (or no longer) waiting in a queue; None for one who is."""
    hotline = services()
    status, department = record.get("status"), record.get("department")
    if status == CallStatus.CONNECTING:
        if redirect_missed(record, now):  # the REST redirect did not reach Twilio: dial from here
            return _connect_document(record)
        # The matcher's redirect is on its way and will dial the agent: one dial a match. A short
        # turn until it arrives (or the grace passes).
        resp = twiml.document()
        resp.pause(length=CONNECT_PAUSE_SECONDS)
        twiml.redirect(link("hold", HOLD_AGAIN), resp)
        return resp
    if status == "menu":  # on hold without a hand-off: the menu comes first
        return twiml.redirect(link("incoming"))
    if status != "queued" or department not in hotline.config.file.departments:
        return twiml.overflow(hotline.config, language_of(record))
    return None


def _overflow(record: CallRecord) -> twiml.Document:
    """Handed off but not in the queue (it was full), or waited too long: the overflow number.
    Counted as overflowed, once; the end of the call (on the overflow line) is not an abandon.

    The record this turn read may be stale: a matcher can take the caller between the turn's two
    round trips (the place is gone because an agent is ringing), so the move is made first and
    only from `queued`; refused, the caller's next turn sees what they are now.
    """
    hotline = services()
    sid, department = record.sid, record.get("department")
    if CallLife(hotline.stores.data).move(sid, CallStatus.OVERFLOWED, (CallStatus.QUEUED,)) is None:
        return twiml.redirect(link("hold", HOLD_AGAIN))
    hotline.queues.leave(sid, department, record.day, abandoned=False, overflowed=True)
    return twiml.overflow(hotline.config, language_of(record))


@dataclass(frozen=True)
class TurnPlan:
    """What this turn says besides the hold message, and the loop state its URLs carry on."""

    announce: bool  # position (and wait) changed, or it is time to say them again
    offer: bool  # the callback offer, on its own
    peak: bool  # the peak-hour message, once a call
    hint: bool  # keys work on hold, once a call
    state: LoopState

    @classmethod
    def of(cls, cfg: HotlineFile, wait: Wait, was: LoopState, now: datetime) -> TurnPlan:
        """Decide from the caller's wait and what earlier turns said."""
        position = heard_position(wait)
        since = now.timestamp() - was.announced_at
        announce = position != was.position or since >= cfg.hotline.announce_every_seconds
        offer = announce and callback_offered(cfg, position, wait.estimate)
        known = wait.estimate is not None and wait.quiet_slot is not None  # a figure we can back
        peak = bool(announce and wait.peak and not was.peak_said and known)
        hint = cfg.callbacks.enabled and not offer and not was.hint_said
        state = LoopState(
            position if announce else was.position,
            int(now.timestamp()) if announce else was.announced_at,
            was.peak_said or peak,
            was.hint_said or offer or hint,
            department=wait.department,
        )
        return cls(announce, offer, peak, hint, state)


@dataclass(frozen=True)
class TurnWords:
    """A hold turn's document as values: the voice, what it says, the music and its URLs."""

    lang: Language
    keys_url: str | None  # the Gather's action around the turn (callbacks on), else no Gather
    says: tuple[str, ...]
    music: str
    next_url: str


def _turn_words(cfg: HotlineFile, record: CallRecord, wait: Wait, plan: TurnPlan, now: datetime) -> TurnWords:
    """The turn: what the plan says, the hold message and the music, then the next turn."""
    lang = language_of(record)
    base = base_url()
    says: list[str] = []
    if plan.announce:
        says += _announce(lang, plan.state.position, wait.estimate)
    if plan.offer:  # offered on its own only when the wait is long or the caller far back
        says.append(lang.text("callback_offer"))
    if plan.peak and wait.quiet_slot is not None:
        says.append(peak_text(lang, wait.quiet_slot, now, cfg.hotline.timezone))
    says.append(lang.text("hold_message"))
    if plan.hint:  # once a call: keys work on every turn, offer or not
        says.append(lang.text("callback_hint"))
    return TurnWords(
        lang,
        # With callbacks on, a key is heard at any moment of the turn, music included.
        keys_url(base, plan.state) if cfg.callbacks.enabled else None,
        tuple(says),
        cfg.hold_music(record.get("department")),
        hold_url(base, plan.state),
    )


def turn_document(words: TurnWords) -> twiml.Document:
    """The turn's document, built with VoiceResponse (what `turn_rendered` writes, and its template)."""
    resp = twiml.document()
    turn = key_gather(resp, words.lang, words.keys_url) if words.keys_url is not None else resp
    for text in words.says:
        twiml.say(turn, words.lang, text)
    turn.play(words.music)
    twiml.redirect(words.next_url, resp)
    return resp


# A turn's document by its shape (voice, Gather or not, how many Says): built once with
# VoiceResponse around slots, then only filled (a tenth of a hold turn's CPU was building and
# writing the same few elements every turn).
_TEMPLATES: dict[tuple[str, str, bool, int], twiml.Template] = {}


def turn_rendered(words: TurnWords) -> twiml.Document | twiml.Rendered:
    """The turn's document written out: the same text as `turn_document`'s (its template filled)."""
    if not all(words.says):  # a Say without words is written `<Say />`, which no slot gives
        return turn_document(words)
    voice = words.lang.voice
    shape = (voice.say_voice, voice.say_language, words.keys_url is not None, len(words.says))
    template = _TEMPLATES.get(shape)
    if template is None:
        slots = TurnWords(
            words.lang,
            twiml.slot("keys") if words.keys_url is not None else None,
            tuple(twiml.slot(f"say{i}") for i in range(len(words.says))),
            twiml.slot("music"),
            twiml.slot("next"),
        )
        template = _TEMPLATES.setdefault(shape, twiml.Template(turn_document(slots)))
    values = {f"say{i}": text for i, text in enumerate(words.says)}
    values.update(keys=words.keys_url or "", music=words.music, next=words.next_url)
    return template.fill(values)


def heard_position(wait: Wait) -> int:
    """The place a caller is told: their place in the queue, or first when they are being
    connected (`Wait.connecting`): whoever waits ahead of them then is a caller the free agents
    cannot take, or one of fewer such callers than free agents, and none of them keeps them waiting."""
    return 1 if wait.connecting else wait.position


def callback_offered(cfg: HotlineFile, position: int, wait: Estimate | None) -> bool:
    """A callback is offered on its own when the wait is long or the caller far back."""
    settings = cfg.callbacks
    if not settings.enabled:
        return False
    long_wait = wait is not None and wait.seconds >= settings.offer_after_wait_seconds
    return long_wait or position >= settings.offer_from_position


def _announce(lang: Language, position: int, estimate: Estimate | None) -> list[str]:
    """Where the caller stands and how long it should take."""
    ahead = position - 1
    said = [lang.text("queue_first") if ahead == 0 else lang.text("queue_position", ahead=ahead)]
    if estimate is not None:  # else nobody is serving the queue right now: no number to stand behind
        said.append(wait_text(lang, estimate))
    return said


def wait_text(lang: Language, estimate: Estimate) -> str:
    """The estimate in the caller's words: a range, 'about', 'up to' (N minutes or a minute and a
    half), 'less than a minute', or 'long'."""
    spoken = estimate.spoken()
    if spoken.kind == "long":  # past a day, or past what the model can reckon: no number
        return lang.text("queue_wait_long")
    if spoken.kind == "soon":
        return lang.text("queue_wait_soon")
    if spoken.kind == "up_to_90s":
        return lang.text("queue_wait_up_to_90s")
    if spoken.kind == "up_to":
        return lang.text("queue_wait_up_to", minutes=spoken.high)
    if spoken.kind == "about":
        return lang.text("queue_wait_about", minutes=spoken.high)
    return lang.text("queue_wait_range", low=spoken.low, high=spoken.high)


def peak_text(lang: Language, slot: datetime, now: datetime, tz: str) -> str:
    """'One of our busiest hours; the quietest time tomorrow is 9 to 10' (or on a later day)."""
    local, today = slot.astimezone(ZoneInfo(tz)), now.astimezone(ZoneInfo(tz)).date()
    end = local + timedelta(hours=1)
    hours = lang.voice.time_range.format(opens=local.strftime("%H:%M"), closes=end.strftime("%H:%M"))
    if local.date() == today + timedelta(days=1):
        return lang.text("peak_hour_tomorrow", hours=hours)
    return lang.text("peak_hour_later", day=lang.voice.days[local.weekday()], hours=hours)


@bp.post(routes.rule("connect"))
@twilio_webhook(outage=hold_through_outage)
def connect() -> twiml.Document:
    """Where the matcher redirects a caller: dial the agent, who first hears the whisper."""
    hotline = services()
    record = this_call(hotline.clock.now())
    if record.get("status") != CallStatus.CONNECTING:  # stale redirect: back to waiting
        return twiml.redirect(link("hold", HOLD_AGAIN))
    return _connect_document(record)


def redirect_missed(record: CallRecord, now: datetime) -> bool:
    """The matcher's REST redirect failed, or has not come within the grace (the worker died)."""
    if record.get("redirect") == "failed":
        return True
    matched = record.get("matched_at")
    return not matched or (now - datetime.fromisoformat(matched)).total_seconds() >= REDIRECT_GRACE_SECONDS


def _connect_document(record: CallRecord) -> twiml.Document:
    hotline = services()
    ring = hotline.config.file.hotline.ring_timeout_seconds
    # The Dial starts now: the agent's ringing lease runs from here (one round trip with the read).
    now = hotline.clock.now()
    pipe = hotline.stores.data.pipeline(transaction=False)
    pipe.hgetall(keys.agent(record.get("agent")))
    hotline.agents.extend_hold(record.get("agent"), now + timedelta(seconds=ring + RING_MARGIN_SECONDS), pipe)
    pipe.hset(keys.call(record.sid), "dialled_at", now.isoformat())  # the agent's phone rings from now
    fields = pipe.execute()[0]
    agent = AgentView.from_hash(fields) if fields.get("id") else None
    lang = language_of(record)
    if agent is None:
        hotline.connections.requeue(record, hotline.clock.now())
        return twiml.redirect(link("hold", HOLD_AGAIN))
    if hotline.config.file.hotline.connect_via == "conference":
        room = connect_in_room(record, agent)
        if room is None:  # the agent's leg could not be placed: back to the caller's place
            hotline.jobs.match_department(None, record.get("department"))
            return twiml.redirect(link("hold", HOLD_AGAIN))
        return room
    base = base_url()
    return twiml.dial_agent(
        lang,
        agent.reach,
        action=routes.url(base, "dial_result", AgentLeg(agent=agent.id)),
        whisper=routes.url(base, "whisper", AgentLeg(record.sid, agent.id)),
        ring_timeout=hotline.config.file.hotline.ring_timeout_seconds,
    )


@bp.post(routes.rule("whisper"))
@twilio_webhook(outage=no_caller)  # Redis out of reach: bridged without the whisper
def whisper() -> twiml.Document:
    """Played to the agent who answered, before the caller is bridged: who is calling, and why."""
    hotline = services()
    leg = AgentLeg.from_args(request.args)
    caller_sid, agent_id = leg.call, leg.agent
    now = hotline.clock.now()
    resp = twiml.document()
    fields = (
        text_hash(hotline.stores.data.hgetall(keys.call(caller_sid))) if caller_sid.startswith("CA") else {}
    )
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


@bp.post(routes.rule("dial_result"))
@twilio_webhook
def dial_result() -> twiml.Document:
    """The agent's leg ended: done (goodbye), not reached (back to the same place), or gone."""
    hotline = services()
    now = hotline.clock.now()
    record = this_call(now)
    lang = language_of(record)
    agent_id = AgentLeg.from_args(request.args).agent or record.get("agent")
    outcome = hotline.connections.dial_ended(
        record,
        agent_id,
        request.form.get("DialCallStatus", ""),
        int_field(request.form.get("DialCallDuration"), 0),
        now,
    )
    resp = twiml.document()
    if outcome == "requeued":
        twiml.say(resp, lang, lang.text("agent_missed"))
        hotline.jobs.match_department(None, record.get("department"))
        twiml.redirect(link("hold", HOLD_AGAIN), resp)
    elif outcome == "transferred":  # the old leg's late report, or its end if the redirect failed
        twiml.redirect(f"{base_url()}{transfer_path_of(record)}", resp)
    elif outcome == "done" and hotline.config.file.survey.enabled and agent_id:
        survey.ask(resp, lang, agent_id)  # the agent hung up: rate the call
    else:
        twiml.goodbye(lang, resp=resp)
    return resp
