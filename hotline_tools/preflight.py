"""What `make run` checks before it starts anything, so that a launcher that cannot run says why.

- The ports: the web's (`PORT`) and the stand-in's (`STANDIN_PORT`) must be free to bind.
- The data dir: one launcher at a time per data dir (a lock file held for the launcher's life,
  released by the kernel however it ends), so a second `make run` never takes over, or stops,
  the embedded Redis of a first one.
- Simulated time (`HOTLINE_CLOCK_SPEED`, `HOTLINE_CLOCK_START`) keeps its data in a directory of
  its own, emptied at each start: its timestamps come from another time, and a fast clock's future
  ones would hold agents in wrap-up in a later real-time run.
- rq's scheduler lock: a Redis restored from disk after a crash can hold the lock of a scheduler
  that died with it, and rq's workers would leave scheduling off for 10 minutes (they try again at
  their maintenance pass only). A lock whose holder's process is gone is released at once, before
  the worker starts (the workers' upkeep, `ivr.rq_scheduler`, would free it only once it has not
  been refreshed for 15 s).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import redis
from rq.exceptions import SchedulerNotFound
from rq.scheduler import RQScheduler
from rq.scripts import release_lock

from ivr.rq_scheduler import lock_key
from ivr.store import embedded_url, pid_alive, server_process

SIMULATED_DIR = "simulated"


def port_problem(host: str, port: int, variable: str) -> str | None:
    """Why `host:port` cannot be served (naming the variable that moves it), or None when it can."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    # As gunicorn and werkzeug bind: a port in TIME_WAIT is free, one that someone listens on is not.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError as exc:
        why = "taken by another program" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        return (
            f"{variable}: cannot listen on {host}:{port}: {why} (another `make run`?). "
            f"Stop it, or choose another port: {variable}=<port> make run"
        )
    finally:
        probe.close()
    return None


def simulated_data_dir(data_dir: Path) -> Path:
    """Where a simulated-clock run keeps its data: apart from the real-time run's."""
    return data_dir / SIMULATED_DIR


class DataDirLock:
    """One launcher at a time per data dir: an exclusive lock on `launcher.lock` in it."""

    def __init__(self, data_dir: Path) -> None:
        """Nothing is locked until `acquire`."""
        self.path = data_dir / "launcher.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> str | None:
        """Take the lock for this process's life; None, or why not (naming the other launcher)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # held open for the launcher's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            return (
                f"HOTLINE_DATA_DIR: another `make run` (pid {holder}) runs on the data in "
                f"{self.path.parent}; stop it, or give this one its own: HOTLINE_DATA_DIR=<dir> make run"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return None

    def release(self) -> None:
        """Let another launcher take the data dir."""
        if self._file is not None:
            self._file.close()
            self._file = None


def wipe_simulated(sim_dir: Path) -> str:
    """Empty the simulated data dir (its lock held); what was done, for the launcher's output."""
    running = server_process(sim_dir)
    if running is not None:
        # Left running by a simulated run that was killed: nobody else may use this dir (the lock).
        redis.Redis.from_url(embedded_url(sim_dir), socket_timeout=5).flushall()
        return f"emptied the simulated data in {sim_dir} (its Redis, pid {running}, was left running)"
    for entry in sim_dir.iterdir():
        if entry.name == "launcher.lock":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return f"simulated time: data in {sim_dir}, emptied (its timestamps were from another time)"


def clear_stale_scheduler_locks(conn: redis.Redis, queue_names: Iterable[str]) -> list[str]:
    """Release rq's scheduler locks whose holder no longer runs on this host; the queues freed.

    A holder on another host is left alone: only its own host can tell whether it lives.
    """
    here = socket.gethostname()
    freed = []
    for name in queue_names:
        key = lock_key(name)
        owner = conn.get(key)
        if owner is None:
            continue
        owner_name = owner.decode() if isinstance(owner, bytes) else str(owner)
        try:
            holder = RQScheduler.fetch(owner_name, conn)
        except SchedulerNotFound:
            holder = None  # its metadata expired with its heartbeats: it is gone
        if holder is not None and (holder.hostname != here or pid_alive(holder.pid)):
            continue
        if release_lock(conn, key, owner_name):
            freed.append(name)
    return freed
