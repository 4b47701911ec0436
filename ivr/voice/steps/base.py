"""What a step handler may ask of the flow engine, and the registry of handlers by node kind."""

from __future__ import annotations

from typing import Protocol

from ivr.hotline.loader import HotlineConfig
from ivr.hotline.schema import HotlineFile, Node
from ivr.prompts import Language
from ivr.voice.turn import Input, Position, StepServices, Turn


class Flow(Protocol):
    """The engine as its step handlers see it: the file, the services and moving between nodes."""

    cfg: HotlineConfig
    file: HotlineFile
    services: StepServices
    max_tries: int
    timeout: int
    handoff_node: str

    def lang(self, turn: Turn) -> Language:
        """The caller's language."""
        ...

    def url(self, turn: Turn, node_id: str, phase: str = "", tries: int = 1, confirm: int = 0) -> str:
        """The signed step URL a Gather posts to."""
        ...

    def enter(self, node_id: str, turn: Turn, require: str | None = None) -> None:
        """Go to a node."""
        ...

    def to_agent(self, turn: Turn) -> None:
        """Straight to the queue with what we know."""
        ...

    def say(self, turn: Turn, prompt_id: str, **values: object) -> None:
        """Say a prompt in the caller's language."""
        ...

    def failed(self, turn: Turn, said: Input) -> None:
        """Tell the caller why we ask again."""
        ...

    def wants_agent(self, said: Input, lang: Language) -> bool:
        """`0`, or words asking for a person."""
        ...


class Step:
    """The handler of one node kind: what the caller hears there, and what their answer does."""

    kind = ""

    def render(self, flow: Flow, node_id: str, node: Node, turn: Turn) -> None:
        """The call arrives at the node."""
        raise NotImplementedError

    def handle(self, flow: Flow, at: Position, node: Node, said: Input, turn: Turn) -> None:
        """The caller answered a Gather of the node. Kinds that take no input start it again
        (the answer came from a stale or forged URL)."""
        flow.enter(at.node, turn)


STEPS: dict[str, Step] = {}


def register(cls: type[Step]) -> type[Step]:
    """Class decorator: the handler of `cls.kind`."""
    STEPS[cls.kind] = cls()
    return cls
