"""`make run` (`python -m hotline_tools.launcher`) as an operator runs it: a subprocess on free ports.

A second launcher on taken ports (or on the same data) says why and exits 2, and the first one
keeps answering on its own Redis; a worker or an embedded Redis killed with SIGKILL is started
again and the hotline answers calls again; a scheduler lock left by a crash is released; a
simulated-clock run keeps its data apart; SIGTERM stops everything, and the Redis it started.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import requests
from rq import Worker
from rq.scheduler import RQScheduler

from hotline_tools.launcher import LOCAL_DEFAULTS
from hotline_tools.preflight import clear_stale_scheduler_locks
from ivr.api.auth import issue_token
from ivr.jobs import QUEUE_NAME
from ivr.store import embedded_redis, stop_embedded_redis
from standin.phone import Call
from standin.transport import HttpTransport

ROOT = Path(__file__).resolve().parent.parent


def _share_of(ports: range) -> range:
    """This process's part of the range: under pytest-xdist each worker probes ports of its own,
    so two workers never both find a port free and then both start a server on it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2:
        return ports
    size = len(ports) // count
    start = ports.start + int(worker[2:]) * size
    return range(start, start + size)


PORTS = _share_of(range(7310, 7400))  # this suite's range for servers it starts itself
STARTED = "Ctrl-C stops the hotline."
WAIT = 60.0  # a bound for what comes within seconds (a launcher's start, a restart)
_handed_out: set[int] = set()


def free_ports(count: int) -> list[int]:
    """Ports of the range nobody listens on (and not handed out before in this session)."""
    found = []
    for port in PORTS:
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        found.append(port)
        if len(found) == count:
            return found
    pytest.fail(f"no {count} free ports in {PORTS}")


class Launcher:
    """One `python -m hotline_tools.launcher` and everything it printed."""

    def __init__(self, data_dir: Path, port: int, standin_port: int, **extra: str) -> None:
        self.port, self.data_dir = port, data_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
        for name in ("REDIS_URL", "PUBLIC_BASE_URL", "HOST"):
            env.pop(name, None)
        env |= {"PORT": str(port), "STANDIN_PORT": str(standin_port), "HOTLINE_DATA_DIR": str(data_dir)}
        env |= {"PYTHONUNBUFFERED": "1", **extra}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hotline_tools.launcher"], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def text(self) -> str:
        """Everything printed so far."""
        with self.changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, after: int = 0) -> re.Match[str]:
        """The first line from number `after` on that matches `pattern`; fails if none comes."""
        deadline = time.monotonic() + WAIT
        with self.changed:
            while time.monotonic() < deadline:
                for line in self.lines[after:]:
                    found = re.search(pattern, line)
                    if found:
                        return found
                if self.process.poll() is not None and not self.changed.wait(0.5):
                    break
                self.changed.wait(0.5)
        pytest.fail(f"no line matching {pattern!r}; the launcher printed:\n{self.text()[-3000:]}")

    def exit_code(self) -> int:
        """Wait for the launcher to end by itself."""
        return self.process.wait(timeout=WAIT)

    def stop(self) -> int:
        """SIGTERM, as an operator's Ctrl-C or a service manager; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture
def launchers() -> Iterator[list[Launcher]]:
    """Launchers started by a test, stopped after it whatever happened."""
    started: list[Launcher] = []
    yield started
    for launcher in started:
        launcher.stop()
    for launcher in started:
        stop_embedded_redis(launcher.data_dir)  # a Redis left by a launcher that failed a test


def launch(started: list[Launcher], data_dir: Path, ports: list[int] | None = None, **extra: str) -> Launcher:
    port, standin_port = ports or free_ports(2)
    launcher = Launcher(data_dir, port, standin_port, **extra)
    started.append(launcher)
    return launcher


def greeting_of(port: int) -> str:
    """What a caller dialling the launcher's hotline hears first (a call signed as Twilio signs)."""
    transport = HttpTransport(f"http://127.0.0.1:{port}", LOCAL_DEFAULTS["TWILIO_AUTH_TOKEN"])
    call = Call(transport, from_="+8613900000009", account_sid=LOCAL_DEFAULTS["TWILIO_ACCOUNT_SID"])
    call.start()
    heard = call.heard_text()
    call.hangup()
    return heard


def healthy(port: int) -> bool:
    """Whether the web answers /healthz with Redis reachable, waiting for it a while."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def test_a_second_launcher_on_taken_ports_says_why_and_the_first_keeps_running(
    tmp_path: Path, launchers: list[Launcher]
) -> None:
    data = tmp_path / "data"
    ports = free_ports(2)
    first = launch(launchers, data, ports)
    first.wait_for(STARTED)
    redis_url = f"unix://{data / 'redis.sock'}"

    second = launch(launchers, data, ports)
    assert second.exit_code() == 2
    said = second.text()
    assert f"PORT: cannot listen on 127.0.0.1:{ports[0]}: taken by another program" in said
    assert f"STANDIN_PORT: cannot listen on 127.0.0.1:{ports[1]}: taken by another program" in said
    assert "The hotline did not start." in said and "The hotline answers" not in said

    elsewhere = launch(launchers, data)  # free ports, the same data
    assert elsewhere.exit_code() == 2
    assert (
        f"HOTLINE_DATA_DIR: another `make run` (pid {first.process.pid}) runs on the data" in elsewhere.text()
    )

    assert answers(redis_url)  # the first one's Redis was left alone
    assert healthy(ports[0]) and "For English, press 2" in greeting_of(ports[0])
    assert first.stop() == 0
    assert not answers(redis_url)  # it started that Redis: stopped with it, its data saved
    assert (data / "hotline.rdb").exists()


def test_the_printed_make_call_line_reaches_a_hotline_on_other_ports(
    tmp_path: Path, launchers: list[Launcher]
) -> None:
    """Off the default ports, `make run` prints `make call` with them, and that line dials this hotline."""
    ports = free_ports(2)
    launcher = launch(launchers, tmp_path / "data", ports)
    launcher.wait_for(STARTED)
    printed = launcher.wait_for(r"^    (.*)make call$").group(1)
    assert printed == f"PORT={ports[0]} STANDIN_PORT={ports[1]} "
    assert launcher.wait_for(r'^    (.*)make console ARGS="--token hl_').group(1) == printed
    moved = ("PORT", "STANDIN_PORT", "HOST", "PUBLIC_BASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in moved}
    env |= dict(pair.split("=", 1) for pair in printed.split())
    phone = subprocess.run(  # what `make call` runs, with the variables printed before it
        [sys.executable, "-m", "hotline_tools.terminal"], cwd=ROOT, env=env, input="hangup\nquit\n",
        text=True, capture_output=True, timeout=WAIT,
    )  # fmt: skip
    assert f"through the stand-in at http://127.0.0.1:{ports[1]}" in phone.stdout, phone.stdout + phone.stderr
    assert "For English, press 2" in phone.stdout


def test_ctrl_c_with_a_wallboard_open_stops_the_web_server_without_killing_it(
    tmp_path: Path, launchers: list[Launcher]
) -> None:
    """An open page's stream ends when the web server is asked to stop, so nothing waits for it."""
    ports = free_ports(2)
    launcher = launch(launchers, tmp_path / "data", ports)
    launcher.wait_for(STARTED)
    supervisor = launcher.wait_for(r"wallboard: \S+ \(sign in with (hl_\S+)\)").group(1)
    web = f"http://127.0.0.1:{ports[0]}"
    browser = requests.Session()
    page = browser.get(f"{web}/wallboard", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    form = {"token": supervisor, "role": "supervisor", "csrf_token": csrf.group(1)}
    signed = browser.post(f"{web}/signin", data=form, timeout=10)
    assert signed.status_code == 200 and "signout" in signed.text
    stream = browser.get(f"{web}/live/wallboard", stream=True, timeout=30)
    assert stream.status_code == 200
    lines = stream.iter_lines(decode_unicode=True)
    assert any(line.startswith("event: board") for line in lines)  # the board is live
    ended = threading.Event()

    def read_on() -> None:
        for _ in lines:
            pass
        ended.set()

    threading.Thread(target=read_on, daemon=True).start()
    assert launcher.stop() == 0
    said = launcher.text()
    assert "did not stop within" not in said and "killing it" not in said, said[-2000:]
    assert ended.wait(WAIT)  # the page saw its stream end (and would reconnect)


def test_closing_the_terminal_stops_the_hotline_and_the_redis_it_started(
    tmp_path: Path, launchers: list[Launcher]
) -> None:
    """SIGHUP (the terminal that ran `make run` closed) stops everything, as Ctrl-C does."""
    ports = free_ports(2)
    launcher = launch(launchers, tmp_path / "data", ports)
    launcher.wait_for(STARTED)
    assert healthy(ports[0])
    launcher.process.send_signal(signal.SIGHUP)
    assert launcher.exit_code() == 0
    for port in ports:  # the web server and the stand-in are gone, not orphaned
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert not answers(f"unix://{tmp_path / 'data' / 'redis.sock'}")


def test_a_worker_or_redis_killed_is_started_again_and_the_hotline_answers(
    tmp_path: Path, launchers: list[Launcher]
) -> None:
    launcher = launch(launchers, tmp_path / "data")
    launcher.wait_for(STARTED)
    worker_pid = int(launcher.wait_for(r"worker pid (\d+)").group(1))
    conn = redis.Redis.from_url(f"unix://{tmp_path / 'data' / 'redis.sock'}", socket_timeout=5)

    os.kill(worker_pid, signal.SIGKILL)
    launcher.wait_for(rf"the worker \(pid {worker_pid}\) stopped \(killed by SIGKILL\); restarting it")
    new_pid = int(launcher.wait_for(r"started the worker again \(pid (\d+)\)").group(1))
    deadline = time.monotonic() + WAIT
    while new_pid not in [w.pid for w in Worker.all(connection=conn)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert new_pid in [w.pid for w in Worker.all(connection=conn)]  # it works the queue

    redis_pid = int(conn.info("server")["process_id"])
    os.kill(redis_pid, signal.SIGKILL)
    launcher.wait_for(rf"the embedded Redis \(pid {redis_pid}\) stopped; starting it")
    launcher.wait_for(r"the embedded Redis runs again")
    assert int(conn.info("server")["process_id"]) != redis_pid
    assert healthy(launcher.port) and "For English, press 2" in greeting_of(launcher.port)
    assert launcher.stop() == 0


def test_a_scheduler_lock_left_by_a_crash_is_released_at_start(
    tmp_path: Path, launchers: list[Launcher]
) -> None:
    data = tmp_path / "data"
    server = embedded_redis(data)
    conn = redis.Redis.from_url(server.url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = RQScheduler([QUEUE_NAME], connection=conn, name="crashed")
    gone.pid, gone.last_heartbeat = dead.pid, datetime.now(UTC)
    gone.save()
    lock = RQScheduler.get_locking_key(QUEUE_NAME)
    conn.set(lock, "crashed", ex=600)
    stop_embedded_redis(data)  # the crash: the next start restores both from disk

    launcher = launch(launchers, data)
    launcher.wait_for(r"released rq's scheduler lock of a worker that is gone \(hotline\)")
    launcher.wait_for(STARTED)
    deadline = time.monotonic() + WAIT
    while conn.get(lock) in (None, b"crashed") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert conn.get(lock) not in (None, b"crashed")  # the new worker's scheduler holds it
    assert launcher.stop() == 0


def test_a_lock_is_released_only_when_its_holder_is_gone(redis_url: str) -> None:
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    alive = RQScheduler([QUEUE_NAME], connection=conn, name="alive")
    alive.pid, alive.last_heartbeat = os.getpid(), datetime.now(UTC)
    alive.save()
    conn.set(RQScheduler.get_locking_key(QUEUE_NAME), "alive", ex=60)
    conn.set(RQScheduler.get_locking_key("other"), "no-such-scheduler", ex=60)
    assert clear_stale_scheduler_locks(conn, [QUEUE_NAME, "other", "idle"]) == ["other"]
    assert conn.get(RQScheduler.get_locking_key(QUEUE_NAME)) == b"alive"
    conn.flushdb()


def test_a_simulated_clock_run_keeps_its_data_apart(tmp_path: Path, launchers: list[Launcher]) -> None:
    """Its data apart, and its agents and reports on its clock: loaded offline since its start, not
    since the machine's time; today is its day in the hotline's zone (01:30 in Shanghai is the
    day after the UTC day)."""
    data = tmp_path / "data"
    for where, key in ((data, "hl:real-time"), (data / "simulated", "hl:fast-clock")):
        server = embedded_redis(where)
        redis.Redis.from_url(server.url).set(key, "kept")
        stop_embedded_redis(where)

    start = datetime(2026, 3, 3, 1, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    launcher = launch(launchers, data, HOTLINE_CLOCK_SPEED="30", HOTLINE_CLOCK_START=start.isoformat())
    launcher.wait_for(rf"simulated time: data in {re.escape(str(data / 'simulated'))}, emptied")
    launcher.wait_for(STARTED)
    simulated = redis.Redis.from_url(f"unix://{data / 'simulated' / 'redis.sock'}")
    assert simulated.get("hl:fast-clock") is None  # the earlier simulated run's data is gone
    assert not (data / "redis.sock").exists()  # the real-time data was not even opened

    supervisor = {"Authorization": f"Bearer {issue_token(simulated, 'supervisor', 'duty_lead')}"}
    web = f"http://127.0.0.1:{launcher.port}/api/supervisor"
    agents = requests.get(f"{web}/agents", headers=supervisor, timeout=10).json()
    as_of, since = datetime.fromisoformat(agents["as_of"]), [a["since"] for a in agents["agents"]]
    assert since and all(start <= datetime.fromisoformat(at) <= as_of for at in since)
    assert requests.get(f"{web}/reports/intervals", headers=supervisor, timeout=10).json()["day"] == "260303"
    assert launcher.stop() == 0

    server = embedded_redis(data)
    assert redis.Redis.from_url(server.url).get("hl:real-time") == b"kept"
    stop_embedded_redis(data)
