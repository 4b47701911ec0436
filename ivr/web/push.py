"""The live push: one blocking read of the event log per web process, fanned out to its open pages.

A thread of each web process waits on the event log (`XREAD BLOCK`, ivr/callcenter/events.py)
and hands what arrives to the pages this process streams to (server-sent events, ivr/web/live.py):

- **wallboards** share one snapshot: when events came (or every `BOARD_REFRESH_SECONDS`, so the
  longest wait keeps counting), the thread computes the supervisor's figures once, the same
  report `/api/supervisor/queues` and `/agents` answer, and every open board of the process
  gets that one snapshot. A board costs no Redis read of its own, and the snapshot's cost does
  not grow with the callers waiting (the statistics read counters, not queues).
- **agent desktops** are woken only by events naming their agent; the page's stream then reads
  that agent's state and screen pop (two reads, per event about that agent).

Each subscriber has a small queue: a page that stops reading loses old updates, never blocks the
thread (a snapshot replaces the last; an agent's wake-up is one flag). Under gunicorn each web
process has its own thread, started on first use after the fork.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from ivr.callcenter.events import EventLog

log = logging.getLogger(__name__)

BLOCK_SECONDS = 1.0  # one XREAD per second per process when nothing happens
BOARD_MIN_GAP_SECONDS = 0.25  # events closer than this share one snapshot
BOARD_REFRESH_SECONDS = 5.0  # a board is refreshed at least this often (the waits keep counting)

Snapshot = dict[str, Any]


@dataclass(eq=False)
class Subscriber:
    """One open page: a wallboard (`agent` empty) or an agent's desktop."""

    agent: str = ""
    inbox: queue.Queue[Any] = field(default_factory=lambda: queue.Queue(maxsize=1))

    def offer(self, item: Any) -> None:
        """Hand over the newest item, dropping an older one not yet read."""
        while True:
            try:
                self.inbox.put_nowait(item)
                return
            except queue.Full:
                try:
                    self.inbox.get_nowait()
                except queue.Empty:
                    pass

    def wait(self, timeout: float) -> Any:
        """The next item, or None after `timeout` seconds."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None


class Hub:
    """The process's reader of the event log and its subscribers."""

    def __init__(
        self,
        connect: Callable[[], redis.Redis],
        snapshot: Callable[[], Snapshot],
        *,
        limit: int,
        block_seconds: float = BLOCK_SECONDS,
    ) -> None:
        self._connect, self._snapshot, self.limit = connect, snapshot, limit
        self.block_seconds = block_seconds
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()
        self._thread: threading.Thread | None = None
        self._board: Snapshot | None = None
        self.reads = 0  # XREADs made (the push benchmark reports them)
        self.snapshots = 0  # wallboard snapshots computed

    def subscribe(self, agent: str = "") -> Subscriber | None:
        """A new subscriber (a board when `agent` is empty); None when the process streams to `limit`."""
        sub = Subscriber(agent)
        with self._lock:
            if len(self._subscribers) >= self.limit:
                return None
            self._subscribers.add(sub)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="live-push", daemon=True)
                self._thread.start()
            board = self._board
        if not agent and board is not None:
            sub.offer(board)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """The page went away."""
        with self._lock:
            self._subscribers.discard(sub)

    def open_streams(self) -> int:
        """Pages this process streams to now."""
        with self._lock:
            return len(self._subscribers)

    def _run(self) -> None:
        conn: redis.Redis | None = None
        last_id, last_board, dirty = "$", 0.0, True
        while True:
            with self._lock:
                subs = list(self._subscribers)
            if not subs:
                with self._lock:  # nobody listens: the thread ends (a new page starts another)
                    if not self._subscribers:
                        self._thread, self._board = None, None
                        return
                continue
            boards = [sub for sub in subs if not sub.agent]
            wait = self.block_seconds
            if dirty and boards:  # a snapshot is owed: wait no longer than the gap it must keep
                wait = min(wait, BOARD_MIN_GAP_SECONDS - (time.monotonic() - last_board))
            try:
                if conn is None:
                    conn = self._connect()
                    if last_id == "$":  # from now on (a fresh thread has nothing to catch up)
                        last_id = EventLog(conn).last_id()
                # BLOCK 0 would wait for ever: at least a millisecond.
                events = EventLog(conn).after(last_id, block_ms=max(int(wait * 1000), 1))
                self.reads += 1
            except redis.RedisError as exc:
                log.warning("live push: event log unavailable (%s); retrying", type(exc).__name__)
                conn, dirty = None, True
                time.sleep(1.0)
                continue
            except Exception:  # a bug must not silence every page of the process: log, go on
                log.exception("live push: reading the event log failed")
                conn, dirty = None, True
                time.sleep(1.0)
                continue
            if events:
                last_id, dirty = events[-1].id, True
                concerned = {e.agent for e in events if e.agent}
                for sub in subs:
                    if sub.agent and sub.agent in concerned:
                        sub.offer("changed")
            now = time.monotonic()
            due = dirty and now - last_board >= BOARD_MIN_GAP_SECONDS
            if boards and (due or now - last_board >= BOARD_REFRESH_SECONDS):
                try:
                    board = self._snapshot()
                except redis.RedisError as exc:
                    log.warning("live push: wallboard figures unavailable (%s)", type(exc).__name__)
                    last_board = now  # try again after the gap, not at once
                    continue
                except Exception:  # a bug must not end the thread: the agents' pages still need it
                    log.exception("live push: computing the wallboard figures failed")
                    last_board = now
                    continue
                self.snapshots += 1
                last_board, dirty = now, False
                with self._lock:
                    self._board = board
                for sub in boards:
                    sub.offer(board)
