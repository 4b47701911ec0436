"""The survey after the agent hangs up: the caller's score and comment, per agent and department."""

from __future__ import annotations

from collections.abc import Callable

import redis
from flask import Flask

from ivr import keys
from standin.phone import Call
from tests.conftest import DEMO_ACCOUNT, DEMO_CALLER
from tests.followups import (
    ENGLISH,
    ENGLISH_ACCOUNT,
    ENGLISH_CALLER,
    MANDARIN,
    at_reference,
    supervisor_get,
    talk_to,
)


def test_rated_calls_show_per_agent_and_department(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """An English caller gives 4 and a comment, a Mandarin caller says 2: the supervisor sees both."""
    english = at_reference(dial, ENGLISH_CALLER, ENGLISH, ENGLISH_ACCOUNT, "7", "1")
    english.silence()
    talk_to(app, english, "emma_chen", run_jobs)
    assert english.heard_text().endswith(
        "Please rate this call from 1 to 5, where 1 is very poor and 5 is excellent."
    )
    english.press("4")
    assert "To leave a comment, speak after the tone" in english.heard_text()
    assert english.state == "recording"
    english.record(duration=9)
    assert english.heard_text().endswith("Thank you for your feedback. Goodbye.")
    assert english.state == "completed"
    answer = redis_conn.hgetall(keys.survey(english.call_sid))
    assert answer["agent"] == "emma_chen" and answer["department"] == "general"
    assert answer["score"] == "4" and answer["comment_url"].startswith("https://")
    assert answer["comment_seconds"] == "9"

    mandarin = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "3")
    mandarin.silence()
    talk_to(app, mandarin, "li_na", run_jobs)
    assert "请为本次服务评分" in mandarin.heard_text()
    mandarin.speak("二")  # by voice
    mandarin.silence()  # no comment: the recording is empty
    assert mandarin.heard_text().endswith("感谢您的反馈，再见。")
    assert mandarin.state == "completed"

    status, report = supervisor_get(app, "/api/supervisor/followups")
    assert status == 200
    by_agent = {row["agent"]: row for row in report["surveys"]["agents"]}
    by_department = {row["department"]: row for row in report["surveys"]["departments"]}
    assert set(by_agent) == {"emma_chen", "li_na"}
    assert by_agent["emma_chen"] == {
        "agent": "emma_chen", "department": None, "answered": 1, "average_score": 4.0,
        "scores": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}, "comments": 1,
    }  # fmt: skip
    assert by_agent["li_na"]["average_score"] == 2.0 and by_agent["li_na"]["comments"] == 0
    assert by_department["general"]["answered"] == 1 and by_department["payments"]["average_score"] == 2.0


def test_a_call_is_rated_once(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """A repeated score webhook (Twilio retrying) neither changes nor adds to the results."""
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "3")
    call.silence()
    talk_to(app, call, "li_na", run_jobs)
    call.press("5")
    url, params = call.requests[-1]
    call.transport.request("POST", url, {**params, "Digits": "1"})
    call.silence()
    assert redis_conn.hget(keys.survey(call.call_sid), "score") == "5"
    status, report = supervisor_get(app, "/api/supervisor/followups")
    assert report["surveys"]["agents"][0]["answered"] == 1
    assert report["surveys"]["agents"][0]["average_score"] == 5.0


def test_a_wrong_key_asks_again_and_silence_says_goodbye(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """9 is not a score: the question again; then silence ends the call without a rating."""
    call = at_reference(dial, DEMO_CALLER, MANDARIN, DEMO_ACCOUNT, "3")
    call.silence()
    talk_to(app, call, "li_na", run_jobs)
    mark = call.mark()
    call.press("9")
    assert (
        call.heard_text(mark)
        == "抱歉，这不是有效的选项。 请为本次服务评分，1分表示很不满意，5分表示非常满意。"
    )
    call.silence()
    assert call.heard_text().endswith("感谢您的来电，再见。") and call.state == "completed"
    assert redis_conn.hgetall(keys.survey(call.call_sid)) == {}
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["outcome"] == "served"
