"""The survey after the agent hangs up: a score from 1 to 5, then an optional spoken comment.

The dial-result webhook asks the question (`ask`); the caller's key comes here. A caller who
says nothing hears goodbye; each call is rated once (see `ivr.followup.surveys`).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, request

from ivr import routes
from ivr.callcenter.calls import CallRecord
from ivr.digits import whole_number
from ivr.followup.surveys import SCORES, Surveys
from ivr.prompts import Language
from ivr.services import services
from ivr.urlstate import Survey
from ivr.voice import twiml
from ivr.voice.speech import spoken_digits
from ivr.voice.webhook import int_field, language_of, link, this_call, twilio_webhook

bp = Blueprint("survey", __name__)


def ask(
    resp: twiml.Document, lang: Language, agent_id: str, tries: int = 1, call: str = ""
) -> twiml.Document:
    """The question, with the agent who took the call in the (signed) answer URL; `call`: the
    original call's sid, when the question is asked on the hotline's call to a called-back customer."""
    g = twiml.gather(resp, lang, link("survey", Survey(agent_id, tries, call)), timeout=6)
    twiml.say(g, lang, lang.text("survey_ask"))
    twiml.say(resp, lang, lang.text("goodbye"))  # no answer: the caller is done
    resp.hangup()
    return resp


def _score(said_digits: str, speech: str) -> int | None:
    text = said_digits or spoken_digits(speech)
    score = whole_number(text) if len(text) == 1 else None
    return score if score in SCORES else None


@bp.post(routes.rule("survey"))
@twilio_webhook
def score() -> twiml.Document:
    """Keep the score (once per call), then offer the comment."""
    hotline = services()
    now = hotline.clock.now()
    asked = Survey.from_args(request.args)
    record = _rated_call(asked, now)
    lang, cfg = language_of(record), hotline.config.file
    agent_id = asked.agent or record.get("agent")
    given = _score(request.form.get("Digits", "")[:4], request.form.get("SpeechResult", "")[:100])
    resp = twiml.document()
    if given is None:
        tries = asked.tries
        if tries >= cfg.hotline.max_tries:
            return _thanks(resp, lang)
        twiml.say(resp, lang, lang.text("invalid_input"))
        return ask(resp, lang, agent_id, tries + 1, asked.call)
    Surveys(hotline.stores.data).score(record.sid, record.day, agent_id, record.get("department"), given, now)
    seconds = cfg.survey.comment_max_seconds
    if not seconds:
        return _thanks(resp, lang)
    twiml.say(resp, lang, lang.text("survey_comment"))
    resp.record(
        action=link("survey_comment", Survey(agent_id, asked.tries, asked.call)),
        method="POST",
        max_length=seconds,
        timeout=4,
        finish_on_key="#",
        play_beep=True,
    )
    return _thanks(resp, lang)  # no comment recorded: Twilio goes on here


@bp.post(routes.rule("survey_comment"))
@twilio_webhook
def comment() -> twiml.Document:
    """The spoken comment's recording goes with the score."""
    hotline = services()
    record = _rated_call(Survey.from_args(request.args), hotline.clock.now())
    url = request.form.get("RecordingUrl", "")[:500]
    if url.startswith("https://"):
        seconds = int_field(request.form.get("RecordingDuration"), 0)
        Surveys(hotline.stores.data).comment(record.sid, record.day, url, seconds)
    return _thanks(twiml.document(), language_of(record))


def _rated_call(asked: Survey, now: datetime) -> CallRecord:
    """The call being rated: the caller's own, or the original call of a customer called back (named
    by the signed URL; the hotline's call to them has no record of its own)."""
    if asked.call:
        record = services().callbacks.load(asked.call)
        if record is not None:
            return record
    return this_call(now)


def _thanks(resp: twiml.Document, lang: Language) -> twiml.Document:
    twiml.say(resp, lang, lang.text("survey_thanks"))
    resp.hangup()
    return resp
