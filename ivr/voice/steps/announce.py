"""`announce`: say the node's prompts in order, then go on.

With `decline_recording_key` (the recording notice), the prompts and the offer to decline sit
in a short Gather: the key sets `recording_declined` on the call record, so no room of this call
is recorded (ivr/voice/room.py); silence, or any other key, goes on as before.
"""

from __future__ import annotations

from ivr.callcenter.events import log_room_event
from ivr.hotline.hours import closed_departments
from ivr.hotline.schema import Node
from ivr.prompts import Language
from ivr.voice import twiml
from ivr.voice.steps.base import Flow, Step, register
from ivr.voice.turn import Input, Position, Turn

# How long the offer waits for the key after it was said, before the call goes on.
DECLINE_WAIT_SECONDS = 3


@register
class AnnounceStep(Step):
    """Prompts in order; `closed_departments` names the departments closed right now, if any."""

    kind = "announce"

    def render(self, flow: Flow, node_id: str, node: Node, turn: Turn) -> None:
        """Say each prompt (in a Gather when the recording may be declined), then enter `next`."""
        lang = flow.lang(turn)
        key = node.decline_recording_key
        target: twiml.Document | twiml.Gathering = turn.resp
        if key and not turn.get("recording_declined"):
            target = twiml.gather(
                turn.resp,
                lang,
                flow.url(turn, node_id, "decline"),
                num_digits=1,
                timeout=DECLINE_WAIT_SECONDS,
                speech=False,
                finish_on_key="",
            )
        for prompt_id in node.prompts:
            if prompt_id == "closed_departments":
                closed = closed_departments(flow.file, turn.now)
                if closed:
                    names = lang.voice.list_separator.join(
                        flow.file.departments[d].names[lang.locale] for d in closed
                    )
                    twiml.say(target, lang, lang.text(prompt_id, departments=names))
            else:
                twiml.say(target, lang, lang.text(prompt_id, name=flow.file.hotline.name))
        if target is not turn.resp:
            twiml.say(target, lang, lang.text("recording_decline_offer", key=key_name(lang, key or "")))
        # Silence: the Gather falls through to the next node, in the same document.
        flow.enter(node.next or flow.handoff_node, turn)

    def handle(self, flow: Flow, at: Position, node: Node, said: Input, turn: Turn) -> None:
        """A key during the notice: the decline key is remembered on the call; then go on."""
        if at.phase != "decline":
            flow.enter(at.node, turn)
            return
        if node.decline_recording_key and said.digits == node.decline_recording_key:
            turn.writer.set(recording_declined="1")
            record = turn.merged()  # the event log says so, in the step's one write
            turn.writer.also(lambda pipe: log_room_event(pipe, record, "recording_declined"))
            flow.say(turn, "recording_declined")
        flow.enter(node.next or flow.handoff_node, turn)


def key_name(lang: Language, key: str) -> str:
    """A key as the caller hears it: the digit, or the star's or hash's name in their language."""
    return {"*": lang.voice.star, "#": lang.voice.hash}.get(key, key)
