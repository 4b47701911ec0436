"""TwiML building: every document the hotline answers with is made here, with VoiceResponse.

The views say what a caller hears (prompt ids from prompts/<locale>.yaml, URLs from
ivr/routes.py) and this module builds it: `document()` is the only place a VoiceResponse is
created, and the documents several webhooks answer with (a redirect, a goodbye, the overflow,
a hold turn, a Dial to an agent or outside) are whole functions here. Pure functions of the
configuration and the caller's language, so they can be tested by parsing the XML, and so the
Redis-free fallback can share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias
from xml.sax.saxutils import escape

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.hotline.loader import HotlineConfig
from ivr.prompts import Language

# What a webhook answers with; views name this type rather than twilio's class.
Document: TypeAlias = VoiceResponse
# A <Gather> of a document (made by `gather`), which prompts are said into: the same rule.
Gathering: TypeAlias = Gather


def document() -> Document:
    """A new, empty TwiML document (answered as is, it is what Twilio ignores: a status callback)."""
    return VoiceResponse()


class Rendered(str):
    """A document already written out (a filled `Template`): answered as it is."""


def render(doc: Document | Rendered) -> str:
    """The text a webhook answers: twilio's library writes the document (`str(doc)`)."""
    return doc if isinstance(doc, Rendered) else str(doc)


# A value's escapes where a slot stands: the ones ElementTree (under twilio's `str(doc)`) uses for a
# text and for an attribute, so that a filled template is the text twilio writes for the same
# document (tests/test_twiml_render.py).
_IN_ATTRIBUTE = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"}

# Marks a slot in a template's document: a control character no prompt, URL or voice name holds.
SLOT = "\x1f"


def slot(name: str) -> str:
    """Where the value `name` goes in a template's document (as a Say's text, a URL, an attribute)."""
    return f"{SLOT}{name}{SLOT}"


class Template:
    """A document built once with VoiceResponse around named slots and written once by twilio's
    library, then written for each request by putting every value in its slot with the escape of
    its place (an attribute's or a text's): the hold turn, which every waiting caller asks for
    about once a minute, without building and writing a document each time.

    The text is the one twilio writes for the document built with the values themselves (the hold
    turn's are compared in tests/test_twiml_render.py). A text slot takes a non-empty value only:
    an empty one would have written `<Say />`.
    """

    def __init__(self, doc: Document) -> None:
        pieces = str(doc).split(SLOT)
        if len(pieces) % 2 == 0:
            raise ValueError("a slot marker is not closed")
        self._literals = pieces[0::2]
        self._slots: list[tuple[str, bool]] = []  # (name, in an attribute)
        written = ""
        for literal, name in zip(pieces[0::2], pieces[1::2], strict=False):
            written += literal
            self._slots.append((name, written.rfind("<") > written.rfind(">")))

    def fill(self, values: Mapping[str, str]) -> Rendered:
        """The document with `values` in their slots."""
        out = [self._literals[0]]
        for (name, in_attribute), literal in zip(self._slots, self._literals[1:], strict=True):
            value = values[name]
            if not in_attribute and not value:
                raise ValueError(f"slot {name!r}: an empty text")
            out.append(escape(value, _IN_ATTRIBUTE) if in_attribute else escape(value))
            out.append(literal)
        return Rendered("".join(out))


def redirect(url: str, resp: Document | None = None) -> Document:
    """Go on at `url` (a POST Redirect), after whatever `resp` says; a new document without one."""
    resp = resp if resp is not None else document()
    resp.redirect(url, method="POST")
    return resp


def hangup(resp: Document | None = None) -> Document:
    """End the call (after whatever `resp` says)."""
    resp = resp if resp is not None else document()
    resp.hangup()
    return resp


def goodbye(lang: Language, *prompts: str, resp: Document | None = None, **values: object) -> Document:
    """Say the prompts (ids in prompts/), then goodbye, and hang up."""
    resp = resp if resp is not None else document()
    for prompt in prompts:
        say(resp, lang, lang.text(prompt, **values))
    say(resp, lang, lang.text("goodbye"))
    return hangup(resp)


def say(target: Document | Gathering, lang: Language, text: str) -> None:
    """Speak `text` in the language's own voice (a pair Twilio accepts)."""
    target.say(text, voice=lang.voice.say_voice, language=lang.voice.say_language)


def gather(
    resp: Document,
    lang: Language,
    action: str,
    *,
    num_digits: int | None = 1,
    timeout: int = 6,
    speech: bool = True,
    hints: list[str] | None = None,
    finish_on_key: str = "#",
) -> Gathering:
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


def overflow(cfg: HotlineConfig, lang: Language | None) -> Document:
    """The apology and a Dial to the overflow number: what a caller gets when we cannot serve them.

    Without a known language (Redis is down, so we cannot look it up) the apology is said in
    every offered language.
    """
    resp = document()
    languages = [lang] if lang else list(cfg.languages.values())
    for each in languages:
        say(resp, each, each.text("overflow_apology"))
    resp.dial(cfg.file.hotline.overflow_number, timeout=30)
    for each in languages:
        say(resp, each, each.text("goodbye"))
    resp.hangup()
    return resp


def outage_retry(cfg: HotlineConfig, url: str, *, apologise: bool, pause_seconds: int) -> Document:
    """Redis out of reach: (once) a short word in every language, a pause, the request again."""
    resp = document()
    if apologise:  # the language is in Redis, out of reach: every offered one
        for each in cfg.languages.values():
            say(resp, each, each.text("outage_moment"))
    resp.pause(length=pause_seconds)
    return redirect(url, resp)


def hold(lang: Language, music_url: str, hold_url: str) -> Document:
    """One turn of the hold loop: a reassurance, the music, and back again."""
    resp = document()
    say(resp, lang, lang.text("hold_message"))
    resp.play(music_url)
    resp.redirect(hold_url, method="POST")
    return resp


def dial_agent(lang: Language, reach: str, *, action: str, whisper: str, ring_timeout: int) -> Document:
    """Tell the caller, then ring the agent (Client, number or SIP) with the whisper for them."""
    resp = document()
    say(resp, lang, lang.text("agent_connecting"))
    dial = resp.dial(action=action, method="POST", timeout=ring_timeout, answer_on_bridge=True)
    if reach.startswith("client:"):
        dial.client(reach.removeprefix("client:"), url=whisper, method="POST")
    elif reach.startswith("sip:"):
        dial.sip(reach, url=whisper, method="POST")
    else:
        dial.number(reach, url=whisper, method="POST")
    return resp


def join_room(
    lang: Language, room: str, *, action: str, wait_url: str, events_url: str, recording_url: str = ""
) -> Document:
    """Tell the caller, then put them in their call's room, with music until the agent arrives.

    The caller does not start the room (the agent does) and ends it by leaving: the agent's leg
    then hangs up. The Dial's action hears of the end of the conversation. With `recording_url`
    the conversation is recorded from the room's start, its status reported there.
    """
    recording = (
        {"record": "record-from-start", "recording_status_callback": recording_url}
        | {
            "recording_status_callback_method": "POST",
            "recording_status_callback_event": "in-progress completed",
        }
        if recording_url
        else {}
    )
    resp = document()
    say(resp, lang, lang.text("agent_connecting"))
    dial = resp.dial(action=action, method="POST")
    dial.conference(
        room,
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        beep="false",
        wait_url=wait_url,
        wait_method="POST",
        status_callback=events_url,
        status_callback_method="POST",
        status_callback_event="start end join leave hold",
        **recording,
    )
    return resp


def agent_room(lang: Language, whisper: str, room: str) -> Document:
    """The agent's leg, answered: the whisper for them, then the caller's room (which it starts,
    and ends by leaving)."""
    resp = document()
    say(resp, lang, whisper)
    dial = resp.dial()
    dial.conference(room, start_conference_on_enter=True, end_conference_on_exit=True, beep="false")
    return resp


def room_music(music_url: str) -> Document:
    """What a room plays to a caller waiting in it: the music (Say, Play, Pause, Redirect only)."""
    resp = document()
    resp.play(music_url)
    return resp


def dial_outside(lang: Language, number: str, ring_timeout: int) -> Document:
    """A transfer to an outside number: tell the caller, dial it, goodbye when that call ends."""
    resp = document()
    say(resp, lang, lang.text("transfer_outside"))
    resp.dial(number, timeout=ring_timeout)
    return goodbye(lang, resp=resp)
