"""Lost events cost seconds, not agents: the hotline asks Twilio when a caller's notices stop coming.

A hang-up whose status callback never arrives leaves a ghost in the queue. Its hold turns stop:
after two turns the reaper asks Twilio's REST API (the stand-in serves `GET /Calls/{sid}.json`)
and closes the call as abandoned. A ghost matched before that is found at once: Twilio refuses
the redirect ("not in progress", 21220), the call is checked and ended, and the agent, whose
phone never rang, is free again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import redis
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import READY
from ivr.clock import FixedClock
from ivr.services import services_of
from queue_worker.reaper import reap_once
from standin.phone import Call
from tests.conftest import waiting_in
from tests.test_connecting import ready, state_of, topup_caller


def hang_up_unnoticed(call: Call) -> None:
    """The caller hangs up; Twilio's status callback never reaches the hotline."""
    call.status_callback = None
    call.hangup()
    assert call.state == "completed"


def test_a_ghost_whose_hang_up_was_lost_leaves_the_queue_within_two_turns(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    hotline = services_of(app)
    clock: FixedClock = hotline.clock
    turn = hotline.config.file.hotline.hold_turn_seconds
    ghost, alive = topup_caller(dial), topup_caller(dial)
    hang_up_unnoticed(ghost)
    assert waiting_in(redis_conn, "payments") == [ghost.call_sid, alive.call_sid]
    clock.set(clock.now() + timedelta(seconds=turn))
    alive.continue_loop()  # the live caller's turns keep coming
    clock.set(clock.now() + timedelta(seconds=turn - 1))
    assert reap_once(hotline, clock.now()).checked == 0  # not two turns yet: nobody is asked
    clock.set(clock.now() + timedelta(seconds=2))
    reaped = reap_once(hotline, clock.now())
    assert reaped.callers == {ghost.call_sid: "ended"} and reaped.checked == 1
    assert waiting_in(redis_conn, "payments") == [alive.call_sid]
    record = redis_conn.hgetall(keys.call(ghost.call_sid))
    assert record["status"] == "ended" and record["outcome"] == "abandoned_in_queue"
    stats = redis_conn.hgetall(keys.department_stats("payments", record["day"]))
    assert stats["abandoned"] == "1"
    ready(app, "li_na", run_jobs)  # the agent gets the live caller, never the ghost
    assert hotline.agents.get("li_na").call_sid == alive.call_sid
    assert redis_conn.zscore(keys.hold_turns("payments"), ghost.call_sid) is None


def test_a_caller_on_the_line_without_hold_turns_is_left_waiting(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    """Twilio says the call is in progress (keying a callback number, say): looked at again later."""
    hotline = services_of(app)
    clock: FixedClock = hotline.clock
    call = topup_caller(dial)
    clock.set(clock.now() + timedelta(seconds=2 * hotline.config.file.hotline.hold_turn_seconds + 1))
    reaped = reap_once(hotline, clock.now())
    assert reaped.checked == 1 and reaped.callers == {}
    assert waiting_in(redis_conn, "payments") == [call.call_sid]
    assert reap_once(hotline, clock.now()).checked == 0  # its clock starts again


def test_a_redirect_answered_not_in_progress_ends_the_call_and_frees_the_agent(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    hotline = services_of(app)
    ghost = topup_caller(dial)
    hang_up_unnoticed(ghost)
    ready(app, "li_na", run_jobs)  # matched to the ghost; Twilio answers the redirect with 21220
    assert state_of(app, "li_na") == READY
    assert ghost.dialed == [] and ghost.pending_update is None  # the agent's phone never rang
    record = redis_conn.hgetall(keys.call(ghost.call_sid))
    assert record["status"] == "ended" and record["outcome"] == "abandoned_while_ringing"
    stats = redis_conn.hgetall(keys.department_stats("payments", record["day"]))
    assert stats["abandoned"] == "1" and "answered" not in stats
    after = topup_caller(dial)
    run_jobs()
    assert hotline.agents.get("li_na").call_sid == after.call_sid  # li_na takes the next caller
