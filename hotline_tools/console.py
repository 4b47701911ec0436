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
from typing import Any, Protocol

import requests
import yaml

from hotline_tools.launcher import LOCAL_DEFAULTS, standin_url
from ivr.settings import DEFAULT_HOTLINE_CONFIG
from standin.control import Control, ControlError

__all__ = ["Console", "HttpApi", "Softphone", "Unreachable", "background", "main", "run"]

POLL_SECONDS = 1.5
HEARTBEAT_SECONDS = 15.0  # the hotline takes a console silent for 60 s offline
STATES = {"ready": "ready", "pause": "not_ready", "offline": "offline"}
WORDS = {400: "not accepted", 403: "not allowed", 404: "nothing there", 409: "not possible now"}
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

Json = dict[str, Any]
Write = Callable[[str], None]
Poller = Callable[[Callable[[], None]], Callable[[], None]]  # given the tick, returns a stop


class Unreachable(Exception):
    """The hotline does not answer at all."""


class Api(Protocol):
    """How the console reaches the agent API: a method, a path under /api, a JSON body."""

    url: str

    def request(self, method: str, path: str, body: Json | None = None) -> tuple[int, Json]:
        """Send one request; the status and the JSON answer. Raises Unreachable."""
        ...


class HttpApi:
    """The agent API over HTTP, with the agent's bearer token."""

    def __init__(self, url: str, token: str, timeout: float = 5.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body: Json | None = None) -> tuple[int, Json]:
        """Send one request; the status and the JSON answer. Raises Unreachable."""
        try:
            resp = self.session.request(method, f"{self.url}/api{path}", json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unreachable(str(exc)) from exc
        try:
            data = resp.json()
            assert isinstance(data, dict)
        except (ValueError, AssertionError):
            data = {"error": f"HTTP {resp.status_code} without the API's JSON: is this the hotline?"}
        return resp.status_code, data


class ApiError(Exception):
    """An error answer of the API, in plain words."""

    def __init__(self, status: int, body: Json) -> None:
        self.status = status
        words = WORDS.get(status, "the token was refused" if status == 401 else "the hotline failed")
        super().__init__(f"{words}: {body.get('error', '?')}")


def duration(seconds: int) -> str:
    """A time in words: 45 s, 3 min 5 s, 2 h 10 min."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def groups(ref: str, size: int = 4) -> str:
    """A reference number in groups, as it is read out: 2611 2400 0017."""
    return " ".join(ref[i : i + size] for i in range(0, len(ref), size))


def screen_pop(pop: Json, me: str = "") -> list[str]:
    """The lines of a call's screen pop, as agent `me` sees it (the consulted agent is not the one
    who holds the caller: the hints to take them back or end the consultation are not theirs)."""
    how = {"caller_id": " by caller ID", "second_factor": " by a second factor"}.get(pop["verification"], "")
    lines = [
        f"== call {groups(pop['ref'])} ({pop['status']}) ==",
        f"  account   {pop['account'] or '(none given)'}  "
        + (f"verified{how}" if pop["verified"] else "NOT verified"),
        f"  issue     {pop['issue'] or '-'}  in {pop['department'] or '-'}, priority {pop['priority']}",
        f"  language  {pop['language'] or '-'}",
        f"  waited    {duration(int(pop['waited_seconds']))}",
        f"  calls from this number in the last 7 days: {pop['previous_calls_7d']}",
    ]
    for note in pop["notes"]:
        where = f" -> {note['to']}" if note.get("to") else ""
        kind = f"{note['kind']}: {note['disposition']}" if note.get("disposition") else note["kind"]
        text = f": {note['text']}" if note.get("text") else ""  # a wrap-up may carry no words
        lines.append(f"  note ({kind}{where}, {note['agent']}){text}")
    if pop.get("disposition"):
        lines.append(f"  disposition: {pop['disposition']}")
    consulted = bool(me) and pop.get("consulting") == me
    if pop.get("on_hold") and not consulted:
        lines.append("  ON HOLD: the caller hears music (`unhold` to take them back)")
    if pop.get("supervisor"):
        heard = {
            "listen": "listening, muted",
            "coach": "coaching: only you hear them",
            "barge": "heard by both",
        }
        lines.append(
            f"  SUPERVISOR {pop['supervisor']} on the call ({heard.get(pop['supervisor_mode'], '')})"
        )
    if pop.get("recording"):
        lines.append(f"  recording {pop['recording']}")
    if pop.get("recording_declined"):
        lines.append("  NOT RECORDED: the caller declined the recording")
    if consulted:
        lines.append("  CONSULTED: the agent on this call asks you about it; the caller is on hold")
    elif pop.get("consulting"):
        lines.append(f"  CONSULTING {pop['consulting']} ({pop['consult_state']}): `complete` or `cancel`")
    return lines


def specialist_lines(path: Path) -> dict[str, str]:
    """The specialist lines (name -> number) of the hotline file, if it can be read."""
    try:
        lines = yaml.safe_load(path.read_text(encoding="utf-8"))["specialist_lines"]
    except (OSError, yaml.YAMLError, LookupError, TypeError):
        return {}
    return {str(name): str(number) for name, number in lines.items()}


class Softphone:
    """The agent's phone on the stand-in for Twilio: registered as ``client:<identity>``."""

    def __init__(self, control: Control, identity: str = "") -> None:
        self.control, self.identity = control, identity
        self.stop = threading.Event()
        self.lines_of: Callable[[Json], list[str]] = ring_lines  # the console's, once it runs

    def start(self, identity: str, write: Write) -> bool:
        """Register and print rings as they come; False when no stand-in answers."""
        self.identity = self.identity or identity
        try:
            after = self.control.register(self.identity)
        except ControlError as exc:
            write(f"(no phone here: {exc}; the caller's `make call` plays your leg)")
            return False
        write(f"your phone is client:{self.identity} on the stand-in at {self.control.url}")
        threading.Thread(target=self._listen, args=(after, write), name="softphone", daemon=True).start()
        return True

    def _listen(self, after: int, write: Write) -> None:
        """Print the phone's events until stopped."""
        while not self.stop.is_set():
            try:
                events = self.control.client_events(self.identity, after, wait=10)["events"]
            except ControlError as exc:
                if exc.status == 404:  # the stand-in restarted: register again
                    self.control.register(self.identity)
                    after = 0
                self.stop.wait(2)
                continue
            for event in events:
                after = event["n"]
                for line in self.lines_of(event):
                    write(line)

    def act(self, kind: str) -> str:
        """Answer, refuse or hang up; what happened, in words."""
        try:
            self.control.client_act(self.identity, kind)
        except ControlError as exc:
            return f"{kind}: {exc}"
        return {"answer": "picking up...", "busy": "refused", "hangup": "hanging up..."}[kind]

    def close(self) -> None:
        """Stop being rung."""
        self.stop.set()
        try:
            self.control.unregister(self.identity)
        except ControlError:
            pass


def ring_lines(event: Json) -> list[str]:
    """What the agent's phone shows for one of its events."""
    kind = event["kind"]
    if kind == "ring":
        return [f"** PHONE RINGING: {event['caller']} (rings {event['timeout']} s): `answer` or `busy` **"]
    if kind == "whisper":
        return [f"  [whisper] {event['text']}"]
    if kind == "connected":
        return [f"  [talking with {event['caller']}: `hangup` to end the call]"]
    if kind == "missed":
        return ["** missed: nobody answered in time; the hotline takes you off ready **"]
    if kind == "call-ended":
        return [f"  [call ended: {event['why']}]"]
    return []


def checked(api: Api, method: str, path: str, body: Json | None = None) -> Json:
    """One API request's answer; raises ApiError on an error answer, Unreachable."""
    status, data = api.request(method, path, body)
    if status >= 400:
        raise ApiError(status, data)
    return data


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
        return pop.get("consulted_by") if self.agent_id and pop.get("consulting") == self.agent_id else None

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
                    self.write(f"the hotline does not answer at {self.api.url}: start it with `make run`")
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
            for line in screen_pop(self.call("GET", "/agent/call"), me["id"]):
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
            filed = f"{done['disposition']} ({done['notes']} notes)"
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
        write(f"the hotline does not answer at {api.url}: start it with `make run`")
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
        while console.exit_code is None:
            line = read_line()
            if line is None or line.strip() == "quit":
                break
            console.do(line)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        if console.phone is not None:
            console.phone.close()
    return console.exit_code or 0


def _read_line() -> str | None:
    """A line from the keyboard, or from a pipe (echoed so the transcript shows it)."""
    try:
        line = input("> ") if sys.stdin.isatty() else input()
    except EOFError:
        return None
    if not sys.stdin.isatty():
        print(f"> {line}", flush=True)
    return line


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the console on this terminal against the hotline over HTTP."""
    env = {**LOCAL_DEFAULTS, **os.environ}
    local = f"http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '5000')}"
    parser = argparse.ArgumentParser(prog="python -m hotline_tools.console", description=__doc__)
    parser.add_argument(
        "--token", required=True, help="the agent's (or supervisor's) token (`flask tokens issue`)"
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
        # Imported here: the supervisor's console is built on this module's phone and API.
        from hotline_tools.supervising import run_supervisor

        return run_supervisor(HttpApi(args.url, args.token), _read_line, write, args.supervisor, phone)
    return run(HttpApi(args.url, args.token), _read_line, write, lines=lines, phone=phone)


if __name__ == "__main__":
    sys.exit(main())
