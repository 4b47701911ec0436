"""Check a TwiML voice document the way Twilio would, and a little stricter.

``check_twiml`` parses a webhook's body and raises ``TwiMLError`` for anything Twilio would
refuse (unknown verbs, bad nesting, attributes a verb does not have, malformed values, voice and
language pairs Twilio does not list) and for one thing Twilio accepts but this product forbids:
a ``<Gather>`` with nowhere to go, which hangs up on a caller who stays silent.

The rules read their facts (attributes per element, voices, languages) from ``twiml_tables``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from standin.twiml_tables import (
    ATTRIBUTES,
    BOOLEAN_ATTRIBUTES,
    CONFERENCE_AUDIO_VERBS,
    CONFERENCE_BEEPS,
    CONFERENCE_EVENTS,
    DIAL_NOUNS,
    GATHER_INPUTS,
    GATHER_LANGUAGES,
    GOOGLE_VOICE,
    INTEGER_MINIMUMS,
    KEYS,
    SAY_VOICES,
    TOP_LEVEL_VERBS,
    WAIT_VERBS,
)

__all__ = ["TwiMLError", "check_twiml", "spoken_text", "voice_language"]


class TwiMLError(ValueError):
    """A TwiML document Twilio would refuse, or one that would strand a caller."""


def check_twiml(
    body: str | bytes, *, wait_document: bool = False, conference_audio: bool = False
) -> ET.Element:
    """Parse ``body`` as TwiML for a voice call and return its ``<Response>`` element.

    ``wait_document`` checks the body as an ``<Enqueue>`` ``waitUrl`` document: only the verbs
    Twilio runs for a queued caller are allowed, and a trailing ``<Gather>`` is fine because
    Twilio requests the ``waitUrl`` again when the document ends instead of hanging up.
    ``conference_audio`` checks it as what a conference plays to a participant (its waitUrl,
    a holdUrl, an announceUrl): Say, Play, Pause and Redirect only.
    """
    if not body or not body.strip():
        raise TwiMLError("the body is empty: Twilio needs a <Response> document")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise TwiMLError(f"the body is not well-formed XML: {exc}") from exc
    if root.tag != "Response":
        raise TwiMLError(f"the root element is <{root.tag}>, not <Response>")
    _check_attributes(root, "Response")
    _check_no_text(root, "Response")
    allowed = WAIT_VERBS if wait_document else TOP_LEVEL_VERBS
    context = "a waitUrl document" if wait_document else "<Response>"
    if conference_audio:
        allowed, context = CONFERENCE_AUDIO_VERBS, "a conference's waitUrl, holdUrl or announceUrl"
    for path, verb in _children(root, "Response"):
        if verb.tag not in allowed:
            raise TwiMLError(f"{path}: <{verb.tag}> is not a verb allowed in {context}")
        _check_element(verb, path)
    verbs = list(root)
    last = verbs[-1] if verbs else None
    if not wait_document and last is not None and last.tag == "Gather":
        if last.get("actionOnEmptyResult") != "true":
            raise TwiMLError(
                f"Response/Gather[{len(verbs)}]: a Gather that ends the document without "
                'actionOnEmptyResult="true" hangs up on a silent caller; add the verbs to '
                "run on silence after it"
            )
    return root


def spoken_text(root: ET.Element) -> list[tuple[str, str]]:
    """Return ``(language, text)`` for every ``<Say>`` in document order, nested ones included."""
    return [
        (say.get("language") or _default_language(say.get("voice")), (say.text or "").strip())
        for say in root.iter("Say")
    ]


def voice_language(voice: str) -> str | None:
    """Return the language a voice speaks when ``<Say>`` names none, if the table knows it."""
    google = GOOGLE_VOICE.fullmatch(voice)
    if google:
        return google["language"]
    languages = SAY_VOICES.get(voice)
    return languages[0] if languages else None


def _default_language(voice: str | None) -> str:
    return (voice_language(voice) if voice else None) or "en-US"


def _children(element: ET.Element, path: str) -> list[tuple[str, ET.Element]]:
    """Pair each child with an XPath-like location such as ``Response/Gather[2]``."""
    return [(f"{path}/{child.tag}[{i}]", child) for i, child in enumerate(element, start=1)]


def _has_text(text: str | None) -> bool:
    return bool(text and text.strip())


def _check_no_text(element: ET.Element, path: str) -> None:
    """Reject stray text inside an element that holds only child elements (or nothing)."""
    stray = [element.text] + [child.tail for child in element]
    if any(_has_text(text) for text in stray):
        raise TwiMLError(f"{path}: <{element.tag}> must not contain text")


def _check_text_only(element: ET.Element, path: str, *, required: str | None) -> None:
    """Require plain text content; ``required`` names what the text is, if it must be there."""
    if len(element):
        raise TwiMLError(f"{path}: <{element.tag}> must contain text only, not <{element[0].tag}>")
    if required and not _has_text(element.text):
        raise TwiMLError(f"{path}: <{element.tag}> needs {required}")


def _check_empty(element: ET.Element, path: str) -> None:
    if len(element) or _has_text(element.text):
        raise TwiMLError(f"{path}: <{element.tag}> takes no content")


def _check_element(element: ET.Element, path: str) -> None:
    """Check one verb or noun: its attributes, then its content by the rules of its tag."""
    _check_attributes(element, path)
    _CONTENT_RULES[element.tag](element, path)


def _check_attributes(element: ET.Element, path: str) -> None:
    tag = element.tag
    allowed = ATTRIBUTES[tag]
    for name, value in element.attrib.items():
        where = f"{path}: <{tag}> attribute {name}={value!r}"
        if name not in allowed:
            raise TwiMLError(f"{path}: <{tag}> has no attribute {name!r}")
        if name == "method" or name.endswith("Method"):
            if value not in ("GET", "POST"):
                raise TwiMLError(f"{where} must be GET or POST")
        elif (tag, name) in INTEGER_MINIMUMS:
            minimum = INTEGER_MINIMUMS[(tag, name)]
            if not (value.isascii() and value.isdigit()) or int(value) < minimum:
                raise TwiMLError(f"{where} must be an integer >= {minimum}")
        elif name in BOOLEAN_ATTRIBUTES and value not in ("true", "false"):
            raise TwiMLError(f"{where} must be true or false")


def _check_say(element: ET.Element, path: str) -> None:
    _check_text_only(element, path, required="text to speak")
    voice, language = element.get("voice"), element.get("language")
    if voice is None:
        return
    google = GOOGLE_VOICE.fullmatch(voice)
    if google:
        languages: tuple[str, ...] = (google["language"],)
    elif voice in SAY_VOICES:
        languages = SAY_VOICES[voice]
    else:
        raise TwiMLError(f"{path}: <Say> voice {voice!r} is not in the stand-in's voice table")
    if language is not None and language not in languages:
        raise TwiMLError(
            f"{path}: <Say> voice {voice!r} does not speak language {language!r} "
            f"(it speaks {', '.join(languages)})"
        )


def _check_play(element: ET.Element, path: str) -> None:
    digits = element.get("digits")
    if digits is not None:
        if not re.fullmatch(r"[0-9wW*#]+", digits):
            raise TwiMLError(f"{path}: <Play> attribute digits={digits!r} is not 0-9 * # w W")
        _check_text_only(element, path, required=None)
    else:
        _check_text_only(element, path, required="an audio URL or a digits attribute")


def _check_gather(element: ET.Element, path: str) -> None:
    _check_no_text(element, path)
    for child_path, child in _children(element, path):
        if child.tag not in ("Say", "Play", "Pause"):
            raise TwiMLError(f"{child_path}: <Gather> may contain only Say, Play and Pause")
        _check_element(child, child_path)
    where = f"{path}: <Gather> attribute"
    input_ = element.get("input", "dtmf")
    if input_ not in GATHER_INPUTS:
        raise TwiMLError(f"{where} input={input_!r} must be dtmf, speech or dtmf speech")
    finish = element.get("finishOnKey", "#")
    if len(finish) > 1 or not set(finish) <= KEYS:
        raise TwiMLError(f"{where} finishOnKey={finish!r} must be one of 0-9 * # or empty")
    language = element.get("language")
    if language is not None and language not in GATHER_LANGUAGES:
        raise TwiMLError(f"{where} language={language!r} is not a speech recognition language")
    timeout = element.get("speechTimeout")
    if timeout is not None and timeout != "auto" and not (timeout.isascii() and timeout.isdigit()):
        raise TwiMLError(f"{where} speechTimeout={timeout!r} must be auto or an integer")


def _check_dial(element: ET.Element, path: str) -> None:
    if len(element) == 0:
        _check_text_only(element, path, required="a number or a noun to dial")
        return
    if _has_text(element.text) or any(_has_text(child.tail) for child in element):
        raise TwiMLError(f"{path}: <Dial> mixes a number in text with nouns")
    if any(child.tag == "Conference" for child in element) and len(element) > 1:
        raise TwiMLError(f"{path}: a <Dial> to a <Conference> dials nothing else")
    for child_path, child in _children(element, path):
        if child.tag not in DIAL_NOUNS:
            raise TwiMLError(f"{child_path}: <{child.tag}> is not a noun <Dial> accepts")
        _check_element(child, child_path)


def _check_noun(element: ET.Element, path: str) -> None:
    _check_text_only(element, path, required="text naming what to dial")


def _check_conference(element: ET.Element, path: str) -> None:
    """A conference room: its name, and the attributes whose values Twilio lists."""
    _check_text_only(element, path, required="the conference's name")
    beep = element.get("beep", "true")
    if beep not in CONFERENCE_BEEPS:
        allowed = ", ".join(sorted(CONFERENCE_BEEPS))
        raise TwiMLError(f"{path}: <Conference> attribute beep={beep!r} must be one of {allowed}")
    events = element.get("statusCallbackEvent", "").split()
    unknown = sorted(set(events) - CONFERENCE_EVENTS)
    if unknown:
        raise TwiMLError(f"{path}: <Conference> statusCallbackEvent has no event {unknown[0]!r}")
    if events and not element.get("statusCallback"):
        raise TwiMLError(f"{path}: <Conference> statusCallbackEvent without a statusCallback is never sent")
    record = element.get("record", "do-not-record")
    if record not in ("do-not-record", "record-from-start"):
        raise TwiMLError(
            f"{path}: <Conference> attribute record={record!r} must be do-not-record or record-from-start"
        )
    recording_events = set(element.get("recordingStatusCallbackEvent", "").split())
    if not recording_events <= {"in-progress", "completed", "absent"}:
        raise TwiMLError(
            f"{path}: <Conference> recordingStatusCallbackEvent takes in-progress, completed, absent"
        )
    size = element.get("maxParticipants")
    if size is not None and int(size) > 250:
        raise TwiMLError(f"{path}: <Conference> attribute maxParticipants={size!r} must be 2 to 250")
    if element.get("coach") is not None and not re.fullmatch(r"CA[0-9a-fA-F]{32}", element.get("coach", "")):
        raise TwiMLError(f"{path}: <Conference> attribute coach must be the CallSid of a participant")


def _check_enqueue(element: ET.Element, path: str) -> None:
    tasks = [child for child in element if child.tag == "Task"]
    if len(tasks) != len(element):
        raise TwiMLError(f"{path}: <Enqueue> may contain only a queue name or <Task>")
    if not tasks and not _has_text(element.text):
        raise TwiMLError(f"{path}: <Enqueue> needs a queue name")
    for child_path, child in _children(element, path):
        _check_element(child, child_path)


def _check_record(element: ET.Element, path: str) -> None:
    _check_empty(element, path)
    finish = element.get("finishOnKey")
    if finish is not None and not set(finish) <= KEYS:
        raise TwiMLError(f"{path}: <Record> attribute finishOnKey={finish!r} must be 0-9 * #")


def _check_reject(element: ET.Element, path: str) -> None:
    _check_empty(element, path)
    reason = element.get("reason", "rejected")
    if reason not in ("rejected", "busy"):
        raise TwiMLError(f"{path}: <Reject> attribute reason={reason!r} must be rejected or busy")


_CONTENT_RULES: dict[str, Callable[[ET.Element, str], None]] = {
    "Say": _check_say,
    "Play": _check_play,
    "Pause": _check_empty,
    "Gather": _check_gather,
    "Redirect": lambda element, path: _check_text_only(element, path, required="a URL"),
    "Dial": _check_dial,
    "Number": _check_noun,
    "Client": _check_noun,
    "Sip": _check_noun,
    "Queue": _check_noun,
    "Conference": _check_conference,
    "Enqueue": _check_enqueue,
    "Task": lambda element, path: _check_text_only(element, path, required="task attributes"),
    "Record": _check_record,
    "Reject": _check_reject,
    "Hangup": _check_empty,
    "Leave": _check_empty,
}
