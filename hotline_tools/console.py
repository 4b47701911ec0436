"""A terminal agent console (`make console ARGS="--token ..."`): the agent API from the keyboard.

It speaks only the agent API over HTTP: shows the agent's state, changes it (`ready`, `pause
<reason>`, `offline`), shows the screen pop of the current call, transfers it and files the
wrap-up, and holds the caller (`hold`, `unhold`). While it runs it beats every 15 s and polls
the agent's state every 1.5 s, so a call ringing pops up without a command. Exit status: 0 on
`quit`, 2 when the token is refused or the hotline does not answer at start.

With `--supervisor ID` and a supervisor's token it is a supervisor's console instead
(`hotline_tools/supervising.py`): listen, coach and barge on a call by its reference number.

With the stand-in for Twilio that `make run` serves (``--standin``), the console is also the
agent's phone: it registers as ``client:<agent id>``, so the hotline's Dial rings it; `answer`
picks up (the whisper is shown), `hangup` ends the call, `busy` refuses it. A ring not answered
within the Dial's timeout is missed, and the hotline takes the agent off ready.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from hotline_tools.agent_api import (
    Api,
    ApiError,
    HttpApi,
    Json,
    Unreachable,
    Write,
    checked,
    not_answering,
)
from hotline_tools.keyboard import command_loop, read_line
from hotline_tools.launcher import LOCAL_DEFAULTS, standin_url
from hotline_tools.screenpop import duration, groups, screen_pop
from hotline_tools.softphone import Softphone, ring_lines
from hotline_tools.supervising import run_supervisor
from ivr.settings import DEFAULT_HOTLINE_CONFIG
from standin.control import Control

__all__ = ["Console", "background", "main", "run", "specialist_lines"]

POLL_SECONDS = 1.5
HEARTBEAT_SECONDS = 15.0  # the hotline takes a console silent for 60 s offline
STATES = {"ready": "ready", "pause": "not_ready", "offline": "offline"}
HELP = """\
  ready                      take calls
  pause <reason>             not ready, e.g. `pause lunch`
  offline                    stop taking calls
  call                       the screen pop of your current call
  hold / unhold              the caller hears music and you talk freely, then back
                             (a hotline that connects through conference rooms)
  rec-pause / rec-resume     pause the recording (a card number, a password), then resume
  consult <agent id>         warm transfer: hold the caller, ring that agent into the call
  consult-dept <department>  ... or a ready agent of that department
  consult-line <line name>   ... or a specialist line (hotline.yaml specialist_lines)
  complete / cancel          hand the caller to the consulted agent / back to the caller
  transfer <department> [notes...]       e.g. `transfer security card stolen`
  transfer-line <line name or +number> [notes...]   a specialist line of the hotline file
  wrapup <disposition> [notes...]        resolved, escalated, transferred, callback_needed,
                                         no_resolution
  status                     refresh;  help;  quit (you stay in your state: `offline` first)
  answer / busy / hangup     your phone: pick up a ringing call, refuse it, end the call
  Your phone is the stand-in's client:<your id> when `make run` serves it (on Twilio, your
  softphone). Without it, the caller's terminal phone plays your leg:
  `answer` to pick up and `end` to hang up."""

Poller = Callable[[Callable[[], None]], Callable[[], None]]  # given the tick, returns a stop


def specialist_lines(path: Path) -> dict[str, str]:
    """The specialist lines (name -> number) of the hotline file, if it can be read."""
    try:
        lines = yaml.safe_load(path.read_text(encoding="utf-8"))["specialist_lines"]
    except (OSError, yaml.YAMLError, LookupError, TypeError):
        return {}
    return {str(name): str(number) for name, number in lines.items()}


class Console:
    """The agent's console: commands, and the tick that beats and polls."""

    def __init__(
        self,
        api: Api,
        write: Write,
        lines: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api, self.write, self.lines, self.clock = api, write, lines or {}, clock
        self.lock = threading.Lock()
        self.state: str | None = None
        self.popped: str | None = None  # the call whose screen pop was shown
        self.beat_at: float | None = None
        self.down = False
        self.exit_code: int | None = None  # set when the token is refused
        self.phone: Softphone | None = None
        self.agent_id = ""  # known once the API answered
        # Who consults this agent on their current call, as last shown: until the API says the
        # consultation is over (completed: the caller is now theirs), the console asks each tick.
        self.consulted_by: str | None = None

    def call(self, method: str, path: str, body: Json | None = None) -> Json:
        """One API request; raises ApiError on an error answer, Unreachable."""
        return checked(self.api, method, path, body)

    def phone_lines(self, event: Json) -> list[str]:
        """What the phone shows for one of its events. A consulted agent's leg comes from the
        hotline's number, but they talk with the agent who consults them: the call says who."""
        if event["kind"] == "connected":
            consulting = self._consulted_by()
            if consulting:
                return [
                    f"  [talking with {consulting}, who consults you (the caller is on hold): "
                    "`hangup` to leave the call]"
                ]
        return ring_lines(event)

    def _consulted_by(self) -> str | None:
        """The agent consulting this one on their current call, if any (asked on the phone's thread)."""
        with self.lock:
            try:
                pop = self.call("GET", "/agent/call")
            except (ApiError, Unreachable):
                return None
        who = pop.get("consulted_by") if self.agent_id and pop.get("consulting") == self.agent_id else None
        if who:
            self.consulted_by = who
        return who

    def show_state(self, me: Json) -> None:
        """One line: the agent's state and since when."""
        why = f" ({me['reason']})" if me.get("reason") else ""
        self.write(f"[{me['id']} {me['name']}] {me['state']}{why} for {duration(me['seconds_in_state'])}")

    def guarded(self, action: Callable[[], None], quiet: bool = False) -> None:
        """Run `action` (under the lock) and say what went wrong; `quiet`: "does not answer" once."""
        with self.lock:
            try:
                action()
                if self.down:
                    self.write("the hotline answers again")
                self.down = False
            except Unreachable:
                if not (quiet and self.down):
                    self.write(not_answering(self.api.url))
                self.down = True
            except ApiError as exc:
                self.write(str(exc))
                if exc.status == 401:  # revoked meanwhile (a wrong role is refused at start)
                    self.write("the console stops (press Enter): get an agent token, see README")
                    self.exit_code = 2

    def tick(self, force: bool = False) -> None:
        """Beat when due, read the state; show a change, and the screen pop of a new call."""
        self.guarded(lambda: self._poll(force), quiet=True)

    def _poll(self, force: bool) -> None:
        """The tick's requests (the lock held)."""
        if self.beat_at is None or self.clock() - self.beat_at >= HEARTBEAT_SECONDS:
            self.call("POST", "/agent/heartbeat")
            self.beat_at = self.clock()
        me = self.call("GET", "/agent/me")
        if force or me["state"] != self.state:
            self.show_state(me)
        self.state = me["state"]
        if me["state"] in ("ringing", "on_call") and me["call"] != self.popped:
            self.popped = me["call"]
            self.write(f"** {'RINGING' if me['state'] == 'ringing' else 'ON A CALL'}: screen pop **")
            pop = self.call("GET", "/agent/call")
            self.consulted_by = pop.get("consulted_by") if pop.get("consulting") == me["id"] else None
            for line in screen_pop(pop, me["id"]):
                self.write(line)
        elif self.consulted_by and me["state"] == "on_call" and me["call"] == self.popped:
            self._consultation_over(me)
        elif me["state"] != "on_call" or me["call"] != self.popped:
            self.consulted_by = None  # declined, cancelled or over: the state line said so

    def _consultation_over(self, me: Json) -> None:
        """The consulted agent still on the call: once the consultation is over, they have the caller."""
        pop = self.call("GET", "/agent/call")
        if pop.get("consulting") == me["id"]:
            return
        self.write(f"** {self.consulted_by} handed the caller to you: you talk with the caller now **")
        self.consulted_by = None
        for line in screen_pop(pop, me["id"]):
            self.write(line)

    def do(self, line: str) -> None:
        """Run one command line."""
        word, _, rest = line.strip().partition(" ")
        arg, _, notes = rest.strip().partition(" ")
        self.guarded(lambda: self._do(word, rest.strip(), arg, notes.strip()))

    def _do(self, word: str, rest: str, arg: str, notes: str) -> None:
        """Run a command (the lock held); API errors propagate."""
        if word in ("ready", "pause", "offline"):
            reason = rest if word == "pause" else ""
            done = self.call("PUT", "/agent/state", {"state": STATES[word], "reason": reason})
            self.state = done["state"]
            self.write(f"now {done['state']}{f' ({reason})' if reason else ''} (was {done['previous']})")
        elif word == "call":
            for text in screen_pop(self.call("GET", "/agent/call")):
                self.write(text)
        elif word in ("hold", "unhold"):
            done = self.call("POST", "/agent/call/hold", {"hold": word == "hold"})
            where = "on hold (they hear music)" if done["on_hold"] else "back with you"
            self.write(f"call {groups(done['ref'])}: the caller is {where}")
        elif word in ("rec-pause", "rec-resume"):
            done = self.call("POST", "/agent/call/recording", {"paused": word == "rec-pause"})
            self.write(f"call {groups(done['ref'])}: recording {done['recording']}")
        elif word in ("consult", "consult-dept", "consult-line") and arg:
            field = {"consult": "agent", "consult-dept": "department", "consult-line": "line"}[word]
            done = self.call("POST", "/agent/call/consult", {field: arg})
            self.write(f"call {groups(done['ref'])}: the caller is on hold, {done['agent']}'s phone rings")
        elif word in ("complete", "cancel"):
            done = self.call("POST", f"/agent/call/consult/{word}")
            if done["state"] == "completed":
                self.write(f"call {groups(done['ref'])} handed to {done['agent']}: file the wrap-up")
            else:
                self.write(f"consultation with {done['agent']} ended: the caller is back with you")
        elif word == "transfer" and arg:
            done = self.call("POST", "/agent/call/transfer", {"department": arg, "notes": notes})
            self._transferred(done, arg)
        elif word == "transfer-line" and arg:
            number = self.lines.get(arg, arg)
            if not number.startswith("+"):
                known = ", ".join(f"{name} {num}" for name, num in self.lines.items()) or "none known here"
                self.write(f"no specialist line {arg!r}: give its number (+86...); lines: {known}")
                return
            done = self.call("POST", "/agent/call/transfer", {"number": number, "notes": notes})
            self._transferred(done, f"{arg} ({number})" if number != arg else number)
        elif word == "wrapup" and arg:
            done = self.call("POST", "/agent/call/wrapup", {"disposition": arg, "notes": notes})
            # The agent's own notes: every wrap-up is kept in the call's notes, words or not, so
            # the call's count would say "1 note" of a wrap-up filed without a word.
            count = done["your_notes"]
            mine = f"{count or 'no'} note{'' if count == 1 else 's'} from you"
            filed = f"{done['disposition']} ({mine})"
            self.write(f"call {groups(done['ref'])} wrapped up: {filed}")
        elif word in ("answer", "busy", "hangup"):
            if self.phone is None:
                self.write("no phone here: the caller's terminal phone plays your leg (`answer`, `end`)")
            else:
                self.write(self.phone.act(word))
        elif word == "status":
            self.show_state(self.call("GET", "/agent/me"))
        elif word == "help":
            self.write(HELP)
        elif word:
            self.write(f"`{word}` needs more, or is not a command (type `help`)")

    def _transferred(self, done: Json, where: str) -> None:
        """Say where the caller went, and what happens next."""
        moved = "now" if done["redirected"] else "when you hang up"
        self.write(f"call {groups(done['ref'])} transferred to {where}: the caller moves {moved}")
        self.write(f"you are {done['agent_state']}: file the wrap-up with `wrapup <disposition> [notes]`")
        self.state = done["agent_state"]


def background(every: float = POLL_SECONDS) -> Poller:
    """A poller that runs the console's tick every `every` seconds on a daemon thread."""

    def start(tick: Callable[[], None]) -> Callable[[], None]:
        """Start ticking; returns the function that stops it."""
        stop = threading.Event()

        def loop() -> None:
            """Tick until stopped."""
            while not stop.wait(every):
                tick()

        threading.Thread(target=loop, name="console-poll", daemon=True).start()
        return stop.set

    return start


def run(
    api: Api,
    read_line: Callable[[], str | None],
    write: Write,
    poll: Poller | None = None,
    lines: dict[str, str] | None = None,
    phone: Softphone | None = None,
) -> int:
    """Run the console with lines from `read_line` (None: end of input) until `quit`.

    `poll` is given the tick (beat, read the state, pop a new call) and starts calling it; it
    returns a function that stops it. Returns 0, or 2 when the token is refused or the hotline
    does not answer at start.
    """
    console = Console(api, write, lines)
    try:
        me = console.call("GET", "/agent/me")
    except Unreachable:
        write(not_answering(api.url))
        return 2
    except ApiError as exc:
        write(f"{exc}\nget an agent token with `flask --app wsgi tokens issue agent <agent id>`")
        return 2
    write(f"agent console for {me['name']} ({me['id']}) at {api.url}; type `help`")
    console.agent_id = me["id"]
    if phone is not None:
        phone.lines_of = console.phone_lines
        if phone.start(me["id"], write):
            console.phone = phone
    console.tick(force=True)
    stop = (poll or background())(console.tick)
    try:
        command_loop(read_line, console.do, lambda: console.exit_code is None)
    finally:
        stop()
        if console.phone is not None:
            console.phone.close()
    return console.exit_code or 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the console on this terminal against the hotline over HTTP."""
    env = {**LOCAL_DEFAULTS, **os.environ}
    local = f"http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '5000')}"
    parser = argparse.ArgumentParser(prog="python -m hotline_tools.console", description=__doc__)
    parser.add_argument(
        "--token", required=True, help="the agent's (or supervisor's) token (`flask --app wsgi tokens issue`)"
    )
    parser.add_argument(
        "--supervisor",
        metavar="ID",
        default="",
        help="a supervisor's console (phone client:ID)",
    )
    parser.add_argument("--url", default=env.get("PUBLIC_BASE_URL", local), help="the hotline")
    parser.add_argument("--standin", default=standin_url(env), help="the stand-in for Twilio (your phone)")
    parser.add_argument("--client", default="", help="the phone's identity (client:<this>; the agent id)")
    parser.add_argument("--no-phone", action="store_true", help="do not register a phone")
    args = parser.parse_args(argv)
    lines = specialist_lines(Path(env.get("HOTLINE_CONFIG", DEFAULT_HOTLINE_CONFIG)))
    control = Control(args.standin, env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
    phone = None if args.no_phone else Softphone(control, args.client or args.supervisor)
    write = lambda text: print(text, flush=True)  # noqa: E731
    if args.supervisor:
        return run_supervisor(HttpApi(args.url, args.token), read_line, write, args.supervisor, phone)
    return run(HttpApi(args.url, args.token), read_line, write, lines=lines, phone=phone)


if __name__ == "__main__":
    sys.exit(main())
