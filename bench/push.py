"""The live push: how many pages one web process streams to, how fast, at what Redis cost.

`python -m bench.push` (or `make push-bench`) starts one gunicorn web process (gthread, as the
Procfile runs it) on an embedded Redis of its own, opens wallboards and agent desktops as a
browser does (a session from the sign-in form, then the page's event stream) and, for each
count of open boards, interleaved and repeated:

- **latency**: a supervisor sets an agent's state through the API; the time until each open
  board has received a snapshot showing it (p50, p95, max over boards and changes), and until
  that agent's own desktop (one open per agent) has;
- **Redis load**: commands the Redis server executed per second (INFO) while the boards are open
  and one change a second happens, against the same count of boards **polling**
  `/api/supervisor/queues` and `/agents` once a second (the peer, measured beside it);
- **capacity**: a process streams to at most `HOTLINE_PUSH_STREAMS` pages; the next is refused
  with 503 and Retry-After (counted), while the webhooks and the API still answer.

The table it prints is the one in docs/push-benchmark.md. Ports: `--port` (default 8600) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from ivr.api.auth import issue_token
from ivr.store import embedded_redis, stop_embedded_redis
from ivr.web.live import KEEPALIVE_SECONDS

ACCOUNT_SID, AUTH_TOKEN = "AC" + "0" * 32, "local-development-token"
AGENTS = ("li_na", "wang_wei", "emma_chen")
_last_state: dict[str, str] = {}


def next_change(i: int) -> tuple[str, str]:
    """The i-th change: an agent, and the state they are not in (every change shows)."""
    agent = AGENTS[i % len(AGENTS)]
    state = "not_ready" if _last_state.get(agent) == "ready" else "ready"
    _last_state[agent] = state
    return agent, state


@dataclass
class Board:
    """One open wallboard stream, reading snapshots on its own thread."""

    url: str
    cookies: dict[str, str]
    seen: list[tuple[float, str]] = field(default_factory=list)  # (when, the snapshot's text)
    status: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        """Read the stream off a plain socket, as it arrives (an HTTP client library may buffer)."""
        host, _, rest = self.url.removeprefix("http://").partition("/")
        name, _, port = host.partition(":")
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        with socket.create_connection((name, int(port or 80)), timeout=30) as sock:
            self.sock = sock
            sock.sendall(f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode())
            pending = b""
            while not self.stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except OSError:  # closed by `close()`, or the server went away
                    return
                if not chunk:
                    return
                now = time.monotonic()
                pending += chunk
                if not self.status:
                    head, sep, pending = pending.partition(b"\r\n\r\n")
                    self.status = int(head.split(b" ", 2)[1]) if sep else 0
                *events, pending = pending.split(b"\n\n")
                for event in events:  # (chunked encoding's size lines are lines of their own)
                    for line in event.decode(errors="replace").splitlines():
                        if line.startswith("data: "):
                            self.seen.append((now, line))

    def close(self) -> None:
        """Leave the page: the server sees the connection end at once."""
        self.stop.set()
        sock = getattr(self, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def first_showing(self, pattern: str, after: float) -> float | None:
        """When the board first received a snapshot matching `pattern` after `after`."""
        for when, text in list(self.seen):
            if when >= after and re.search(pattern, text):
                return when
        return None


def sign_in(base: str, token: str, page: str) -> dict[str, str]:
    """A browser's session: the page's form, its CSRF token, the token posted once."""
    session = requests.Session()
    form = session.get(f"{base}/{page}", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, "no sign-in form"
    role = "agent" if page == "agent" else "supervisor"
    session.post(
        f"{base}/signin", data={"token": token, "role": role, "csrf_token": csrf.group(1)}, timeout=10
    )
    return session.cookies.get_dict()


def commands(conn: redis.Redis) -> int:
    """Commands the server has executed so far."""
    return int(conn.info("stats")["total_commands_processed"])


def set_state(base: str, supervisor: str, agent: str, state: str) -> None:
    body = {"state": state, **({"reason": "bench"} if state == "not_ready" else {})}
    resp = requests.put(
        f"{base}/api/supervisor/agents/{agent}/state",
        json=body,
        headers={"Authorization": f"Bearer {supervisor}"},
        timeout=10,
    )
    resp.raise_for_status()


def push_round(
    base: str,
    conn: redis.Redis,
    cookies: dict[str, str],
    supervisor: str,
    boards: int,
    changes: int,
    desks: dict[str, dict[str, str]],
) -> dict[str, float]:
    """`boards` open wallboards and one desktop per agent of `desks` (agent -> session cookies),
    `changes` state changes: the boards' and the changed agent's desktop's latencies, Redis load."""
    open_boards = [Board(f"{base}/live/wallboard", cookies) for _ in range(boards)]
    open_desks = {agent: Board(f"{base}/live/agent", jar) for agent, jar in desks.items()}
    for board in [*open_boards, *open_desks.values()]:
        board.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(b.seen for b in [*open_boards, *open_desks.values()]):
        time.sleep(0.05)
    latencies: list[float] = []
    desk_latencies: list[float] = []
    before, started = commands(conn), time.monotonic()
    for i in range(changes):
        agent, state = next_change(i)
        at = time.monotonic()
        set_state(base, supervisor, agent, state)
        pattern = rf'"id": "{agent}"[^}}]*?"state": "{state}"'
        desk = open_desks.get(agent)
        wait_until = at + 10
        while time.monotonic() < wait_until:
            got = [b.first_showing(pattern, at) for b in open_boards]
            popped = desk.first_showing(pattern, at) if desk is not None else at
            if all(g is not None for g in got) and popped is not None:
                latencies += [g - at for g in got if g is not None]
                if desk is not None:
                    desk_latencies.append(popped - at)
                break
            time.sleep(0.01)
        time.sleep(max(0.0, at + 1.0 - time.monotonic()))  # one change a second
    elapsed = time.monotonic() - started
    load = (commands(conn) - before) / elapsed
    for board in [*open_boards, *open_desks.values()]:
        board.close()
    latencies.sort()
    desk_latencies.sort()
    return {
        "load": load,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "desk_p50": statistics.median(desk_latencies) if desk_latencies else float("nan"),
        "desk_max": desk_latencies[-1] if desk_latencies else float("nan"),
        "missed": changes * boards - len(latencies) + (changes if desks else 0) - len(desk_latencies),
    }


def poll_round(base: str, conn: redis.Redis, supervisor: str, boards: int, changes: int) -> dict[str, float]:
    """The peer: `boards` pages polling the supervisor API once a second, same changes."""
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {supervisor}"}

    def poll() -> None:
        with requests.Session() as s:
            while not stop.is_set():
                s.get(f"{base}/api/supervisor/queues", headers=headers, timeout=10)
                s.get(f"{base}/api/supervisor/agents", headers=headers, timeout=10)
                stop.wait(1.0)

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(boards)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    before, started = commands(conn), time.monotonic()
    for i in range(changes):
        at = time.monotonic()
        set_state(base, supervisor, *next_change(i))
        time.sleep(max(0.0, at + 1.0 - time.monotonic()))
    load = (commands(conn) - before) / (time.monotonic() - started)
    stop.set()
    for thread in threads:
        thread.join()
    return {"load": load}


def capacity(base: str, cookies: dict[str, str], limit: int) -> tuple[int, int, int]:
    """Open `limit + 5` boards: how many stream, how many are refused, and a webhook's status meanwhile."""
    boards = [Board(f"{base}/live/wallboard", cookies) for _ in range(limit + 5)]
    for board in boards:
        board.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(b.status for b in boards):
        time.sleep(0.05)
    health = requests.get(f"{base}/healthz", timeout=10).status_code
    for board in boards:
        board.close()
    return sum(b.status == 200 for b in boards), sum(b.status == 503 for b in boards), health


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.push", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8600, help="the web process's port (default 8600)")
    parser.add_argument(
        "--boards", type=int, nargs="+", default=[1, 10, 40], help="open boards, a row a count (1 10 40)"
    )
    parser.add_argument("--changes", type=int, default=10, help="state changes per round (one a second)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of each row, interleaved (2)")
    parser.add_argument("--streams", type=int, default=48, help="HOTLINE_PUSH_STREAMS of the process")
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="hotline-push-bench-"))
    server = embedded_redis(data_dir)
    base = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9",  # nothing here calls Twilio
        "REDIS_URL": server.url,
        "HOTLINE_PUSH_STREAMS": str(args.streams),
    }
    threads = str(args.streams + 8)
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", threads, "--timeout", "20",
         "--no-control-socket", "--bind", f"127.0.0.1:{args.port}", "wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        conn = redis.Redis.from_url(server.url, decode_responses=True)
        supervisor = issue_token(conn, "supervisor", "bench")
        cookies = sign_in(base, supervisor, "wallboard")
        # Each agent's desktop open too (the agents whose states change): signed in with their tokens.
        desks = {agent: sign_in(base, issue_token(conn, "agent", agent), "agent") for agent in AGENTS}
        rows: dict[tuple[str, int], list[dict[str, float]]] = {}
        for _ in range(args.repeat):  # interleaved: push and poll, each count, in turn
            for boards in args.boards:
                rows.setdefault(("push", boards), []).append(
                    push_round(base, conn, cookies, supervisor, boards, args.changes, desks)
                )
                rows.setdefault(("poll", boards), []).append(
                    poll_round(base, conn, supervisor, boards, args.changes)
                )
        time.sleep(KEEPALIVE_SECONDS + 1)  # the last round's closed pages are freed by their next write
        streaming, refused, health = capacity(base, cookies, args.streams)
    finally:
        web.terminate()
        web.wait(timeout=30)
        stop_embedded_redis(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"one web process (gunicorn gthread, {threads} threads); {args.changes} agent state changes")
    print(f"a round, one a second; {args.repeat} rounds per row, interleaved. Redis commands/s over")
    print("the round, the changes' own included.\n")
    print(f"Each agent's desktop is open too ({len(AGENTS)}); 'desk' is the changed agent's own page.\n")
    print("| boards | push: Redis cmd/s | poll 1/s: Redis cmd/s | board latency p50 / p95 / max (s) ", end="")
    print("| desk latency p50 / max (s) | missed |")
    print("|---:|---:|---:|---|---|---:|")
    base_push = statistics.median(r["load"] for r in rows[("push", args.boards[0])])
    for boards in args.boards:
        push, poll = rows[("push", boards)], rows[("poll", boards)]
        load = statistics.median(r["load"] for r in push)
        polled = statistics.median(r["load"] for r in poll)
        p50 = statistics.median(r["p50"] for r in push)
        p95 = max(r["p95"] for r in push)
        worst = max(r["max"] for r in push)
        missed = sum(int(r["missed"]) for r in push)
        desk = (
            f"{statistics.median(r['desk_p50'] for r in push):.3f} / {max(r['desk_max'] for r in push):.3f}"
        )
        board = f"{p50:.3f} / {p95:.3f} / {worst:.3f}"
        print(f"| {boards} | {load:.0f} | {polled:.0f} | {board} | {desk} | {missed} |")
    last = args.boards[-1]
    if last > args.boards[0]:
        per_board = (statistics.median(r["load"] for r in rows[("push", last)]) - base_push) / (
            last - args.boards[0]
        )
        print(f"\nadded Redis commands/s per open board (push, {args.boards[0]} -> {last}): {per_board:.2f}")
    print(
        f"capacity: HOTLINE_PUSH_STREAMS={args.streams}: {streaming} of {args.streams + 5} boards streamed, "
        f"{refused} refused with 503; /healthz meanwhile: {health}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
