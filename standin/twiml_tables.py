"""What Twilio documents about TwiML voice elements, as tables ``check_twiml`` reads.

Deliberately small and explicit. When the app starts using a voice, a language or an attribute
that Twilio documents but these tables lack, add it here (with the page it comes from in mind)
rather than loosening a rule in ``twiml_check``.
"""

from __future__ import annotations

import re

__all__ = [
    "ATTRIBUTES",
    "BOOLEAN_ATTRIBUTES",
    "CONFERENCE_AUDIO_VERBS",
    "CONFERENCE_BEEPS",
    "CONFERENCE_EVENTS",
    "DIAL_NOUNS",
    "GATHER_INPUTS",
    "GATHER_LANGUAGES",
    "GOOGLE_VOICE",
    "INTEGER_MINIMUMS",
    "KEYS",
    "SAY_VOICES",
    "TOP_LEVEL_VERBS",
    "WAIT_VERBS",
]

TOP_LEVEL_VERBS = frozenset(
    {"Say", "Play", "Pause", "Gather", "Redirect", "Enqueue", "Leave", "Dial"}
    | {"Record", "Hangup", "Reject"}
)
# What Twilio runs in an <Enqueue> waitUrl document (the caller is on hold in the queue).
WAIT_VERBS = frozenset({"Say", "Play", "Pause", "Gather", "Redirect", "Leave", "Hangup"})
# What Twilio runs from a conference's waitUrl, a participant's holdUrl or an announceUrl
# (error 13238: Dial, Gather, Hangup and Record are not allowed there).
CONFERENCE_AUDIO_VERBS = frozenset({"Say", "Play", "Pause", "Redirect"})
# <Conference statusCallbackEvent>: the events an app may ask for, space separated.
CONFERENCE_EVENTS = frozenset(
    {"start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement"}
)
CONFERENCE_BEEPS = frozenset({"true", "false", "onEnter", "onExit"})
DIAL_NOUNS = frozenset({"Number", "Client", "Sip", "Queue", "Conference"})

# Documented attributes of each element. Unknown attributes are errors: a misspelt
# ``numdigits`` would otherwise be silently ignored and the menu would never submit.
ATTRIBUTES: dict[str, frozenset[str]] = {
    "Response": frozenset(),
    "Say": frozenset({"voice", "language", "loop"}),
    "Play": frozenset({"loop", "digits"}),
    "Pause": frozenset({"length"}),
    "Gather": frozenset(
        {"action", "method", "timeout", "finishOnKey", "numDigits", "input", "language"}
        | {"hints", "speechTimeout", "speechModel", "profanityFilter", "actionOnEmptyResult"}
        | {"partialResultCallback", "partialResultCallbackMethod", "enhanced", "bargeIn"}
    ),
    "Redirect": frozenset({"method"}),
    "Dial": frozenset(
        {"action", "method", "timeout", "callerId", "record", "hangupOnStar", "timeLimit"}
        | {"answerOnBridge", "ringTone", "trim", "recordingStatusCallback"}
        | {"recordingStatusCallbackMethod", "recordingStatusCallbackEvent"}
    ),
    "Number": frozenset(
        {"url", "method", "sendDigits", "statusCallback", "statusCallbackEvent"} | {"statusCallbackMethod"}
    ),
    "Client": frozenset({"url", "method", "statusCallback", "statusCallbackEvent", "statusCallbackMethod"}),
    "Sip": frozenset(
        {"url", "method", "username", "password", "statusCallback", "statusCallbackEvent"}
        | {"statusCallbackMethod"}
    ),
    "Queue": frozenset({"url", "method", "reservationSid", "postWorkActivitySid"}),
    "Conference": frozenset(
        {"muted", "beep", "startConferenceOnEnter", "endConferenceOnExit", "waitUrl"}
        | {"waitMethod", "maxParticipants", "record", "region", "coach", "trim"}
        | {"statusCallback", "statusCallbackEvent", "statusCallbackMethod"}
        | {"recordingStatusCallback", "recordingStatusCallbackMethod"}
        | {"recordingStatusCallbackEvent", "eventCallbackUrl", "participantLabel"}
    ),
    "Enqueue": frozenset({"action", "method", "waitUrl", "waitUrlMethod", "workflowSid"}),
    "Task": frozenset({"priority", "timeout"}),
    "Record": frozenset(
        {"action", "method", "timeout", "finishOnKey", "maxLength", "playBeep", "trim"}
        | {"transcribe", "transcribeCallback", "recordingStatusCallback"}
        | {"recordingStatusCallbackMethod", "recordingStatusCallbackEvent"}
    ),
    "Reject": frozenset({"reason"}),
    "Hangup": frozenset(),
    "Leave": frozenset(),
}

# Smallest integer each integer-valued attribute accepts, per (element, attribute).
INTEGER_MINIMUMS: dict[tuple[str, str], int] = {
    ("Say", "loop"): 0,
    ("Play", "loop"): 0,
    ("Pause", "length"): 0,
    ("Gather", "timeout"): 1,
    ("Gather", "numDigits"): 1,
    ("Dial", "timeout"): 1,
    ("Dial", "timeLimit"): 1,
    ("Record", "timeout"): 0,
    ("Record", "maxLength"): 1,
    ("Task", "priority"): 0,
    ("Task", "timeout"): 1,
    ("Conference", "maxParticipants"): 2,
}
BOOLEAN_ATTRIBUTES = frozenset(
    {"actionOnEmptyResult", "playBeep", "hangupOnStar", "profanityFilter", "enhanced"}
    | {"bargeIn", "transcribe", "answerOnBridge", "muted", "startConferenceOnEnter"}
    | {"endConferenceOnExit"}
)
GATHER_INPUTS = frozenset({"dtmf", "speech", "dtmf speech", "speech dtmf"})
KEYS = frozenset("0123456789*#")

# Text-to-speech voices and the languages Twilio lists for each. A pair outside this table fails
# the <Say> on Twilio (the caller hears nothing), so it is an error here.
SAY_VOICES: dict[str, tuple[str, ...]] = {
    "Polly.Zhiyu": ("cmn-CN",),
    "Polly.Zhiyu-Neural": ("cmn-CN",),
    "Polly.Joanna": ("en-US",),
    "Polly.Joanna-Neural": ("en-US",),
    "Polly.Matthew": ("en-US",),
    "Polly.Matthew-Neural": ("en-US",),
    "Polly.Amy": ("en-GB",),
    "Polly.Amy-Neural": ("en-GB",),
    "alice": tuple(
        "en-US en-GB en-AU en-CA en-IN zh-CN zh-HK zh-TW ca-ES da-DK de-DE es-ES es-MX fi-FI "
        "fr-CA fr-FR it-IT ja-JP ko-KR nb-NO nl-NL pl-PL pt-BR pt-PT ru-RU sv-SE".split()
    ),
    "man": ("en-US", "en-GB"),
    "woman": ("en-US", "en-GB"),
}
# Google voices carry their language in the name: Google.cmn-CN-Standard-A speaks cmn-CN.
GOOGLE_VOICE = re.compile(r"Google\.(?P<language>[a-z]{2,3}-[A-Z]{2})-[A-Za-z0-9-]+")

# Speech recognition has its own language list, distinct from text-to-speech: Mandarin is
# cmn-Hans-CN (or zh-CN) here, while <Say> with Polly.Zhiyu wants cmn-CN.
GATHER_LANGUAGES = frozenset(
    {"en-US", "en-GB", "en-AU", "en-CA", "en-IN", "en-IE", "en-NZ", "en-ZA"}
    | {"cmn-Hans-CN", "cmn-Hans-HK", "cmn-Hant-TW", "yue-Hant-HK", "zh-CN", "zh-TW"}
    | {"es-ES", "es-MX", "es-US", "fr-FR", "fr-CA", "de-DE", "it-IT", "ja-JP", "ko-KR"}
    | {"pt-BR", "pt-PT"}
)
