"""A caller's first wait counts each of their agents by the call that agent is on: how long ago it
was answered, or how soon their wrap-up ends; an agent who takes another department first does
not count while callers wait there. Through the webhooks (what a caller on hold hears), and the
first stage's moments on known cases."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

import pytest
import redis
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr import keys
from ivr.callcenter.agents import READY
from ivr.clock import FixedClock, business_day
from ivr.jobs.periodic import rollup_profiles
from ivr.redis_types import text_or_none
from ivr.services import Services, services_of
from ivr.waits.estimate import QueueState, estimate
from ivr.waits.first_free import Busy, first_free, residual
from ivr.waits.live import wait_for_new_caller
from standin.phone import Call
from tests.conftest import OPEN_HOURS
from tests.test_wait_announcements import heard, mandarin_caller

SOON = "预计等待时间不到一分钟。"


def on_a_call(app: Flask, agent_id: str, answered_seconds_ago: float, department: str = "payments") -> None:
    """The agent took a caller of `department` that long ago and is talking to them."""
    hotline = services_of(app)
    now = hotline.clock.now()
    sid = f"CA{agent_id}{department}"
    hotline.stores.data.hset(keys.call(sid), "department", department)
    hotline.agents.choose(agent_id, READY, now)
    hotline.agents.reserve(agent_id, now)
    hotline.agents.ring(agent_id, sid, now)
    hotline.agents.answered(agent_id, now - timedelta(seconds=answered_seconds_ago))


def steady_calls(conn: redis.Redis, day: str, talk: float, sd: float) -> None:
    """Payments answered 50 calls today, of `talk` seconds on average with this spread."""
    conn.hset(
        keys.department_stats("payments", day),
        mapping={
            "handled": 50,
            "answered": 50,
            "handle_ms": int(50 * talk * 1000),
            "handle_sq": 50 * (talk**2 + sd**2),
        },
    )


def payments_at_eleven(app: Flask, conn: redis.Redis, clock: FixedClock) -> Services:
    """The hotline at 11:00 on a weekday, payments' calls of 180 s (sd 20 s) so far today."""
    hotline = services_of(app)
    clock.set(OPEN_HOURS.replace(hour=11))
    steady_calls(conn, business_day(clock.now(), hotline.config.file.hotline.timezone), talk=180.0, sd=20.0)
    return hotline


def test_behind_an_agent_on_a_call_just_answered_the_caller_is_not_told_less_than_a_minute(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, clock: FixedClock
) -> None:
    payments_at_eleven(app, redis_conn, clock)
    on_a_call(app, "li_na", answered_seconds_ago=5)  # Mandarin payments' only agent
    caller = mandarin_caller(dial)
    text = heard(caller)
    # Three minutes of talk and 45 s of wrap-up to come: as an average agent (one exponential
    # stage of 225 s) the first minute held 23%; by her call, next to none.
    assert "预计等待" in text and SOON not in text


def test_behind_an_agent_finishing_their_wrap_up_the_caller_is_told_less_than_a_minute(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, clock: FixedClock
) -> None:
    hotline = payments_at_eleven(app, redis_conn, clock)
    on_a_call(app, "li_na", answered_seconds_ago=200)
    hotline.agents.finished("li_na", clock.now() - timedelta(seconds=25), 45)  # 20 s of wrap-up left
    caller = mandarin_caller(dial)
    assert SOON in heard(caller)


def test_an_agent_on_a_call_counts_for_the_department_of_the_call_they_answered(
    app: Flask, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """The answer comes from code that holds the caller's record and hands its department over:
    li_na (payments and general) on a payments call is busy with payments in general's count too,
    even when the record has gone by the time she is counted (nothing reads it again)."""
    hotline = services_of(app)
    now = clock.now()
    hotline.agents.choose("li_na", READY, now)
    hotline.agents.reserve("li_na", now)
    hotline.agents.ring("li_na", "CAerased", now)  # no record under this sid
    hotline.agents.answered("li_na", now, "payments")
    for dept in ("payments", "general"):
        entry = text_or_none(redis_conn.hget(keys.staffed_busy(dept), "li_na")) or ""
        assert entry.startswith("call|") and entry.endswith("|payments")


def test_an_agent_who_takes_another_department_first_does_not_count_while_callers_wait_there(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """emma_chen takes international and general before payments: with her wrap-up nearly over,
    a payments caller has her next, unless a general caller waits, who takes her first."""
    hotline = payments_at_eleven(app, redis_conn, clock)
    on_a_call(app, "li_na", answered_seconds_ago=5)
    on_a_call(app, "emma_chen", answered_seconds_ago=200)
    hotline.agents.finished("emma_chen", clock.now() - timedelta(seconds=40), 30)  # free at the sweep
    first = mandarin_caller(dial)
    assert SOON in heard(first)
    day = business_day(clock.now(), hotline.config.file.hotline.timezone)
    hotline.queues.join("CAgeneral", "general", "zh-CN", 2, clock.now(), 50, day)
    second = mandarin_caller(lambda **kw: dial(from_="+8613900000002", **kw))
    assert SOON not in heard(second) and "预计等待" in heard(second)


def test_the_first_free_agent_of_exponential_calls_is_the_models_first_stage() -> None:
    """Exponential calls have no memory: their age changes nothing, and five of them free one
    after an exponential time of a fifth of a call, as the model's stages say."""
    for age in (0.0, 100.0, 1000.0):
        mean, sd = residual(age, 200.0, 1.0)
        assert mean == pytest.approx(200.0, rel=0.02) and sd == pytest.approx(200.0, rel=0.02)
    moments = first_free([Busy(50.0 * i, 200.0, 1.0, 0.0) for i in range(5)])
    assert moments is not None
    assert moments[0] == pytest.approx(40.0, rel=0.02)
    assert moments[1] == pytest.approx(1600.0, rel=0.05)
    said = estimate(QueueState(agents=5.0, mean_handle_seconds=200.0, handle_cv=1.0, first_free=moments))
    plain = estimate(QueueState(agents=5.0, mean_handle_seconds=200.0))
    assert said is not None and plain is not None
    assert said.seconds == pytest.approx(plain.seconds, rel=0.02)


def test_calls_of_little_spread_free_their_agents_by_their_age() -> None:
    """Calls of 200 s give or take 20 s: one answered 190 s ago ends within seconds, one just
    answered in about 200; an agent counted for none of their time (share 0) is left out."""
    young, old = residual(0.0, 200.0, 0.1), residual(190.0, 200.0, 0.1)
    assert young[0] == pytest.approx(200.0, rel=0.01) and old[0] < 25.0
    both = first_free([Busy(0.0, 200.0, 0.1, 0.0), Busy(190.0, 200.0, 0.1, 0.0)])
    alone = first_free([Busy(0.0, 200.0, 0.1, 0.0), Busy(190.0, 200.0, 0.1, 0.0, share=0.0)])
    assert both is not None and alone is not None
    assert both[0] < 30.0 < 150.0 < alone[0]
    assert first_free([Busy(0.0, 200.0, 0.1, 0.0, share=0.0)]) is None  # nobody for this caller
    wrapping = first_free([Busy(None, 200.0, 0.1, 12.5)])  # wrap-up and sweep over in 12.5 s
    assert wrapping is not None and wrapping[0] == pytest.approx(12.5, abs=1.0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            Busy,
            age=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
            talk=st.floats(allow_nan=True, allow_infinity=True),
            cv=st.floats(min_value=0.0, max_value=20.0),
            after=st.floats(min_value=0.0, max_value=1e6),
            share=st.floats(min_value=0.0, max_value=1.0),
        ),
        max_size=8,
    )
)
def test_the_first_stage_of_any_agents_is_finite_or_none(agents: list[Busy]) -> None:
    """Counters gone wild (a talk time of 1e300 s, NaN ages) give finite moments or none at all:
    never an exception in a hold turn, which would send the caller to the overflow number."""
    moments = first_free(agents)
    assert moments is None or all(math.isfinite(m) for m in moments)


def test_two_agents_in_wrap_up_free_the_caller_at_the_first_end() -> None:
    """Once an agent wholly the caller's ends their wrap-up, nobody can still be busy: the first
    stage is over. (It used to read the next span as a chance of 0 after 0 and give up, leaving a
    quarter of the callers who were next to the model's average agent.)"""
    mean, variance, _ = first_free([Busy(None, 200.0, 0.6, 20.0), Busy(None, 200.0, 0.6, 30.0)])
    assert mean == pytest.approx(20.0) and variance == pytest.approx(0.0, abs=1e-9)
    # Half the first agent's freeing is ours: the second's end at 30 s is reached half the time.
    mean, variance, _ = first_free([Busy(None, 200.0, 0.6, 20.0, 0.5), Busy(None, 200.0, 0.6, 30.0)])
    assert mean == pytest.approx(25.0) and variance == pytest.approx(25.0)


def test_a_caller_further_back_counts_by_the_call_their_agent_is_on_too(
    app: Flask, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """li_na is 170 s into a payments call (about 180 s): a caller joining behind the one who is
    next waits for the rest of her call, her wrap-up and the sweep, then a whole call of hers;
    as two average agents' stages they were told 90 s longer on the wallboard and on hold."""
    hotline = payments_at_eleven(app, redis_conn, clock)
    on_a_call(app, "li_na", answered_seconds_ago=170)
    day = business_day(clock.now(), hotline.config.file.hotline.timezone)
    hotline.queues.join("CAnext", "payments", "zh-CN", 2, clock.now(), 50, day)
    wait = wait_for_new_caller(hotline.live, "payments", clock.now(), day)
    assert wait.state.ahead == 1 and wait.state.first_free is not None and wait.estimate is not None
    first = wait.state.first_free[0]  # the rest of her call, her wrap-up, the sweep
    assert first < 150
    assert wait.estimate.seconds == pytest.approx(first + wait.state.mean_handle_seconds, abs=1)


def test_the_first_caller_of_a_day_has_agents_counted_by_the_spread_of_past_calls(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """Yesterday payments talked 50 calls of 180 s give or take 20 s, and the profile kept their
    spread. Today nobody has finished a call yet: li_na, 170 s into hers, is about done, so the
    first caller is told a short wait. With no spread known (as exponential calls, whose age
    tells nothing) they heard "up to 6 minutes"."""
    hotline = services_of(app)
    tz = hotline.config.file.hotline.timezone
    clock.set(OPEN_HOURS.replace(hour=11) - timedelta(days=1))
    rollup_profiles()  # the worker's first run notes the counters
    steady_calls(redis_conn, business_day(clock.now(), tz), talk=180.0, sd=20.0)
    clock.set(clock.now() + timedelta(minutes=5))
    rollup_profiles()  # and the next adds what they gained to the hour-of-week profile
    clock.set(OPEN_HOURS.replace(hour=11))
    on_a_call(app, "li_na", answered_seconds_ago=170)
    text = heard(mandarin_caller(dial))
    assert SOON in text or "预计等待最多一分半钟" in text, text
