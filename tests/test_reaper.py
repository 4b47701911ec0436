"""Nothing stuck: a matcher that dies at any step, an agent whose phone rang into the void, the lease.

Each crash is played deterministically: `faultpoints.hook` raises at the named point (as a worker
killed there would stop), the test clock moves past the lease, and one pass of the reaper runs.
What the agent and the callers then see is asserted: the agent ready (or not ready with a reason),
the caller back at their own place in front of those who came later, nobody sent to the overflow.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from ivr import faultpoints, keys
from ivr.callcenter.agents import (
    CONNECT_LEASE_SECONDS,
    NOT_READY,
    READY,
    RESERVE_LEASE_SECONDS,
    RING_MARGIN_SECONDS,
    RINGING,
)
from ivr.clock import FixedClock
from ivr.services import services_of
from ivr.voice.waiting import REDIRECT_GRACE_SECONDS
from queue_worker.reaper import Reaper, reap_once
from standin.phone import Call
from tests.conftest import waiting_in
from tests.test_connecting import state_of, topup_caller

OVERFLOW = "+862161234567"
ROOT = Path(__file__).resolve().parent.parent


class WorkerDied(Exception):
    """Stands for a worker process killed at a fault point."""


def die_at(monkeypatch: pytest.MonkeyPatch, point: str) -> list[str]:
    """Make the work stop at `point` (once); the points reached are listed."""
    reached: list[str] = []

    def hook(name: str) -> None:
        reached.append(name)
        if name == point and reached.count(point) == 1:
            raise WorkerDied(name)

    monkeypatch.setattr(faultpoints, "hook", hook)
    return reached


def go_ready(app: Flask, agent_id: str) -> None:
    hotline = services_of(app)
    hotline.agents.choose(agent_id, READY, hotline.clock.now())
    hotline.agents.heartbeat(agent_id, hotline.clock.now())


def later(app: Flask, seconds: float) -> None:
    """Time passes; the agents' consoles keep beating."""
    hotline = services_of(app)
    clock: FixedClock = hotline.clock
    clock.set(clock.now() + timedelta(seconds=seconds))
    for agent in hotline.agents.all():
        if agent.state != "offline":
            hotline.agents.heartbeat(agent.id, clock.now())


def ring_lease(app: Flask) -> float:
    return services_of(app).config.file.hotline.ring_timeout_seconds + RING_MARGIN_SECONDS


@pytest.mark.parametrize(
    ("point", "lease"),
    [
        ("matching.reserved", "reserve"),  # the agent reserved, no caller taken
        ("matching.taken", "reserve"),  # the caller taken from the queue, the agent not rung
        # the agent ringing, the caller not yet marked connecting: both free at the caller's lease
        ("matching.ringing", "reserve"),
    ],
)
def test_a_matcher_that_dies_mid_match_leaves_agent_and_caller_as_they_were(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
    lease: str,
) -> None:
    first, second = topup_caller(dial), topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    reached = die_at(monkeypatch, point)
    with pytest.raises(WorkerDied):
        hotline.matcher.for_agent("li_na")
    assert reached[-1] == point
    monkeypatch.setattr(faultpoints, "hook", None)

    # Meanwhile the first caller's hold loop goes on: never the overflow, whatever the matcher left.
    first.continue_loop()
    assert first.on_hold and OVERFLOW not in [d["value"] for d in first.dialed]

    later(app, (RESERVE_LEASE_SECONDS if lease == "reserve" else ring_lease(app)) + 1)
    reaped = reap_once(hotline, hotline.clock.now())
    assert state_of(app, "li_na") == READY and reaped.agents["li_na"] == "ready"
    assert waiting_in(redis_conn, "payments") == [first.call_sid, second.call_sid]  # own place
    run_jobs()  # the reaper asked for a match: the first caller gets li_na after all
    assert state_of(app, "li_na") == RINGING
    assert hotline.agents.get("li_na").call_sid == first.call_sid
    assert waiting_in(redis_conn, "payments") == [second.call_sid]
    first.continue_loop()
    assert first.state == "dialing" and first.dialed[-1]["value"] == "li_na"
    day = redis_conn.hget(keys.call(first.call_sid), "day")
    assert "abandoned" not in redis_conn.hgetall(keys.department_stats("payments", day))


def test_a_matcher_that_dies_before_the_redirect_is_covered_by_the_hold_loop_once(
    app: Flask, dial: Callable[..., Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the match, before the REST redirect: the caller's own loop dials the agent, once."""
    call = topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    die_at(monkeypatch, "matching.claimed")
    with pytest.raises(WorkerDied):
        hotline.matcher.for_agent("li_na")
    call.continue_loop()  # within the grace the loop waits for the redirect: no dial yet
    assert call.on_hold and call.dialed == []
    later(app, REDIRECT_GRACE_SECONDS)
    call.continue_loop()
    assert call.state == "dialing" and [d["value"] for d in call.dialed] == ["li_na"]
    assert state_of(app, "li_na") == RINGING


def test_a_successful_redirect_is_the_only_dial(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """The hold turn that was already under way when the match came does not dial a second time."""
    call = topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    hotline.jobs.match_agent(None, "li_na")
    run_jobs()
    pending = call.pending_update
    assert pending is not None and pending.url.endswith("/voice/connect")
    reply = call.transport.request("POST", "/voice/hold?h=1", call._params({}))  # the turn in flight
    assert "<Dial" not in reply.body and "<Pause" in reply.body
    call.continue_loop()  # Twilio takes the redirect
    assert [d["value"] for d in call.dialed] == ["li_na"]


def test_a_failed_redirect_of_an_earlier_match_does_not_make_the_next_one_dial_twice(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    call = topup_caller(dial)
    hotline = services_of(app)
    redis_conn.hset(keys.call(call.call_sid), mapping={"redirect": "failed", "dialled_at": "x"})  # before
    go_ready(app, "li_na")
    hotline.jobs.match_agent(None, "li_na")
    run_jobs()
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert "redirect" not in record and "dialled_at" not in record
    reply = call.transport.request("POST", "/voice/hold?h=1", call._params({}))
    assert "<Dial" not in reply.body  # the redirect of this match dials


def test_a_dead_matching_job_is_run_again_by_rq(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The job fails at a crash point: rq keeps it for a retry, and the retry makes the match."""
    call = topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    die_at(monkeypatch, "matching.taken")
    hotline.jobs.match_agent(None, "li_na")
    run_jobs()
    registry = ScheduledJobRegistry(queue=hotline.jobs.queue)
    assert len(registry.get_job_ids()) == 1  # rq's retry, after its interval
    later(app, RESERVE_LEASE_SECONDS + 1)
    reap_once(hotline, hotline.clock.now())  # the lease frees what the dead run held
    monkeypatch.setattr("rq.scheduler.current_timestamp", lambda: int(time.time()) + 60)
    scheduler = RQScheduler([hotline.jobs.queue], connection=hotline.stores.jobs)
    scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    monkeypatch.undo()
    run_jobs()
    assert hotline.agents.get("li_na").call_sid == call.call_sid
    call.continue_loop()
    assert [d["value"] for d in call.dialed] == ["li_na"]  # one dial, whatever ran twice


def test_an_agent_whose_phone_rang_into_the_void_is_released_after_the_lease(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """The Dial started, then nothing came back (its result lost): the caller keeps their place."""
    first, second = topup_caller(dial), topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    hotline.jobs.match_agent(None, "li_na")
    run_jobs()
    first.continue_loop()
    assert first.state == "dialing" and state_of(app, "li_na") == RINGING
    later(app, ring_lease(app) - 1)
    assert reap_once(hotline, hotline.clock.now()).agents == {}  # still within the lease
    later(app, 2)
    reaped = reap_once(hotline, hotline.clock.now())
    agent = hotline.agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == "ring_timeout"
    assert reaped.callers == {first.call_sid: "back"}
    assert waiting_in(redis_conn, "payments") == [first.call_sid, second.call_sid]
    first.dial_result("no-answer")  # the lost result turns up late: the caller is back on hold
    assert first.on_hold
    assert waiting_in(redis_conn, "payments") == [first.call_sid, second.call_sid]


def test_an_agent_matched_to_a_caller_whose_dial_never_starts_is_free_within_seconds(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """The redirect was accepted but the caller's call never fetched its Dial (lost in a failover,
    say): the agent is not kept a whole ring timeout for a call that is not ringing them."""
    first = topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    hotline.jobs.match_agent(None, "li_na")
    run_jobs()
    assert state_of(app, "li_na") == RINGING  # the redirect is pending on the caller's call
    assert CONNECT_LEASE_SECONDS < ring_lease(app)
    later(app, CONNECT_LEASE_SECONDS - 1)
    assert reap_once(hotline, hotline.clock.now()).agents == {}  # within the lease
    later(app, 2)
    reaped = reap_once(hotline, hotline.clock.now())
    assert hotline.agents.get("li_na").state == READY  # their phone never rang: ready, no reason
    assert reaped.callers == {first.call_sid: "back"}
    assert waiting_in(redis_conn, "payments") == [first.call_sid]
    first.continue_loop()  # the redirect turns up late: the caller is on hold at their place
    assert first.on_hold and first.dialed == []
    run_jobs()  # the agent, ready again, is offered the caller once more
    first.continue_loop()
    assert first.state == "dialing" and first.dialed[-1]["value"] == "li_na"


def test_a_caller_who_left_while_the_agent_rang_unnoticed_is_abandoned_and_the_agent_ready(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """The caller hung up during the ring and both notices (Dial action, status callback) were lost."""
    call = topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    hotline.jobs.match_agent(None, "li_na")
    run_jobs()
    call.continue_loop()
    assert call.state == "dialing"
    call._notify = lambda *args, **kwargs: None  # type: ignore[method-assign]  # nothing reaches us
    call.hangup()
    assert state_of(app, "li_na") == RINGING
    later(app, ring_lease(app) + 1)
    reaped = reap_once(hotline, hotline.clock.now())
    assert reaped.agents["li_na"] == "caller gone" and state_of(app, "li_na") == READY
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["status"] == "ended" and record["outcome"] == "abandoned_while_ringing"
    stats = redis_conn.hgetall(keys.department_stats("payments", record["day"]))
    assert stats["abandoned"] == "1" and "answered" not in stats


def test_the_reaper_runs_in_one_worker_and_another_takes_over_when_it_dies(
    app: Flask, redis_conn: redis.Redis
) -> None:
    hotline = services_of(app)
    first = Reaper(hotline, interval=2.0, name="worker-1")
    second = Reaper(hotline, interval=2.0, name="worker-2")
    assert first.step() is not None  # takes the lease and reaps
    assert second.step() is None  # beats, but the lease is held
    assert first.step() is not None  # renews its own lease
    assert first.holder() == "worker-1"
    beats = redis_conn.zrange(keys.worker_beats(), 0, -1)
    assert set(beats) == {"worker-1", "worker-2"}
    assert 0 < redis_conn.pttl(keys.reaper_lease()) <= first.lease_ms
    # worker-1 is killed: its beat grows old, and worker-2 takes over without waiting for the lease.
    redis_conn.zadd(keys.worker_beats(), {"worker-1": time.time() - 6})
    assert second.step() is not None
    assert second.holder() == "worker-2"
    assert first.step() is None  # back from the dead, it does not reap beside the new holder
    # A lease that simply runs out (its holder gone without a beat) is free for the next worker.
    redis_conn.zrem(keys.worker_beats(), "worker-2")
    redis_conn.pexpire(keys.reaper_lease(), 1)
    for _ in range(500):
        if not redis_conn.exists(keys.reaper_lease()):
            break
        time.sleep(0.01)
    assert first.step() is not None and first.holder() == "worker-1"


def test_the_reaper_thread_keeps_passing_and_hands_the_lease_back(
    app: Flask, redis_conn: redis.Redis
) -> None:
    hotline = services_of(app)
    reaper = Reaper(hotline, interval=0.01, name="worker-t")
    thread = reaper.start()
    for _ in range(500):
        if redis_conn.get(keys.reaper_lease()) == "worker-t":
            break
        time.sleep(0.01)
    reaper.stop.set()
    thread.join(5)
    reaper.release()
    assert not thread.is_alive() and not redis_conn.exists(keys.reaper_lease())
    assert redis_conn.zscore(keys.worker_beats(), "worker-t") is not None


def test_the_reaper_ends_wrap_ups_and_silences_without_rq(app: Flask, run_jobs: Callable[[], None]) -> None:
    """The agent sweep no longer depends on rq's scheduler: the reaper runs it each pass."""
    hotline = services_of(app)
    now = hotline.clock.now()
    for agent_id in ("li_na", "emma_chen"):
        hotline.agents.choose(agent_id, READY, now)
        hotline.agents.heartbeat(agent_id, now)
        hotline.agents.reserve(agent_id, now)
        hotline.agents.ring(agent_id, "CA" + "0" * 32, now)
        hotline.agents.answered(agent_id, now)
        hotline.agents.finished(agent_id, now, 30)
    later(app, 31)
    hotline.agents.heartbeat("li_na", hotline.clock.now())
    hotline.stores.data.zadd(keys.agent_heartbeats(), {"emma_chen": now.timestamp() - 3600})
    reaped = reap_once(hotline, hotline.clock.now())
    assert reaped.agents == {"li_na": "wrapped up"}
    assert state_of(app, "li_na") == READY and state_of(app, "emma_chen") == "offline"


def test_a_lost_matching_job_leaves_no_agent_idle_beside_a_waiting_caller(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """The jobs were lost (Redis lost them, a worker died): the reaper asks for a match, once a period."""
    call = topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    hotline.jobs.queue.empty()  # the hand-off's matching job is gone
    assert reap_once(hotline, hotline.clock.now()).agents == {}
    assert hotline.jobs.queue.count == 1
    reap_once(hotline, hotline.clock.now())
    assert hotline.jobs.queue.count == 1  # not again within the period
    run_jobs()
    assert hotline.agents.get("li_na").call_sid == call.call_sid


def test_a_worker_process_killed_mid_match_leaves_nothing_stuck(
    app: Flask,
    app_settings: dict[str, str],
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    redis_url: str,
) -> None:
    """A real worker SIGKILLs itself at `matching.taken` (HOTLINE_FAULT_POINTS): no finally, no rq."""
    first, second = topup_caller(dial), topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    hotline.jobs.queue.empty()
    hotline.jobs.match_agent(None, "li_na")
    env = {
        **os.environ,
        "TWILIO_ACCOUNT_SID": app_settings["twilio_account_sid"],
        "TWILIO_AUTH_TOKEN": app_settings["twilio_auth_token"],
        "TWILIO_API_BASE_URL": app_settings["twilio_api_base_url"],
        "PUBLIC_BASE_URL": app_settings["public_base_url"],
        "REDIS_URL": redis_url,
        "HOTLINE_CLOCK_START": hotline.clock.now().isoformat(),
        "HOTLINE_FAULT_POINTS": "matching.taken",
    }
    code = (
        "from rq import SimpleWorker; from ivr.jobs import QUEUE_NAME; "
        "from queue_worker.context import services; "
        "SimpleWorker([QUEUE_NAME], connection=services().stores.jobs).work(burst=True)"
    )
    worker = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, timeout=120, check=False)
    assert worker.returncode == -signal.SIGKILL
    assert state_of(app, "li_na") == "reserved"
    assert waiting_in(redis_conn, "payments") == [second.call_sid]  # the first is held
    first.continue_loop()
    assert first.on_hold  # their place is kept while held: no overflow
    later(app, RESERVE_LEASE_SECONDS + 5)
    reap_once(hotline, hotline.clock.now())
    assert state_of(app, "li_na") == READY
    assert waiting_in(redis_conn, "payments") == [first.call_sid, second.call_sid]
    hotline.jobs.queue.empty()  # the dead run's job (rq finds it in its own time)
    hotline.jobs.match_agent(None, "li_na")
    run_jobs()
    assert hotline.agents.get("li_na").call_sid == first.call_sid


def test_an_agent_whose_call_ended_without_any_report_is_sent_to_wrap_up(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """The two talked, then the call ended and every report of it was lost (the Dial's result,
    the status callback): the reaper finds the call over at Twilio, the agent goes to wrap-up and
    the call is served and counted once; a call still up is left alone, and asked about at most
    once per period."""
    call = topup_caller(dial)
    hotline = services_of(app)
    go_ready(app, "li_na")
    hotline.jobs.match_agent(None, "li_na")
    run_jobs()
    call.continue_loop()
    call.answer()  # li_na picks up and hears the whisper: they talk
    assert state_of(app, "li_na") == "on_call"
    later(app, 20)
    reaped = reap_once(hotline, hotline.clock.now())
    assert "li_na" not in reaped.agents and reaped.checked == 1  # still talking: left alone
    later(app, 1)
    assert reap_once(hotline, hotline.clock.now()).checked == 0  # not asked again so soon

    call._notify = lambda *args, **kwargs: None  # type: ignore[method-assign]  # nothing reaches us
    call.hangup()
    assert state_of(app, "li_na") == "on_call"  # nobody told the hotline
    later(app, 8)
    reaped = reap_once(hotline, hotline.clock.now())
    assert reaped.agents["li_na"] == "call over" and state_of(app, "li_na") == "wrap_up"
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["status"] == "ended" and record.get("served_at")
    stats = redis_conn.hgetall(keys.department_stats("payments", record["day"]))
    assert stats["handled"] == "1" and "abandoned" not in stats
    later(app, 9)
    again = reap_once(hotline, hotline.clock.now())
    assert "li_na" not in again.agents or again.agents["li_na"] == "wrapped up"
    assert redis_conn.hgetall(keys.department_stats("payments", record["day"]))["handled"] == "1"


def test_a_worker_of_the_same_host_takes_over_at_once_from_a_holder_that_no_longer_runs(
    app: Flask, redis_conn: redis.Redis
) -> None:
    """The holder was killed and its supervisor started a new worker on the same machine: the new
    one takes the lease at its first pass, though the dead holder's beat is still fresh."""
    hotline = services_of(app)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process of this host that no longer runs
    dead = f"{socket.gethostname()}:{gone.pid}:abcdef"
    redis_conn.set(keys.reaper_lease(), dead, px=60_000)
    redis_conn.zadd(keys.worker_beats(), {dead: time.time()})
    alive = f"{socket.gethostname()}:{os.getpid()}:fedcba"  # this process: alive, never taken over
    fresh = Reaper(hotline, interval=2.0, name="worker-new")
    assert fresh.step() is not None and fresh.holder() == "worker-new"
    redis_conn.set(keys.reaper_lease(), alive, px=60_000)
    redis_conn.zadd(keys.worker_beats(), {alive: time.time()})
    assert fresh.step() is None and fresh.holder() == alive
