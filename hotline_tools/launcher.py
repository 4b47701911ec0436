"""`make run` (`python -m hotline_tools.launcher`): the whole hotline on this machine, no Twilio account.

Starts the embedded Redis (unless REDIS_URL is set), the web app under gunicorn, one rq
worker and, without a Twilio account, the stand-in for Twilio on `STANDIN_PORT` (5001): its REST
API and its live calls (the terminal phone dials through it, agent consoles are rung by it, and
the hotline's calls back ring them). Then it says how to call and how to answer, with a token for
a demo agent, and watches over what it started (see `hotline_tools.supervise`): a worker or an embedded
Redis that dies is started again. Ctrl-C (or SIGTERM, or SIGHUP) stops everything; the embedded Redis keeps
its data in .hotline-data/ for the next run.

A launcher that cannot start says why on stderr and exits with status 2 before it starts anything
(a port taken, another launcher on the same data: see `hotline_tools.preflight`); a web server that cannot
start, or keeps dying, ends it with status 1. It never stops a Redis it did not start.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import redis
import requests

from hotline_tools.preflight import (
    DataDirLock,
    clear_stale_scheduler_locks,
    port_problem,
    simulated_data_dir,
    wipe_simulated,
)
from hotline_tools.supervise import Child, RedisKeeper, describe_exit
from ivr.api.auth import issue_token
from ivr.clock import clock_from_env, speed_from_env
from ivr.hotline.loader import ConfigError, load_hotline
from ivr.hotline.schema import HotlineFile
from ivr.jobs import QUEUE_NAME
from ivr.settings import Settings, SettingsError
from ivr.store import EmbeddedRedis, connect, embedded_redis, stop_embedded_redis
from standin.serve import LiveStandin, serve_live_standin
from standin.transport import HttpTransport

# Local-only credentials: the stand-in for Twilio signs with the same token. Not secrets.
LOCAL_DEFAULTS = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "local-development-token",
}
STANDIN_PORT = "5001"  # the stand-in for Twilio (REST API and live calls), next to the web's 5000
# Threads per web process: a live page (agent desktop, wallboard) holds one while it is open, up to
# HOTLINE_PUSH_STREAMS (24) per process; the rest answer Twilio's webhooks and the API.
WEB_THREADS = "32"
WEB_START_SECONDS = 60.0  # gunicorn retries a taken port for 5 s, then gives up; importing the app is slower
WEB_MAX_DEATHS = 3  # quick deaths in a row after which the launcher gives up on the web server

log = logging.getLogger("hotline_tools.launcher")


def standin_url(env: dict[str, str] | os._Environ[str]) -> str:
    """Where `make run` serves the stand-in for Twilio (the terminal phone and console look there)."""
    return f"http://{env.get('HOST', '127.0.0.1')}:{env.get('STANDIN_PORT') or STANDIN_PORT}"


def _port(env: dict[str, str], variable: str, default: str, problems: list[str]) -> int:
    value = env.get(variable) or default
    if not value.isdigit() or not 0 < int(value) < 65536:
        problems.append(f"{variable}: must be a port number (1-65535), not {value!r}")
        return 0
    return int(value)


def _configure_logging() -> None:
    """The launcher's own messages (restarts, stops) on stderr, one line each."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s launcher: %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _free_stale_locks(server: EmbeddedRedis) -> None:
    """Release rq's scheduler lock of a worker that died with the server (restored from its AOF)."""
    try:
        freed = clear_stale_scheduler_locks(redis.Redis.from_url(server.url, socket_timeout=5), [QUEUE_NAME])
    except redis.RedisError as exc:
        log.warning("could not check rq's scheduler locks: %s", exc)
        return
    if freed:
        log.info("released rq's scheduler lock of a worker that is gone (%s): scheduled jobs run", *freed)


def _web_up(web: Child, host: str, port: int, stopping: list[bool]) -> str | None:
    """Wait for gunicorn to answer HTTP; None, or why it did not (it exited, it never answered)."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    url = f"http://[{target}]:{port}/healthz" if ":" in target else f"http://{target}:{port}/healthz"
    deadline = time.monotonic() + WEB_START_SECONDS
    while time.monotonic() < deadline and not stopping[0]:
        if not web.alive():
            code = web.process.returncode if web.process is not None else None
            return (
                f"PORT: the web server (gunicorn) could not start on {host}:{port} "
                f"({describe_exit(code)}; its messages are above)"
            )
        try:
            requests.get(url, timeout=2)
            return None
        except requests.RequestException:
            time.sleep(0.2)
    return None if stopping[0] else f"PORT: the web server did not answer on {host}:{port} within 60 s"


SUPERVISOR = "duty_lead"  # the demo supervisor: its tokens and its phone's identity


def where_prefix(env: dict[str, str]) -> str:
    """`PORT=... STANDIN_PORT=... `: how `make call` and `make console` find a hotline off the defaults."""
    defaults = {"HOST": "127.0.0.1", "PORT": "5000", "STANDIN_PORT": STANDIN_PORT}
    moved = [f"{name}={env[name]}" for name, default in defaults.items() if env.get(name, default) != default]
    return " ".join(moved) + " " if moved else ""


def _demo_answer(env: dict[str, str], hotline_file: HotlineFile, web: str = "") -> str:
    """How to answer as the first agent of the hotline file (fresh tokens), and watch the wallboard."""
    demo = hotline_file.agents[0] if hotline_file.agents else None
    if demo is None:
        return ""
    second = hotline_file.agents[1] if len(hotline_file.agents) > 1 else None
    try:
        data = connect(env["REDIS_URL"], worker=True).data
        agent_token = issue_token(data, "agent", demo.id)
        second_token = issue_token(data, "agent", second.id) if second else ""
        supervisor_token = issue_token(data, "supervisor", SUPERVISOR)
    except redis.RedisError as exc:
        return f"(no demo agent token: Redis did not answer: {exc})\n"
    text = (
        f"Answer as agent {demo.id} ({demo.name}, {', '.join(demo.departments)}) in a third:\n"
        f'    {where_prefix(env)}make console ARGS="--token {agent_token}"\n'
        f"or in a browser: {web}/agent (sign in with the token above)\n"
    )
    if second is not None:
        text += (
            f"A second agent, {second.id} ({second.name}), to take a warm transfer:\n"
            f'    {where_prefix(env)}make console ARGS="--token {second_token}"\n'
        )
    return text + (
        f"The supervisor {SUPERVISOR}, to listen, coach and barge (the console is their phone):\n"
        f'    {where_prefix(env)}make console ARGS="--supervisor {SUPERVISOR} --token {supervisor_token}"\n'
        f"The supervisors' wallboard: {web}/wallboard (sign in with {supervisor_token})\n"
    )


def main() -> int:
    """Check, start, watch over the hotline until interrupted; the exit status."""
    _configure_logging()
    host = os.environ.get("HOST", "127.0.0.1")
    env = {**LOCAL_DEFAULTS, **os.environ}
    problems: list[str] = []
    port = _port(env, "PORT", "5000", problems)
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    try:
        settings = Settings.from_env(env)
        hotline_file = load_hotline(settings.hotline_config).file
        speed = speed_from_env(env.get("HOTLINE_CLOCK_SPEED"))
        # Each process reads the clock variables again; a bad one is refused here first, by name.
        clock_from_env(
            env.get("HOTLINE_CLOCK_START"), env.get("HOTLINE_CLOCK_SPEED"), env.get("HOTLINE_CLOCK_ORIGIN")
        )
    except (SettingsError, ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    simulated = bool(env.get("HOTLINE_CLOCK_SPEED") or env.get("HOTLINE_CLOCK_START"))
    if simulated:
        # One simulated clock for every process: the same start, read at the same real instant.
        env.setdefault("HOTLINE_CLOCK_START", datetime.now(UTC).isoformat())
        env.setdefault("HOTLINE_CLOCK_ORIGIN", str(time.time()))
    with_standin = "TWILIO_API_BASE_URL" not in os.environ
    standin_port = _port(env, "STANDIN_PORT", STANDIN_PORT, problems) if with_standin else 0

    # -- before anything starts: every reason not to, at once --------------------------------
    if port:
        problems.append(port_problem(host, port, "PORT") or "")
    if standin_port and standin_port == port:
        problems.append(f"STANDIN_PORT: {standin_port} is also PORT; give the stand-in another port")
    elif standin_port:
        problems.append(port_problem(host, standin_port, "STANDIN_PORT") or "")
    data_dir: Path = simulated_data_dir(settings.data_dir) if simulated else settings.data_dir
    lock = DataDirLock(data_dir) if not settings.redis_url else None
    if lock is not None:
        problems.append(lock.acquire() or "")
    problems = [problem for problem in problems if problem]
    if problems:
        print("\n".join(problems) + "\nThe hotline did not start.", file=sys.stderr)
        if lock is not None:
            lock.release()
        return 2
    return Launch(env, settings, host, port, standin_port, data_dir, lock, speed).run(hotline_file, simulated)


class Launch:
    """What one launcher started, and how it stops it all."""

    def __init__(
        self,
        env: dict[str, str],
        settings: Settings,
        host: str,
        port: int,
        standin_port: int,
        data_dir: Path,
        lock: DataDirLock | None,
        speed: float,
    ) -> None:
        """Nothing runs yet; `run` starts it."""
        self.env, self.settings, self.host, self.port = env, settings, host, port
        self.standin_port, self.data_dir, self.lock, self.speed = standin_port, data_dir, lock, speed
        self.standin: LiveStandin | None = None
        self.keeper: RedisKeeper | None = None
        self.children: list[Child] = []
        self.stopping = [False]

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping[0] = True

    def run(self, hotline_file: HotlineFile, simulated: bool) -> int:
        """Start everything, say how to call, watch over it; the exit status."""
        # Both signals explicitly: a launcher started in the background inherits an ignored SIGINT.
        # SIGHUP too: the terminal running `make run` closed. Unhandled, it would end the launcher
        # alone and leave the server, workers and Redis it started (their own sessions) running.
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._stop)
        try:
            code = self._start(hotline_file, simulated)
            if code is None:
                code = self._watch()
        finally:
            self._shutdown()
        return code

    def _start(self, hotline_file: HotlineFile, simulated: bool) -> int | None:
        env = self.env
        if self.standin_port:
            code = self._start_standin()
            if code is not None:
                return code
        if self.lock is not None:
            env["HOTLINE_DATA_DIR"] = str(self.data_dir)
            try:
                if simulated:
                    print(wipe_simulated(self.data_dir))
                server = embedded_redis(self.data_dir)
            except (OSError, RuntimeError, subprocess.CalledProcessError, redis.RedisError) as exc:
                print(f"HOTLINE_DATA_DIR: the embedded Redis did not start: {exc}", file=sys.stderr)
                return 2
            self.keeper = RedisKeeper(server, _free_stale_locks)
            env["REDIS_URL"] = server.url
            whose = "started here" if server.started else f"already running, pid {server.pid}: left running"
            print(f"embedded Redis: {server.url} (data in {self.data_dir}; {whose})")
            _free_stale_locks(server)
        elif simulated:
            log.warning("simulated time on REDIS_URL: its data are shared with real-time runs")
        web = Child(
            "web server (gunicorn)",
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", WEB_THREADS, "--timeout", "20",
             "--no-control-socket",  # one per user by default: two hotlines would share it
             "--bind", f"{self.host}:{self.port}", "wsgi:app"],
            env, max_deaths=WEB_MAX_DEATHS,
        )  # fmt: skip
        worker = Child("worker", [sys.executable, "-m", "queue_worker"], env)
        self.children = [web, worker]
        web.start()
        why = _web_up(web, self.host, self.port, self.stopping)
        if why is not None:
            print(f"{why}\nThe hotline did not start.", file=sys.stderr)
            return 1
        if self.stopping[0]:
            return 0
        worker.start()
        log.info("web server pid %s, worker pid %s", web.pid, worker.pid)
        print(
            f"\nThe hotline answers at {env['PUBLIC_BASE_URL']}/voice/incoming\n"
            f"Call it from another terminal:\n    {where_prefix(env)}make call\n"
            f"{_demo_answer(env, hotline_file, f'http://{self.host}:{self.port}')}"
            "(or point a Twilio number's Voice URL at it through a tunnel; see README.md)\n"
            "Ctrl-C stops the hotline.\n",
            flush=True,
        )
        return None

    def _start_standin(self) -> int | None:
        # No Twilio account: the stand-in for Twilio, served from this process, owns the calls
        # and serves the REST API the app calls (redirecting a caller to an agent, calling back, SMS).
        env, settings = self.env, self.settings
        public, token = env["PUBLIC_BASE_URL"], settings.twilio_auth_token
        try:
            self.standin = serve_live_standin(
                lambda: HttpTransport(public, token), settings.twilio_account_sid, token,
                host=self.host, port=self.standin_port, speed=self.speed,
            )  # fmt: skip
        except OSError as exc:
            where = f"{self.host}:{self.standin_port}"
            print(f"STANDIN_PORT: cannot serve the stand-in for Twilio on {where}: {exc}", file=sys.stderr)
            return 2
        env["TWILIO_API_BASE_URL"] = self.standin.url
        print(f"stand-in for Twilio (REST API and live calls): {env['TWILIO_API_BASE_URL']}")
        return None

    def _watch(self) -> int:
        """Restart what dies until asked to stop; 1 when the web server keeps dying."""
        web = self.children[0]
        while not self.stopping[0]:
            time.sleep(0.25)
            if self.stopping[0]:
                break
            if self.keeper is not None:
                self.keeper.check()
            for child in self.children[1:]:
                child.check()
            if not web.check():
                print(
                    f"The web server (gunicorn) keeps stopping ({describe_exit(web.last_exit)}, "
                    f"{web.deaths} times in a row): the hotline stops. Its messages are above.",
                    file=sys.stderr,
                )
                return 1
        return 0

    def _shutdown(self) -> None:
        """Stop the children, the stand-in, and the embedded Redis if this launcher started it."""
        for child in self.children:
            child.terminate()
        for child in self.children:
            child.wait()
        if self.standin is not None:
            self.standin.stop()
        if self.keeper is not None and self.keeper.owned:
            # Saved to the data dir for the next run; only the server process this launcher started.
            stop_embedded_redis(self.data_dir, pid=self.keeper.server.pid)
        if self.lock is not None:
            self.lock.release()


if __name__ == "__main__":
    sys.exit(main())
