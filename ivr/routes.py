"""Every webhook Twilio requests, by name, and the absolute public URL of each.

The blueprints in `ivr/voice/` register their views with `rule(name)`, and everything that hands
Twilio a URL builds it with `url(base, name, state)`: a Gather's action or a Redirect in a view
(`ivr.voice.webhook.link`, base from the request), a REST redirect or an outbound call's Url and
StatusCallback in a worker (`ivr/callcenter/`, base PUBLIC_BASE_URL). A path is spelled here only.

Why not Flask's `url_for(..., _external=True)`: the rq workers have no request, and an app
context with SERVER_NAME would pin one host, while a webhook without PUBLIC_BASE_URL answers
with the host Twilio called. A plain table serves both sides alike; the state in the query comes
from `ivr/urlstate.py`, so the same state always gives the same (signed) bytes.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from ivr.urlstate import UrlState

ROUTES: dict[str, str] = {
    # the menu (ivr/voice/views.py)
    "incoming": "/voice/incoming",
    "step": "/voice/step/<node_id>",
    "status": "/voice/status",
    "fallback": "/voice/fallback",
    # the hold loop and the agent's leg (ivr/voice/waiting.py)
    "hold": "/voice/hold",
    "connect": "/voice/connect",
    "whisper": "/voice/whisper",
    "dial_result": "/voice/dial-result",
    # connecting through a conference room (ivr/voice/room.py)
    "room_wait": "/voice/room/wait",
    "room_agent": "/voice/room/agent",
    "room_agent_status": "/voice/room/agent-status",
    "room_result": "/voice/room/result",
    "room_events": "/voice/room/events",
    "room_recording": "/voice/room/recording",
    # a transferred caller (ivr/voice/transfer.py)
    "transfer": "/voice/transfer",
    # the survey after the talk (ivr/voice/survey.py)
    "survey": "/voice/survey",
    "survey_comment": "/voice/survey/comment",
    # after hours (ivr/voice/afterhours.py)
    "after_hours": "/voice/after-hours",
    "after_hours_choice": "/voice/after-hours/choice",
    "after_hours_sms": "/voice/after-hours/sms",
    "voicemail": "/voice/voicemail",
    "voicemail_transcription": "/voice/voicemail/transcription",
    # callbacks (ivr/voice/callback.py; answer and status are handed to Twilio by a worker)
    "callback_offer": "/voice/callback/offer",
    "callback_number": "/voice/callback/number",
    "callback_schedule": "/voice/callback/schedule",
    "callback_answer": "/voice/callback/answer",
    "callback_press": "/voice/callback/press",
    "callback_dial_result": "/voice/callback/dial-result",
    "callback_status": "/voice/callback/status",
    # a called-back customer transferred by their agent (ivr/voice/customer.py)
    "customer_transfer": "/voice/customer/transfer",
    "customer_wait": "/voice/customer/wait",
    "customer_connect": "/voice/customer/connect",
}

PATH_ARG = re.compile(r"<(?:\w+:)?(\w+)>")


def rule(name: str) -> str:
    """The Flask rule a blueprint registers the route `name` under."""
    return ROUTES[name]


def path(name: str, state: UrlState | None = None, **path_args: str) -> str:
    """The route's path, its `<args>` filled in and `state` as the query (none when empty)."""
    route = ROUTES[name]
    filled = PATH_ARG.sub(lambda m: quote(path_args[m.group(1)], safe=""), route) if "<" in route else route
    query = state.to_query() if state is not None else ""
    return f"{filled}?{query}" if query else filled


def url(base: str | None, name: str, state: UrlState | None = None, **path_args: str) -> str:
    """The absolute URL Twilio requests: the public base joined with the route's path."""
    return f"{(base or '').rstrip('/')}{path(name, state, **path_args)}"
