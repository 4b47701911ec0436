"""`account`: collect the account identifier, check it before any lookup, read it back.

The lookup is staged on the call record in the step's own write (the directory's script), so
the read-back's answer finds the result without a further round trip.
"""

from __future__ import annotations

from ivr.callcenter.accounts import FOUND, NOT_FOUND
from ivr.callcenter.identifiers import valid_account_id
from ivr.hotline.schema import Node
from ivr.voice import twiml
from ivr.voice.speech import spoken_digits
from ivr.voice.steps.base import Flow, Step, register
from ivr.voice.turn import Input, Position, Turn


@register
class AccountStep(Step):
    """Keyed or spoken digits; a read-back confirmed with 1; three failures go on unidentified."""

    kind = "account"

    def render(self, flow: Flow, node_id: str, node: Node, turn: Turn) -> None:
        """Ask for the number."""
        self.ask(flow, node_id, turn, 1)

    def ask(self, flow: Flow, node_id: str, turn: Turn, tries: int) -> None:
        """The request for the digits (shorter on a later try)."""
        lang = flow.lang(turn)
        url = flow.url(turn, node_id, "collect", tries)
        length = flow.file.account_ids.length
        g = twiml.gather(turn.resp, lang, url, num_digits=length, timeout=flow.timeout + 4)
        twiml.say(g, lang, lang.text("enter_account" if tries == 1 else "enter_account_short"))
        twiml.redirect(url, turn.resp)

    def read_back(self, flow: Flow, node_id: str, turn: Turn, tries: int, confirm: int, account: str) -> None:
        """The digits as heard, digit by digit: 1 to confirm, 2 to enter again."""
        lang = flow.lang(turn)
        url = flow.url(turn, node_id, "confirm", tries, confirm)
        g = twiml.gather(turn.resp, lang, url, timeout=flow.timeout)
        twiml.say(g, lang, lang.text("account_readback", digits=lang.spell(account)))
        if confirm > 1:
            twiml.say(g, lang, lang.text("account_readback_short"))
        twiml.redirect(url, turn.resp)

    def handle(self, flow: Flow, at: Position, node: Node, said: Input, turn: Turn) -> None:
        """Digits in (collect phase) or the answer to the read-back (confirm phase)."""
        lang = flow.lang(turn)
        if flow.wants_agent(said, lang) and said.digits in ("0", ""):
            flow.to_agent(turn)
            return
        if at.phase == "confirm":
            self.confirmed(flow, at, node, said, turn)
            return
        if said.digits == "*":
            self.ask(flow, at.node, turn, at.tries)
            return
        digits = said.digits.rstrip("#") if said.digits else spoken_digits(said.speech)
        if digits and valid_account_id(digits, flow.file.account_ids):
            flow.services.directory.stage(turn.writer, digits, turn.get("caller"))
            turn.writer.set(pending_account=digits)
            self.read_back(flow, at.node, turn, at.tries, 1, digits)
            return
        if digits:
            flow.say(turn, "account_invalid")
        else:
            flow.failed(turn, said)
        self.retry(flow, at.node, node, at.tries, turn)

    def retry(self, flow: Flow, node_id: str, node: Node, tries: int, turn: Turn) -> None:
        """Ask again, or after `max_tries` go on without an account."""
        if tries >= flow.max_tries:
            flow.say(turn, "account_unidentified")
            turn.writer.set(account_state="unidentified", verified="no")
            flow.enter(node.next or flow.handoff_node, turn)
        else:
            self.ask(flow, node_id, turn, tries + 1)

    def confirmed(self, flow: Flow, at: Position, node: Node, said: Input, turn: Turn) -> None:
        """1: the staged lookup's result becomes the call's account; 2: enter it again."""
        pending = turn.get("pending_account")
        answer = said.digits or spoken_digits(said.speech)[:1]
        if not pending:  # nothing to confirm (lost state): ask for the number again
            self.ask(flow, at.node, turn, at.tries)
            return
        if answer == "1":
            result = turn.get("pending_result")
            if result == NOT_FOUND:
                flow.say(turn, "account_not_found")
                self.retry(flow, at.node, node, at.tries, turn)
                return
            verified = "caller_id" if turn.get("pending_verified") == "1" and result == FOUND else "no"
            turn.writer.set(
                account=pending,
                account_state=result if result == FOUND else "unavailable",
                verified=verified,
                mobile_last4=turn.get("pending_last4"),
                account_status=turn.get("pending_status"),
            )
            flow.say(turn, "account_confirmed" if result == FOUND else "account_unidentified")
            flow.enter(node.next or flow.handoff_node, turn)
        elif answer == "2" or at.confirm >= flow.max_tries:
            self.retry(flow, at.node, node, at.tries, turn)
        else:
            if answer != "*":
                flow.failed(turn, said)
            self.read_back(flow, at.node, turn, at.tries, at.confirm + 1, pending)
