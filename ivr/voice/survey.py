"""The survey after the agent hangs up: a score from 1 to 5, then an optional spoken comment.

The dial-result webhook asks the question (`ask`); the caller's key comes here. A caller who
says nothing hears goodbye; each call is rated once (see `ivr.followup.surveys`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, request
from twilio.twiml.voice_response import VoiceResponse

from ivr.digits import whole_number
from ivr.followup.surveys import SCORES, Surveys
from ivr.prompts import Language
from ivr.services import services
from ivr.voice import twiml
from ivr.voice.speech import spoken_digits
from ivr.voice.webhook import base_url, int_field, language_of, this_call, twilio_webhook

bp = Blueprint("survey", __name__, url_prefix="/voice")


def ask(resp: VoiceResponse, lang: Language, agent_id: str, tries: int = 1) -> VoiceResponse:
    """The question, with the agent who took the call in the (signed) answer URL."""
    query = urlencode({"agent": agent_id, "try": tries})
    g = twiml.gather(resp, lang, f"{base_url()}/voice/survey?{query}", timeout=6)
    twiml.say(g, lang, lang.text("survey_ask"))
    twiml.say(resp, lang, lang.text("goodbye"))  # no answer: the caller is done
    resp.hangup()
    return resp


def _score(said_digits: str, speech: str) -> int | None:
    text = said_digits or spoken_digits(speech)
    score = whole_number(text) if len(text) == 1 else None
    return score if score in SCORES else None


@bp.post("/survey")
@twilio_webhook
def score() -> VoiceResponse:
    """Keep the score (once per call), then offer the comment."""
    hotline = services()
    now = hotline.clock.now()
    record = this_call(now)
    lang, cfg = language_of(record), hotline.config.file
    agent_id = request.args.get("agent", "")[:40] or record.get("agent")
    given = _score(request.form.get("Digits", "")[:4], request.form.get("SpeechResult", "")[:100])
    resp = VoiceResponse()
    if given is None:
        tries = int_field(request.args.get("try"), 1)
        if tries >= cfg.hotline.max_tries:
            return _thanks(resp, lang)
        twiml.say(resp, lang, lang.text("invalid_input"))
        return ask(resp, lang, agent_id, tries + 1)
    Surveys(hotline.stores.data).score(record.sid, record.day, agent_id, record.get("department"), given, now)
    seconds = cfg.survey.comment_max_seconds
    if not seconds:
        return _thanks(resp, lang)
    twiml.say(resp, lang, lang.text("survey_comment"))
    resp.record(
        action=f"{base_url()}/voice/survey/comment",
        method="POST",
        max_length=seconds,
        timeout=4,
        finish_on_key="#",
        play_beep=True,
    )
    return _thanks(resp, lang)  # no comment recorded: Twilio goes on here


@bp.post("/survey/comment")
@twilio_webhook
def comment() -> VoiceResponse:
    """The spoken comment's recording goes with the score."""
    hotline = services()
    record = this_call(hotline.clock.now())
    url = request.form.get("RecordingUrl", "")[:500]
    if url.startswith("https://"):
        seconds = int_field(request.form.get("RecordingDuration"), 0)
        Surveys(hotline.stores.data).comment(record.sid, record.day, url, seconds)
    return _thanks(VoiceResponse(), language_of(record))


def _thanks(resp: VoiceResponse, lang: Language) -> VoiceResponse:
    twiml.say(resp, lang, lang.text("survey_thanks"))
    resp.hangup()
    return resp
