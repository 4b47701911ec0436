"""What a turn of the hold loop remembers of the turns before it, and the Gather keys are heard in.

The loop remembers without writing to Redis: the state rides in the (signed) URLs of the next
turn and of the turn's Gather, so a key pressed on hold can send the caller back to the same
place in the loop. `p` and `t` are the position and time last announced, `k` that the peak-hour
message was said, `h` that the caller was told keys work on hold (the hint, or the offer),
`g` since when (Unix seconds) the turns have not reached Redis: the grace of an outage is
counted from there, and the first turn that reaches Redis again drops it.

With callbacks on, a whole hold turn (announcements, hold message and the music) sits in one
`<Gather numDigits=1>`: Twilio hears a key at any moment of the turn, the music included, and
stops playing on the first one; silence falls through to the `<Redirect>` to the next turn.

`hold_through_outage` is what the loop's webhooks (a turn, a key pressed on hold, the connect)
answer when Redis cannot be reached: the music and the same turn again, for the grace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from flask import request
from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.digits import whole_number
from ivr.prompts import Language
from ivr.services import services
from ivr.voice import twiml
from ivr.voice.webhook import base_url

# Back in the hold loop in the middle of a call (from the callback flow, a missed agent, a
# transfer): the caller was told about the keys on their first turn, so the hint is not said again.
HOLD_AGAIN = "/voice/hold?h=1"
# A key is heard for this long after the music ends, before the next turn starts.
KEY_TIMEOUT_SECONDS = 1


def _int(value: str | None) -> int:
    return whole_number(value) or 0


@dataclass(frozen=True)
class LoopState:
    """The hold loop's memory between turns."""

    position: int = 0  # p: the position last announced (0: none yet)
    announced_at: int = 0  # t: when it was announced (Unix seconds)
    peak_said: bool = False  # k: the peak-hour message was said
    hint_said: bool = False  # h: the caller knows keys work on hold
    outage_since: int = 0  # g: first turn that could not reach Redis (0: none)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> LoopState:
        """Read the state from a hold or offer URL's query (anything malformed reads as unset)."""
        return cls(
            _int(args.get("p")),
            _int(args.get("t")),
            args.get("k") == "1",
            args.get("h") == "1",
            _int(args.get("g")),
        )

    def query(self) -> str:
        """The state as a query string, for the next turn's and the Gather's URLs."""
        flags = ("&k=1" if self.peak_said else "") + ("&h=1" if self.hint_said else "")
        outage = f"&g={self.outage_since}" if self.outage_since else ""
        return f"p={self.position}&t={self.announced_at}{flags}{outage}"


def hold_url(base: str, state: LoopState) -> str:
    """The next turn of the loop, remembering `state`."""
    return f"{base}/voice/hold?{state.query()}"


def key_gather(resp: VoiceResponse, lang: Language, base: str, state: LoopState) -> Gather:
    """The Gather around a whole hold turn: one key, any key (`#` too), to the callback offer."""
    return twiml.gather(
        resp,
        lang,
        f"{base}/voice/callback/offer?{state.query()}",
        num_digits=1,
        timeout=KEY_TIMEOUT_SECONDS,
        speech=False,
        finish_on_key="",
    )


def hold_through_outage() -> VoiceResponse | None:
    """A turn that could not reach Redis: music and the turn again while the grace lasts."""
    hotline = services()
    cfg = hotline.config.file.hotline
    now = int(hotline.clock.now().timestamp())
    was = LoopState.from_args(request.args)
    since = min(was.outage_since or now, now)
    if now - since >= cfg.redis_grace_seconds:
        return None  # the outage outlasted the grace: the overflow number
    resp = VoiceResponse()
    resp.play(cfg.hold_music_url)  # the department's own music is in Redis, out of reach
    resp.redirect(hold_url(base_url(), replace(was, outage_since=since)), method="POST")
    return resp
