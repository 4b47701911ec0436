"""The terminal phone on a live call: the stand-in runs the call, the phone hears and types.

One thread long-polls the call's events and prints them as they play (speech, music, pauses,
the dial, the agent answering and hanging up); the keyboard's lines go to the call as they are
typed. Typed into a pipe (a script), each line waits for the call's next stop where it fits (a
Gather for keys, a ringing Dial for ``answer``), so a script does not race the call.

The phone is registered with the stand-in under its own number while it is on, so a call to
that number (the hotline calling back) rings it; ``answer`` picks it up and the phone plays the
called party's side of that call as of any other.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from standin.control import Control, ControlError
from standin.webhook import Heard

__all__ = ["run_live"]

KEYS = re.compile(r"[0-9*#]+")
PARTY = ("answer", "end", "busy", "no-answer", "failed")  # the dialled party, when no console takes it
TURN_SECONDS = 300.0  # how long a scripted line waits for a stop where it fits


class _Line:
    """What the phone has heard of the call: its state, how many stops, whether it ended."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.state, self.stops, self.ended, self.code = "new", 0, False, 0
        self.on_hold = False
        self.target = "client"
        self.after_end: str | None = None  # said when the call ends (the phone stays on)

    def wait(self, fits: Callable[[], bool]) -> bool:
        """Wait until ``fits()`` or the end of the call; whether it fits."""
        with self.changed:
            self.changed.wait_for(lambda: self.ended or fits(), timeout=TURN_SECONDS)
            return not self.ended and fits()


def _describe(event: dict[str, Any]) -> str:
    from hotline_tools.terminal import describe  # the same lines as the local phone

    return describe(Heard(event["kind"], event.get("text", ""), event.get("language", "")))


def _prompt(event: dict[str, Any], line: _Line) -> str:
    """What the caller can do at this stop."""
    state = event["state"]
    if state == "gathering" and event.get("hold"):  # a hold turn in a Gather: keys work all along
        return "-- on hold: keys (0-9 * #) heard at any time, music included; `hangup`"
    if state == "gathering":
        inputs = event.get("input", "dtmf").split()
        can = [
            text for kind, text in (("dtmf", "keys (0-9 * #)"), ("speech", "`say <words>`")) if kind in inputs
        ]
        return f"-- gathering: {', '.join(can)}, empty line = silence now, `hangup`"
    if state == "dialing" and line.target != "client":
        return "-- dialing: play the called party: `answer` (then `end`), `busy`, `no-answer`, `failed`"
    if state == "dialing":
        return "-- dialing: the agent's phone rings (their console answers); `hangup` to give up"
    if state in ("looping", "queued"):
        return "-- on hold: listen, or `hangup`"
    return f"-- {state}: `record [seconds]`, empty line = silence, `hangup`"


def _parties(parties: list[dict[str, Any]]) -> str:
    """Who else is in the caller's room, and whether they hear each other."""
    if not parties:
        return "nobody else (music)"
    words = []
    for party in parties:
        you_hear, hears_you = party["you_hear"], party["hears_you"]
        how = (
            ""
            if you_hear and hears_you
            else " (listening, you do not hear them)"
            if hears_you
            else " (does not hear you)"
            if you_hear
            else " (you do not hear each other)"
        )
        words.append(f"{party['role']} {party['who']}{how}")
    return "; ".join(words)


def _show(event: dict[str, Any], line: _Line, write: Callable[[str], None]) -> None:
    """Print one event and note what it says about the call."""
    kind = event["kind"]
    if kind in ("say", "play", "pause"):
        write(_describe(event))
    elif kind == "dialling":
        line.target = event["target"]
        write(f"  [dialling {'' if event['target'] == 'number' else event['target'] + ' '}{event['value']}]")
    elif kind == "state":
        again = line.on_hold and bool(event.get("hold"))  # the next turn of the same hold
        line.state, line.stops, line.on_hold = event["state"], line.stops + 1, bool(event.get("hold"))
        if not again:
            write(_prompt(event, line))
    elif kind == "answered":
        who = "you play the called party" if event["by"] == "caller" else f"agent {event['by']}"
        write(f"  [answered: {who}; talking now]")
    elif kind == "room":
        write(f"  [on the call: {_parties(event['parties'])}]")
    elif kind == "agent-hung-up":
        write("  [the agent hung up]")
    elif kind == "ignored":
        write(f"  (not heard: {event['what']} while {event['state']})")
    elif kind == "error":
        unreachable = "could not be reached" in event["text"]
        line.code = 2 if unreachable else 1
        write(
            "the hotline does not answer: start it with `make run`"
            if unreachable
            else f"APPLICATION ERROR: Twilio would refuse the app's answer and hang up:\n{event['text']}"
        )
    elif kind == "ended":
        line.ended = True
        write(f"[the call ended: {event['state']}]")
        if line.after_end:
            write(line.after_end)


def _listen(control: Control, sid: str, line: _Line, write: Callable[[str], None]) -> None:
    """Print the call's events until it ends (the body of the listening thread)."""
    after = 0
    while not line.ended:
        try:
            batch = control.events(sid, after)["events"]
        except ControlError as exc:
            write(f"(lost the stand-in: {exc})")
            batch = [{"kind": "ended", "state": "unknown", "n": after}]
        for event in batch:
            after = max(after, event["n"])
            with line.changed:
                _show(event, line, write)
                line.changed.notify_all()


def _action(text: str, state: str) -> tuple[str, str] | None:
    """The action a typed line stands for, or None."""
    word, _, rest = text.partition(" ")
    if text and KEYS.fullmatch(text.replace(" ", "")):
        return "keys", text.replace(" ", "")
    if word == "say" and rest.strip():
        return "speech", rest.strip()
    if not text:
        return "silence", ""
    if word == "record":
        return "record", rest.strip()
    if text in PARTY:
        return text, ""
    return None


class _Number:
    """The phone registered under its number: a call to it (the hotline calling back) rings here."""

    def __init__(self, control: Control, number: str, write: Callable[[str], None]) -> None:
        """Register and listen for rings on a thread of its own."""
        self.control, self.number, self.write = control, number, write
        self.changed = threading.Condition()
        self.ringing: str | None = None  # the sid of the call ringing the phone
        self.closed = False
        try:
            self.after = control.register(number)
        except ControlError:
            self.closed = True  # an older stand-in: calls simply do not ring here
            return
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        while not self.closed:
            try:
                batch = self.control.client_events(self.number, self.after)["events"]
            except ControlError:
                return
            for event in batch:
                self.after = max(self.after, event["n"])
                with self.changed:
                    self._show(event)
                    self.changed.notify_all()

    def _show(self, event: dict[str, Any]) -> None:
        kind = event["kind"]
        if kind == "ring":
            self.ringing = event["call"]
            self.write(f"[ringing: {event['caller']} calls {self.number}: `answer`, or `busy` to refuse]")
        elif kind in ("missed", "call-ended") and self.ringing == event.get("call"):
            self.ringing = None
            self.write(f"[the call from the hotline ended: {event.get('why', '')}]")

    def pick_up(
        self, read_line: Callable[[], str | None], wait_for_turn: bool, first: str | None = None
    ) -> str | None:
        """Wait for `answer` while the phone waits for a call; the answered call's sid, or None to leave.

        ``first``: a line typed as the last call ended, taken before any other.
        """
        while True:
            text, first = (first, None) if first is not None else (read_line(), None)
            text = "quit" if text is None else text.strip()
            if text in ("quit", "hangup"):
                return None
            if text not in ("answer", "busy"):
                if text:
                    self.write("  (the phone waits for a call: `answer` when it rings, `quit` to leave)")
                continue
            with self.changed:
                if wait_for_turn:
                    self.changed.wait_for(lambda: self.ringing is not None, timeout=TURN_SECONDS)
                sid = self.ringing
            if sid is None:
                self.write("  (nothing rings)")
                continue
            try:
                self.control.client_act(self.number, text)
            except ControlError as exc:
                self.write(f"  ({exc})")
                continue
            if text == "answer":
                self.ringing = None
                self.write("[answered]")
                return sid

    def close(self) -> None:
        """Stop being rung."""
        if not self.closed:
            self.closed = True
            try:
                self.control.unregister(self.number)
            except ControlError:
                pass


def run_live(
    control: Control,
    from_: str,
    to: str,
    read_line: Callable[[], str | None],
    write: Callable[[str], None],
    *,
    wait_for_turn: bool = False,
    stay_on: bool = False,
) -> int | None:
    """Place a live call and play its caller; None when no stand-in answers (nothing was done).

    The phone is registered under its number (``from_``) while it is on: with ``stay_on``, it
    stays on after the call for a call back to it (``answer`` picks up) until ``quit`` or the end
    of input.
    """
    try:
        sid = control.place(from_, to)
    except ControlError as exc:
        if exc.status == 0:
            return None
        write(f"the stand-in refused the call: {exc}")
        return 2
    write(f"calling {to} from {from_} through the stand-in at {control.url} (call {sid})")
    phone = _Number(control, from_, write)
    try:
        staying = stay_on and not phone.closed
        note = f"(the phone {from_} stays on: a call back rings here; `answer` it, or `quit`)"
        code, more, left = _talk(control, sid, read_line, write, wait_for_turn, note if staying else None)
        while staying and more and code == 0:
            answered = phone.pick_up(read_line, wait_for_turn, left)
            if answered is None:
                break
            code, more, left = _talk(control, answered, read_line, write, wait_for_turn, note)
    finally:
        phone.close()
    return code


def _talk(
    control: Control,
    sid: str,
    read_line: Callable[[], str | None],
    write: Callable[[str], None],
    wait_for_turn: bool,
    after_end: str | None = None,
) -> tuple[int, bool, str | None]:
    """Play the caller's side of a live call until it ends.

    Returns its exit code, whether input remains, and a line typed as the call ended (not used).
    """
    line = _Line()
    line.after_end = after_end
    listener = threading.Thread(target=_listen, args=(control, sid, line, write), daemon=True)
    listener.start()
    stops = 0  # the stop a scripted line was last sent at
    more, left = True, None
    while not line.ended:
        text = read_line()
        more = text is not None
        text = "hangup" if text is None else text.strip()
        if line.ended:
            left = text if more else None
            break
        if text == "help":
            write("  keys, `say <words>`, empty line (silence), `record [s]`, `hangup`; for a number")
            write("  dialled with no console: `answer`, `end`, `busy`, `no-answer`, `failed`")
            continue
        action = ("hangup", "") if text == "hangup" else _action(text, line.state)
        if action is None:
            write(f"  (`{text}` is not something a phone can do; type `help`)")
            continue
        if wait_for_turn and action[0] != "hangup":
            wanted = ("dialing",) if action[0] in PARTY else ("gathering", "recording")
            if not line.wait(lambda: line.stops > stops and line.state in wanted):  # noqa: B023
                left = text
                break
            stops = line.stops
        try:
            control.act(sid, *action)
        except ControlError as exc:
            write(f"  ({exc})")
        if action[0] == "hangup":
            write("[you hung up]")
            break
    listener.join(timeout=5)
    return line.code, more, left
