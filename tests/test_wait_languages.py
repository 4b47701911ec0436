"""A caller's wait counts the agents who speak their language, behind the callers those agents serve.

Whole calls through the webhooks on the shipped hotline file: payments is served by li_na, who
speaks only Mandarin, and emma_chen, who speaks English and Mandarin. With both on calls, an
English caller waits for emma_chen alone, behind half of the Mandarin callers ahead (whichever of
the two frees first takes the next Mandarin caller); a Mandarin caller waits for either, behind
the English caller (emma_chen serves both lanes).
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from flask import Flask

from ivr import keys
from ivr.services import services_of
from ivr.waits.live import turn_wait, wait_for_caller
from standin.phone import Call
from tests.test_wait_announcements import english_caller, heard, mandarin_caller, ready, told_a_wait

Dial = Callable[..., Call]


def both_agents_on_calls(app: Flask, dial: Dial, run_jobs: Callable[[], None]) -> None:
    """li_na and emma_chen, ready, each take a Mandarin caller (their phones ring)."""
    ready(app, "li_na", run_jobs)
    ready(app, "emma_chen", run_jobs)  # nobody waiting yet: both stay ready
    callers = [mandarin_caller(dial), mandarin_caller(dial)]
    run_jobs()  # the matcher gives each a caller
    for call in callers:
        call.continue_loop()
        assert call.state == "dialing"


def test_an_english_caller_waits_for_the_english_speaking_agent_only(
    app: Flask, dial: Dial, run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    both_agents_on_calls(app, dial, run_jobs)
    english = english_caller(dial)
    # One agent, 180 s a call plus 45 s wrap-up: one exponential stage of 225 s, of which "up to
    # 6 minutes" holds 1 - e^(-360/225) = 79.8%. Counting li_na too (two agents, 112.5 s) said
    # "up to 3 minutes", which an English caller, whom li_na cannot take, waits past half the time.
    assert "Youarenextinline.Yourwaitshouldbeupto6minutes." in heard(english)
    hotline = services_of(app)
    now = hotline.clock.now()
    record = hotline.calls.load(english.call_sid)
    assert record is not None
    wait = wait_for_caller(hotline.live, record, now)
    assert (wait.state.agents, wait.state.ready, wait.state.ahead) == (1.0, 0, 0)
    # A later turn (one script) reads the same.
    assert turn_wait(hotline.live, english.call_sid, "payments", record.day, now)[1] == wait
    # Both agents staffed, their languages kept with them.
    assert redis_conn.hgetall(keys.staffed_languages("payments")) == {
        "li_na": "zh-CN",
        "emma_chen": "en-US,zh-CN",
    }


def test_a_mandarin_caller_counts_both_agents_and_the_english_caller_ahead(
    app: Flask, dial: Dial, run_jobs: Callable[[], None]
) -> None:
    both_agents_on_calls(app, dial, run_jobs)
    english_caller(dial)
    mandarin = mandarin_caller(dial)
    hotline = services_of(app)
    now = hotline.clock.now()
    record = hotline.calls.load(mandarin.call_sid)
    assert record is not None
    wait = wait_for_caller(hotline.live, record, now)
    # emma_chen serves the English lane too: its caller competes for her, so is ahead.
    assert (wait.state.agents, wait.state.ready, wait.state.ahead, wait.position) == (2.0, 0, 1, 2)
    assert turn_wait(hotline.live, mandarin.call_sid, "payments", record.day, now)[1] == wait


def test_a_free_agent_who_cannot_take_the_caller_does_not_make_their_wait_none(
    app: Flask, dial: Dial, run_jobs: Callable[[], None]
) -> None:
    """li_na ready and emma_chen on a call: an English caller waits for emma_chen, and hears it."""
    ready(app, "emma_chen", run_jobs)
    taken = mandarin_caller(dial)
    run_jobs()
    taken.continue_loop()
    assert taken.state == "dialing"
    ready(app, "li_na", run_jobs)  # nobody she can take is waiting: she stays ready
    english = english_caller(dial)
    run_jobs()
    english.continue_loop()
    assert english.on_hold
    assert "Yourwaitshouldbeupto6minutes." in heard(english)
    hotline = services_of(app)
    record = hotline.calls.load(english.call_sid)
    assert record is not None
    wait = wait_for_caller(hotline.live, record, hotline.clock.now())
    assert (wait.state.agents, wait.state.ready) == (1.0, 0)


def test_a_caller_behind_callers_a_free_agent_cannot_take_is_being_connected(
    app: Flask, dial: Dial, run_jobs: Callable[[], None]
) -> None:
    """emma_chen on a call, an English caller waiting for her, li_na free: the next Mandarin
    caller is li_na's, whatever waits in the English lane, so they hear they are next and no wait
    (counted by emma_chen's share, the English caller made them "behind one" and told a figure,
    then answered at once; counted whole, "one caller ahead" without a figure, then answered)."""
    ready(app, "emma_chen", run_jobs)
    taken = mandarin_caller(dial)
    run_jobs()
    taken.continue_loop()
    assert taken.state == "dialing"
    english = english_caller(dial)
    ready(app, "li_na", run_jobs)  # she cannot take the English caller: she stays ready
    mandarin = mandarin_caller(dial)  # the matcher has not run yet: li_na is still free
    # Next: the English caller who joined first waits for an agent they cannot have. No wait.
    assert "您是下一位。" in heard(mandarin) and "您前面还有" not in heard(mandarin)
    assert not told_a_wait(heard(mandarin))
    hotline = services_of(app)
    record = hotline.calls.load(mandarin.call_sid)
    assert record is not None
    wait = wait_for_caller(hotline.live, record, hotline.clock.now())
    assert (wait.state.ready, wait.estimate) == (1, None)
    # The English caller still waits for emma_chen and hears a figure.
    assert "Yourwaitshouldbe" in heard(english)
    run_jobs()  # the matcher gives li_na the Mandarin caller
    mandarin.continue_loop()
    assert mandarin.state == "dialing" and english.on_hold


def test_mandarin_callers_ahead_count_for_an_english_caller_by_emma_chens_share_of_them(
    app: Flask, dial: Dial, run_jobs: Callable[[], None]
) -> None:
    both_agents_on_calls(app, dial, run_jobs)
    ahead = [mandarin_caller(dial) for _ in range(4)]
    english = english_caller(dial)
    hotline = services_of(app)
    now = hotline.clock.now()
    record = hotline.calls.load(english.call_sid)
    assert record is not None and all(call.on_hold for call in ahead)
    wait = wait_for_caller(hotline.live, record, now)
    # Four Mandarin callers ahead, taken by li_na or emma_chen: two of them by emma_chen.
    assert (wait.state.agents, wait.state.ahead, wait.position) == (1.0, 2, 5)
    assert turn_wait(hotline.live, english.call_sid, "payments", record.day, now)[1] == wait
