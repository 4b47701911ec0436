"""The flow engine: turns the call flow of the hotline file into TwiML, one step at a time.

A step's position rides in the Gather action URL (`/voice/step/<node>?phase=..&try=..`, which
the signature covers); what the call has learned lives in its Redis record. The engine reads
the record as the webhook loaded it and queues every write on the webhook's `CallWriter`, so a
step costs one read and one write. Each node kind (ivr/hotline/nodes.py) has one handler in
`ivr/voice/steps/`; the engine moves between nodes and asks for the second factor.
"""

from __future__ import annotations

from ivr import routes
from ivr.callcenter.accounts import FOUND
from ivr.hotline.loader import HotlineConfig
from ivr.hotline.nodes import KINDS
from ivr.prompts import Language
from ivr.voice import twiml
from ivr.voice.speech import matches
from ivr.voice.steps import STEPS, second_factor
from ivr.voice.turn import VERIFIED, Input, Position, StepServices, Turn

__all__ = ["Engine", "Input", "Position", "StepServices", "Turn"]

if set(STEPS) != set(KINDS):  # a kind without a handler would fail only when a caller reached it
    raise RuntimeError(f"node kinds without a step handler: {sorted(set(KINDS) ^ set(STEPS))}")


class Engine:
    """Interprets the flow of one hotline file (the `Flow` its step handlers see)."""

    def __init__(self, cfg: HotlineConfig, services: StepServices) -> None:
        self.cfg = cfg
        self.file = cfg.file
        self.nodes = cfg.file.flow.nodes
        self.services = services
        self.max_tries = cfg.file.hotline.max_tries
        self.timeout = cfg.file.hotline.gather_timeout_seconds
        self.handoff_node = next(n for n, node in self.nodes.items() if KINDS[node.type].ends_menu)
        self.default_locale = cfg.locales[0]

    # -- entry points -------------------------------------------------------------------------

    def start(self, turn: Turn) -> None:
        """A new call (or a call whose position was lost): begin at the start node."""
        self.enter(self.file.flow.start, turn)

    def step(self, at: Position, said: Input, turn: Turn) -> None:
        """The caller answered (or stayed silent at) a Gather of node `at.node`."""
        node = self.nodes.get(at.node)
        if node is None:  # the flow changed under a live call: start over rather than fail
            self.start(turn)
            return
        # A forged or garbled count cannot loop a caller forever.
        at = Position(at.node, at.phase, min(max(at.tries, 1), 20), min(max(at.confirm, 0), 20))
        if at.phase == "verify":
            second_factor.check(self, at.node, at.tries, said, turn)
            return
        STEPS[node.type].handle(self, at, node, said, turn)

    # -- moving between nodes -----------------------------------------------------------------

    def lang(self, turn: Turn) -> Language:
        """The caller's language (the default until they chose)."""
        locale = turn.get("lang") or self.default_locale
        return self.cfg.languages.get(locale) or self.cfg.languages[self.default_locale]

    def url(self, turn: Turn, node_id: str, phase: str = "", tries: int = 1, confirm: int = 0) -> str:
        """The step URL a Gather posts to (its query string is covered by the signature)."""
        return routes.url(turn.base_url, "step", Position(node_id, phase, tries, confirm), node_id=node_id)

    def enter(self, node_id: str, turn: Turn, require: str | None = None) -> None:
        """Go to a node; a node or option that needs a verified caller asks for the second factor."""
        node = self.nodes[node_id]
        turn.writer.set(node=node_id)
        needs = require or node.require
        if (
            needs == "verified"
            and turn.get("verified") not in VERIFIED
            and turn.get("account_state") == FOUND
        ):
            second_factor.ask(self, node_id, turn, 1)
            return
        STEPS[node.type].render(self, node_id, node, turn)

    def to_agent(self, turn: Turn) -> None:
        """`0`, or too many failed tries: straight to the queue with what we know."""
        lang = self.lang(turn)
        twiml.say(turn.resp, lang, lang.text("to_agent"))
        self.enter(self.handoff_node, turn)

    def say(self, turn: Turn, prompt_id: str, **values: object) -> None:
        """Say a prompt in the caller's language."""
        lang = self.lang(turn)
        twiml.say(turn.resp, lang, lang.text(prompt_id, **values))

    def failed(self, turn: Turn, said: Input) -> None:
        """Tell the caller why we ask again."""
        self.say(turn, "no_input" if said.empty else "invalid_input")

    def wants_agent(self, said: Input, lang: Language) -> bool:
        """`0`, or words asking for a person."""
        return said.digits == "0" or (bool(said.speech) and matches(said.speech, lang.voice.agent_words))
