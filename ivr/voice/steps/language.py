"""`language`: choose a language, skipped when the caller's number chose one before."""

from __future__ import annotations

from ivr import keys
from ivr.hotline.schema import Node
from ivr.voice import twiml
from ivr.voice.speech import matches, spoken_digits
from ivr.voice.steps.base import Flow, Step, register
from ivr.voice.turn import Input, Position, Turn


@register
class LanguageStep(Step):
    """Offer every language in its own words; remember the choice for the caller's number."""

    kind = "language"

    def render(self, flow: Flow, node_id: str, node: Node, turn: Turn) -> None:
        """Skip when the call has a language (chosen now or before), else ask."""
        self.ask(flow, node_id, node, turn, 1)

    def ask(self, flow: Flow, node_id: str, node: Node, turn: Turn, tries: int) -> None:
        """The choice, each language's option said in that language."""
        remembered = turn.get("remembered_lang")
        if turn.get("lang") or remembered in flow.cfg.languages:
            if not turn.get("lang"):
                turn.writer.set(lang=remembered)
            flow.enter(node.next or flow.handoff_node, turn)
            return
        hints = [a for lang in flow.cfg.languages.values() for a in lang.voice.aliases]
        default = flow.cfg.languages[flow.cfg.locales[0]]
        url = flow.url(turn, node_id, "choose", tries)
        g = twiml.gather(turn.resp, default, url, timeout=flow.timeout, hints=hints)
        for choice in flow.file.languages:
            lang = flow.cfg.languages[choice.locale]
            twiml.say(g, lang, lang.text("choose_language", digit=choice.digit))
        twiml.redirect(url, turn.resp)

    def handle(self, flow: Flow, at: Position, node: Node, said: Input, turn: Turn) -> None:
        """A digit or a language's name; silence or nonsense asks again, then takes the default."""
        chosen = self.chosen(flow, said)
        if chosen is None and said.digits != "0" and at.tries < flow.max_tries:
            self.ask(flow, at.node, node, turn, at.tries + 1)
            return
        turn.writer.set(lang=chosen or flow.cfg.locales[0])
        caller = turn.get("caller")
        if chosen and caller:
            turn.writer.also(lambda pipe: pipe.set(keys.language(caller), chosen, ex=keys.LANG_TTL_SECONDS))
        if said.digits == "0":
            flow.to_agent(turn)
        else:
            flow.enter(node.next or flow.handoff_node, turn)

    @staticmethod
    def chosen(flow: Flow, said: Input) -> str | None:
        """The locale the caller picked, if any."""
        for choice in flow.file.languages:
            lang = flow.cfg.languages[choice.locale]
            if said.digits == choice.digit or (
                said.speech
                and (matches(said.speech, lang.voice.aliases) or spoken_digits(said.speech) == choice.digit)
            ):
                return choice.locale
        return None
