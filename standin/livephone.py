"""The terminal phone on a live call: the stand-in runs the call, the phone hears and types.

One thread long-polls the call's events and prints them as they play (speech, music, pauses,
the dial, the agent answering and hanging up); the keyboard's lines go to the call as they are
typed. Typed into a pipe (a script), each line waits for the call's next stop where it fits (a
Gather for keys, a ringing Dial for ``answer``), so a script does not race the call.
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

    def wait(self, fits: Callable[[], bool]) -> bool:
        """Wait until ``fits()`` or the end of the call; whether it fits."""
        with self.changed:
            self.changed.wait_for(lambda: self.ended or fits(), timeout=TURN_SECONDS)
            return not self.ended and fits()


def _describe(event: dict[str, Any]) -> str:
    from standin.terminal import describe  # the same lines as the local phone

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


def run_live(
    control: Control,
    from_: str,
    to: str,
    read_line: Callable[[], str | None],
    write: Callable[[str], None],
    *,
    wait_for_turn: bool = False,
) -> int | None:
    """Place a live call and play its caller; None when no stand-in answers (nothing was done)."""
    try:
        sid = control.place(from_, to)
    except ControlError as exc:
        if exc.status == 0:
            return None
        write(f"the stand-in refused the call: {exc}")
        return 2
    write(f"calling {to} from {from_} through the stand-in at {control.url} (call {sid})")
    line = _Line()
    listener = threading.Thread(target=_listen, args=(control, sid, line, write), daemon=True)
    listener.start()
    stops = 0  # the stop a scripted line was last sent at
    while not line.ended:
        text = read_line()
        text = "hangup" if text is None else text.strip()
        if line.ended:
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
    return line.code
