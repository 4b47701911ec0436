"""The flow engine: turns the call flow of the hotline file into TwiML, one step at a time.

A step's position rides in the Gather action URL (`/voice/step/<node>?phase=..&try=..`, which
the signature covers); what the call has learned lives in its Redis record. The engine reads
the record as the webhook loaded it and queues every write on the webhook's `CallWriter`, so a
step costs one read and one write. Node types are documented in hotline.yaml.
"""

from __future__ import annotations

from urllib.parse import urlencode

from ivr import keys
from ivr.callcenter.accounts import FOUND
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.routing import route
from ivr.followup.sms import WANTED, may_offer
from ivr.hotline.hours import closed_departments
from ivr.hotline.loader import HotlineConfig
from ivr.hotline.schema import Node
from ivr.prompts import Language
from ivr.voice import twiml
from ivr.voice.identify import IdentifySteps
from ivr.voice.speech import matches, spoken_digits
from ivr.voice.turn import VERIFIED, Input, Position, Services, Turn

__all__ = ["Engine", "Input", "Position", "Services", "Turn"]

FREEZE_CHECKS = 6  # about 12 s of waiting for the freeze job before the caller moves on


class Engine(IdentifySteps):
    """Interprets the flow of one hotline file."""

    def __init__(self, cfg: HotlineConfig, services: Services) -> None:
        self.cfg = cfg
        self.file = cfg.file
        self.nodes = cfg.file.flow.nodes
        self.services = services
        self.max_tries = cfg.file.hotline.max_tries
        self.timeout = cfg.file.hotline.gather_timeout_seconds
        self.handoff_node = next(n for n, node in self.nodes.items() if node.type == "handoff")
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
            self._handle_verify(at.node, at.tries, said, turn)
            return
        handler = getattr(self, f"_handle_{node.type}", None)
        if handler is None:  # a node that takes no input (announce): a stale or forged URL
            self.enter(at.node, turn)
            return
        handler(at, node, said, turn)

    # -- moving between nodes -----------------------------------------------------------------

    def lang(self, turn: Turn) -> Language:
        """The caller's language (the default until they chose)."""
        locale = turn.get("lang") or self.default_locale
        return self.cfg.languages.get(locale) or self.cfg.languages[self.default_locale]

    def url(self, turn: Turn, node_id: str, phase: str = "", tries: int = 1, confirm: int = 0) -> str:
        """The step URL a Gather posts to (its query string is covered by the signature)."""
        query = {"phase": phase, "try": tries} if phase else {"try": tries}
        if confirm:
            query["c"] = confirm
        return f"{turn.base_url}/voice/step/{node_id}?{urlencode(query)}"

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
            self._ask_second_factor(node_id, turn, 1)
            return
        getattr(self, f"_render_{node.type}")(node_id, node, turn)

    def to_agent(self, turn: Turn) -> None:
        """`0`, or too many failed tries: straight to the queue with what we know."""
        lang = self.lang(turn)
        twiml.say(turn.resp, lang, lang.text("to_agent"))
        self.enter(self.handoff_node, turn)

    def _say(self, turn: Turn, prompt_id: str, **values: object) -> None:
        lang = self.lang(turn)
        twiml.say(turn.resp, lang, lang.text(prompt_id, **values))

    def _failed(self, turn: Turn, said: Input) -> None:
        """Tell the caller why we ask again."""
        self._say(turn, "no_input" if said.empty else "invalid_input")

    def _wants_agent(self, said: Input, lang: Language) -> bool:
        return said.digits == "0" or (bool(said.speech) and matches(said.speech, lang.voice.agent_words))

    # -- language -----------------------------------------------------------------------------

    def _render_language(self, node_id: str, node: Node, turn: Turn, tries: int = 1) -> None:
        remembered = turn.get("remembered_lang")
        if turn.get("lang") or remembered in self.cfg.languages:
            if not turn.get("lang"):
                turn.writer.set(lang=remembered)
            self.enter(node.next or self.handoff_node, turn)
            return
        hints = [a for lang in self.cfg.languages.values() for a in lang.voice.aliases]
        default = self.cfg.languages[self.default_locale]
        g = twiml.gather(
            turn.resp,
            default,
            self.url(turn, node_id, "choose", tries),
            timeout=self.timeout,
            hints=hints,
        )
        for choice in self.file.languages:
            lang = self.cfg.languages[choice.locale]
            twiml.say(g, lang, lang.text("choose_language", digit=choice.digit))
        turn.resp.redirect(self.url(turn, node_id, "choose", tries), method="POST")

    def _handle_language(self, at: Position, node: Node, said: Input, turn: Turn) -> None:
        node_id, tries = at.node, at.tries
        chosen = None
        for choice in self.file.languages:
            lang = self.cfg.languages[choice.locale]
            if said.digits == choice.digit or (
                said.speech
                and (matches(said.speech, lang.voice.aliases) or spoken_digits(said.speech) == choice.digit)
            ):
                chosen = choice.locale
                break
        if chosen is None and said.digits != "0" and tries < self.max_tries:
            self._render_language(node_id, node, turn, tries + 1)
            return
        turn.writer.set(lang=chosen or self.default_locale)
        caller = turn.get("caller")
        if chosen and caller:
            turn.writer.also(lambda pipe: pipe.set(keys.language(caller), chosen, ex=keys.LANG_TTL_SECONDS))
        if said.digits == "0":
            self.to_agent(turn)
        else:
            self.enter(node.next or self.handoff_node, turn)

    # -- announcements ------------------------------------------------------------------------

    def _render_announce(self, node_id: str, node: Node, turn: Turn) -> None:
        lang = self.lang(turn)
        for prompt_id in node.prompts:
            if prompt_id == "closed_departments":
                closed = closed_departments(self.file, turn.now)
                if closed:
                    names = lang.voice.list_separator.join(
                        self.file.departments[d].names[lang.locale] for d in closed
                    )
                    self._say(turn, prompt_id, departments=names)
            else:
                self._say(turn, prompt_id, name=self.file.hotline.name)
        self.enter(node.next or self.handoff_node, turn)

    # -- menus --------------------------------------------------------------------------------

    def _render_menu(self, node_id: str, node: Node, turn: Turn, tries: int = 1, full: bool = True) -> None:
        lang = self.lang(turn)
        hints = [
            k for opt in node.options for k in opt.keywords.get(lang.locale, [])
        ] + lang.voice.agent_words
        g = twiml.gather(
            turn.resp,
            lang,
            self.url(turn, node_id, "choose", tries),
            timeout=self.timeout,
            hints=hints,
        )
        intro = node.prompt if full else node.reprompt
        if intro:
            twiml.say(g, lang, lang.text(intro))
        for opt in node.options:
            if opt.label:
                twiml.say(g, lang, lang.text("menu_option", label=lang.text(opt.label), digit=opt.digit))
        twiml.say(g, lang, lang.text("menu_hint"))
        turn.resp.redirect(self.url(turn, node_id, "choose", tries), method="POST")

    def _handle_menu(self, at: Position, node: Node, said: Input, turn: Turn) -> None:
        node_id, tries = at.node, at.tries
        lang = self.lang(turn)
        if said.digits == "*":
            self._render_menu(node_id, node, turn, tries, full=True)
            return
        if self._wants_agent(said, lang):
            self.to_agent(turn)
            return
        chosen = next((opt for opt in node.options if opt.digit == said.digits), None)
        if chosen is None and said.speech:
            spoken = spoken_digits(said.speech)
            chosen = next((opt for opt in node.options if len(spoken) == 1 and opt.digit == spoken), None)
            chosen = chosen or next(
                (opt for opt in node.options if matches(said.speech, opt.keywords.get(lang.locale, []))),
                None,
            )
            chosen = chosen or next(
                (
                    opt
                    for opt in node.options
                    if any(matches(said.speech, words) for words in opt.keywords.values())
                ),
                None,
            )
        if chosen is not None:
            if chosen.issue:
                turn.writer.set(issue=chosen.issue)
            self.enter(chosen.next, turn, require=chosen.require)
            return
        if tries >= self.max_tries:
            self.to_agent(turn)
            return
        self._failed(turn, said)
        self._render_menu(node_id, node, turn, tries + 1, full=False)

    # -- freezing an account ------------------------------------------------------------------

    def _render_freeze(self, node_id: str, node: Node, turn: Turn) -> None:
        account = turn.get("account")
        if turn.get("verified") not in VERIFIED or not account:
            self._say(turn, "freeze_not_allowed")
            self.enter(node.next or self.handoff_node, turn)
            return
        if not turn.get("freeze"):  # a repeated delivery must not enqueue a second job
            turn.writer.set(freeze="pending")
            turn.writer.also(lambda pipe: self.services.jobs.freeze_account(pipe, turn.call.sid, account))
        self._say(turn, "freeze_working")
        turn.resp.pause(length=2)
        turn.resp.redirect(self.url(turn, node_id, "wait", 1), method="POST")

    def _handle_freeze(self, at: Position, node: Node, said: Input, turn: Turn) -> None:
        node_id, tries = at.node, at.tries
        state = turn.get("freeze")
        if state == "done":
            self._say(turn, "freeze_done")
        elif state == "failed" or tries >= FREEZE_CHECKS or state != "pending":
            self._say(turn, "freeze_failed")
            turn.writer.set(freeze="failed" if state != "done" else state)
        else:
            turn.resp.pause(length=2)
            turn.resp.redirect(self.url(turn, node_id, "wait", tries + 1), method="POST")
            return
        self.enter(node.next or self.handoff_node, turn)

    # -- the hand-off -------------------------------------------------------------------------

    def _render_handoff(self, node_id: str, node: Node, turn: Turn, repeat: bool = False) -> None:
        lang = self.lang(turn)
        if not turn.get("issue"):
            turn.writer.set(issue="other")
        target = route(self.file, turn.merged(), turn.now)
        if target is None:
            issue = self.file.issues.get(turn.get("issue")) or self.file.issues["other"]
            wanted = issue.language_departments.get(turn.get("lang"), issue.department)
            turn.writer.set(department=wanted)
            turn.writer.move(CallStatus.CLOSED)
            # Opening hours, then a callback or a voicemail for that department.
            turn.resp.redirect(f"{turn.base_url}/voice/after-hours", method="POST")
            return
        if not repeat:
            capacity = self.file.departments[target.department].capacity
            self.services.door.hand_off(turn.writer, turn.call, target, capacity, turn.now)
        ref = turn.get("ref")
        g = twiml.gather(turn.resp, lang, self.url(turn, node_id, "ref"), timeout=3, speech=False)
        twiml.say(g, lang, lang.text("reference_number", digits=lang.spell(ref)))
        twiml.say(g, lang, lang.text("reference_repeat"))
        if not turn.get("sms") and may_offer(self.file, turn.merged()):
            twiml.say(g, lang, lang.text("sms_offer"))
        dept_name = self.file.departments[target.department].names[lang.locale]
        twiml.say(turn.resp, lang, lang.text("handoff_department", department=dept_name))
        turn.resp.redirect(f"{turn.base_url}/voice/hold", method="POST")

    def _handle_handoff(self, at: Position, node: Node, said: Input, turn: Turn) -> None:
        node_id = at.node
        # The hand-off did not happen yet (or state was lost); a caller matched meanwhile goes on to
        # the hold loop, which connects them, and is never put back in the queue from here.
        if turn.get("status") in ("", CallStatus.MENU, CallStatus.CLOSED):
            self._render_handoff(node_id, node, turn)
        elif said.digits == "*":
            self._render_handoff(node_id, node, turn, repeat=True)
        else:
            lang = self.lang(turn)
            if said.digits == "1" and not turn.get("sms") and may_offer(self.file, turn.merged()):
                turn.writer.set(sms=WANTED)  # sent by a worker when the call ends
                self._say(turn, "sms_offer_ok")
            dept = self.file.departments.get(turn.get("department"))
            if dept is not None:
                twiml.say(
                    turn.resp,
                    lang,
                    lang.text("handoff_department", department=dept.names[lang.locale]),
                )
            turn.resp.redirect(f"{turn.base_url}/voice/hold", method="POST")
