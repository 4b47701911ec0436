"""From the queue to a live agent: matching, the REST redirect, the whisper, and what follows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask

from ivr import create_app, faultpoints, keys
from ivr.callcenter.agents import NOT_READY, ON_CALL, READY, RINGING, WRAP_UP
from ivr.clock import FixedClock, business_day
from ivr.hotline.schema import Agent as AgentSpec
from ivr.services import services_of
from queue_worker import context
from standin.phone import Call
from standin.rest import Switchboard
from standin.transport import FlaskTransport
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DEMO_ACCOUNT,
    PUBLIC_BASE_URL,
    SHANGHAI,
    to_hold,
    waiting_in,
)
from tests.test_api import Api, token_for

MANDARIN, ENGLISH = "1", "2"


def ready(app: Flask, agent_id: str, run_jobs: Callable[[], None]) -> None:
    """The agent goes ready (as their console would) and the matcher runs."""
    hotline = services_of(app)
    now = hotline.clock.now()
    hotline.agents.choose(agent_id, READY, now)
    hotline.agents.heartbeat(agent_id, now)
    hotline.jobs.match_agent(None, agent_id)
    run_jobs()


def state_of(app: Flask, agent_id: str) -> str:
    """The agent's state as the supervisor sees it."""
    return services_of(app).agents.get(agent_id).state


def topup_caller(dial: Callable[..., Call], account: bool = True) -> Call:
    """A Mandarin caller with a failed top-up, on hold in payments."""
    call = dial(max_redirects=2)
    to_hold(call, verified=account)
    assert call.on_hold
    return call


def english_refund_caller(dial: Callable[..., Call]) -> Call:
    """An English caller asking for a refund, on hold in payments."""
    call = dial(from_="+14155550123", max_redirects=2)
    call.press(ENGLISH)
    call.press("6222000033")
    call.press("1")
    call.press("3")  # refund: payments
    call.silence()
    return call


def test_ready_agent_gets_the_caller_with_a_whisper(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """The whole connection: match, redirect out of the hold loop, ring, whisper, talk, wrap-up."""
    call = topup_caller(dial)
    ready(app, "li_na", run_jobs)
    assert state_of(app, "li_na") == RINGING
    call.continue_loop()  # Twilio takes the REST redirect instead of more hold music
    assert "正在为您接通客服代表" in call.heard_text()
    assert call.state == "dialing"
    assert call.dialed[-1]["kind"] == "client" and call.dialed[-1]["value"] == "li_na"
    whisper = " ".join(h.text for h in call.answer())
    assert "支付与充值来电：充值失败。账户尾号0017，身份已验证。已等待不到一分钟。" in whisper
    assert state_of(app, "li_na") == ON_CALL
    call.dial_result("completed", duration=240)
    assert call.heard_text().endswith("请为本次服务评分，1分表示很不满意，5分表示非常满意。")
    call.silence()  # no rating
    assert call.heard_text().endswith("感谢您的来电，再见。")
    assert call.state == "completed"
    assert state_of(app, "li_na") == WRAP_UP
    hotline = services_of(app)
    clock: FixedClock = hotline.clock
    wrap_up = hotline.config.file.departments["payments"].wrap_up_seconds
    clock.set(clock.now() + timedelta(seconds=wrap_up - 1))
    assert hotline.agents.sweep(clock.now(), clock.ago(3600)) == []  # still writing notes
    clock.set(clock.now() + timedelta(seconds=2))
    assert hotline.agents.sweep(clock.now(), clock.ago(3600)) == ["li_na"]
    assert state_of(app, "li_na") == READY
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert stats["offered"] == "1" and stats["answered"] == "1" and stats["answered_in_sl"] == "1"
    assert stats["handled"] == "1" and stats["handle_ms"] == "240000"
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "served"


def test_no_answer_puts_the_caller_back_at_the_head(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """The agent does not pick up: not ready for them, the caller keeps their place."""
    first = topup_caller(dial)
    second = topup_caller(dial)
    ready(app, "li_na", run_jobs)
    first.continue_loop()
    assert first.state == "dialing"
    first.dial_result("no-answer")
    assert "客服代表暂时无法接听，您的排队位置保持不变" in first.heard_text()
    agent = services_of(app).agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == "no-answer"
    assert waiting_in(redis_conn, "payments") == [first.call_sid, second.call_sid]
    ready(app, "li_na", run_jobs)
    first.continue_loop()
    assert first.state == "dialing"  # the same caller again, not the one behind
    assert waiting_in(redis_conn, "payments") == [second.call_sid]


def test_caller_hanging_up_while_agent_rings_frees_the_agent(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """A caller who gives up during the ring: the agent is ready at once, the call abandoned."""
    call = topup_caller(dial)
    ready(app, "li_na", run_jobs)
    call.continue_loop()
    call.hangup()
    assert state_of(app, "li_na") == READY
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "abandoned_while_ringing"
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert stats["abandoned"] == "1" and "answered" not in stats  # counted once, as abandoned


def test_position_and_wait_are_announced_in_the_callers_language(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """Waiting callers hear how many are ahead and a rounded wait; it is not repeated unchanged."""
    first = topup_caller(dial)
    assert "您是下一位。" in first.heard_text()
    assert "预计等待" not in first.heard_text()  # nobody serves payments yet: no number to give
    ready(app, "li_na", run_jobs)  # li_na takes the first caller and is busy from now on
    topup_caller(dial)
    third = topup_caller(dial)
    # One caller ahead; li_na also serves general, but takes payments first (skill 5 against 3),
    # so she counts a whole agent; the default 180 s a call plus 45 s wrap-up. The caller ahead
    # waits for the call she has just begun (of no known spread: exponential) and its wrap-up,
    # at least 47.5 s; the third for one more call. Such a wait starts late and leans long: under
    # the gamma, started later, of its mean, variance and skew, "1 to 10 minutes" is nearest 80%
    # (75.6% under the exact law; the plain gamma of mean and variance said "3 to 15", 78.1%).
    assert "您前面还有1位客户。预计等待1到10分钟。" in third.heard_text().replace(" ", "")
    mark = third.mark()
    third.continue_loop()
    assert "您前面还有" not in third.heard_text(mark)  # same position, cadence not due: music only


def test_agent_only_gets_callers_in_their_languages(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """li_na speaks Mandarin only: an English payments caller waits for someone who speaks it."""
    english = english_refund_caller(dial)
    ready(app, "li_na", run_jobs)
    assert state_of(app, "li_na") == READY
    ready(app, "emma_chen", run_jobs)  # payments skill 3, speaks English
    english.continue_loop()
    assert english.dialed[-1]["value"] == "emma_chen"


def test_the_whisper_opens_as_a_sentence_in_each_language(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """The whisper opens with the department's name, written to sit inside a sentence ("payments
    and top-ups"): an English-speaking agent hears (and their console shows) it capitalised;
    a Mandarin one hears it as written."""
    english = english_refund_caller(dial)
    ready(app, "emma_chen", run_jobs)  # speaks English first
    english.continue_loop()
    assert english.dialed[-1]["value"] == "emma_chen"
    whisper = " ".join(h.text for h in english.answer())
    assert whisper.startswith("Payments and top-ups call: a refund. Account ending 0033")
    mandarin = topup_caller(dial)
    ready(app, "li_na", run_jobs)
    mandarin.continue_loop()
    assert " ".join(h.text for h in mandarin.answer()).startswith("支付与充值来电：充值失败。")


@pytest.mark.parametrize(
    ("seconds", "english", "mandarin"),
    [
        (25, "Waited less than a minute.", "已等待不到一分钟。"),  # not "0 minutes": no wait at all
        (75, "Waited 1 minute.", "已等待1分钟。"),
        (200, "Waited 3 minutes.", "已等待3分钟。"),
    ],
)
def test_the_whisper_tells_the_agent_how_long_the_caller_waited(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    clock: FixedClock,
    seconds: int,
    english: str,
    mandarin: str,
) -> None:
    """Whole minutes on hold, and under a minute said as such, in the agent's language."""
    for call, agent, said in (
        (english_refund_caller, "emma_chen", f"Account ending 0033, verified. {english} Reference"),
        (topup_caller, "li_na", f"身份已验证。{mandarin}参考号"),
    ):
        caller = call(dial)
        clock.set(clock.now() + timedelta(seconds=seconds))
        ready(app, agent, run_jobs)
        caller.continue_loop()
        assert caller.dialed[-1]["value"] == agent
        assert said in " ".join(h.text for h in caller.answer())


def test_failed_redirect_is_delivered_by_the_hold_loop(
    app_settings: dict[str, Any], clock: FixedClock, redis_conn: redis.Redis, switchboard: Switchboard
) -> None:
    """Twilio's API does not answer: the caller's next turn of the hold loop connects them."""
    app = create_app({**app_settings, "twilio_api_base_url": "http://127.0.0.1:9"}, clock=clock)
    context.install(services_of(app))
    try:
        call = Call(
            FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN),
            account_sid=ACCOUNT_SID,
            max_redirects=2,
        )
        call.start()
        call.press(MANDARIN)
        call.press(DEMO_ACCOUNT)
        call.press("1")
        call.press("3")
        call.silence()
        from rq import SimpleWorker

        from ivr.jobs import QUEUE_NAME

        ready_now = services_of(app)
        ready_now.agents.choose("li_na", READY, clock.now())
        ready_now.jobs.match_agent(None, "li_na")
        SimpleWorker([QUEUE_NAME], connection=ready_now.stores.jobs).work(burst=True)
        assert state_of(app, "li_na") == RINGING
        call.continue_loop()
        assert call.state == "dialing" and call.dialed[-1]["value"] == "li_na"
    finally:
        context.install(None)


def test_long_waiting_caller_overflows_to_another_departments_agent(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], clock: FixedClock
) -> None:
    """Payments overflows to general after its threshold: only then may a general agent take them."""
    hotline = services_of(app)
    hotline.agents.upsert(
        AgentSpec(id="zhou", name="周", departments={"general": 3}, languages=["zh-CN"], reach="client:zhou"),
        clock.now(),
    )
    call = topup_caller(dial)
    ready(app, "zhou", run_jobs)
    assert state_of(app, "zhou") == READY  # payments callers are not general's, yet
    threshold = hotline.config.file.departments["payments"].overflow_after_seconds
    clock.set(clock.now() + timedelta(seconds=threshold + 1))
    hotline.jobs.match_department(None, "general")
    run_jobs()
    assert state_of(app, "zhou") == RINGING
    call.continue_loop()
    assert call.dialed[-1]["value"] == "zhou"


def test_fewest_calls_strategy_prefers_the_least_busy_agent(
    tmp_path: Path,
    app_settings: dict[str, Any],
    clock: FixedClock,
    redis_conn: redis.Redis,
    switchboard: Switchboard,
) -> None:
    """With `matching: fewest_calls`, the agent with fewer calls today wins over the longer idle.

    "Today" is the hotline's day: at 07:00 in Shanghai it is still yesterday in UTC.
    """
    root = Path(__file__).resolve().parent.parent
    data = yaml.safe_load((root / "hotline.yaml").read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "dial"  # these calls are written for the Dial
    data["hotline"]["matching"] = "fewest_calls"
    (tmp_path / "demo_accounts.yaml").write_text((root / "demo_accounts.yaml").read_text(encoding="utf-8"))
    (tmp_path / "hotline.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    app = create_app({**app_settings, "hotline_config": tmp_path / "hotline.yaml"}, clock=clock)
    hotline = services_of(app)
    clock.set(datetime(2026, 11, 25, 7, 0, tzinfo=SHANGHAI))
    hotline.agents.choose("li_na", READY, clock.now() - timedelta(minutes=10))  # idle the longest ...
    hotline.agents.choose("emma_chen", READY, clock.now())
    day = business_day(clock.now(), "Asia/Shanghai")
    assert day != clock.now().strftime("%y%m%d")
    redis_conn.hset(keys.agent_calls(day), mapping={"li_na": 12, "emma_chen": 3})  # ... but busier
    redis_conn.hset(keys.agent_calls("261124"), mapping={"li_na": 0, "emma_chen": 40})  # yesterday
    redis_conn.hset(keys.call("CAwaiting"), mapping={"status": "queued", "day": day})
    hotline.queues.join("CAwaiting", "payments", "zh-CN", 2, clock.now(), 10, day)
    match = hotline.matcher.for_department("payments")
    assert [(m.call_sid, m.agent_id) for m in match] == [("CAwaiting", "emma_chen")]


def test_matches_are_stamped_in_the_order_the_queue_gave_the_callers(
    app: Flask, dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis, monkeypatch: Any
) -> None:
    """Two matchers at once: li_na's starts first, emma_chen's overtakes it and takes the first
    caller, li_na's then takes the second. Each match is stamped when its caller was taken, so
    the first caller's comes first (stamped when each matcher started, it came a second later)."""
    first, second = topup_caller(dial), topup_caller(dial)
    hotline = services_of(app)
    hotline.agents.choose("li_na", READY, clock.now())
    hotline.agents.choose("emma_chen", READY, clock.now())
    overtaken = []

    def overtake(point: str) -> None:
        if point == "matching.reserved" and not overtaken:  # li_na is reserved, nobody popped yet
            overtaken.append(point)
            clock.set(clock.now() + timedelta(seconds=1))
            assert hotline.matcher.for_agent("emma_chen") is not None

    monkeypatch.setattr(faultpoints, "hook", overtake)
    assert hotline.matcher.for_agent("li_na") is not None
    records = [redis_conn.hgetall(keys.call(call.call_sid)) for call in (first, second)]
    assert [r["agent"] for r in records] == ["emma_chen", "li_na"]
    matched = [datetime.fromisoformat(r["matched_at"]) for r in records]
    assert matched[0] <= matched[1]


def test_caller_held_too_long_goes_to_the_overflow_and_is_counted(
    app: Flask, dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """Past max_hold_minutes the caller is dialled on to the overflow number, counted as overflowed."""
    call = topup_caller(dial)
    limit = services_of(app).config.file.hotline.max_hold_minutes
    clock.set(clock.now() + timedelta(minutes=limit, seconds=1))
    call.continue_loop()
    assert call.state == "dialing" and call.dialed[-1]["value"] == "+862161234567"
    assert waiting_in(redis_conn, "payments") == []
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    stats = redis_conn.hgetall(keys.department_stats("payments", day))
    assert stats["offered"] == "1" and stats["overflowed"] == "1" and "abandoned" not in stats
    call.hangup()  # the end of the call on the overflow line is not an abandon
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "overflowed"
    daily = redis_conn.hgetall(keys.daily_stats(day))
    assert "abandoned_queue" not in daily
    assert "abandoned" not in redis_conn.hgetall(keys.department_stats("payments", day))


def test_caller_hanging_up_just_after_being_popped_leaves_no_agent_ringing(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, monkeypatch: Any
) -> None:
    """The hang-up lands between the matcher's pop and its mark: the agent is freed, the abandon counted."""
    call = topup_caller(dial)
    hotline = services_of(app)
    real_ring = hotline.agents.ring

    def hang_up_then_ring(agent_id: str, call_sid: str, now: Any, lease: float) -> None:
        call.hangup()  # the status callback runs now: the caller is no longer in the queue
        real_ring(agent_id, call_sid, now, lease)

    monkeypatch.setattr(hotline.agents, "ring", hang_up_then_ring)
    hotline.agents.choose("li_na", READY, hotline.clock.now())
    assert hotline.matcher.for_agent("li_na") is None
    assert state_of(app, "li_na") == READY
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    assert redis_conn.hget(keys.department_stats("payments", day), "abandoned") == "1"
    assert redis_conn.hget(keys.call(call.call_sid), "status") == "ended"


def test_caller_hanging_up_while_being_matched_leaves_no_agent_ringing(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, monkeypatch: Any
) -> None:
    """The status callback read 'queued', then the matcher gave the caller to an agent: still freed."""
    call = topup_caller(dial)
    hotline = services_of(app)
    hotline.agents.choose("li_na", READY, hotline.clock.now())
    real_load = hotline.calls.load

    def load_then_match(sid: str) -> Any:
        record = real_load(sid)
        if hotline.matcher.for_agent("li_na") is not None:  # only the first load matches
            assert state_of(app, "li_na") == RINGING
        return record

    monkeypatch.setattr(hotline.calls, "load", load_then_match)
    call.hangup()
    assert state_of(app, "li_na") == READY
    assert redis_conn.hget(keys.call(call.call_sid), "outcome") == "abandoned_while_ringing"


def test_a_caller_matched_between_a_hold_turns_reads_is_connected_not_overflowed(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, monkeypatch: Any
) -> None:
    """The turn read 'queued', then the matcher took the caller before the turn read the position
    (a Redis stall widens that gap): the caller reaches the ringing agent, not the overflow number."""
    import ivr.voice.waiting as waiting

    call = topup_caller(dial)
    hotline = services_of(app)
    real_wait = waiting.wait_for_caller
    matched: list[object] = []

    def matched_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not matched:
            hotline.agents.choose("li_na", READY, hotline.clock.now())
            matched.append(hotline.matcher.for_agent("li_na"))
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(waiting, "wait_for_caller", matched_meanwhile)
    # The turn reads in two round trips, as a first turn does (a turn after it reads the record
    # and the queue in one script: nothing can come between them).
    monkeypatch.setattr(waiting, "turn_wait", lambda *args: (None, None))
    call.continue_loop()
    assert matched and matched[0] is not None
    assert state_of(app, "li_na") == RINGING
    for _ in range(3):  # the matcher's REST redirect, or the loop's own dial after its grace
        if call.state == "dialing":
            break
        call.continue_loop()
    assert call.state == "dialing" and call.dialed[-1]["value"] == "li_na"
    day = redis_conn.hget(keys.call(call.call_sid), "day")
    assert "overflowed" not in redis_conn.hgetall(keys.department_stats("payments", day))


def test_a_caller_connected_by_a_dial_cannot_be_held(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """Hold needs the conference room (`connect_via: conference`): a Dial's caller gets a 409."""
    api, token = Api(app), token_for(app, "agent", "li_na")
    assert api.call("POST", "/api/agent/call/hold", token, json={"hold": True}).status_code == 404  # no call
    call = topup_caller(dial)
    ready(app, "li_na", run_jobs)
    call.continue_loop()
    call.answer()
    refused = api.call("POST", "/api/agent/call/hold", token, json={"hold": True})
    assert refused.status_code == 409 and "not in a conference room" in refused.get_json()["error"]
