"""A callback placed by a worker that dies at each step: the customer is called once, no agent is kept.

The crash points of placing a callback (`callback.claimed`, `.pending`, `.dialled`) raise in
process, as a killed worker would stop there; the agent's lease then runs out and one pass of the
reaper looks at the claim and at Twilio. Also: the customer's notices lost, and a customer who
hangs up while the agent's phone rings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from flask import Flask

from ivr import faultpoints, keys
from ivr.callcenter.agents import READY, RING_MARGIN_SECONDS, RINGING
from ivr.callcenter.callbacks import PLACING_SECONDS
from ivr.clock import FixedClock
from ivr.services import services_of
from queue_worker.reaper import reap_once
from standin.rest import Switchboard
from tests.conftest import DEMO_CALLER, run_jobs_of
from tests.test_callbacks import (  # noqa: F401 - fixtures
    ask_callback,
    calls_to,
    cb_app,
    cb_settings,
    customer,
    on_hold,
    scheduled,
)
from tests.test_reaper import WorkerDied, die_at


def matched_callback(app: Flask, switchboard: Switchboard, from_: str = DEMO_CALLER) -> tuple[str, object]:
    """A caller who asked for a callback; li_na goes ready (the test runs the matcher)."""
    asker = on_hold(app, switchboard, from_)
    ask_callback(asker)
    run_jobs_of(app)
    hotline = services_of(app)
    hotline.agents.choose("li_na", READY, hotline.clock.now())
    hotline.agents.heartbeat("li_na", hotline.clock.now())
    return asker.call_sid, asker


def past_the_lease(app: Flask) -> None:
    """Past the agent's lease for a placed callback: the reaper asks Twilio how the call goes."""
    hotline = services_of(app)
    clock: FixedClock = hotline.clock
    clock.set(clock.now() + timedelta(seconds=hotline.callbacks.check_seconds() + 1))
    hotline.agents.heartbeat("li_na", clock.now())


def past_the_placing(app: Flask) -> None:
    """Past the time a claimed attempt has to place its call: the reaper asks the claim and Twilio."""
    hotline = services_of(app)
    clock: FixedClock = hotline.clock
    clock.set(clock.now() + timedelta(seconds=PLACING_SECONDS + 1))
    hotline.agents.heartbeat("li_na", clock.now())


def past_the_ring(app: Flask) -> None:
    """Past the customer's ring timeout (and its margin) since the call was placed."""
    hotline = services_of(app)
    clock: FixedClock = hotline.clock
    ring = hotline.config.file.callbacks.ring_timeout_seconds + RING_MARGIN_SECONDS
    clock.set(clock.now() + timedelta(seconds=ring + 1))
    hotline.agents.heartbeat("li_na", clock.now())


def test_dead_before_the_job_was_queued_the_reaper_queues_it_once_more(
    cb_app: Flask,  # noqa: F811
    switchboard: Switchboard,
    redis_conn: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sid, asker = matched_callback(cb_app, switchboard)
    hotline = services_of(cb_app)
    die_at(monkeypatch, "callback.claimed")
    with pytest.raises(WorkerDied):
        hotline.matcher.for_agent("li_na")
    monkeypatch.setattr(faultpoints, "hook", None)
    run_jobs_of(cb_app)
    assert calls_to(switchboard, asker) == [] and hotline.agents.get("li_na").state == RINGING
    past_the_lease(cb_app)
    assert reap_once(hotline, hotline.clock.now()).agents == {"li_na": "callback placed again"}
    run_jobs_of(cb_app)
    (placed,) = calls_to(switchboard, asker)
    back = customer(cb_app, switchboard, placed)
    back.press("1")
    assert back.dialed[-1]["value"] == "li_na"  # the agent kept for them takes the call


def test_dead_after_the_claim_before_dialling_counts_as_not_reached_and_never_dials_twice(
    cb_app: Flask,  # noqa: F811
    switchboard: Switchboard,
    redis_conn: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A number of its own: the session's switchboard holds other tests' calls to the demo caller.
    sid, asker = matched_callback(cb_app, switchboard, "+8613900000077")
    hotline = services_of(cb_app)
    assert hotline.matcher.for_agent("li_na") is not None
    die_at(monkeypatch, "callback.pending")
    run_jobs_of(cb_app)  # the job dies after its claim, before asking Twilio for the call
    monkeypatch.setattr(faultpoints, "hook", None)
    assert calls_to(switchboard, asker) == []
    past_the_placing(cb_app)
    assert reap_once(hotline, hotline.clock.now()).agents == {"li_na": "callback not placed"}
    assert hotline.agents.get("li_na").state == READY
    record = redis_conn.hgetall(keys.call(sid))
    assert record["cb_status"] == "retry" and record["cb_reason"] == "not_placed"
    hotline.jobs.place_callback(None, sid, "li_na", 1)  # rq's retry of the dead run comes late
    run_jobs_of(cb_app)
    assert calls_to(switchboard, asker) == []  # stale: that attempt is over
    assert any(job_id.startswith("callback-due-") for job_id in scheduled(cb_app))  # called after the backoff


def test_dead_after_dialling_the_call_is_adopted_not_placed_again(
    cb_app: Flask,  # noqa: F811
    switchboard: Switchboard,
    redis_conn: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sid, asker = matched_callback(cb_app, switchboard)
    hotline = services_of(cb_app)
    assert hotline.matcher.for_agent("li_na") is not None
    die_at(monkeypatch, "callback.dialled")
    run_jobs_of(cb_app)  # the call exists at Twilio; the job died before writing it down
    monkeypatch.setattr(faultpoints, "hook", None)
    (placed,) = calls_to(switchboard, asker)
    assert redis_conn.hget(keys.call(sid), "cb_status") == "dialling"
    switchboard.place(replace(placed, status="in-progress"))  # the customer answered, is greeted
    past_the_placing(cb_app)
    reaped = reap_once(hotline, hotline.clock.now())
    assert reaped.agents == {"li_na": "callback in progress"}  # still ringing at the customer's
    record = redis_conn.hgetall(keys.call(sid))
    assert record["cb_status"] == "calling" and record["cb_call"] == placed.sid
    assert hotline.agents.get("li_na").state == RINGING
    back = customer(cb_app, switchboard, placed)
    back.press("1")
    assert back.dialed[-1]["value"] == "li_na"
    assert [c.sid for c in calls_to(switchboard, asker)] == [placed.sid]  # one call, never two


def test_the_customers_lost_status_callback_is_found_out_from_twilio(
    cb_app: Flask,  # noqa: F811
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    sid, asker = matched_callback(cb_app, switchboard)
    hotline = services_of(cb_app)
    assert hotline.matcher.for_agent("li_na") is not None
    run_jobs_of(cb_app)
    (placed,) = calls_to(switchboard, asker)
    switchboard.place(replace(placed, status="no-answer"))  # its status callback never came
    past_the_lease(cb_app)
    assert reap_once(hotline, hotline.clock.now()).agents == {"li_na": "callback no-answer"}
    assert hotline.agents.get("li_na").state == READY
    record = redis_conn.hgetall(keys.call(sid))
    assert record["cb_status"] == "retry" and record["cb_reason"] == "no-answer"


def test_a_customer_who_hangs_up_while_the_agent_rings_is_called_again(
    cb_app: Flask,  # noqa: F811
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    """Their status callback used to fail (TypeError): the callback was never retried nor failed."""
    sid, asker = matched_callback(cb_app, switchboard)
    hotline = services_of(cb_app)
    assert hotline.matcher.for_agent("li_na") is not None
    run_jobs_of(cb_app)
    (placed,) = calls_to(switchboard, asker)
    back = customer(cb_app, switchboard, placed)
    back.press("1")
    assert back.state == "dialing" and hotline.agents.get("li_na").state == RINGING
    back.hangup()  # the Dial action, then the status callback: both answered without an error
    assert hotline.agents.get("li_na").state == READY
    record = redis_conn.hgetall(keys.call(sid))
    assert record["status"] == "callback" and record["cb_status"] == "retry"
    assert record["cb_reason"] == "hung_up_waiting" and record["cb_fails"] == "1"
    assert any(job_id.startswith("callback-due-") for job_id in scheduled(cb_app))


def test_a_callback_that_never_leaves_the_queued_state_frees_the_agent(
    cb_app: Flask,  # noqa: F811
    switchboard: Switchboard,
    redis_conn: redis.Redis,
) -> None:
    """Twilio (or a stand-in that dials nobody) never reports back: canceled, counted as not answered."""
    sid, asker = matched_callback(cb_app, switchboard)
    hotline = services_of(cb_app)
    assert hotline.matcher.for_agent("li_na") is not None
    run_jobs_of(cb_app)
    (placed,) = calls_to(switchboard, asker)
    assert switchboard.outbound_call(placed.sid).status == "queued"
    past_the_lease(cb_app)  # it may still ring: the agent is kept for another check
    assert reap_once(hotline, hotline.clock.now()).agents == {"li_na": "callback in progress"}
    assert hotline.agents.get("li_na").state == RINGING
    past_the_ring(cb_app)
    assert reap_once(hotline, hotline.clock.now()).agents == {"li_na": "callback no-answer"}
    assert hotline.agents.get("li_na").state == READY
    assert switchboard.outbound_call(placed.sid).status == "canceled"
    record = redis_conn.hgetall(keys.call(sid))
    assert record["cb_status"] == "retry" and record["cb_reason"] == "no-answer"


def test_a_matcher_dead_before_the_job_costs_the_customer_seconds_not_the_whole_lease(
    cb_app: Flask,  # noqa: F811
    switchboard: Switchboard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The agent is kept for a job that must start within seconds: past that, not past the whole
    call's lease, the reaper queues it again and the customer is called."""
    sid, asker = matched_callback(cb_app, switchboard, "+8613900000078")
    hotline = services_of(cb_app)
    die_at(monkeypatch, "callback.claimed")
    with pytest.raises(WorkerDied):
        hotline.matcher.for_agent("li_na")
    monkeypatch.setattr(faultpoints, "hook", None)
    clock: FixedClock = hotline.clock
    clock.set(clock.now() + timedelta(seconds=hotline.callbacks.start_lease_seconds() + 1))
    hotline.agents.heartbeat("li_na", clock.now())
    assert reap_once(hotline, clock.now()).agents == {"li_na": "callback placed again"}
    run_jobs_of(cb_app)
    (placed,) = calls_to(switchboard, asker)
    clock.set(clock.now() + timedelta(seconds=hotline.callbacks.start_lease_seconds() + 1))
    hotline.agents.heartbeat("li_na", clock.now())
    assert reap_once(hotline, clock.now()).agents.get("li_na") in (None, "callback in progress")
    assert hotline.agents.get("li_na").state == RINGING  # the placed call keeps the agent
    back = customer(cb_app, switchboard, placed)
    back.press("1")
    assert back.dialed[-1]["value"] == "li_na"
