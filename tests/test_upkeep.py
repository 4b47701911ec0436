"""State that survives restarts: each worker's upkeep re-seeds, re-arms and restarts rq's scheduler.

Real Redis servers of the tests' own: one without persistence that loses everything when it
restarts, one with AOF that keeps rq's scheduler lock across a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.job import Job

from ivr import keys
from ivr.callcenter.agents import Agents
from ivr.clock import Clock, FixedClock
from ivr.rq_scheduler import LOCK_TTL_SECONDS, STALE_AFTER_SECONDS, lock_holder, lock_key
from ivr.services import Services, build_services
from ivr.settings import Settings
from queue_worker.upkeep import Upkeep
from tests.conftest import DEMO_ACCOUNT, OPEN_HOURS
from tests.redis_servers import Server, data_server

WAIT_SECONDS = 15  # how long the harness waits for a process to start or die (not a measure)


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait for `condition` (a process to die, a job to be moved): the harness, not an assertion."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def volatile_redis(tmp_path: Path) -> Iterator[Server]:
    """A Redis without persistence: a restart empties it."""
    server = Server(tmp_path / "volatile", ["appendonly no", 'save ""']).start()
    yield server
    server.kill()


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[Server]:
    """A Redis with AOF, as the README asks."""
    server = data_server(tmp_path / "durable").start()
    yield server
    server.kill()


def hotline_on(server: Server, app_settings: dict[str, Any], clock: Clock | None = None) -> Services:
    """A worker's hotline on `server` (on `clock`, else the real time)."""
    settings = Settings.from_mapping({**app_settings, "redis_url": server.url})
    return build_services(settings, clock, worker=True)


@pytest.fixture
def upkeeps() -> Iterator[list[Upkeep]]:
    """Upkeeps made by a test, stopped (with their scheduler processes) at its end."""
    made: list[Upkeep] = []
    yield made
    for upkeep in made:
        upkeep.stop()


def upkeep_of(hotline: Services, made: list[Upkeep]) -> Upkeep:
    """A worker's upkeep, on clients of its own as `python -m queue_worker` makes it."""
    upkeep = Upkeep.of(hotline)
    made.append(upkeep)
    return upkeep


def test_a_redis_that_lost_its_data_gets_agents_accounts_and_periodic_jobs_back(
    volatile_redis: Server, app_settings: dict[str, Any], upkeeps: list[Upkeep]
) -> None:
    """Restarted empty: the next pass loads the file's agents and the demo accounts, arms the
    rollup and starts a scheduler; the pass after that has nothing to do. The agents are offline
    since the hotline clock's time, not the machine's."""
    clock = FixedClock(OPEN_HOURS)
    hotline = hotline_on(volatile_redis, app_settings, clock)
    upkeep = upkeep_of(hotline, upkeeps)
    assert "seeded" not in upkeep.once()  # the start loaded them
    volatile_redis.kill()
    assert upkeep.once() == ["redis unavailable"]
    eventually(lambda: not upkeep.scheduler_running(), "the scheduler outlived its Redis")
    volatile_redis.start()
    conn = volatile_redis.client()
    assert conn.dbsize() == 0 and Agents(conn).get("li_na") is None
    clock.set(OPEN_HOURS + timedelta(hours=1))
    done = upkeep.once()
    assert done[:2] == ["seeded", "rollup armed"] and "scheduler started" in done
    li_na = Agents(conn).get("li_na")
    assert li_na is not None and li_na.state_since == OPEN_HOURS + timedelta(hours=1)
    assert conn.hget(keys.account(DEMO_ACCOUNT), "mobile") == "+8613800138000"
    assert {agent.id for agent in Agents(conn).all()} == {a.id for a in hotline.config.file.agents}
    assert upkeep.once() == []


def test_seeding_keeps_a_live_agents_state(
    volatile_redis: Server, app_settings: dict[str, Any], upkeeps: list[Upkeep]
) -> None:
    """Only a missing marker makes a pass load the files, and loading keeps live state."""
    hotline = hotline_on(volatile_redis, app_settings)
    conn = volatile_redis.client()
    conn.hset(keys.agent("li_na"), "state", "ready")
    conn.delete(keys.seeded())
    assert "seeded" in upkeep_of(hotline, upkeeps).once()
    assert conn.hget(keys.agent("li_na"), "state") == "ready"


def test_a_scheduler_killed_with_its_lock_is_back_at_the_next_pass(
    durable_redis: Server, app_settings: dict[str, Any], upkeeps: list[Upkeep]
) -> None:
    """SIGKILL of the scheduler process: its lock stays (61 s); the worker takes it back at once."""
    upkeep = upkeep_of(hotline_on(durable_redis, app_settings), upkeeps)
    assert "scheduler started" in upkeep.once()
    first = upkeep.scheduler._process
    assert first is not None and first.pid
    first.kill()
    first.join()
    holder = lock_holder(durable_redis.client())
    assert holder is not None and holder.name == upkeep.scheduler.name
    assert "scheduler started" in upkeep.once()
    assert upkeep.scheduler_running() and upkeep.scheduler._process is not first


def test_a_scheduler_ended_by_a_redis_restart_comes_back_and_runs_due_jobs(
    durable_redis: Server, app_settings: dict[str, Any], upkeeps: list[Upkeep]
) -> None:
    """rq's scheduler process dies on the connection error; with Redis back (its AOF keeps the
    lock), the next pass restarts it, and a job due meanwhile is moved to the queue."""
    hotline = hotline_on(durable_redis, app_settings)
    upkeep = upkeep_of(hotline, upkeeps)
    assert "scheduler started" in upkeep.once()
    durable_redis.kill()
    eventually(lambda: not upkeep.scheduler_running(), "the scheduler outlived its Redis")
    durable_redis.start()
    queue = hotline.jobs.queue
    queue.enqueue_at(datetime.now(UTC), "queue_worker.jobs.sweep_agents", job_id="due-during-outage")
    assert "scheduler started" in upkeep.once()
    eventually(lambda: "due-during-outage" in queue.job_ids, "the scheduler did not move the due job")
    assert Job.fetch("due-during-outage", connection=queue.connection).get_status() == "queued"


@pytest.mark.parametrize("silent", [STALE_AFTER_SECONDS + 5, 2])
def test_a_lock_left_by_a_crashed_worker_is_cleared_only_when_stale(
    silent: int, durable_redis: Server, app_settings: dict[str, Any], upkeeps: list[Upkeep]
) -> None:
    """A lock restored from disk, last refreshed `silent` seconds ago by a scheduler that is gone:
    stale, it is cleared and this worker's scheduler starts; fresh, it is left to its holder."""
    hotline = hotline_on(durable_redis, app_settings)
    conn: redis.Redis = durable_redis.client()
    conn.set(lock_key(), "crashed-worker-scheduler", ex=LOCK_TTL_SECONDS - silent)
    done = upkeep_of(hotline, upkeeps).once()
    holder = lock_holder(conn)
    assert holder is not None
    if silent > STALE_AFTER_SECONDS:
        assert "stale lock cleared" in done and "scheduler started" in done
        assert holder.name != "crashed-worker-scheduler" and holder.alive
    else:
        assert "scheduler started" not in done and holder.name == "crashed-worker-scheduler"


def test_stopping_the_upkeep_stops_its_scheduler_and_frees_the_lock(
    durable_redis: Server, app_settings: dict[str, Any], upkeeps: list[Upkeep]
) -> None:
    """A worker that stops leaves the lock free for the next one at once."""
    upkeep = upkeep_of(hotline_on(durable_redis, app_settings), upkeeps)
    upkeep.start()
    eventually(upkeep.scheduler_running, "the upkeep thread did not start the scheduler")
    eventually(lambda: lock_holder(durable_redis.client()) is not None, "no lock taken")
    upkeep.stop()
    assert not upkeep.scheduler_running() and lock_holder(durable_redis.client()) is None
