"""`freeze`: a verified caller's account is frozen by a worker job while the caller waits."""

from __future__ import annotations

from ivr.hotline.schema import Node
from ivr.voice import twiml
from ivr.voice.steps.base import Flow, Step, register
from ivr.voice.turn import VERIFIED, Input, Position, Turn

FREEZE_CHECKS = 6  # about 12 s of waiting for the freeze job before the caller moves on


@register
class FreezeStep(Step):
    """Enqueue the freeze once, then check every 2 s whether the job is done."""

    kind = "freeze"

    def render(self, flow: Flow, node_id: str, node: Node, turn: Turn) -> None:
        """Only a verified caller with an account; a repeated delivery enqueues nothing new."""
        account = turn.get("account")
        if turn.get("verified") not in VERIFIED or not account:
            flow.say(turn, "freeze_not_allowed")
            flow.enter(node.next or flow.handoff_node, turn)
            return
        if not turn.get("freeze"):  # a repeated delivery must not enqueue a second job
            turn.writer.set(freeze="pending")
            turn.writer.also(lambda pipe: flow.services.jobs.freeze_account(pipe, turn.call.sid, account))
        flow.say(turn, "freeze_working")
        turn.resp.pause(length=2)
        twiml.redirect(flow.url(turn, node_id, "wait", 1), turn.resp)

    def handle(self, flow: Flow, at: Position, node: Node, said: Input, turn: Turn) -> None:
        """Done, failed or taking too long: say so and go on; else wait 2 s more."""
        state = turn.get("freeze")
        if state == "done":
            flow.say(turn, "freeze_done")
        elif state == "failed" or at.tries >= FREEZE_CHECKS or state != "pending":
            flow.say(turn, "freeze_failed")
            turn.writer.set(freeze="failed" if state != "done" else state)
        else:
            turn.resp.pause(length=2)
            twiml.redirect(flow.url(turn, at.node, "wait", at.tries + 1), turn.resp)
            return
        flow.enter(node.next or flow.handoff_node, turn)
