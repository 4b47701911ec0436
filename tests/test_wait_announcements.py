"""What callers on hold hear about their wait, and what the profile rollup learns, end to end.

Whole calls through the webhooks: the range in both languages, "less than a minute" when an
agent is free, no figure when nobody serves the queue, and the peak-hour message (once a call,
with the quietest hour of the next day from the profile the worker job rolled up).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.api.supervisor import statistics
from ivr.callcenter.agents import READY
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.queues import arrival_ms
from ivr.clock import FixedClock, business_day
from ivr.hotline.schema import Staffing
from ivr.jobs.periodic import rollup_profiles
from ivr.services import Services, services_of
from ivr.waits.arrivals import (
    RECENT_WINDOWS_SECONDS,
    arrival_ages,
    counted_arrival,
    kept_arrivals,
    recent_counts,
    recent_rate,
)
from ivr.waits.estimate import QueueState, estimate
from ivr.waits.live import (
    LiveQueues,
    censored_patience,
    censored_talk_time,
    wait_for_caller,
    wait_for_new_caller,
)
from ivr.waits.profile import hour_of_week
from standin.phone import Call
from tests.conftest import DEMO_ACCOUNT, OPEN_HOURS

MANDARIN, ENGLISH = "1", "2"
TZ = "Asia/Shanghai"
Dial = Callable[..., Call]


def ready(app: Flask, agent_id: str, run_jobs: Callable[[], None]) -> None:
    """The agent goes ready (as their console would) and the matcher runs."""
    hotline = services_of(app)
    hotline.agents.choose(agent_id, READY, hotline.clock.now())
    hotline.jobs.match_agent(None, agent_id)
    run_jobs()


def mandarin_caller(dial: Callable[..., Call]) -> Call:
    """A Mandarin caller with a failed top-up, on hold in payments."""
    call = dial(max_redirects=2)
    for keys_pressed in (MANDARIN, DEMO_ACCOUNT, "1", "1", "1"):
        call.press(keys_pressed)
    call.silence()  # the reference number plays out
    assert call.on_hold
    return call


def english_caller(dial: Callable[..., Call], number: str = "+14155550123") -> Call:
    """An English caller asking for a refund, on hold in payments."""
    call = dial(from_=number, max_redirects=2)
    for keys_pressed in (ENGLISH, "6222000033", "1", "3"):
        call.press(keys_pressed)
    call.silence()
    assert call.on_hold
    return call


def heard(call: Call, since: int = 0) -> str:
    return call.heard_text(since).replace(" ", "")


# The words of every wait a caller can be told, in both languages (prompts/: queue_wait_*), as
# `heard` gives them.
WAIT_WORDS = ("预计等待", "目前等待时间", "Yourwait", "Yourexpectedwait")


def told_a_wait(text: str) -> bool:
    """Whether `heard` text tells a wait, in any of its forms."""
    return any(words in text for words in WAIT_WORDS)


def test_english_callers_hear_a_range_and_nobody_staffed_means_no_figure(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    first = english_caller(dial)
    assert "Youarenextinline." in heard(first)
    assert "Yourwait" not in heard(first) and "Yourexpectedwait" not in heard(first)  # no agent: no figure
    ready(app, "emma_chen", run_jobs)  # takes the first caller; she serves three departments
    first.continue_loop()
    assert first.state == "dialing"
    second = english_caller(dial, "+14155550199")
    # Emma takes international and general before payments, but nobody waits there: her next
    # free moment is this caller's, so she counts a whole agent. 180 s a call plus 45 s wrap-up:
    # one exponential stage of 225 s, of which "up to 6 minutes" holds 1 - e^(-360/225) = 79.8%,
    # the nearest to 80% a caller can hear.
    assert "Youarenextinline.Yourwaitshouldbeupto6minutes." in heard(second)


def test_a_caller_with_an_agent_free_hears_their_place_and_no_wait_in_both_languages(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """Being connected is no wait to estimate: "less than a minute" there (true for 98.6%) made up
    half of what callers heard in the simulated hour, and hid how well the model's words held."""
    ready(app, "li_na", run_jobs)  # nobody waiting yet: she stays ready
    mandarin = mandarin_caller(dial)  # the matcher has not run yet: li_na is still free
    assert "您是下一位。" in heard(mandarin) and not told_a_wait(heard(mandarin))
    ready(app, "emma_chen", run_jobs)  # takes the Mandarin caller (the longest waiting)
    english = english_caller(dial)
    assert "Youarenextinline." in heard(english) and "expectedwait" not in heard(english)
    # A caller with nobody free ahead of them hears the model's words, "less than a minute" too.
    said = estimate(QueueState(agents=10, ahead=0, mean_handle_seconds=200.0, mean_patience_seconds=300.0))
    assert said is not None and said.spoken().kind == "soon"  # 1 - e^(-60 (10/200 + 0)) = 95% < 1 min


def _seed_profile(conn: redis.Redis, department: str) -> None:
    """A week seen: 20 calls an hour, 100 in afternoons, 200 on Tuesdays at 10, 5 on Wednesdays at 9."""
    mapping: dict[str, float] = {}
    for how in range(168):
        day, hour = divmod(how, 24)
        per_hour = 100.0 if 14 <= hour < 20 else 20.0
        per_hour = {(1, 10): 200.0, (2, 9): 5.0}.get((day, hour), per_hour)
        mapping |= {f"{how}:exposure": 3600, f"{how}:arrivals": per_hour, f"{how}:agent_s": 5 * 3600}
        mapping |= {f"{how}:handled": per_hour, f"{how}:handle_ms": per_hour * 180_000}
    conn.hset(keys.profile(department), mapping=mapping)


def test_the_peak_message_is_said_once_a_call_with_tomorrows_quietest_hour(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    clock: FixedClock,
) -> None:
    hotline = services_of(app)
    _seed_profile(redis_conn, "payments")
    hotline.jobs.queue.enqueue_call(rollup_profiles)
    run_jobs()  # a real rq worker rolls the profile up: the summary the hold loop reads
    summary = json.loads(redis_conn.hget(keys.profile("payments"), "summary"))
    assert hour_of_week(OPEN_HOURS, TZ) in summary["peak"]  # Tuesday 10:00-11:00
    ready(app, "li_na", run_jobs)
    mandarin_caller(dial)  # li_na takes this one
    waiting = mandarin_caller(dial)
    said = heard(waiting)
    assert "现在是来电高峰时段。明天最空闲的时间是09:00到10:00。" in said
    mark = waiting.mark()
    clock.set(clock.now() + timedelta(seconds=hotline.config.file.hotline.announce_every_seconds))
    waiting.continue_loop()
    again = heard(waiting, mark)
    assert "预计等待" in again and "高峰" not in again  # the wait again, the peak message not
    # li_na speaks only Mandarin: an English caller waits for emma_chen, who logs in (the matcher
    # does not run here), and hears the figure and the peak message with it.
    hotline.agents.choose("emma_chen", READY, clock.now())
    english = english_caller(dial)
    assert "Thisisoneofourbusiesthours.Thequietesttimetomorrowis09:00to10:00." in heard(english)
    # The supervisor sees the same: a peak hour now, the week's peak hours, a new caller's range.
    payments = next(
        q for q in statistics(hotline).queue_report(clock.now())["queues"] if q["department"] == "payments"
    )
    assert payments["peak_hour_now"] is True and payments["peak_hours"] == summary["peak"]
    new_caller = wait_for_new_caller(
        hotline.live, "payments", clock.now(), business_day(clock.now(), hotline.config.file.hotline.timezone)
    )
    # Three wait (the matcher has not run since), li_na and emma_chen are still free.
    assert new_caller.estimate is not None and (new_caller.state.ahead, new_caller.state.ready) == (3, 2)
    low, high = payments["estimated_wait_range"]
    assert low <= payments["estimated_wait_seconds"] <= high
    assert (low, high) == (int(new_caller.estimate.low), math.ceil(new_caller.estimate.high))
    said = new_caller.estimate.spoken()  # the words the wallboard shows are the words a caller hears
    assert payments["estimated_wait_spoken"] == {
        "kind": said.kind,
        "low_minutes": said.low,
        "high_minutes": said.high,
        "high_seconds": round(said.seconds()[1]),
    }


def test_outside_peak_hours_there_is_no_peak_message(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    clock: FixedClock,
) -> None:
    _seed_profile(redis_conn, "payments")
    clock.set(OPEN_HOURS + timedelta(days=1))  # Wednesday 10:30: an ordinary hour
    rollup_profiles()
    ready(app, "li_na", run_jobs)
    mandarin_caller(dial)
    assert "高峰" not in heard(mandarin_caller(dial))


def test_the_rollup_job_learns_arrivals_and_handle_times_by_hour_of_week(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    clock: FixedClock,
) -> None:
    hotline = services_of(app)
    hotline.jobs.queue.enqueue_call(rollup_profiles)
    run_jobs()  # the first run notes the counters; a new hotline gets its summary at once
    assert redis_conn.hexists(keys.profile("payments"), "summary")
    assert redis_conn.hget(keys.profile("payments"), f"{hour_of_week(OPEN_HOURS, TZ)}:exposure") is None
    ready(app, "li_na", run_jobs)
    served = mandarin_caller(dial)
    run_jobs()
    served.continue_loop()
    served.answer()
    served.dial_result("completed", duration=300)
    gone = english_caller(dial)
    clock.set(clock.now() + timedelta(seconds=120))
    gone.hangup()  # abandoned after 2 minutes
    clock.set(clock.now() + timedelta(seconds=180))
    hotline.jobs.queue.enqueue_call(rollup_profiles)
    run_jobs()
    profile = redis_conn.hgetall(keys.profile("payments"))
    how = hour_of_week(OPEN_HOURS, TZ)
    assert float(profile[f"{how}:exposure"]) == 300
    assert float(profile[f"{how}:arrivals"]) == 2
    assert float(profile[f"{how}:handled"]) == 1 and float(profile[f"{how}:handle_ms"]) == 300_000
    assert float(profile[f"{how}:abandoned"]) == 1 and float(profile[f"{how}:abandoned_wait_ms"]) == 120_000


def offered_earlier(
    hotline: Services, department: str, day: str, minutes_ago: list[int], now: datetime
) -> None:
    """Callers who joined `department` that many minutes ago and were answered since: the day's
    counters and recent arrivals as the join script keeps them (answered and handled: set apart)."""
    for m in minutes_ago:
        sid = f"CA{department}{m}"
        hotline.queues.join(sid, department, "zh-CN", 2, now - timedelta(minutes=m), 50, day)
        hotline.queues.leave(sid, department, day, abandoned=False)


def test_live_state_counts_shared_agents_overtaking_and_planned_shift_changes(
    app: Flask, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """What the estimator is given: shared agents' other queues, higher classes' arrival rate, the plan."""
    hotline = services_of(app)
    clock.set(OPEN_HOURS.replace(hour=11, minute=50))  # accounts plans 3 agents until 12:00, then 5
    day = business_day(clock.now(), hotline.config.file.hotline.timezone)
    hotline.agents.choose("wang_wei", READY, clock.now())  # takes security first, then accounts
    start = clock.now()
    offered_earlier(hotline, "security", day, [30, 20, 10], start + timedelta(seconds=30))
    for i in range(3):  # three high-priority callers today, ten minutes before the one we follow
        hotline.queues.join(f"CAhigh{i}", "accounts", "zh-CN", 1, start - timedelta(minutes=10), 50, day)
    hotline.queues.join("CAnormal", "accounts", "zh-CN", 2, start, 50, day)
    record = CallRecord(
        "CAnormal",
        {"department": "accounts", "priority": "normal", "day": day, "queued_at": start.isoformat()},
    )
    clock.set(start + timedelta(seconds=30))
    wait = wait_for_caller(hotline.live, record, clock.now())
    state = wait.state
    # Nobody waits in security, which wang_wei takes first: he counts a whole agent here.
    assert (wait.position, state.ahead, state.ready, state.agents) == (4, 3, 1, 1.0)
    # Three arrivals 10.5 minutes ago, all at once, each counted as it joined, decayed since, and
    # their times kept.
    joined_ms, now_ms = float(arrival_ms(start - timedelta(minutes=10))), float(arrival_ms(clock.now()))
    counted = counted_arrival(counted_arrival(counted_arrival(None, joined_ms), joined_ms), joined_ms)
    times = kept_arrivals(kept_arrivals(kept_arrivals(None, joined_ms), joined_ms), joined_ms)
    assert arrival_ages(times, now_ms) == (630.0, 630.0, 630.0)
    rate = recent_rate(recent_counts(counted, now_ms), joined_ms, now_ms, 3, arrival_ages(times, now_ms))
    assert state.overtaking_per_second == pytest.approx(rate, rel=1e-9)
    # Three so long ago and none since: the rate fell after them, below the day's average (3 / 630).
    assert 0 < rate < 0.5 * 3 / 630
    assert state.staffing_changes == ((570.0, 3.0),)  # at 12:00: two more agents than now
    assert state.waited_seconds == 30 and state.mean_handle_seconds == 180 + 30
    assert wait.estimate is not None and wait.estimate == estimate(state)
    # A security caller waits: wang_wei, security's only agent, takes them first, so they are ahead.
    hotline.queues.join("CAsecurity", "security", "zh-CN", 2, clock.now(), 50, day)
    state = wait_for_caller(hotline.live, record, clock.now()).state
    assert (state.agents, state.ahead, state.staffing_changes) == (1.0, 4, ((570.0, 3.0),))
    # Security answered 3 calls of 4 minutes (and 30 s of wrap-up) in half an hour: its demand keeps
    # 3 / 1800 * 270 = 0.45 of wang_wei, and accounts has the rest of him.
    # (Four offered: three half an hour to ten minutes ago, and the one waiting: 4 / 1800 a second
    # lately by the decayed counts' windows, as over the day, of whom 3 of 4 took an agent.)
    redis_conn.hset(
        keys.department_stats("security", day),
        mapping={"answered": 3, "handled": 3, "handle_ms": 720_000, "handle_sq": 3 * 240.0**2},
    )
    state = wait_for_caller(hotline.live, record, clock.now()).state
    assert state.agents == pytest.approx(0.55) and state.staffing_changes == ((570.0, pytest.approx(2.55)),)
    assert state.ahead == 3 + round(0.55 * 270 / 210)  # the security caller, in accounts' handle times


def test_an_agent_shared_with_a_department_taken_after_ours_frees_at_that_departments_pace(
    app: Flask, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """Security's only agent also takes accounts, after security: part of the time he is on an
    accounts call, which ends at accounts' pace (short calls: he is free sooner, long: later)."""
    hotline = services_of(app)
    clock.set(OPEN_HOURS.replace(hour=11))
    day = business_day(clock.now(), hotline.config.file.hotline.timezone)
    hotline.agents.choose("wang_wei", READY, clock.now())  # takes security first, then accounts
    alone = wait_for_new_caller(hotline.live, "security", clock.now(), day).state
    assert alone.agents == 1.0  # accounts has answered nobody yet: all of him is security's
    ours = alone.mean_handle_seconds
    assert ours is not None
    wrap_up = hotline.config.file.departments["accounts"].wrap_up_seconds
    offered_earlier(hotline, "accounts", day, [30, 20, 10], clock.now())
    for talk in (120.0, 480.0):  # accounts answered 3 calls in half an hour, of 2 minutes, then of 8
        redis_conn.hset(
            keys.department_stats("accounts", day),
            mapping={"answered": 3, "handled": 3, "handle_ms": 3 * talk * 1000},
        )
        state = wait_for_new_caller(hotline.live, "security", clock.now(), day).state
        theirs = talk + wrap_up
        share = 3 / 1800 * theirs  # of wang_wei's time on accounts' calls
        assert state.agents == pytest.approx(round(1 - share + share * ours / theirs, 3), abs=1e-3)
        assert (state.agents > 1.0) == (theirs < ours)


def test_overtaking_follows_a_surge_of_higher_classes_up_and_back_down(
    app: Flask, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """A normal caller is overtaken at the rate high-priority callers arrived lately, not over the
    day: it rises with a burst of them and falls back once they stop. The join script keeps the
    decayed counts and the last arrivals' times as callers join (by the arithmetic of
    `arrivals.counted_arrival` and `arrivals.kept_arrivals`), and the hold turn only reads them
    (`arrivals.recent_counts`, `arrivals.arrival_ages`): it writes nothing of them."""
    hotline = services_of(app)
    clock.set(OPEN_HOURS.replace(hour=9))
    day = business_day(clock.now(), hotline.config.file.hotline.timezone)
    hotline.agents.choose("wang_wei", READY, clock.now())
    start = clock.now()
    first = start - timedelta(hours=2)
    hotline.queues.join("CAhigh0", "accounts", "zh-CN", 1, first, 50, day)
    reference = counted_arrival(None, arrival_ms(first))
    times = kept_arrivals(None, arrival_ms(first))
    hotline.queues.join("CAnormal", "accounts", "zh-CN", 2, start, 50, day)
    record = CallRecord(
        "CAnormal",
        {"department": "accounts", "priority": "normal", "day": day, "queued_at": start.isoformat()},
    )
    recent = keys.recent_arrivals("accounts", day)

    def overtaking(minutes: float, joining: int) -> float:
        nonlocal reference, times
        for i in range(joining):  # spread over the minutes since the last look
            at = clock.now() + (start + timedelta(minutes=minutes) - clock.now()) * (i + 1) / (joining + 1)
            hotline.queues.join(f"CAburst{minutes}_{i}", "accounts", "zh-CN", 1, at, 50, day)
            reference = counted_arrival(reference, arrival_ms(at))
            times = kept_arrivals(times, arrival_ms(at))
        clock.set(start + timedelta(minutes=minutes))
        kept = redis_conn.hgetall(recent)
        rate = wait_for_caller(hotline.live, record, clock.now()).state.overtaking_per_second
        assert redis_conn.hgetall(recent) == kept  # the hold turn wrote nothing of them
        now_ms = float(arrival_ms(clock.now()))
        offered = float(redis_conn.hget(keys.department_stats("accounts", day), "offered:1") or 0)
        assert redis_conn.hget(recent, "times:1") == times
        ages = arrival_ages(times, now_ms)
        counts = recent_counts(reference, now_ms)
        expected = recent_rate(counts, float(arrival_ms(first)), now_ms, offered, ages)
        assert rate == pytest.approx(expected, rel=1e-9)
        return rate

    quiet = overtaking(0, 0)
    assert quiet < 1 / 600  # one caller two hours ago
    surge = overtaking(3, 30)  # thirty in three minutes
    # Three minutes into the burst, its rate (1/6 a second) is read from the arrivals since it
    # began, with the day's average as prior (worth one arrival: 4 minutes at that rate).
    assert 30 / 180 * 0.4 < surge < 30 / 180 * 1.3 and surge > 10 * 31 / (2 * 3600 + 180)
    after = overtaking(33, 0)  # half an hour without any: back to no more than the day's average
    assert after < surge / 20 and after <= 31 / (2 * 3600 + 33 * 60) * 1.001


def test_the_recent_rate_takes_the_longest_window_the_shorter_ones_agree_with() -> None:
    """Known data: steady arrivals are read over the longest window; after a jump or a stop, the
    short windows that saw it are believed; the result is always finite and never negative."""
    rng = random.Random(3)
    t, state = 0.0, None
    first = 0.0
    while t < 3600:  # an hour at four callers a minute
        t += rng.expovariate(4 / 60)
        state = counted_arrival(state, t * 1000)
    now = t * 1000
    counts = recent_counts(state, now)
    steady = recent_rate(counts, first, now)
    assert steady == pytest.approx(4 / 60, rel=0.2)
    windows = [n / tau / -math.expm1(-t / tau) for n, tau in zip(counts, RECENT_WINDOWS_SECONDS, strict=True)]
    assert any(steady == pytest.approx(rate, rel=1e-9) for rate in windows)
    for _ in range(60):  # then twenty a minute for three minutes
        t += rng.expovariate(20 / 60)
        state = counted_arrival(state, t * 1000)
    surge = recent_rate(recent_counts(state, t * 1000), first, t * 1000)
    assert surge > 12 / 60 and surge > windows[-1] * 2
    stopped = recent_rate(recent_counts(state, (t + 600) * 1000), first, (t + 600) * 1000)
    assert stopped < 4 / 60
    assert recent_rate((0.0, 0.0, 0.0, 0.0), None, 0.0) == 0.0


def test_patience_counts_the_callers_still_waiting_as_at_least_that_patient() -> None:
    """Known data: 2,000 callers of exponential patience (mean 300 s) in a surge, half still waiting.

    Leaving out callers still waiting (the earlier estimate) takes them for far less patient; the
    censored estimate finds the true mean within 6%, and a profile's prior weighs 5 abandons.
    """
    rng = random.Random(7)
    ended = waiting = 0.0
    abandoned = 0
    for _ in range(2000):
        patience, joined = rng.expovariate(1 / 300), rng.uniform(0, 600)  # the last 10 minutes
        served_after = rng.expovariate(1 / 900)  # agents are scarce: long waits
        waited_so_far = 600 - joined
        if patience < min(served_after, waited_so_far):
            ended, abandoned = ended + patience, abandoned + 1
        elif served_after < waited_so_far:
            ended += served_after
        else:
            waiting += waited_so_far  # still waiting: patience at least that
    censored = censored_patience(ended, abandoned, waiting, None)
    assert censored is not None and abs(censored - 300) < 0.06 * 300
    assert ended / abandoned < 0.8 * 300  # what leaving them out says
    assert censored_patience(600.0, 1, 0.0, None) is None  # one abandon, no profile: too little
    assert censored_patience(600.0, 0, 300.0, 200.0) == pytest.approx((900 + 5 * 200) / 5)


def test_a_plan_in_half_hours_is_read_step_by_step_from_the_agents_there_now(
    app: Flask, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """Reinforcements at 12:30 and 12:45, people leaving at 13:00: each step in its quarter hour.

    Each change is measured from what is planned now (3 agents), not from the hour's plan: one
    agent is staffed, so the outlook is 1 + (6 - 3), 1 + (8 - 3), then 1 + (4 - 3).
    """
    hotline = services_of(app)
    cfg = hotline.config.file
    staffing = Staffing.model_validate(
        {"mon-sun": {"09:00-12:30": 3, "12:30-12:45": 6, "12:45-13:00": 8, "13:00-18:00": 4}}
    )
    accounts = cfg.departments["accounts"].model_copy(update={"staffing": staffing})
    live = LiveQueues(
        cfg=cfg.model_copy(update={"departments": {**cfg.departments, "accounts": accounts}}),
        conn=hotline.live.conn,
        queues=hotline.live.queues,
    )
    clock.set(OPEN_HOURS.replace(hour=12, minute=10))
    day = business_day(clock.now(), cfg.hotline.timezone)
    hotline.agents.choose("wang_wei", READY, clock.now())
    hotline.queues.join("CAfirst", "accounts", "zh-CN", 2, clock.now(), 50, day)
    state = wait_for_new_caller(live, "accounts", clock.now(), day).state
    assert state.agents == 1.0
    assert state.staffing_changes == ((1200.0, 4.0), (2100.0, 6.0), (3000.0, 2.0))
    assert staffing.at(0, 12) == 5 and staffing.at_minute(0, 12 * 60 + 40) == 6  # the hour: its mean


def test_a_plan_changes_on_the_quarter_hour_at_the_finest() -> None:
    with pytest.raises(ValueError, match="quarter hour"):
        Staffing.model_validate({"mon-fri": {"09:00-09:10": 3}})
    hourly = Staffing.model_validate({"agents": {"mon": [2] * 24}})  # the earlier, hourly form
    assert hourly.at_minute(0, 23 * 60 + 59) == 2 and len(hourly.agents["mon"]) == 96


def test_talk_time_counts_the_calls_still_under_way() -> None:
    """Known data: 20 agents busy all morning on lognormal calls (mean 300 s, cv 1), seen at 09:40.

    Over the calls that ended only, the mean is short (the long ones are still going); counting
    the calls under way at their expected age finds the mean within 3%.
    """
    rng = random.Random(11)
    sigma = math.sqrt(math.log(2.0))
    now, ended, squares, handled, going = 6000.0, 0.0, 0.0, 0, 0
    for _ in range(20):
        t = 0.0
        while True:
            length = rng.lognormvariate(math.log(300.0) - sigma * sigma / 2, sigma)
            if t + length > now:
                going += 1
                break
            ended, squares, handled, t = ended + length, squares + length * length, handled + 1, t + length
    values = {
        "handled": float(handled), "handle_ms": ended * 1000, "handle_sq": squares,
        "answered": float(handled + going), "first_offer_ms": 1.0,
    }  # fmt: skip
    talked = censored_talk_time(values, None, now * 1000 + 1, busy=20)
    assert ended / handled < 0.97 * 300  # what the calls that ended say
    assert abs(talked / handled - 300) < 0.03 * 300
    # Calls whose end was never counted do not lengthen it past the agents who are busy.
    values["answered"] += 50
    assert censored_talk_time(values, None, now * 1000 + 1, busy=20) == talked
