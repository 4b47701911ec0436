"""`menu`: a choice by key or speech; `*` repeats, `0` reaches an agent."""

from __future__ import annotations

from ivr.hotline.schema import Node, Option
from ivr.prompts import Language
from ivr.voice import twiml
from ivr.voice.speech import matches, spoken_digits
from ivr.voice.steps.base import Flow, Step, register
from ivr.voice.turn import Input, Position, Turn


@register
class MenuStep(Step):
    """The options with their digits; a failed try gets the shorter reprompt."""

    kind = "menu"

    def render(self, flow: Flow, node_id: str, node: Node, turn: Turn) -> None:
        """The whole menu, first try."""
        self.ask(flow, node_id, node, turn, 1, full=True)

    def ask(self, flow: Flow, node_id: str, node: Node, turn: Turn, tries: int, full: bool) -> None:
        """The prompt (or reprompt), each labelled option, and the `*`/`0` hint."""
        lang = flow.lang(turn)
        hints = [
            k for opt in node.options for k in opt.keywords.get(lang.locale, [])
        ] + lang.voice.agent_words
        url = flow.url(turn, node_id, "choose", tries)
        g = twiml.gather(turn.resp, lang, url, timeout=flow.timeout, hints=hints)
        intro = node.prompt if full else node.reprompt
        if intro:
            twiml.say(g, lang, lang.text(intro))
        for opt in node.options:
            if opt.label:
                twiml.say(g, lang, lang.text("menu_option", label=lang.text(opt.label), digit=opt.digit))
        twiml.say(g, lang, lang.text("menu_hint"))
        twiml.redirect(url, turn.resp)

    def handle(self, flow: Flow, at: Position, node: Node, said: Input, turn: Turn) -> None:
        """Follow the chosen option; after `max_tries` failures, an agent."""
        lang = flow.lang(turn)
        if said.digits == "*":
            self.ask(flow, at.node, node, turn, at.tries, full=True)
            return
        if flow.wants_agent(said, lang):
            flow.to_agent(turn)
            return
        chosen = self.chosen(node, said, lang)
        if chosen is not None:
            if chosen.issue:
                turn.writer.set(issue=chosen.issue)
            flow.enter(chosen.next, turn, require=chosen.require)
            return
        if at.tries >= flow.max_tries:
            flow.to_agent(turn)
            return
        flow.failed(turn, said)
        self.ask(flow, at.node, node, turn, at.tries + 1, full=False)

    @staticmethod
    def chosen(node: Node, said: Input, lang: Language) -> Option | None:
        """The option a key, a spoken digit or a keyword (this language's first, then any) picks."""
        chosen = next((opt for opt in node.options if opt.digit == said.digits), None)
        if chosen is not None or not said.speech:
            return chosen
        spoken = spoken_digits(said.speech)
        by_digit = (opt for opt in node.options if len(spoken) == 1 and opt.digit == spoken)
        by_word = (opt for opt in node.options if matches(said.speech, opt.keywords.get(lang.locale, [])))
        by_any_word = (
            opt for opt in node.options if any(matches(said.speech, words) for words in opt.keywords.values())
        )
        return next(by_digit, None) or next(by_word, None) or next(by_any_word, None)
