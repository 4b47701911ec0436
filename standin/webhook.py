"""What Twilio puts in its webhook requests, and what it accepts back.

The pieces of a call that are plain data: the parameters sent with every request, the extra ones
for a queue and the final status callback, SIDs, the transcript entry for a verb the caller
heard, and the check of an app's HTTP answer.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

from standin.transport import Response, Transport, TransportError
from standin.twiml_check import voice_language

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "Heard",
    "QueueVisit",
    "answer_problem",
    "ask_app",
    "call_params",
    "country_of",
    "dial_targets",
    "heard_from",
    "method_of",
    "new_sid",
    "status_callback_params",
]

# A fixed, well-formed account SID, so an app that checks AccountSid can be configured with it.
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWIML_CONTENT_TYPES = frozenset({"text/xml", "application/xml"})

# Calling codes of the countries this hotline hears from, for FromCountry and ToCountry. Twilio
# looks numbers up properly; a prefix table is enough for a stand-in (+1 is taken as the US).
CALLING_CODES = {
    "86": "CN", "852": "HK", "853": "MO", "886": "TW", "1": "US", "44": "GB", "65": "SG",
    "60": "MY", "81": "JP", "82": "KR", "61": "AU", "49": "DE", "33": "FR",
}  # fmt: skip


def new_sid(prefix: str) -> str:
    """Return a Twilio-style SID: a two-letter prefix and 32 hex digits."""
    return prefix + uuid.uuid4().hex


def country_of(number: str) -> str | None:
    """Return the ISO country of an E.164 number, or None when it is not one we know."""
    if not number.startswith("+"):
        return None  # anonymous, client:alice, sip:..., or a number Twilio could not parse
    digits = number[1:]
    for length in (3, 2, 1):
        country = CALLING_CODES.get(digits[:length])
        if country:
            return country
    return None


def call_params(*, account_sid: str, call_sid: str, call_status: str, from_: str, to: str) -> dict[str, str]:
    """The parameters Twilio sends with every webhook about an inbound call."""
    params = {
        "AccountSid": account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": call_status,
        "Direction": "inbound",
        "From": from_,
        "To": to,
        "Caller": from_,
        "Called": to,
    }
    for prefix, number in (("From", from_), ("Caller", from_), ("To", to), ("Called", to)):
        country = country_of(number)
        if country:
            params[f"{prefix}Country"] = country
    return params


def status_callback_params(call_status: str, duration: int) -> dict[str, str]:
    """The fields a status callback adds when the call ends."""
    return {
        "CallStatus": call_status,
        "CallDuration": str(duration),
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
        "Timestamp": formatdate(usegmt=True),
    }


def answer_problem(answer: Response, *, twiml: bool) -> str | None:
    """Say what Twilio would object to in an app's answer, or None when it would take it.

    A TwiML document must come back with status 200 and an XML content type; a callback whose
    body Twilio ignores only needs a 2xx status.
    """
    if twiml:
        media_type = answer.content_type.split(";")[0].strip().lower()
        if answer.status != 200:
            return f"HTTP {answer.status}: {answer.body[:500]}"
        if media_type not in TWIML_CONTENT_TYPES:
            return f"content type {answer.content_type!r} is not text/xml or application/xml"
        return None
    if not 200 <= answer.status < 300:
        return f"HTTP {answer.status}: {answer.body[:500]}"
    return None


def ask_app(
    transport: Transport | None,
    method: str,
    url: str,
    params: dict[str, str],
    *,
    twiml: bool,
    what: str = "",
) -> tuple[Response | None, str | None]:
    """The app's answer to one request Twilio makes, or what went wrong (`what` names the
    request in the problem: its method and URL unless given)."""
    what = what or f"{method} {url}"
    if transport is None:
        return None, f"{what}: the stand-in has no transport to reach the app"
    try:
        answer = transport.request(method, url, params)
    except TransportError as exc:
        return None, f"{what}: the app could not be reached: {exc}"
    problem = answer_problem(answer, twiml=twiml)
    return (None, f"{what}: {problem}") if problem else (answer, None)


@dataclass(frozen=True)
class Heard:
    """One thing the caller heard: spoken text, an audio URL (or DTMF tones), or a pause."""

    kind: Literal["say", "play", "pause"]
    text: str  # the words for say; the URL (or "digits:...") for play; seconds for pause
    language: str = ""
    voice: str = ""


def dial_targets(dial: ET.Element) -> list[dict[str, Any]]:
    """Describe whom a ``<Dial>`` calls: one entry per noun, or the number given as text.

    Each entry has ``kind`` (number, client, sip, queue, conference), ``value`` (the noun's
    text), ``attributes`` (the noun's) and ``dial`` (the Dial's own attributes).
    """
    nouns = list(dial) or [dial]  # <Dial>+8613...</Dial> dials a number
    return [
        {
            "kind": "number" if noun is dial else noun.tag.lower(),
            "value": (noun.text or "").strip(),
            "attributes": {} if noun is dial else dict(noun.attrib),
            "dial": dict(dial.attrib),
        }
        for noun in nouns
    ]


def method_of(verb: ET.Element) -> str:
    """The HTTP method a verb asks Twilio to use for its URL (POST unless it says GET)."""
    return verb.get("method", "POST")


def heard_from(verb: ET.Element, times: int | None = None) -> list[Heard]:
    """What a caller hears from one Say, Play or Pause (``times`` overrides its loop)."""
    if verb.tag == "Pause":
        return [Heard("pause", verb.get("length", "1"))]
    # loop="0" repeats until something else happens; the transcript records one pass.
    repeats = times if times is not None else max(int(verb.get("loop", "1")), 1)
    if verb.tag == "Say":
        voice = verb.get("voice", "")
        language = verb.get("language") or (voice_language(voice) if voice else None) or "en-US"
        item = Heard("say", (verb.text or "").strip(), language, voice)
    else:
        digits = verb.get("digits")
        item = Heard("play", f"digits:{digits}" if digits else (verb.text or "").strip())
    return [item] * repeats


@dataclass
class QueueVisit:
    """A caller's stay in an ``<Enqueue>`` queue, and where the call resumes afterwards."""

    enqueue: ET.Element
    name: str
    resume_verbs: list[ET.Element]
    resume_index: int
    resume_url: str
    wait_url: str | None
    wait_method: str
    sid: str = field(default_factory=lambda: new_sid("QU"))
    started_at: float = field(default_factory=time.monotonic)

    def seconds(self) -> int:
        """How long the caller has waited so far."""
        return int(time.monotonic() - self.started_at)

    def wait_params(self) -> dict[str, str]:
        """What Twilio sends to the waitUrl. The caller is alone in the queue, so the average
        wait of the callers in it (history, not a forecast) is this caller's own wait."""
        waited = str(self.seconds())
        return {
            "QueueSid": self.sid,
            "QueuePosition": "1",
            "QueueTime": waited,
            "AvgQueueTime": waited,
            "CurrentQueueSize": "1",
            "MaxQueueSize": "1000",
        }

    def leave_params(self) -> dict[str, str]:
        """What Twilio sends to the Enqueue action, besides QueueResult."""
        return {"QueueSid": self.sid, "QueueTime": str(self.seconds())}
