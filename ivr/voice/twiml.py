"""TwiML building: every document the hotline answers with is made here, with VoiceResponse.

Pure functions of the configuration and the caller's language, so they can be tested by
parsing the XML, and so the Redis-free fallback can share them.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.hotline.loader import HotlineConfig
from ivr.prompts import Language


def say(target: VoiceResponse | Gather, lang: Language, text: str) -> None:
    """Speak `text` in the language's own voice (a pair Twilio accepts)."""
    target.say(text, voice=lang.voice.say_voice, language=lang.voice.say_language)


def gather(
    resp: VoiceResponse,
    lang: Language,
    action: str,
    *,
    num_digits: int | None = 1,
    timeout: int = 6,
    speech: bool = True,
    hints: list[str] | None = None,
    finish_on_key: str = "#",
) -> Gather:
    """A Gather that posts to `action`; the caller of this adds the fall-through after it."""
    kwargs: dict[str, object] = {
        "action": action,
        "method": "POST",
        "timeout": timeout,
        "finish_on_key": finish_on_key,
        "input": "dtmf speech" if speech else "dtmf",
    }
    if num_digits:
        kwargs["num_digits"] = num_digits
    if speech:
        kwargs["language"] = lang.voice.speech_language
        kwargs["speech_timeout"] = "auto"
        if hints:
            kwargs["hints"] = ",".join(dict.fromkeys(h for h in hints if "," not in h))[:1000]
    return resp.gather(**kwargs)


def overflow(cfg: HotlineConfig, lang: Language | None) -> VoiceResponse:
    """The apology and a Dial to the overflow number: what a caller gets when we cannot serve them.

    Without a known language (Redis is down, so we cannot look it up) the apology is said in
    every offered language.
    """
    resp = VoiceResponse()
    languages = [lang] if lang else list(cfg.languages.values())
    for each in languages:
        say(resp, each, each.text("overflow_apology"))
    resp.dial(cfg.file.hotline.overflow_number, timeout=30)
    for each in languages:
        say(resp, each, each.text("goodbye"))
    resp.hangup()
    return resp


def hold(lang: Language, music_url: str, hold_url: str) -> VoiceResponse:
    """One turn of the hold loop: a reassurance, the music, and back again."""
    resp = VoiceResponse()
    say(resp, lang, lang.text("hold_message"))
    resp.play(music_url)
    resp.redirect(hold_url, method="POST")
    return resp


def dial_agent(lang: Language, reach: str, *, action: str, whisper: str, ring_timeout: int) -> VoiceResponse:
    """Tell the caller, then ring the agent (Client, number or SIP) with the whisper for them."""
    resp = VoiceResponse()
    say(resp, lang, lang.text("agent_connecting"))
    dial = resp.dial(action=action, method="POST", timeout=ring_timeout, answer_on_bridge=True)
    if reach.startswith("client:"):
        dial.client(reach.removeprefix("client:"), url=whisper, method="POST")
    elif reach.startswith("sip:"):
        dial.sip(reach, url=whisper, method="POST")
    else:
        dial.number(reach, url=whisper, method="POST")
    return resp
