"""The kinds of node a call flow is made of, and what the hotline file must give each.

One table, read by the schema (which kinds exist), the whole-file checks (what each kind needs)
and the flow engine (`ivr/voice/steps/`, one handler per kind; a test checks they match). A new
kind of step is a row here, a handler there, and a line in hotline.yaml's comment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeKind:
    """What a node of this kind does, and which fields of the hotline file it needs."""

    name: str
    summary: str
    needs_prompt: bool = False  # `prompt`: what the caller hears first
    needs_options: bool = False  # `options`: the choices (only this kind may have them)
    needs_prompts: bool = False  # `prompts`: a list said in order
    needs_next: bool = False  # `next`: where the call goes afterwards
    ends_menu: bool = False  # the one node where the menu ends: no `next`, exactly one in a flow


KINDS: dict[str, NodeKind] = {
    kind.name: kind
    for kind in (
        NodeKind("language", "choose a language (skipped when the number chose one before)", needs_next=True),
        NodeKind(
            "announce", "say `prompts` in order, then go to `next`", needs_prompts=True, needs_next=True
        ),
        NodeKind("account", "collect, check, read back and look up the account identifier", needs_next=True),
        NodeKind("menu", "a choice by key or speech; `*` repeats, `0` reaches an agent", True, True),
        NodeKind(
            "freeze", "freeze the account through the directory (verified callers only)", needs_next=True
        ),
        NodeKind("handoff", "say the reference number and pass the caller to the queue", ends_menu=True),
    )
}
