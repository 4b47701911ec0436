"""Live calls: the stand-in for Twilio owns each call and runs it in real (or sped-up) time.

``LiveCalls`` is what Twilio's media servers are for the hotline: it places a call to the app,
runs its TwiML on a thread of its own, and lets people act on it through an inbox: the caller
(keys, speech, hang-up, through the terminal phone), the called party of a ``<Dial>`` (an agent
console registered as ``client:<identity>``) and Twilio's REST API (a redirect of the live call).
Time passes as on a phone line, scaled by ``speed`` (``HOTLINE_CLOCK_SPEED``).

What happens is published as events (what the caller hears, the state, the agent answering,
the end), which the control API (``standin.control``) serves by long polling.

``messages`` holds what goes into a call and comes out of it (``Message``, ``Events``, a
registered console's ``Client``); ``call`` one call on its thread (``LiveCall``); ``room_view``
what each call is shown of its conference room; ``calls`` the calls and consoles (``LiveCalls``).
"""

from standin.live.call import IDLE_LOOP_SECONDS, PLAY_SECONDS, LiveCall
from standin.live.calls import LiveCalls
from standin.live.messages import CALLER_KINDS, CLIENT_SILENT_SECONDS, DIALLED_KINDS, Client, Events, Message

__all__ = [
    "CALLER_KINDS",
    "CLIENT_SILENT_SECONDS",
    "DIALLED_KINDS",
    "IDLE_LOOP_SECONDS",
    "PLAY_SECONDS",
    "Client",
    "Events",
    "LiveCall",
    "LiveCalls",
    "Message",
]
