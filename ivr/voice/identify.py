"""The identification steps of the flow: the account identifier and the second factor.

A mixin of `Engine` (it uses the engine's helpers: `lang`, `url`, `enter`, `to_agent`, `_say`,
`_failed`): collecting the digits, checking them before any lookup, reading them back, the
lookup staged on the call record, and the last four digits of the registered mobile.
"""

from __future__ import annotations

from ivr.callcenter.accounts import FOUND, NOT_FOUND
from ivr.callcenter.identifiers import valid_account_id
from ivr.hotline.schema import Node
from ivr.voice import twiml
from ivr.voice.speech import spoken_digits
from ivr.voice.turn import Input, Position, Turn


class IdentifySteps:
    """Account identification and verification, for `Engine`."""

    # -- the account identifier ---------------------------------------------------------------

    def _render_account(self, node_id: str, node: Node, turn: Turn, tries: int = 1) -> None:
        lang = self.lang(turn)
        length = self.file.account_ids.length
        g = twiml.gather(
            turn.resp,
            lang,
            self.url(turn, node_id, "collect", tries),
            num_digits=length,
            timeout=self.timeout + 4,
        )
        twiml.say(g, lang, lang.text("enter_account" if tries == 1 else "enter_account_short"))
        turn.resp.redirect(self.url(turn, node_id, "collect", tries), method="POST")

    def _render_confirm(self, node_id: str, turn: Turn, tries: int, confirm: int, account_id: str) -> None:
        lang = self.lang(turn)
        g = twiml.gather(
            turn.resp,
            lang,
            self.url(turn, node_id, "confirm", tries, confirm),
            timeout=self.timeout,
        )
        twiml.say(g, lang, lang.text("account_readback", digits=lang.spell(account_id)))
        if confirm > 1:
            twiml.say(g, lang, lang.text("account_readback_short"))
        turn.resp.redirect(self.url(turn, node_id, "confirm", tries, confirm), method="POST")

    def _handle_account(self, at: Position, node: Node, said: Input, turn: Turn) -> None:
        node_id, phase, tries, confirm = at.node, at.phase, at.tries, at.confirm
        lang = self.lang(turn)
        if self._wants_agent(said, lang) and said.digits in ("0", ""):
            self.to_agent(turn)
            return
        if phase == "confirm":
            self._handle_confirm(node_id, node, tries, confirm, said, turn)
            return
        if said.digits == "*":
            self._render_account(node_id, node, turn, tries)
            return
        digits = said.digits.rstrip("#") if said.digits else spoken_digits(said.speech)
        if digits and valid_account_id(digits, self.file.account_ids):
            self.services.directory.stage(turn.writer, digits, turn.get("caller"))
            turn.writer.set(pending_account=digits)
            self._render_confirm(node_id, turn, tries, 1, digits)
            return
        if digits:
            self._say(turn, "account_invalid")
        else:
            self._failed(turn, said)
        self._account_retry(node_id, node, tries, turn)

    def _account_retry(self, node_id: str, node: Node, tries: int, turn: Turn) -> None:
        if tries >= self.max_tries:
            self._say(turn, "account_unidentified")
            turn.writer.set(account_state="unidentified", verified="no")
            self.enter(node.next or self.handoff_node, turn)
        else:
            self._render_account(node_id, node, turn, tries + 1)

    def _handle_confirm(
        self, node_id: str, node: Node, tries: int, confirm: int, said: Input, turn: Turn
    ) -> None:
        pending = turn.get("pending_account")
        answer = said.digits or spoken_digits(said.speech)[:1]
        if not pending:  # nothing to confirm (lost state): ask for the number again
            self._render_account(node_id, node, turn, tries)
            return
        if answer == "1":
            result = turn.get("pending_result")
            if result == NOT_FOUND:
                self._say(turn, "account_not_found")
                self._account_retry(node_id, node, tries, turn)
                return
            verified = "caller_id" if turn.get("pending_verified") == "1" and result == FOUND else "no"
            turn.writer.set(
                account=pending,
                account_state=result if result == FOUND else "unavailable",
                verified=verified,
                mobile_last4=turn.get("pending_last4"),
                account_status=turn.get("pending_status"),
            )
            self._say(turn, "account_confirmed" if result == FOUND else "account_unidentified")
            self.enter(node.next or self.handoff_node, turn)
        elif answer == "2":
            self._account_retry(node_id, node, tries, turn)
        elif confirm >= self.max_tries:
            self._account_retry(node_id, node, tries, turn)
        else:
            if answer != "*":
                self._failed(turn, said)
            self._render_confirm(node_id, turn, tries, confirm + 1, pending)

    # -- second factor ------------------------------------------------------------------------

    def _ask_second_factor(self, node_id: str, turn: Turn, tries: int) -> None:
        lang = self.lang(turn)
        g = twiml.gather(
            turn.resp,
            lang,
            self.url(turn, node_id, "verify", tries),
            num_digits=4,
            timeout=self.timeout + 2,
        )
        twiml.say(g, lang, lang.text("second_factor" if tries == 1 else "second_factor_short"))
        turn.resp.redirect(self.url(turn, node_id, "verify", tries), method="POST")

    def _handle_verify(self, node_id: str, tries: int, said: Input, turn: Turn) -> None:
        lang = self.lang(turn)
        if said.digits == "0" or self._wants_agent(said, lang):
            self.to_agent(turn)
            return
        digits = said.digits or spoken_digits(said.speech)
        expected = turn.get("mobile_last4")
        if expected and digits == expected:
            turn.writer.set(verified="second_factor")
            self._say(turn, "second_factor_ok")
            self.enter(node_id, turn)
        elif tries >= self.max_tries:
            turn.writer.set(verified="failed")
            self._say(turn, "second_factor_failed")
            self.enter(self.handoff_node, turn)
        else:
            self._failed(turn, said)
            self._ask_second_factor(node_id, turn, tries + 1)
