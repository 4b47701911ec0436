"""A terminal phone (`make call`): dial the running hotline and talk to it from the keyboard.

It places a live call through the stand-in for Twilio that `make run` serves (``--standin``),
which runs the call in real (or sped-up) time: what the caller hears is printed as it plays,
and lines typed are keys (``6222000017#``), ``say <words>``, an empty line (silence now),
``hangup``, ``help``... An agent console registered with the stand-in is rung by the Dial;
the phone shows when the agent answers and hangs up. The phone is registered under its number
(``--from``) and stays on after the call: a call back from the hotline rings it (``answer``),
until ``quit`` or the end of input.

With ``--local``, or when no stand-in answers, the phone runs the call itself, turn by turn
(the call waits for each line, and ``answer`` / ``end`` play the agent's leg). Exit status: 0
when the call ends, 1 when the app answers something Twilio would refuse, 2 when the hotline
does not answer at all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable
from urllib.parse import urljoin

from hotline_tools.launcher import LOCAL_DEFAULTS, standin_url
from standin.control import Control
from standin.errors import ApplicationError, CallStateError
from standin.interpreter import ENDED
from standin.phone import Call
from standin.transport import HttpTransport, Response, Transport, TransportError
from standin.webhook import Heard

__all__ = ["describe", "main", "run"]

KEYS = re.compile(r"[0-9*#]+")
DIAL_ANSWERS = {"end": "completed", "busy": "busy", "no-answer": "no-answer", "failed": "failed"}
# What the caller can do in each state the call waits in; `hangup` and `help` always work.
CHOICES = {
    "gathering": "keys (0-9 * #), `say <words>`, empty line = silence",
    "recording": "`record [seconds]` to leave a message, empty line = silence",
    "dialing": "`answer` (then `end`), `busy`, `no-answer` or `failed` (what the dialled party does)",
    "queued": "empty line = keep waiting, `agent` = an agent takes the call",
    "looping": "empty line = keep listening",
}
# A hold turn inside a Gather: a key pressed at any moment of it is heard, the music included.
ON_HOLD = "keys (0-9 * #) heard at any time, music included; empty line = keep listening"


def describe(item: Heard) -> str:
    """One line for something the caller heard: speech with its language, music, a pause."""
    if item.kind == "say":
        return f"  [{item.language}] {item.text}"
    if item.kind == "pause":
        return f"  [pause {item.text}s]"
    if item.text.startswith("digits:"):
        return f"  [tones: {item.text.removeprefix('digits:')}]"
    return f"  [music: {item.text}]"


def _fold(lines: list[str]) -> list[str]:
    """Show a block heard over and over (a hold loop, a run of pauses) once, with a count."""
    folded: list[str] = []
    i = 0
    while i < len(lines):
        for size in range(1, 5):
            block, times = lines[i : i + size], 1
            while lines[i + times * size : i + (times + 1) * size] == block:
                times += 1
            if times > 1:
                break
        size = size if times > 1 else 1
        folded += lines[i : i + size]
        if times > 1:
            folded.append(
                f"  [... heard {times} times]"
                if size == 1
                else f"  [... these {size} lines, heard {times} times]"
            )
        i += size * times
    return folded


class _Transcript:
    """Prints what the call has heard and done since the last print, in the order it happened."""

    def __init__(self, call: Call, write: Callable[[str], None]) -> None:
        self.call, self.write = call, write
        self.heard = self.dialed = self.enqueued = 0

    def flush(self) -> None:
        """Print the new heard items, then the dials and queues the call has just entered."""
        call = self.call
        for line in _fold([describe(item) for item in call.heard[self.heard :]]):
            self.write(line)
        for target in call.dialed[self.dialed :]:
            kind = "" if target["kind"] == "number" else f"{target['kind']} "
            self.write(f"  [dialling {kind}{target['value']}]")
        for name in call.enqueued[self.enqueued :]:
            self.write(f"  [in queue {name}]")
        self.heard, self.dialed, self.enqueued = len(call.heard), len(call.dialed), len(call.enqueued)


class _Tap:
    """A transport that prints the transcript as a queue's wait music is fetched, so that
    ``[in queue ...]`` comes between what was said before it and the music."""

    def __init__(self, inner: Transport, transcript: _Transcript) -> None:
        self.inner, self.transcript = inner, transcript
        self.base_url = inner.base_url

    def request(self, method: str, url: str, params: dict[str, str]) -> Response:
        """Print what was heard so far if the call just entered a queue, then send the request."""
        if len(self.transcript.call.enqueued) > self.transcript.enqueued:
            self.transcript.flush()
        return self.inner.request(method, url, params)


def _unreachable(exc: BaseException) -> bool:
    """Whether an application error comes from the app not answering at all."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TransportError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _prompt(call: Call) -> str:
    """The line that tells the caller what they can do now."""
    if call.on_hold and call.state == "gathering":
        return f"-- on hold: {ON_HOLD}, `hangup` (`help`)"
    choices = CHOICES.get(call.state, "")
    gather = call.last_twiml.find("Gather") if call.last_twiml is not None else None
    if call.state == "gathering" and gather is not None:
        inputs = gather.get("input", "dtmf").split()
        if "speech" not in inputs:
            choices = choices.replace(", `say <words>`", "")
        if "dtmf" not in inputs:
            choices = choices.replace("keys (0-9 * #), ", "")
    return f"-- {call.state}: {choices}, `hangup` (`help`)"


def _act(call: Call, line: str, write: Callable[[str], None]) -> str | None:
    """Do what the caller typed; return a complaint when it cannot be done now."""
    word, _, rest = line.partition(" ")
    state = call.state
    if state == "gathering" and line and KEYS.fullmatch(line.replace(" ", "")):
        call.press(line.replace(" ", ""))
    elif state == "gathering" and word == "say" and rest.strip():
        call.speak(rest.strip())
    elif state in ("gathering", "recording") and not line:
        call.silence()
    elif state == "recording" and word == "record":
        call.record(int(rest) if rest.strip().isascii() and rest.strip().isdigit() else 5)
    elif state == "dialing" and line == "answer":
        for item in call.answer():  # the whisper: heard by the agent only, before the bridge
            write(f"  [agent hears] {item.text}")
        write("  [talking with the agent: `end` when the agent hangs up]")
    elif state == "dialing" and line in DIAL_ANSWERS:
        call.dial_result(DIAL_ANSWERS[line])
    elif state in ("queued", "looping") and not line:
        call.continue_loop()
    elif state == "queued" and line == "agent":
        call.dequeue("bridged")
    else:
        return f"`{line}` is not possible now"
    return None


def run(call: Call, read_line: Callable[[], str | None], write: Callable[[str], None]) -> int:
    """Place ``call`` (if not started) and play the caller with lines from ``read_line``.

    ``read_line`` returns one line of input, or None at the end of input; ``write`` prints one
    line. Returns 0 when the call ends, 1 on an application error, 2 if the app cannot be reached.
    """
    transcript = _Transcript(call, write)
    call.transport = _Tap(call.transport, transcript)
    url = call.transport.base_url.rstrip("/")
    try:
        if call.state == "new":
            write(f"calling {urljoin(call.transport.base_url, call.voice_url)} from {call.from_} ...")
            call.start()
        while call.state not in ENDED:
            transcript.flush()
            write(_prompt(call))
            try:
                line = read_line()
            except KeyboardInterrupt:
                line = None
            line = "hangup" if line is None else line.strip()
            if line == "hangup":
                call.hangup()
                transcript.flush()
                write("[you hung up]")
                return 0
            if line == "help":
                write(f"  what you can type now: {CHOICES.get(call.state, '')}; `hangup` ends the call")
                continue
            try:
                complaint = _act(call, line, write)
            except (CallStateError, ValueError) as exc:
                complaint = str(exc)
            if complaint:
                write(f"  ({complaint}; type `help`)")
    except ApplicationError as exc:
        if _unreachable(exc):
            write(f"the hotline does not answer at {url}: start it with `make run`")
            return 2
        transcript.flush()
        write(f"APPLICATION ERROR: Twilio would refuse the app's answer and hang up:\n{exc}")
        return 1
    except KeyboardInterrupt:
        if call.state not in ENDED and call.state != "new":
            with contextlib.suppress(ApplicationError):
                call.hangup()
        write("[you hung up]")
        return 0
    transcript.flush()
    write(f"[the call ended: {call.state}]")
    return 0


def _read_line() -> str | None:
    """A line from the keyboard, or from a pipe (echoed so the transcript shows it)."""
    if sys.stdin.isatty():
        try:
            return input("> ")
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C: the caller puts the phone down
            return None
    line = sys.stdin.readline()
    if not line:
        return None
    print(f"> {line.rstrip()}", flush=True)
    return line.rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, dial the hotline over HTTP and run the call on this terminal."""
    env = {**LOCAL_DEFAULTS, **os.environ}  # as `python -m hotline_tools.launcher` configures the hotline
    local = f"http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '5000')}"
    parser = argparse.ArgumentParser(prog="python -m hotline_tools.terminal", description=__doc__)
    parser.add_argument("--url", default=env.get("PUBLIC_BASE_URL", local), help="the hotline")
    parser.add_argument("--standin", default=standin_url(env), help="the stand-in for Twilio")
    parser.add_argument("--local", action="store_true", help="run the call here, turn by turn")
    parser.add_argument("--token", default=env["TWILIO_AUTH_TOKEN"], help="the auth token it checks")
    parser.add_argument("--from", dest="from_", default="+8613800138000", help="caller ID")
    parser.add_argument("--to", default="+864001234567", help="the hotline's number")
    args = parser.parse_args(argv)
    write = lambda text: print(text, flush=True)  # noqa: E731
    if not args.local:
        from hotline_tools.livephone import run_live  # it prints with `describe` from here

        control = Control(args.standin, env["TWILIO_ACCOUNT_SID"], args.token)
        scripted = not sys.stdin.isatty()
        code = run_live(control, args.from_, args.to, _read_line, write, wait_for_turn=scripted, stay_on=True)
        if code is not None:
            return code
        write(f"(no stand-in for Twilio at {args.standin}: the call runs here, turn by turn)")
    transport = HttpTransport(args.url, args.token)
    call = Call(transport, from_=args.from_, to=args.to, account_sid=env["TWILIO_ACCOUNT_SID"])
    return run(call, _read_line, lambda text: print(text, flush=True))


if __name__ == "__main__":
    sys.exit(main())
