"""`handoff`: the reference number, then the department's queue (or after hours when closed)."""

from __future__ import annotations

from ivr import routes
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.routing import route
from ivr.followup.sms import WANTED, may_offer
from ivr.hotline.schema import Node
from ivr.voice import twiml
from ivr.voice.steps.base import Flow, Step, register
from ivr.voice.turn import Input, Position, Turn


@register
class HandoffStep(Step):
    """Where the menu ends: queue the caller, say the reference number, offer it by SMS."""

    kind = "handoff"

    def render(self, flow: Flow, node_id: str, node: Node, turn: Turn) -> None:
        """Hand the caller to the routed department's queue and say their reference number."""
        self.announce(flow, node_id, turn, repeat=False)

    def announce(self, flow: Flow, node_id: str, turn: Turn, repeat: bool) -> None:
        """The hand-off (once), then the reference number, the SMS offer and the department."""
        lang = flow.lang(turn)
        if not turn.get("issue"):
            turn.writer.set(issue="other")
        target = route(flow.file, turn.merged(), turn.now)
        if target is None:
            issue = flow.file.issues.get(turn.get("issue")) or flow.file.issues["other"]
            wanted = issue.language_departments.get(turn.get("lang"), issue.department)
            turn.writer.set(department=wanted)
            turn.writer.move(CallStatus.CLOSED)
            # Opening hours, then a callback or a voicemail for that department.
            twiml.redirect(routes.url(turn.base_url, "after_hours"), turn.resp)
            return
        if not repeat:
            capacity = flow.file.departments[target.department].capacity
            flow.services.door.hand_off(turn.writer, turn.call, target, capacity, turn.now)
        g = twiml.gather(turn.resp, lang, flow.url(turn, node_id, "ref"), timeout=3, speech=False)
        twiml.say(g, lang, lang.text("reference_number", digits=lang.spell(turn.get("ref"))))
        twiml.say(g, lang, lang.text("reference_repeat"))
        if not turn.get("sms") and may_offer(flow.file, turn.merged()):
            twiml.say(g, lang, lang.text("sms_offer"))
        dept_name = flow.file.departments[target.department].names[lang.locale]
        twiml.say(turn.resp, lang, lang.text("handoff_department", department=dept_name))
        twiml.redirect(routes.url(turn.base_url, "hold"), turn.resp)

    def handle(self, flow: Flow, at: Position, node: Node, said: Input, turn: Turn) -> None:
        """`*` repeats the reference number, `1` asks for it by SMS; then on to the hold loop."""
        # The hand-off did not happen yet (or state was lost); a caller matched meanwhile goes on to
        # the hold loop, which connects them, and is never put back in the queue from here.
        if turn.get("status") in ("", CallStatus.MENU, CallStatus.CLOSED):
            self.announce(flow, at.node, turn, repeat=False)
            return
        if said.digits == "*":
            self.announce(flow, at.node, turn, repeat=True)
            return
        lang = flow.lang(turn)
        if said.digits == "1" and not turn.get("sms") and may_offer(flow.file, turn.merged()):
            turn.writer.set(sms=WANTED)  # sent by a worker when the call ends
            flow.say(turn, "sms_offer_ok")
        dept = flow.file.departments.get(turn.get("department"))
        if dept is not None:
            twiml.say(turn.resp, lang, lang.text("handoff_department", department=dept.names[lang.locale]))
        twiml.redirect(routes.url(turn.base_url, "hold"), turn.resp)
