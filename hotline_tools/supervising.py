"""The supervisor's side of the console (`make console ARGS="--supervisor ID --token ..."`).

A supervisor listens to a live call (muted), coaches its agent (heard by the agent only) or
barges in (heard by both), by the call's reference number, which the agent's screen pop shows;
the hotline rings the supervisor's phone into the call's room: with the stand-in for Twilio that
`make run` serves, this console is that phone (``client:<ID>``), so `answer` joins the call.
It also lists a call's recordings. Exit status: 0 on `quit`, 2 when the token is refused or the
hotline does not answer at start.
"""

from __future__ import annotations

from collections.abc import Callable

from hotline_tools.agent_api import Api, ApiError, Json, Unreachable, Write, checked, not_answering
from hotline_tools.keyboard import command_loop
from hotline_tools.screenpop import groups
from hotline_tools.softphone import Softphone

__all__ = ["SUPERVISOR_HELP", "SupervisorConsole", "run_supervisor"]

MODES = {
    "listen": "listening, muted",
    "coach": "coaching: only the agent hears you",
    "barge": "heard by both",
}
SUPERVISOR_HELP = """\
  listen <ref>      your phone rings into that call: you hear both, nobody hears you
  coach <ref>       ... the agent hears you, the caller does not
  barge <ref>       ... both hear you (on a call you are in: the mode changes, no new ring)
  leave <ref>       leave the call
  recordings <ref>  the call's recordings (sid, status, duration, URL)
  answer / hangup   your phone: pick up the ring into the call, leave it
  help;  quit
  <ref> is the call's reference number, as the agent's screen pop shows it (spaces allowed)."""


class SupervisorConsole:
    """Commands for a supervisor: monitor a call by its reference number, list its recordings."""

    def __init__(self, api: Api, write: Write, identity: str, phone: Softphone | None = None) -> None:
        self.api, self.write, self.identity, self.phone = api, write, identity, phone
        self.joined: set[str] = set()  # calls this supervisor was rung into and has not left

    def call(self, method: str, path: str, body: Json | None = None) -> Json:
        """One API request; raises ApiError on an error answer, Unreachable."""
        return checked(self.api, method, path, body)

    def do(self, line: str) -> None:
        """Run one command line and say what went wrong, if anything."""
        word, _, rest = line.strip().partition(" ")
        ref = "".join(rest.split())
        try:
            self._do(word, ref)
        except Unreachable:
            self.write(not_answering(self.api.url))
        except ApiError as exc:
            self.write(str(exc))

    def _do(self, word: str, ref: str) -> None:
        """Run a command; API errors propagate."""
        if word in MODES and ref:
            done = self.call(
                "POST", f"/supervisor/calls/{ref}/monitor", {"mode": word, "reach": f"client:{self.identity}"}
            )
            rang = done["ref"] not in self.joined
            how = "a new call rings your phone" if rang else "the mode changed, no new ring"
            self.joined.add(done["ref"])
            self.write(f"call {groups(done['ref'])}: {MODES[done['mode']]} ({how})")
        elif word == "leave" and ref:
            done = self.call("DELETE", f"/supervisor/calls/{ref}/monitor")
            self.joined.discard(done["ref"])
            self.write(f"call {groups(done['ref'])}: you left")
        elif word == "recordings" and ref:
            found = self.call("GET", f"/supervisor/calls/{ref}/recordings")
            if not found["recordings"]:
                self.write(f"call {groups(found['ref'])}: no recording")
            for rec in found["recordings"]:
                took = f"{rec['duration_seconds']} s" if rec["duration_seconds"] else "in progress"
                self.write(f"  {rec['sid']} {rec['status']} {took} {rec['url'] or ''}".rstrip())
        elif word in ("answer", "hangup"):
            self.write(self.phone.act(word) if self.phone else "no phone here (started with --no-phone)")
        elif word == "help":
            self.write(SUPERVISOR_HELP)
        elif word:
            self.write(f"`{word}` needs a reference number, or is not a command (type `help`)")


def run_supervisor(
    api: Api, read_line: Callable[[], str | None], write: Write, identity: str, phone: Softphone | None = None
) -> int:
    """Run the supervisor's console until `quit` or the end of input; 0, or 2 at a refused start."""
    try:
        status, data = api.request("GET", "/supervisor/queues")
    except Unreachable:
        write(not_answering(api.url))
        return 2
    if status >= 400:
        write(
            f"{ApiError(status, data)}\na supervisor's token: `flask --app wsgi tokens issue supervisor ID`"
        )
        return 2
    console = SupervisorConsole(api, write, identity)
    write(f"supervisor console for {identity} at {api.url}; type `help`")
    if phone is not None and phone.start(identity, write):
        console.phone = phone
    try:
        command_loop(read_line, console.do)
    finally:
        if console.phone is not None:
            console.phone.close()
    return 0
