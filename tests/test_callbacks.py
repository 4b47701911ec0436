"""Callbacks: a caller hangs up and keeps their place, is called first, then gets the agent.

Whole calls through the webhooks, a real rq worker (in process, and in a subprocess that is
killed mid-job), rq's scheduler for retries and later hours, and the stand-in for Twilio's API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler

from ivr import create_app, keys
from ivr.api.auth import issue_token
from ivr.callcenter.agents import ON_CALL, READY, RINGING, WRAP_UP
from ivr.clock import FixedClock
from ivr.services import services_of
from ivr.waits.profile import quietest_slots
from queue_worker import context
from standin.phone import Call
from standin.rest import OutboundCall, Switchboard, create_rest_app, serve_in_thread
from standin.transport import FlaskTransport
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DEMO_CALLER,
    PUBLIC_BASE_URL,
    SHANGHAI,
    not_reached,
    picked_up,
    run_jobs_of,
    to_hold,
    waiting_in,
)

ROOT = Path(__file__).resolve().parent.parent
MANDARIN = "1"
OTHER_CALLER = "+8613912345678"
BRANCH_DESK = "+862150001234"  # an operator allows callbacks to it


def hotline_file(tmp_path: Path, **limits: int) -> Path:
    """The shipped hotline, with the callback offered to every waiting caller."""
    data = yaml.safe_load((ROOT / "hotline.yaml").read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "dial"  # these calls are written for the Dial
    data["callbacks"]["offer_from_position"] = 1
    data["callbacks"]["allowed_numbers"] = [BRANCH_DESK]
    data["outbound"]["limits"].update(limits)
    (tmp_path / "demo_accounts.yaml").write_text((ROOT / "demo_accounts.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def make_app(settings: dict[str, Any], clock: FixedClock) -> Flask:
    application = create_app(settings, clock=clock)
    context.install(services_of(application))
    return application


@pytest.fixture
def cb_settings(app_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return {**app_settings, "hotline_config": hotline_file(tmp_path, callbacks_per_number_per_day=2)}


@pytest.fixture
def cb_app(cb_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock) -> Iterator[Flask]:
    yield make_app(cb_settings, clock)
    context.install(None)


def phone(app: Flask, switchboard: Switchboard, from_: str) -> Call:
    call = Call(
        FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN), from_=from_, account_sid=ACCOUNT_SID
    )
    return switchboard.register(call)


def on_hold(app: Flask, switchboard: Switchboard, from_: str = DEMO_CALLER) -> Call:
    """A Mandarin caller with a failed top-up, on hold in payments, hearing the callback offer."""
    call = phone(app, switchboard, from_)
    call.max_redirects = 1
    call.start()
    to_hold(call, verified=from_ == DEMO_CALLER)
    assert call.state == "gathering"  # the hold turn, with the offer
    return call


def ask_callback(call: Call) -> None:
    """Press 1 on hold, confirm the caller ID read back, and hang up."""
    call.press("1")
    assert "我们将回电至" in call.heard_text(call.mark() - 1)
    call.press("1")
    assert call.state == "completed"


def ready(app: Flask, agent_id: str) -> None:
    hotline = services_of(app)
    now = hotline.clock.now()
    hotline.agents.choose(agent_id, READY, now)
    hotline.agents.heartbeat(agent_id, now)
    hotline.jobs.match_agent(None, agent_id)
    run_jobs_of(app)


def customer(app: Flask, switchboard: Switchboard, placed: OutboundCall, answered_by: str = "human") -> Call:
    """Twilio rings the customer for a created call; they (or their voicemail) pick up."""
    return picked_up(app, switchboard, placed, AnsweredBy=answered_by)


def called_back(app: Flask, switchboard: Switchboard) -> tuple[Call, Call]:
    """A caller who asked to be called back, and that call back, answered: the customer took the
    agent's call (`1`), li_na's phone rings. The caller's first call, and the customer's."""
    asker = on_hold(app, switchboard)
    ask_callback(asker)
    ready(app, "li_na")
    (placed,) = calls_to(switchboard, asker)
    back = customer(app, switchboard, placed)
    back.press("1")
    return asker, back


def calls_to(switchboard: Switchboard, caller: Call) -> list[OutboundCall]:
    """The calls the hotline placed to call this caller back (the switchboard outlives a test)."""
    return [c for c in switchboard.outbound_calls if f"call={caller.call_sid}&" in (c.url or "")]


def scheduler_at(app: Flask, monkeypatch: pytest.MonkeyPatch, wall: float) -> None:
    """rq's scheduler, run as it would run at wall-clock time `wall`: due jobs are enqueued."""
    hotline = services_of(app)
    monkeypatch.setattr("rq.scheduler.current_timestamp", lambda: int(wall))
    scheduler = RQScheduler([hotline.jobs.queue], connection=hotline.stores.jobs)
    scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    monkeypatch.undo()


def scheduled(app: Flask) -> dict[str, float]:
    """Job id -> wall-clock time rq's scheduler will enqueue it."""
    registry = services_of(app).jobs.queue.scheduled_job_registry
    return {job_id: registry.get_scheduled_time(job_id).timestamp() for job_id in registry.get_job_ids()}


def stats(conn: redis.Redis, call: Call) -> dict[str, str]:
    day = conn.hget(keys.call(call.call_sid), "day")
    return conn.hgetall(keys.department_stats("payments", day))


# -- keeping the place ---------------------------------------------------------------------


def test_callback_keeps_its_place_and_a_later_caller_does_not_overtake(
    cb_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    first = on_hold(cb_app, switchboard, "+8613900000001")
    asker = on_hold(cb_app, switchboard, DEMO_CALLER)
    assert "轮到您时由我们回电，请按1" in asker.heard_text()
    asker.press("1")
    assert "我们将回电至：一，三，八，零，零，一，三，八，零，零，零。" in asker.heard_text()
    asker.press("1")
    assert "您的排队位置已保留" in asker.heard_text() and asker.state == "completed"
    later = on_hold(cb_app, switchboard, "+8613900000003")
    assert waiting_in(redis_conn, "payments") == [first.call_sid, asker.call_sid, later.call_sid]
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert record["status"] == "callback" and record["outcome"] == "callback"
    counters = stats(redis_conn, asker)
    assert counters["callbacks_requested"] == "1" and "abandoned" not in counters

    ready(cb_app, "li_na")  # the first caller goes to li_na
    first.take_pending()
    first.answer()
    first.dial_result("completed", duration=60)
    assert calls_to(switchboard, asker) == []
    hotline = services_of(cb_app)
    hotline.clock.set(hotline.clock.now() + timedelta(minutes=5))
    hotline.agents.sweep(hotline.clock.now(), hotline.clock.ago(3600))
    ready(cb_app, "li_na")  # the next place is the callback's, not the later caller's
    (placed,) = calls_to(switchboard, asker)
    assert placed.url and f"call={asker.call_sid}" in placed.url
    assert placed.timeout == hotline.config.file.callbacks.ring_timeout_seconds
    assert waiting_in(redis_conn, "payments") == [later.call_sid]
    assert hotline.agents.get("li_na").state == RINGING


def test_the_customer_is_called_first_then_the_agent_with_the_whisper(
    cb_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    asker = on_hold(cb_app, switchboard)
    ask_callback(asker)
    ready(cb_app, "li_na")
    (placed,) = calls_to(switchboard, asker)
    back = customer(cb_app, switchboard, placed)
    assert "为您回电" in back.heard_text() and "立即接通客服代表，请按1" in back.heard_text()
    back.press("1")
    assert back.state == "dialing" and back.dialed[-1]["value"] == "li_na"
    whisper = " ".join(h.text for h in back.answer())
    assert "支付与充值来电：充值失败。账户尾号0017，身份已验证。" in whisper
    hotline = services_of(cb_app)
    assert hotline.agents.get("li_na").state == ON_CALL
    back.dial_result("completed", duration=200)
    assert "请为本次服务评分" in back.heard_text()  # the survey, as after any conversation
    assert hotline.agents.get("li_na").state == WRAP_UP
    back.press("5")  # the score goes with the original call, the agent and the department
    survey = redis_conn.hgetall(keys.survey(asker.call_sid))
    assert survey["score"] == "5" and survey["agent"] == "li_na"
    assert not redis_conn.exists(keys.survey(placed.sid))  # not the hotline's own call
    counters = stats(redis_conn, asker)
    assert counters["callbacks_connected"] == "1" and counters["answered"] == "1"
    assert counters["handle_ms"] == "200000"
    assert redis_conn.hget(keys.call(asker.call_sid), "status") == "served"


def test_not_reached_is_retried_with_backoff_then_failed_with_the_reason(
    cb_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    hotline = services_of(cb_app)
    backoff = hotline.config.file.callbacks.retry_backoff_seconds
    asker = on_hold(cb_app, switchboard)
    ask_callback(asker)
    ready(cb_app, "li_na")
    outcomes = [("no-answer", None), ("voicemail", "machine_end_beep"), ("busy", None)]
    for attempt, (status, machine) in enumerate(outcomes, start=1):
        placed = calls_to(switchboard, asker)[-1]
        assert len(calls_to(switchboard, asker)) == attempt
        if machine:
            mailbox = customer(cb_app, switchboard, placed, answered_by=machine)
            assert mailbox.state == "completed" and mailbox.heard_text() == ""  # hung up on, no message
        else:
            not_reached(cb_app, placed, status)
        run_jobs_of(cb_app)
        assert hotline.agents.get("li_na").state == READY  # freed each time
        record = redis_conn.hgetall(keys.call(asker.call_sid))
        assert record["cb_reason"] == status
        if attempt == len(outcomes):
            break
        assert record["cb_status"] == "retry" and waiting_in(redis_conn, "payments") == []
        (due_at,) = scheduled(cb_app).values()
        assert due_at == pytest.approx(time.time() + backoff[min(attempt - 1, len(backoff) - 1)], abs=30)
        scheduler_at(cb_app, monkeypatch, due_at + 1)
        run_jobs_of(cb_app)  # the place is back, the matcher gives it to li_na, the job dials
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert record["cb_status"] == "failed" and record["status"] == "callback_failed"
    counters = stats(redis_conn, asker)
    assert counters["callbacks_failed"] == "1" and counters["callbacks_failed:busy"] == "1"
    assert counters["callbacks_retried"] == "2"
    assert scheduled(cb_app) == {}
    token = issue_token(redis_conn, "supervisor", "duty_lead")
    report = cb_app.test_client().get("/api/supervisor/queues", headers={"Authorization": f"Bearer {token}"})
    payments = next(q for q in report.get_json()["queues"] if q["department"] == "payments")
    assert payments["callbacks"]["callbacks_requested"] == 1
    assert payments["callbacks"]["failed_reasons"] == {"busy": 1}


# -- exactly once --------------------------------------------------------------------------


class HeldSwitchboard(Switchboard):
    """A switchboard whose call creation is held after the call exists, until released."""

    def __init__(self) -> None:
        super().__init__()
        self.created, self.release = threading.Event(), threading.Event()

    def place(self, record: OutboundCall) -> None:
        super().place(record)
        self.created.set()
        self.release.wait(30)


def test_a_worker_killed_after_dialling_calls_the_customer_exactly_once(
    cb_settings: dict[str, Any],
    redis_conn: redis.Redis,
    clock: FixedClock,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = HeldSwitchboard()
    api_url, stop = serve_in_thread(create_rest_app(board, ACCOUNT_SID, AUTH_TOKEN))
    try:
        settings = {**cb_settings, "twilio_api_base_url": api_url}
        app = make_app(settings, clock)
        hotline = services_of(app)
        asker = on_hold(app, board)
        ask_callback(asker)
        run_jobs_of(app)
        now = hotline.clock.now()
        hotline.agents.choose("li_na", READY, now)
        assert hotline.matcher.for_agent("li_na") is not None  # the callback job is now queued
        env = {
            **os.environ,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": api_url,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "REDIS_URL": redis_url,
            "HOTLINE_CONFIG": str(settings["hotline_config"]),
            "HOTLINE_CLOCK_START": now.isoformat(),
        }
        code = (
            "from rq import SimpleWorker; from ivr.jobs import QUEUE_NAME; "
            "from queue_worker.context import services; "
            "SimpleWorker([QUEUE_NAME], connection=services().stores.jobs).work(burst=True)"
        )
        worker = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)
        try:
            assert board.created.wait(60), "the worker never dialled"
            os.kill(worker.pid, signal.SIGKILL)  # after the call exists, before the job learns its sid
            worker.wait(10)
        finally:
            board.release.set()
            if worker.poll() is None:
                worker.kill()
        (first,) = calls_to(board, asker)
        record = redis_conn.hgetall(keys.call(asker.call_sid))
        assert record["cb_status"] == "dialling"
        claim = redis_conn.get(keys.callback_claim(asker.call_sid, 1))
        assert claim and claim.startswith("pending:")

        # rq finds the dead worker's job and runs it again.
        queue = hotline.jobs.queue
        StartedJobRegistry(queue=queue).cleanup(timestamp=int(time.time()) + 10**6)
        failed = FailedJobRegistry(queue=queue)
        for job_id in failed.get_job_ids():
            failed.requeue(job_id)
        assert scheduled(app) or queue.count  # retried by rq (after its interval), or requeued
        scheduler_at(app, monkeypatch, time.time() + 3600)
        run_jobs_of(app)
        assert calls_to(board, asker) == [first]  # adopted, not dialled again
        record = redis_conn.hgetall(keys.call(asker.call_sid))
        assert record["cb_status"] == "calling" and record["cb_call"] == first.sid
        assert redis_conn.get(keys.callback_claim(asker.call_sid, 1)) == first.sid
        hotline.jobs.place_callback(None, asker.call_sid, "li_na", 1)  # and once more, for good measure
        run_jobs_of(app)
        assert calls_to(board, asker) == [first]

        back = customer(app, board, first)
        back.press("1")
        assert back.dialed[-1]["value"] == "li_na"
    finally:
        context.install(None)
        stop()


# -- a later hour --------------------------------------------------------------------------


def test_a_scheduled_callback_joins_the_queue_at_its_hour_and_is_called(
    cb_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    hotline = services_of(cb_app)
    clock: FixedClock = hotline.clock
    asker = on_hold(cb_app, switchboard)
    asker.press("2")
    slots = quietest_slots(
        hotline.config.file,
        hotline.stores.data,
        "payments",
        clock.now(),
        hotline.config.file.callbacks.schedule_slots,
    )
    heard = asker.heard_text()
    assert "等候最短的时段排在前面" in heard
    local = slots[0].astimezone(SHANGHAI)
    first_slot = f"{local.month}月{local.day}日"
    assert f"{first_slot}" in heard and "请按1" in heard
    asker.press("1")
    asker.press("1")  # the caller ID
    assert "谢谢。我们将在" in asker.heard_text() and asker.state == "completed"
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert record["status"] == "callback_scheduled" and record["cb_slot"] == slots[0].isoformat()
    assert waiting_in(redis_conn, "payments") == []
    counters = stats(redis_conn, asker)
    assert counters["callbacks_scheduled"] == "1" and "abandoned" not in counters

    (due_at,) = scheduled(cb_app).values()
    lead = (slots[0] - clock.now()).total_seconds()
    assert due_at == pytest.approx(time.time() + lead, abs=30)
    scheduler_at(cb_app, monkeypatch, due_at - 60)
    assert len(scheduled(cb_app)) == 1  # not yet
    clock.set(slots[0])
    scheduler_at(cb_app, monkeypatch, due_at + 1)
    run_jobs_of(cb_app)
    assert waiting_in(redis_conn, "payments") == [asker.call_sid]
    ready(cb_app, "li_na")
    (placed,) = calls_to(switchboard, asker)
    back = customer(cb_app, switchboard, placed)
    back.press("1")
    assert back.dialed[-1]["value"] == "li_na"


# -- the number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyed", "heard", "e164"),
    [
        ("02150001234#", "您输入的号码是：零，二，一，五，零，零，零，一，二，三，四。", BRANCH_DESK),
        # Another customer's mobile: a valid number, but neither the caller's nor their account's.
        ("13912345678#", "为保障您的安全，我们无法回电至该号码", None),
        ("0019002345678#", "抱歉，我们无法回电至该号码", None),  # US premium rate
        ("00819012345678#", "抱歉，我们无法回电至该号码", None),  # a Japanese mobile
        ("12#", "抱歉，这不是一个可以识别的电话号码", None),
    ],
)
def test_numbers_keyed_in_are_checked(
    cb_app: Flask,
    switchboard: Switchboard,
    redis_conn: redis.Redis,
    keyed: str,
    heard: str,
    e164: str | None,
) -> None:
    asker = on_hold(cb_app, switchboard)
    asker.press("1")
    asker.press("2")  # another number
    assert "我们只回电至您正在使用的号码或账户登记的手机号码" in asker.heard_text()  # the rule, said first
    assert "请输入回电号码" in asker.heard_text()
    mark = asker.mark()
    asker.press(keyed)
    assert heard in asker.heard_text(mark)
    if e164 is None:
        assert "请输入回电号码" in asker.heard_text(mark)  # asked again
        return
    asker.press("1")
    assert redis_conn.hget(keys.call(asker.call_sid), "cb_number") == e164


def test_a_caller_on_another_phone_may_be_called_back_on_their_accounts_mobile(
    cb_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    """Calling from a friend's phone, the caller identifies with their account: its mobile is allowed."""
    asker = phone(cb_app, switchboard, "+8613700001111")
    asker.max_redirects = 1
    asker.start()
    for pressed in (MANDARIN, "6222000025", "1", "1", "1"):  # account 6222000025: +86 139 1234 5678
        asker.press(pressed)
    asker.silence()
    assert asker.state == "gathering"  # on hold, hearing the offer
    asker.press("1")
    asker.press("2")  # not the caller ID: another number
    for keyed, heard in (("13800138000#", "我们无法回电至该号码"), ("13912345678#", "您输入的号码是")):
        mark = asker.mark()
        asker.press(keyed)
        assert heard in asker.heard_text(mark)
    asker.press("1")
    assert redis_conn.hget(keys.call(asker.call_sid), "cb_number") == OTHER_CALLER


def test_an_anonymous_caller_keys_in_the_number(cb_app: Flask, switchboard: Switchboard) -> None:
    asker = on_hold(cb_app, switchboard, "anonymous")
    asker.press("1")
    assert "请输入回电号码" in asker.heard_text(asker.mark() - 1)


def test_callbacks_beyond_the_limit_are_refused_and_the_caller_keeps_waiting(
    cb_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    for _ in range(2):  # the hotline file allows this number two callbacks a day
        ask_callback(on_hold(cb_app, switchboard, OTHER_CALLER))
    third = on_hold(cb_app, switchboard, OTHER_CALLER)
    third.press("1")
    third.press("1")
    assert "抱歉，该号码目前无法再申请回电。 您的排队位置保持不变。" in third.heard_text()
    assert third.state in ("looping", "gathering")
    assert redis_conn.hget(keys.call(third.call_sid), "status") == "queued"
    refused = services_of(cb_app).limits.refusals(redis_conn.hget(keys.call(third.call_sid), "day"))
    assert refused == {"callback:callbacks_per_number_per_day": 1}


# -- calling again -------------------------------------------------------------------------


def test_a_caller_who_hung_up_and_calls_again_gets_the_old_place(
    cb_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    gone = on_hold(cb_app, switchboard, DEMO_CALLER)
    behind = on_hold(cb_app, switchboard, OTHER_CALLER)
    gone.hangup()
    assert waiting_in(redis_conn, "payments") == [behind.call_sid]
    again = on_hold(cb_app, switchboard, DEMO_CALLER)
    assert waiting_in(redis_conn, "payments") == [again.call_sid, behind.call_sid]
    assert stats(redis_conn, again)["returned"] == "1"
    stranger = on_hold(cb_app, switchboard, "+8613900000009")  # no kept place: at the back
    assert waiting_in(redis_conn, "payments")[-1] == stranger.call_sid


def test_twilio_api_down_is_retried_by_rq_then_counts_as_not_reached(
    cb_settings: dict[str, Any],
    redis_conn: redis.Redis,
    clock: FixedClock,
    switchboard: Switchboard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app({**cb_settings, "twilio_api_base_url": "http://127.0.0.1:9"}, clock)
    try:
        hotline = services_of(app)
        asker = on_hold(app, switchboard)
        ask_callback(asker)
        ready(app, "li_na")
        assert hotline.agents.get("li_na").state == RINGING  # held while the job tries
        for _ in range(3):  # rq's retries, each after its interval
            assert redis_conn.hget(keys.call(asker.call_sid), "cb_status") == "dialling"
            scheduler_at(app, monkeypatch, time.time() + 120)
            run_jobs_of(app)
        record = redis_conn.hgetall(keys.call(asker.call_sid))
        assert record["cb_status"] == "retry" and record["cb_reason"] == "api_error"
        assert hotline.agents.get("li_na").state == READY
        assert FailedJobRegistry(queue=hotline.jobs.queue).count == 1  # rq keeps the failure
    finally:
        context.install(None)


def test_an_agent_who_misses_the_called_back_customer_sends_the_place_back(
    cb_app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    asker = on_hold(cb_app, switchboard)
    later = on_hold(cb_app, switchboard, OTHER_CALLER)
    ask_callback(asker)
    ready(cb_app, "li_na")
    (placed,) = calls_to(switchboard, asker)
    back = customer(cb_app, switchboard, placed)
    back.press("1")
    back.dial_result("no-answer")
    assert "抱歉，客服代表暂时无法接听。我们稍后会再次致电您。" in back.heard_text()
    assert back.state == "completed"
    hotline = services_of(cb_app)
    assert hotline.agents.get("li_na").state == "not_ready"
    assert waiting_in(redis_conn, "payments") == [asker.call_sid, later.call_sid]  # same place
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert record["status"] == "callback" and record["cb_status"] == "waiting" and record["cb_fails"] == "0"
    ready(cb_app, "emma_chen")  # the next agent calls the customer again, before the later caller
    second = calls_to(switchboard, asker)[-1]
    assert second.sid != placed.sid and "attempt=2" in (second.url or "")
    assert waiting_in(redis_conn, "payments") == [later.call_sid]
