"""What a turn of the hold loop remembers of the turns before it, and the Gather keys are heard in.

The loop remembers without writing to Redis: the state (`LoopState`, ivr/urlstate.py) rides in
the (signed) URLs of the next turn and of the turn's Gather, so a key pressed on hold can send the
caller back to the same place in the loop. `p` and `t` are the position and time last announced,
`k` that the peak-hour message was said, `h` that the caller was told keys work on hold (the
hint, or the offer), `g` since when (Unix seconds) the turns have not reached Redis: the grace of
an outage is counted from there, and the first turn that reaches Redis again drops it. `d` is the
department the last turn found the caller waiting in: the next turn reads the call's record and
that queue in one round trip (`turn_wait`, ivr/waits/live.py), checked against the record.

With callbacks on, a whole hold turn (announcements, hold message and the music) sits in one
`<Gather numDigits=1>`: Twilio hears a key at any moment of the turn, the music included, and
stops playing on the first one; silence falls through to the `<Redirect>` to the next turn.

`hold_through_outage` is what the loop's webhooks (a turn, a key pressed on hold, the connect)
answer when Redis cannot be reached: the music (in the same Gather, keys heard) and the same turn
again, for the grace.
"""

from __future__ import annotations

from dataclasses import replace

from flask import request

from ivr import routes
from ivr.prompts import Language
from ivr.services import services
from ivr.urlstate import LoopState
from ivr.voice import twiml
from ivr.voice.webhook import base_url

# A key is heard for this long after the music ends, before the next turn starts.
KEY_TIMEOUT_SECONDS = 1


def hold_url(base: str, state: LoopState) -> str:
    """The next turn of the loop, remembering `state`."""
    return routes.url(base, "hold", state)


def keys_url(base: str, state: LoopState) -> str:
    """Where a key pressed on hold goes (the callback offer), remembering `state`."""
    return routes.url(base, "callback_offer", state)


def key_gather(resp: twiml.Document, lang: Language, action: str) -> twiml.Gathering:
    """The Gather around a whole hold turn: one key, any key (`#` too), to `action` (`keys_url`)."""
    return twiml.gather(
        resp,
        lang,
        action,
        num_digits=1,
        timeout=KEY_TIMEOUT_SECONDS,
        speech=False,
        finish_on_key="",
    )


def hold_through_outage() -> twiml.Document | None:
    """A turn that could not reach Redis: music and the turn again while the grace lasts."""
    hotline = services()
    cfg = hotline.config.file.hotline
    now = int(hotline.clock.now().timestamp())
    was = LoopState.from_args(request.args)
    since = min(was.outage_since or now, now)
    if now - since >= cfg.redis_grace_seconds:
        return None  # the outage outlasted the grace: the overflow number
    state = replace(was, outage_since=since)
    resp = twiml.document()
    music: twiml.Document | twiml.Gathering = resp
    if hotline.config.file.callbacks.enabled:
        # Keys still work, as on any turn: a turn lasts the whole music, and an outage of a few
        # seconds must not leave a key unheard that long. A key while Redis is out comes back here.
        config = hotline.config
        music = key_gather(resp, config.languages[config.locales[0]], keys_url(base_url(), state))
    music.play(cfg.hold_music_url)  # the department's own music is in Redis, out of reach
    twiml.redirect(hold_url(base_url(), state), resp)
    return resp
