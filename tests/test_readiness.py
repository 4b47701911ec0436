"""`/healthz` for load balancers, and `/healthz?detail=1`: each check holds, or says what is wrong."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from rq.scheduler import RQScheduler

from ivr import create_app, keys
from ivr.clock import FixedClock
from ivr.jobs import QUEUE_NAME
from ivr.readiness import WORKER_SILENT_SECONDS
from ivr.rq_scheduler import LOCK_TTL_SECONDS, STALE_AFTER_SECONDS, lock_key
from ivr.services import services_of
from queue_worker.reaper import Reaper
from tests.redis_servers import Server, data_server, free_port


def detail(app: Flask) -> tuple[int, dict[str, Any]]:
    """The report's status code and its checks."""
    reply = app.test_client().get("/healthz?detail=1")
    return reply.status_code, reply.get_json()["checks"]


def failing(checks: dict[str, Any]) -> list[str]:
    """The checks that do not hold."""
    return sorted(name for name, check in checks.items() if not check["ok"])


@pytest.fixture
def reaper(app: Flask) -> Reaper:
    """A worker's reaper that made one pass: it beat and holds the lease."""
    worker = Reaper(services_of(app), name="worker-1")
    assert worker.step() is not None
    return worker


@pytest.fixture
def whole(app: Flask, reaper: Reaper, redis_conn: redis.Redis) -> Iterator[RQScheduler]:
    """A whole hotline behind the app: a scheduler holding its lock, a reaper, a beating worker."""
    scheduler = RQScheduler([QUEUE_NAME], connection=services_of(app).stores.jobs)
    assert scheduler.acquire_locks() == {QUEUE_NAME}
    yield scheduler
    scheduler.release_locks()


def test_a_whole_hotline_is_ready(app: Flask, whole: RQScheduler) -> None:
    """Redis with AOF, the scheduler, the reaper and a worker: 200, every check holds."""
    status, checks = detail(app)
    assert status == 200 and failing(checks) == []
    assert checks["persistence"] == {
        "ok": True,
        "appendonly": "yes",
        "appendfsync": "everysec",
        "read_from": "CONFIG GET",
    }
    assert checks["scheduler"]["holder"] == whole.name and checks["reaper"]["holder"] == "worker-1"
    assert checks["workers"] == {"ok": True, "beating": 1, "silent": []}
    assert app.test_client().get("/healthz").status_code == 200


def test_nothing_running_beside_the_web_is_reported(app: Flask, redis_conn: redis.Redis) -> None:
    """No worker ever started: no scheduler, no reaper, no worker; the load balancer's check
    still says 200, since the web process itself can serve."""
    status, checks = detail(app)
    assert status == 503 and failing(checks) == ["reaper", "scheduler", "workers"]
    assert checks["scheduler"] == {"ok": False, "holder": None}
    plain = app.test_client().get("/healthz")
    assert plain.status_code == 200 and plain.get_json() == {"status": "ok", "redis": "ok"}


def test_a_worker_that_stopped_beating_is_named(
    app: Flask, whole: RQScheduler, redis_conn: redis.Redis
) -> None:
    """One worker beats, another last beat a minute ago: not ready, and which one."""
    redis_conn.zadd(keys.worker_beats(), {"worker-2": time.time() - 2 * WORKER_SILENT_SECONDS})
    status, checks = detail(app)
    assert status == 503 and failing(checks) == ["workers"]
    assert checks["workers"]["beating"] == 1
    assert [w["id"] for w in checks["workers"]["silent"]] == ["worker-2"]


def test_a_scheduler_that_stopped_refreshing_its_lock_is_not_alive(
    app: Flask, whole: RQScheduler, redis_conn: redis.Redis
) -> None:
    """The lock of a scheduler that died stays for a minute: the report does not trust it."""
    redis_conn.expire(lock_key(), LOCK_TTL_SECONDS - STALE_AFTER_SECONDS - 5)
    status, checks = detail(app)
    assert status == 503 and failing(checks) == ["scheduler"]
    assert checks["scheduler"]["silent_seconds"] >= STALE_AFTER_SECONDS


def test_no_reaper_lease(app: Flask, whole: RQScheduler, reaper: Reaper) -> None:
    """The worker holding the reaper's lease gave it up, and no other took it yet."""
    reaper.release()
    status, checks = detail(app)
    assert status == 503 and failing(checks) == ["reaper"]


@pytest.fixture
def app_on(app_settings: dict[str, Any], clock: FixedClock) -> Iterator[Any]:
    """`app_on(server)`: the hotline app on a Redis of the test's own."""
    servers: list[Server] = []

    def _app(server: Server) -> Flask:
        servers.append(server.start())
        return create_app({**app_settings, "redis_url": server.url}, clock=clock)

    yield _app
    for server in servers:
        server.kill()


def test_a_redis_without_aof_is_reported(app_on: Any, tmp_path: Path) -> None:
    """RDB snapshots only: a crash loses up to the last snapshot's worth of calls."""
    app = app_on(Server(tmp_path / "rdb", ["appendonly no"]))
    _, checks = detail(app)
    assert checks["persistence"]["ok"] is False and checks["persistence"]["appendonly"] == "no"


def test_managed_redis_without_config_is_read_from_info(app_on: Any, tmp_path: Path) -> None:
    """CONFIG renamed away (as managed services do): AOF is read from INFO persistence."""
    app = app_on(data_server(tmp_path / "managed", 'rename-command CONFIG ""'))
    _, checks = detail(app)
    assert checks["persistence"] == {
        "ok": True,
        "appendonly": "yes",
        "appendfsync": None,
        "read_from": "INFO persistence",
    }


def test_an_unreachable_redis_fails_every_check(app_settings: dict[str, Any], clock: FixedClock) -> None:
    """Nobody listens: 503 from both, and the report says Redis is why."""
    app = create_app({**app_settings, "redis_url": f"redis://127.0.0.1:{free_port()}/0"}, clock=clock)
    status, checks = detail(app)
    assert status == 503 and failing(checks) == ["persistence", "reaper", "redis", "scheduler", "workers"]
    assert checks["redis"]["error"] == "ConnectionError"
    assert checks["scheduler"] == {"ok": False, "error": "redis unreachable"}
    assert app.test_client().get("/healthz").status_code == 503
