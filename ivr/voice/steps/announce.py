"""`announce`: say the node's prompts in order, then go on."""

from __future__ import annotations

from ivr.hotline.hours import closed_departments
from ivr.hotline.schema import Node
from ivr.voice.steps.base import Flow, Step, register
from ivr.voice.turn import Turn


@register
class AnnounceStep(Step):
    """Prompts in order; `closed_departments` names the departments closed right now, if any."""

    kind = "announce"

    def render(self, flow: Flow, node_id: str, node: Node, turn: Turn) -> None:
        """Say each prompt, then enter `next`."""
        lang = flow.lang(turn)
        for prompt_id in node.prompts:
            if prompt_id == "closed_departments":
                closed = closed_departments(flow.file, turn.now)
                if closed:
                    names = lang.voice.list_separator.join(
                        flow.file.departments[d].names[lang.locale] for d in closed
                    )
                    flow.say(turn, prompt_id, departments=names)
            else:
                flow.say(turn, prompt_id, name=flow.file.hotline.name)
        flow.enter(node.next or flow.handoff_node, turn)
