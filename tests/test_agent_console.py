"""The terminal agent console (`make console`) against the real app: it polls the agent's state
and pops the screen of a ringing call, transfers it, files the wrap-up, and says what went wrong
in plain words. Every answer the console gets is checked against the OpenAPI document.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from hotline_tools.agent_api import HttpApi
from hotline_tools.console import Console, main, run, specialist_lines
from hotline_tools.screenpop import groups, screen_pop
from ivr import keys
from ivr.settings import DEFAULT_HOTLINE_CONFIG
from standin.phone import Call
from tests.conftest import DEMO_ACCOUNT, waiting_in
from tests.test_api import Api, connect, payments_caller, token_for


class ClientApi:
    """The console's API client over the Flask test client (answers checked against the document)."""

    url = "http://testserver"

    def __init__(self, app: Flask, token: str) -> None:
        self.api, self.token = Api(app), token
        self.sent: list[str] = []

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Send one request through the test client."""
        self.sent.append(f"{method} {path}")
        resp = self.api.call(method, f"/api{path}", self.token, json=body)
        return resp.status_code, resp.get_json()


class Session:
    """A console run driven by a script: lines to type, and what to do between them."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.ticks: list[Callable[[], None]] = []

    def poll(self, tick: Callable[[], None]) -> Callable[[], None]:
        """A poller that ticks only when the test says so."""
        self.ticks.append(tick)
        return lambda: None

    def text(self, mark: int = 0) -> str:
        """What the console printed (since `mark`)."""
        return "\n".join(self.out[mark:])

    def run(self, api: Any, script: Iterator[str], lines: dict[str, str] | None = None) -> int:
        """Run the console on the script's lines."""
        return run(api, lambda: next(script, None), self.out.append, poll=self.poll, lines=lines)


def typed(steps: list[tuple[str, Callable[[], None]]]) -> Callable[[], str | None]:
    """A console's keyboard for a script of `(line, then)`: each line is typed, and `then` runs
    once the console has run it, before the next line; None at the end."""
    pending: list[Callable[[], None]] = []

    def read_line() -> str | None:
        while pending:
            pending.pop()()
        if not steps:
            return None
        line, then = steps.pop(0)
        pending.append(then)
        return line

    return read_line


def test_ready_screen_pop_transfer_and_wrap_up(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """A caller matched while the console is idle pops up; transfer and wrap-up go through the API."""
    session, api = Session(), ClientApi(app, token_for(app, "agent", "li_na"))
    caller: Call | None = None

    def script() -> Iterator[str]:
        nonlocal caller
        yield "transfer security nothing to transfer"
        assert "not possible now: agent is offline: no call to transfer" in session.text()
        yield "ready"
        assert "now ready (was offline)" in session.text()
        caller = payments_caller(dial)
        run_jobs()  # the matcher reserves li_na and rings her
        caller.continue_loop()
        assert caller.state == "dialing"
        mark = len(session.out)
        session.ticks[0]()  # the console's poll, no command typed
        ref = redis_conn.hget(keys.call(caller.call_sid), "ref")
        pop = session.text(mark)
        assert "RINGING: screen pop" in pop and f"call {groups(ref)}" in pop
        assert "******0017  verified by caller ID" in pop and DEMO_ACCOUNT not in pop
        assert "topup_failed  in payments" in pop and "language  zh-CN" in pop
        assert "calls from this number in the last 7 days: 0" in pop
        caller.answer()  # the agent picks up on her phone (the terminal phone's `answer`)
        mark = len(session.out)
        session.ticks[0]()
        assert "on_call" in session.text(mark) and "screen pop" not in session.text(mark)  # shown once
        yield "transfer security some notes"
        assert caller.call_sid in waiting_in(redis_conn, "security")
        assert f"call {groups(ref)} transferred to security" in session.text()
        yield "call"
        assert "note (transfer -> security, li_na): some notes" in session.text()
        yield "wrapup resolved fixed it"
        assert "wrapped up: resolved (2 notes from you)" in session.text()  # the transfer's and this
        yield "quit"

    assert session.run(api, script()) == 0
    assert caller is not None
    record = redis_conn.hgetall(keys.call(caller.call_sid))
    assert (record["disposition"], record["disposition_by"]) == ("resolved", "li_na")
    assert redis_conn.zscore(keys.agent_heartbeats(), "li_na") is not None


def test_errors_are_shown_in_words(app: Flask) -> None:
    """A missing reason, no call, an unknown command: said plainly, and the console goes on."""
    session, api = Session(), ClientApi(app, token_for(app, "agent", "li_na"))
    typed = [
        "pause",
        "call",
        "wrapup resolved",
        "transfer-line nowhere",
        "transfer-line cross_border_refunds",
    ]
    lines = specialist_lines(DEFAULT_HOTLINE_CONFIG)
    assert lines["cross_border_refunds"] == "+862150001234"
    assert session.run(api, iter([*typed, "transfer-line +86123", "dance", "status", "help"]), lines) == 0
    text = session.text()
    assert "not accepted: reason: say why the agent is not ready" in text
    assert "nothing there: no current call (agent is offline)" in text
    assert "nothing there: no call to wrap up" in text
    assert (
        "no specialist line 'nowhere': give its number (+86...); lines: cross_border_refunds +862150001234"
        in text
    )
    assert "not possible now: agent is offline: no call to transfer" in text  # the name was dialable
    assert "not accepted: number: '+86123' is not a valid phone number" in text
    assert "`dance` needs more, or is not a command" in text
    assert "[li_na 李娜] offline" in text and "`answer` to pick up and `end` to hang up" in text


def test_heartbeat_every_fifteen_seconds() -> None:
    """The tick beats when 15 s have passed since the last beat, and reads the state each time."""
    now = [0.0]
    sent: list[str] = []

    class Fake:
        url = "http://fake"

        def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
            sent.append(path)
            me = {"id": "li_na", "name": "李娜", "state": "ready", "reason": "", "seconds_in_state": 1}
            return 200, {**me, "call": None} if path == "/agent/me" else {"state": "ready"}

    console = Console(Fake(), lambda text: None, clock=lambda: now[0])
    for at in (0, 5, 14.9, 15, 20, 30):
        now[0] = at
        console.tick()
    assert sent.count("/agent/heartbeat") == 3 and sent.count("/agent/me") == 6


@pytest.mark.parametrize(
    ("notes", "said"),
    [(0, "(no notes from you)"), (1, "(1 note from you)"), (2, "(2 notes from you)")],
)
def test_the_wrap_up_counts_its_notes_in_words(notes: int, said: str) -> None:
    """One note is "1 note", not "1 notes"; the count is the agent's own, not the call's."""

    class Fake:
        url = "http://fake"

        def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
            return 200, {"ref": "261124000017", "disposition": "resolved", "notes": 3, "your_notes": notes}

    out: list[str] = []
    Console(Fake(), out.append).do("wrapup resolved fixed it")
    assert out == [f"call 2611 2400 0017 wrapped up: resolved {said}"]


def test_a_wrap_up_filed_without_words_is_not_called_a_note(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """`wrapup resolved` alone files the disposition, and the console does not tell the agent of a
    note they never wrote (the call keeps the wrap-up in its notes all the same)."""
    token = token_for(app, "agent", "li_na")
    connect(Api(app), token, payments_caller(dial), run_jobs)
    session = Session()
    keyboard = iter(["wrapup resolved", "wrapup resolved refund traced", "quit"])
    assert session.run(ClientApi(app, token), keyboard) == 0
    said = [line.split(": ", 1)[1] for line in session.out if "wrapped up" in line]
    assert said == ["resolved (no notes from you)", "resolved (1 note from you)"]


def test_bad_token_exits_2(app: Flask) -> None:
    """An unknown token, or a supervisor's: exit 2 with a clear message."""
    session = Session()
    assert session.run(ClientApi(app, "not-a-token"), iter(["ready"])) == 2
    assert "the token was refused: unknown or revoked token" in session.text()
    assert "tokens issue agent" in session.text()
    session = Session()
    assert session.run(ClientApi(app, token_for(app, "supervisor", "duty")), iter([])) == 2
    assert "not allowed: this needs the agent role" in session.text()
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2  # --token is required


def test_an_unreachable_hotline_says_to_start_it() -> None:
    """Nothing listens at the URL: the console says to run `make run`, exit 2."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = Session()
    assert session.run(HttpApi(f"http://127.0.0.1:{port}", "token", timeout=2), iter([])) == 2
    assert f"does not answer at http://127.0.0.1:{port}: start it with `make run`" in session.text()


# A screen pop as the API answers it, of a verified Mandarin top-up caller talking with an agent.
TALKING_POP: dict[str, Any] = {
    "ref": "261124000017",
    "status": "connected",
    "verification": "caller_id",
    "verified": True,
    "account": DEMO_ACCOUNT,
    "issue": "topup_failed",
    "department": "payments",
    "priority": 2,
    "language": "zh-CN",
    "waited_seconds": 40,
    "previous_calls_7d": 0,
    "notes": [],
}


def test_a_wrap_up_without_words_shows_its_disposition_not_an_empty_note() -> None:
    """The next agent's screen pop of a transferred call names the first agent's wrap-up."""
    pop = {
        **TALKING_POP,
        "issue": "card_stolen",
        "department": "security",
        "priority": 1,
        "notes": [
            {"kind": "transfer", "to": "security", "agent": "li_na", "text": "card stolen"},
            {"kind": "wrapup", "disposition": "transferred", "agent": "li_na", "text": ""},
        ],
    }
    lines = screen_pop(pop)
    assert "  note (transfer -> security, li_na): card stolen" in lines
    assert "  note (wrapup: transferred, li_na)" in lines


def test_the_consulted_agent_is_not_told_to_take_back_a_caller_they_do_not_hold() -> None:
    """During a warm transfer the same call pops on both consoles: each gets its own hints."""
    pop = {
        **TALKING_POP,
        "on_hold": True,
        "consulting": "wang_wei",
        "consult_state": "ringing",
    }
    first = "\n".join(screen_pop(pop, "li_na"))
    assert "`unhold` to take them back" in first and "CONSULTING wang_wei (ringing)" in first
    consulted = "\n".join(screen_pop(pop, "wang_wei"))
    assert "unhold" not in consulted and "`complete` or `cancel`" not in consulted
    assert "CONSULTED: the agent on this call asks you about it" in consulted
