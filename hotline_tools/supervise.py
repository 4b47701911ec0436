"""What `make run` watches over: its child processes and its embedded Redis, restarted when they die.

A process that dies is started again after a short backoff (0.5 s, doubling to 15 s while it keeps
dying within half a minute of its start), and every death and restart is logged on the launcher's
output. The web server is given a few restarts only: a gunicorn that keeps dying (a port taken
since, a broken app) ends the launcher with the reason instead of looping forever.

The embedded Redis is watched by its process id: a server that died (killed, out of memory) is
started again on the same files, which AOF keeps up to the last second. A server that stalls
(SIGSTOP, a slow disk) is not one to replace: a second server on the same files would corrupt them.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ivr.store import EmbeddedRedis, embedded_redis, pid_alive

log = logging.getLogger("hotline_tools.launcher")

BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
STEADY_SECONDS = 30.0  # a process that lived this long starts its backoff afresh when it dies
STOP_SECONDS = 15.0  # how long a child gets to stop after SIGTERM before SIGKILL

try:  # Linux: children get SIGTERM when the launcher dies, even by SIGKILL (no orphans on the ports)
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
except OSError:
    _LIBC = None
PR_SET_PDEATHSIG = 1
_SIGTERM = int(signal.SIGTERM)  # plain ints: the child runs as little Python as it can before exec


def _die_with_parent() -> None:
    """Run in the child before exec: ask the kernel for SIGTERM when the launcher's thread ends."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, _SIGTERM)


def backoff(deaths: int) -> float:
    """The wait before the next start after `deaths` quick deaths in a row (1 or more)."""
    return BACKOFF_SECONDS[min(max(deaths, 1), len(BACKOFF_SECONDS)) - 1]


class Child:
    """One child process of the launcher: started, watched, restarted with a backoff, stopped."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], *, max_deaths: int | None = None
    ) -> None:
        """`max_deaths`: quick deaths in a row after which `check` gives up (None: never)."""
        self.name, self.argv, self.env = name, list(argv), dict(env)
        self.max_deaths = max_deaths
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.deaths = 0  # quick deaths in a row
        self.restart_at: float | None = None
        self.last_exit: int | None = None

    def start(self) -> None:
        """Start the process (from the main thread: the death signal follows the thread that forks)."""
        # A process group of its own: Ctrl-C reaches the launcher only, which stops the children in
        # order, and what a dead child leaves behind (rq's scheduler, gunicorn's workers) can be found.
        self.process = subprocess.Popen(self.argv, env=self.env, preexec_fn=_die_with_parent, process_group=0)
        self.started_at, self.restart_at = time.monotonic(), None

    @property
    def pid(self) -> int | None:
        """The running process's id."""
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    def check(self) -> bool:
        """Notice a death and restart after the backoff; False once it died too often to go on."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
                log.warning("started the %s again (pid %s)", self.name, self.pid)
            return True
        if self.process is None or self.process.poll() is None:
            return True
        self.last_exit = self.process.returncode
        self._end_group()
        self.deaths = 1 if now - self.started_at >= STEADY_SECONDS else self.deaths + 1
        if self.max_deaths is not None and self.deaths > self.max_deaths:
            return False
        wait = backoff(self.deaths)
        log.warning("the %s (pid %s) stopped (%s); restarting it in %.1f s",
                    self.name, self.process.pid, describe_exit(self.last_exit), wait)  # fmt: skip
        self.restart_at = now + wait
        return True

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM); no more restarts."""
        self.restart_at = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, seconds: float = STOP_SECONDS) -> None:
        """Wait for the process to stop; SIGKILL it past `seconds`."""
        if self.process is None:
            return
        how = signal.SIGTERM
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            log.warning("the %s did not stop within %.0f s: killing it", self.name, seconds)
            self.process.kill()
            self.process.wait()
            # Its own children were asked already and did not stop either (gunicorn's workers
            # waiting on an agent desktop's open stream): they go with it, not left running.
            how = signal.SIGKILL
        self._end_group(how)

    def _end_group(self, how: signal.Signals = signal.SIGTERM) -> None:
        """Stop what the dead process left running in its group (a scheduler holding rq's lock)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, how)
        except (ProcessLookupError, PermissionError):
            pass  # nothing left


def describe_exit(code: int | None) -> str:
    """An exit status as an operator reads it: `exit code 1`, `killed by SIGKILL`."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class RedisKeeper:
    """The embedded Redis of a data dir, watched by process id and started again when it died."""

    def __init__(self, server: EmbeddedRedis, on_restart: Callable[[EmbeddedRedis], None]) -> None:
        """`server` as found or started; `on_restart` runs after each new start (clearing stale locks)."""
        self.server = server
        self.owned = server.started  # only a server this launcher started is its to stop
        self.on_restart = on_restart
        self.deaths = 0
        self.died_at = 0.0
        self.restart_at: float | None = None

    @property
    def data_dir(self) -> Path:
        """Where the server keeps its files."""
        return self.server.data_dir

    def check(self) -> None:
        """A server process gone is started again after the backoff."""
        now = time.monotonic()
        if self.restart_at is None:
            if pid_alive(self.server.pid):
                return
            self.deaths = 1 if now - self.died_at >= STEADY_SECONDS else self.deaths + 1
            self.died_at = now
            wait = backoff(self.deaths)
            log.warning(
                "the embedded Redis (pid %d) stopped; starting it again in %.1f s", self.server.pid, wait
            )
            self.restart_at = now + wait
            return
        if now < self.restart_at:
            return
        try:
            server = embedded_redis(self.data_dir)
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            self.deaths += 1
            self.restart_at = now + backoff(self.deaths)
            log.error("the embedded Redis did not start again (%s); next try in %.1f s",
                      exc, self.restart_at - now)  # fmt: skip
            return
        self.server, self.restart_at = server, None
        self.owned = server.started  # another program may have started one meanwhile
        log.warning(
            "the embedded Redis runs again (pid %d), with its data from %s", server.pid, self.data_dir
        )
        self.on_restart(server)
