"""What a room's outbox asks of the app: a callback whose answer Twilio ignores, and a wait, hold
or announce document a participant hears (its TwiML may hold only Say, Play, Pause and Redirect).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from standin.conference.room import Conference, Participant
from standin.transport import Transport
from standin.twiml_check import TwiMLError, check_twiml
from standin.webhook import Heard, ask_app, heard_from

__all__ = ["fetch_audio", "quietly", "send"]


def send(transport: Transport | None, method: str, url: str, params: dict[str, str]) -> str | None:
    """Send one callback whose answer Twilio ignores; say what went wrong, if anything."""
    return ask_app(transport, method, url, params, twiml=False)[1]


def fetch_audio(
    room: Conference, participant: Participant, url: str, method: str
) -> tuple[str | None, list[Heard], tuple[str, str]]:
    """Fetch a wait, hold or announce document for ``participant``: what went wrong (or None),
    what it hears, and the document its music goes on with (where a Redirect points)."""
    params = (
        participant.call.conference_params()
        if participant.call is not None
        else {"AccountSid": participant.account_sid, "CallSid": participant.call_sid}
    )
    params = {**params, "ConferenceSid": room.sid, "FriendlyName": room.friendly_name}
    heard: list[Heard] = []
    next_music = (url, method)
    answer, problem = ask_app(room.transport, method, url, params, twiml=True)
    if answer is None:
        return problem, heard, next_music
    try:
        root = check_twiml(answer.body, conference_audio=True)
    except TwiMLError as exc:
        return f"{method} {url}: invalid TwiML (error 13238): {exc}", heard, next_music
    for verb in root:
        if verb.tag == "Redirect":
            next_music = (urljoin(url, (verb.text or "").strip()), verb.get("method", "POST"))
            break
        heard.extend(heard_from(verb))
    return None, heard, next_music


def quietly(action: Callable[[], Any]) -> Callable[[], str | None]:
    """An outbox entry that runs a call's next step; its own errors are the call's to report."""

    def run() -> str | None:
        try:
            action()
        except Exception as exc:  # the call records an application error on itself
            return f"a call going on after its conference: {exc}"
        return None

    return run
