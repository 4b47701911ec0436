"""`GET /healthz`: is this web process able to serve, and is the hotline behind it whole?

- `/healthz`, for load balancers: 200 while Redis answers, 503 otherwise. Nothing else decides
  whether a web process gets calls: a dead worker is no reason to take the webhooks away.
- `/healthz?detail=1`, for people and alerting: a JSON report, 200 only when every check holds.

| check       | holds when                                                                       |
|-------------|----------------------------------------------------------------------------------|
| redis       | Redis (the Sentinel service's primary) answers PING                              |
| persistence | AOF is on (`appendonly yes`) with fsync `everysec` or `always`: a restart keeps   |
|             | calls, queues, agents, tokens and scheduled jobs. Read with `CONFIG GET`, or     |
|             | `INFO persistence` where a managed Redis disables CONFIG                          |
| scheduler   | an rq scheduler holds the queue's lock and refreshed it lately (ivr/rq_scheduler) |
| reaper      | a worker holds the reaper's lease (`keys.reaper_lease()`)                         |
| workers     | at least one worker beat within 30 s (or 4 reaper passes), and none went silent  |
|             | in the last WORKER_FORGOTTEN_SECONDS (`keys.worker_beats()`)                      |
"""

from __future__ import annotations

import time
from typing import Any

import redis
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from ivr import keys
from ivr.redis_clients import describe
from ivr.rq_scheduler import lock_holder
from ivr.services import services
from ivr.store import Stores

bp = Blueprint("readiness", __name__)

# Workers beat once a reaper pass (HOTLINE_REAPER_SECONDS); one silent this long, or for four
# passes if that is longer, has stopped (or hangs).
WORKER_SILENT_SECONDS = 30
SILENT_PASSES = 4
# A worker silent this long is not reported any more: it was stopped, not lost.
WORKER_FORGOTTEN_SECONDS = 600
GOOD_FSYNC = ("everysec", "always")

Check = dict[str, Any]


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 when Redis answers (503 otherwise); with `detail=1`, the whole report."""
    hotline = services()
    if request.args.get("detail") in ("1", "true", "yes"):
        silent_after = max(WORKER_SILENT_SECONDS, SILENT_PASSES * hotline.settings.reaper_seconds)
        checks = report(hotline.stores, time.time(), silent_after)
        ok = all(check["ok"] for check in checks.values())
        return jsonify(status="ok" if ok else "degraded", checks=checks), 200 if ok else 503
    try:
        hotline.stores.data.ping()
    except redis.RedisError:
        return jsonify(status="degraded", redis="unreachable"), 503
    return jsonify(status="ok", redis="ok")


def report(stores: Stores, now: float, silent_after: float = WORKER_SILENT_SECONDS) -> dict[str, Check]:
    """Every check, by name (see the module's table)."""
    checks: dict[str, Check] = {"redis": {"ok": True, "server": describe(stores.url)}}
    try:
        stores.data.ping()
    except redis.RedisError as exc:
        checks["redis"] = {"ok": False, "server": describe(stores.url), "error": type(exc).__name__}
        unknown = {"ok": False, "error": "redis unreachable"}
        return checks | {name: dict(unknown) for name in ("persistence", "scheduler", "reaper", "workers")}
    for name, check in (
        ("persistence", persistence),
        ("scheduler", scheduler),
        ("reaper", reaper),
        ("workers", lambda conn: workers(conn, now, silent_after)),
    ):
        try:
            checks[name] = check(stores.data)
        except redis.RedisError as exc:
            checks[name] = {"ok": False, "error": type(exc).__name__}
    return checks


def persistence(conn: redis.Redis) -> Check:
    """AOF on, with a fsync policy that loses at most a second."""
    try:
        config = conn.config_get("append*")
        aof, fsync, source = config.get("appendonly") == "yes", config.get("appendfsync"), "CONFIG GET"
    except redis.ResponseError:  # CONFIG disabled or renamed (managed Redis): INFO still tells
        info = conn.info("persistence")
        aof, fsync, source = int(info.get("aof_enabled", 0)) == 1, None, "INFO persistence"
    ok = aof and (fsync is None or fsync in GOOD_FSYNC)
    return {"ok": ok, "appendonly": "yes" if aof else "no", "appendfsync": fsync, "read_from": source}


def scheduler(conn: redis.Redis) -> Check:
    """An rq scheduler holds the lock and keeps refreshing it."""
    holder = lock_holder(conn)
    if holder is None:
        return {"ok": False, "holder": None}
    return {"ok": holder.alive, "holder": holder.name, "silent_seconds": holder.silent_seconds}


def reaper(conn: redis.Redis) -> Check:
    """A worker holds the reaper's lease."""
    pipe = conn.pipeline(transaction=False)
    pipe.get(keys.reaper_lease())
    pipe.ttl(keys.reaper_lease())
    holder, ttl = pipe.execute()
    return {"ok": holder is not None, "holder": holder, "expires_in_seconds": ttl if holder else None}


def workers(conn: redis.Redis, now: float, silent_after: float = WORKER_SILENT_SECONDS) -> Check:
    """Workers beating now, and those that stopped lately."""
    beats = conn.zrangebyscore(keys.worker_beats(), now - WORKER_FORGOTTEN_SECONDS, "+inf", withscores=True)
    beating = [worker for worker, beat in beats if now - beat < silent_after]
    silent = [
        {"id": worker, "silent_seconds": int(now - beat)}
        for worker, beat in beats
        if now - beat >= silent_after
    ]
    return {"ok": bool(beating) and not silent, "beating": len(beating), "silent": silent}
