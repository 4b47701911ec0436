"""A supervisor forces an agent's state, through the API and the admin command, without losing callers.

The agent stuck `ringing` is the case of issue 10: their caller goes back to their own place
(ahead of callers who came later) and their live call back to the hold loop; an agent `on_call`
ends their part of the call (counted handled); a reservation still being made is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import (
    NOT_READY,
    OFFLINE,
    ON_CALL,
    READY,
    RESERVE_LEASE_SECONDS,
    RESERVED,
    RINGING,
    WRAP_UP,
)
from ivr.clock import FixedClock
from ivr.services import services_of
from queue_worker import context
from standin.phone import Call
from standin.rest import Switchboard
from tests.conftest import waiting_in
from tests.test_api import Api, payments_caller, token_for
from tests.test_callbacks import ask_callback, calls_to, customer, hotline_file, make_app, on_hold
from tests.test_callbacks import ready as cb_ready
from tests.test_cli import run

FORCE = "/api/supervisor/agents/{}/state"


@pytest.fixture
def api(app: Flask) -> Api:
    """The API, each answer checked against the OpenAPI document."""
    return Api(app)


@pytest.fixture
def boss(app: Flask) -> str:
    """A supervisor's token."""
    return token_for(app, "supervisor", "zhang_min")


def ringing_for(app: Flask, call: Call, agent_id: str, run_jobs: Callable[[], None]) -> None:
    """The agent goes ready and is matched: their phone rings for `call`, and stays ringing."""
    hotline = services_of(app)
    hotline.agents.choose(agent_id, READY, hotline.clock.now())
    hotline.jobs.match_agent(None, agent_id)
    run_jobs()
    call.continue_loop()  # the REST redirect: the caller's call dials the agent
    assert call.state == "dialing" and hotline.agents.get(agent_id).state == RINGING


def test_a_ringing_agent_is_freed_and_the_caller_keeps_their_place(
    app: Flask,
    api: Api,
    boss: str,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = payments_caller(dial)
    later = payments_caller(dial, from_="+8613912345678")
    ringing_for(app, first, "li_na", run_jobs)
    assert waiting_in(redis_conn, "payments") == [later.call_sid]

    with caplog.at_level(logging.INFO, logger="ivr.callcenter.supervision"):
        resp = api.put(FORCE.format("li_na"), boss, {"state": "not_ready", "reason": "phone stuck"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["previous"] == RINGING and body["state"] == NOT_READY and body["caller"] == "requeued"
    assert body["call"] == redis_conn.hget(keys.call(first.call_sid), "ref")
    agent = services_of(app).agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == "phone stuck"
    assert waiting_in(redis_conn, "payments") == [first.call_sid, later.call_sid]  # their own place
    assert "supervisor zhang_min forced agent li_na from ringing to not_ready (phone stuck)" in caplog.text

    first.continue_loop()  # the REST redirect back to the hold loop ends the Dial
    assert first.on_hold and "您是下一位" in first.heard_text(first.mark() - 3)
    # Another agent can take them at once.
    ringing_for(app, first, "emma_chen", run_jobs)


def test_a_late_dial_result_of_the_freed_agent_keeps_the_caller_waiting(
    app: Flask, api: Api, boss: str, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """The redirect did not reach Twilio: the Dial times out later, and the caller stays in the queue."""
    hotline = services_of(app)
    caller = payments_caller(dial)
    ringing_for(app, caller, "li_na", run_jobs)
    hotline.connector.base_url = None  # the REST redirect to the hold loop fails
    assert api.put(FORCE.format("li_na"), boss, {"state": "offline"}).get_json()["caller"] == "requeued"
    caller.dial_result("no-answer", duration=0)  # the agent's phone rang out
    assert caller.on_hold and caller.state != "completed"


def test_an_agent_on_a_call_is_freed_and_the_call_counted_handled(
    app: Flask,
    api: Api,
    boss: str,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    clock: FixedClock,
) -> None:
    caller = payments_caller(dial)
    ringing_for(app, caller, "li_na", run_jobs)
    caller.answer()
    assert services_of(app).agents.get("li_na").state == ON_CALL
    clock.set(clock.now() + timedelta(seconds=90))
    body = api.put(FORCE.format("li_na"), boss, {"state": "ready"}).get_json()
    assert (body["previous"], body["state"], body["caller"]) == (ON_CALL, READY, "finished")
    record = redis_conn.hgetall(keys.call(caller.call_sid))
    assert record["status"] == "served"
    stats = redis_conn.hgetall(keys.department_stats("payments", record["day"]))
    assert stats["handled"] == "1" and stats["handle_ms"] == "90000"
    caller.dial_result("completed", duration=120)  # the real end of the talk: counted once
    assert redis_conn.hget(keys.department_stats("payments", record["day"]), "handled") == "1"


def test_a_reservation_being_made_is_refused_and_a_stale_one_is_taken_over(
    app: Flask, api: Api, boss: str, clock: FixedClock
) -> None:
    hotline = services_of(app)
    hotline.agents.choose("li_na", READY, clock.now())
    assert hotline.agents.reserve("li_na", clock.now())
    resp = api.put(FORCE.format("li_na"), boss, {"state": "offline"})
    assert resp.status_code == 409 and "being matched" in resp.get_json()["error"]
    assert hotline.agents.get("li_na").state == RESERVED
    clock.set(clock.now() + timedelta(seconds=RESERVE_LEASE_SECONDS + 1))  # the matcher died
    body = api.put(FORCE.format("li_na"), boss, {"state": "offline"}).get_json()
    assert (body["previous"], body["state"], body["caller"]) == (RESERVED, OFFLINE, None)
    assert "li_na" not in hotline.stores.data.zrange(keys.ready_agents("payments"), 0, -1)


def test_forcing_needs_a_supervisor_a_known_agent_and_a_reason(app: Flask, api: Api, boss: str) -> None:
    agent_token = token_for(app, "agent", "li_na")
    assert api.put(FORCE.format("li_na"), agent_token, {"state": "ready"}).status_code == 403
    assert api.put(FORCE.format("nobody"), boss, {"state": "ready"}).status_code == 404
    resp = api.put(FORCE.format("li_na"), boss, {"state": "not_ready"})
    assert resp.status_code == 400 and resp.get_json()["field"] == "reason"
    resp = api.put(FORCE.format("li_na"), boss, {"state": "on_call"})
    assert resp.status_code == 400 and resp.get_json()["field"] == "state"
    assert services_of(app).agents.get("li_na").state == OFFLINE


def test_the_admin_command_forces_a_state(app: Flask, redis_conn: redis.Redis) -> None:
    hotline = services_of(app)
    now = hotline.clock.now()
    hotline.agents.choose("li_na", READY, now)
    assert hotline.agents.reserve("li_na", now)
    hotline.agents.ring("li_na", "CA" + "0" * 32, now)
    hotline.agents.finished("li_na", now, 600)  # in a long wrap-up
    assert hotline.agents.get("li_na").state == WRAP_UP
    result = run(app, "agents", "force", "li_na", "ready")
    assert result.exit_code == 0 and result.output.strip() == "agent li_na: wrap_up -> ready"
    assert hotline.agents.get("li_na").state == READY
    assert redis_conn.zscore(keys.agent_heartbeats(), "li_na") is not None  # the usual timeout from now
    result = run(app, "agents", "force", "li_na", "not_ready")
    assert result.exit_code != 0 and "say why" in result.output
    result = run(app, "agents", "force", "li_na", "not_ready", "--reason", "training")
    assert result.exit_code == 0 and hotline.agents.get("li_na").reason == "training"
    result = run(app, "agents", "force", "nobody", "offline")
    assert result.exit_code != 0 and "no agent 'nobody'" in result.output


@pytest.fixture
def callback_app(
    app_settings: dict, redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    """The hotline with the callback offered to every waiting caller."""
    yield make_app({**app_settings, "hotline_config": hotline_file(tmp_path)}, clock)
    context.install(None)


def test_an_agent_kept_for_a_callback_that_never_rings_is_freed_and_the_place_kept(
    callback_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """The customer's phone never rang (the call stayed queued at Twilio): the agent stays ringing
    until a supervisor frees them; the callback's place goes back to the queue and another agent
    calls the customer."""
    asker = on_hold(callback_app, switchboard)
    ask_callback(asker)
    cb_ready(callback_app, "li_na")
    (stuck,) = calls_to(switchboard, asker)
    hotline = services_of(callback_app)
    assert hotline.agents.get("li_na").state == RINGING
    boss = token_for(callback_app, "supervisor", "zhang_min")
    resp = Api(callback_app).put(FORCE.format("li_na"), boss, {"state": "not_ready", "reason": "stuck"})
    assert resp.status_code == 200 and resp.get_json()["caller"] == "callback_requeued"
    assert waiting_in(redis_conn, "payments") == [asker.call_sid]
    assert redis_conn.hget(keys.call(asker.call_sid), "cb_status") == "waiting"
    late = customer(callback_app, switchboard, stuck)  # the first call connects after all
    assert late.state == "completed"  # a goodbye: that attempt is over
    cb_ready(callback_app, "emma_chen")
    assert len(calls_to(switchboard, asker)) == 2  # called again, for emma
    assert hotline.agents.get("emma_chen").state == RINGING
