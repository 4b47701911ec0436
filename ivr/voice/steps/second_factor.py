"""The second factor: the last four digits of the registered mobile, asked at any node that
requires a verified caller (`require: verified`) when the caller ID did not verify them."""

from __future__ import annotations

from ivr.voice import twiml
from ivr.voice.speech import spoken_digits
from ivr.voice.steps.base import Flow
from ivr.voice.turn import Input, Turn


def ask(flow: Flow, node_id: str, turn: Turn, tries: int) -> None:
    """Ask for the four digits; the answer comes back to `node_id` in the `verify` phase."""
    lang = flow.lang(turn)
    url = flow.url(turn, node_id, "verify", tries)
    g = twiml.gather(turn.resp, lang, url, num_digits=4, timeout=flow.timeout + 2)
    twiml.say(g, lang, lang.text("second_factor" if tries == 1 else "second_factor_short"))
    twiml.redirect(url, turn.resp)


def check(flow: Flow, node_id: str, tries: int, said: Input, turn: Turn) -> None:
    """Right: verified, and on into the node. Wrong `max_tries` times: the queue, unverified."""
    lang = flow.lang(turn)
    if said.digits == "0" or flow.wants_agent(said, lang):
        flow.to_agent(turn)
        return
    digits = said.digits or spoken_digits(said.speech)
    expected = turn.get("mobile_last4")
    if expected and digits == expected:
        turn.writer.set(verified="second_factor")
        flow.say(turn, "second_factor_ok")
        flow.enter(node_id, turn)
    elif tries >= flow.max_tries:
        turn.writer.set(verified="failed")
        flow.say(turn, "second_factor_failed")
        flow.enter(flow.handoff_node, turn)
    else:
        flow.failed(turn, said)
        ask(flow, node_id, turn, tries + 1)
