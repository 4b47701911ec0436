"""A called-back customer in a conference room (`hotline.connect_via: conference`): they meet
the agent in the room of the call they asked back from; an agent who misses them, whether the
hotline hears it or only the reaper finds it, means a new call to the customer soon.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from ivr import keys
from ivr.callcenter.agents import NOT_READY, ON_CALL, WRAP_UP
from ivr.clock import FixedClock
from ivr.services import services_of
from queue_worker.reaper import reap_once
from standin.rest import Switchboard
from tests import test_callbacks as callbacks
from tests.conftest import hotline_app, hotline_variant, not_reached
from tests.rooms import SURVEY_ASK, WHISPER, agent_legs, answer


@pytest.fixture
def app(
    app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock, tmp_path: Path
) -> Iterator[Flask]:
    """Callbacks offered to every waiting caller, and connections through rooms."""
    in_rooms = hotline_variant(
        tmp_path,
        lambda data: data["hotline"].update(connect_via="conference"),
        source=callbacks.hotline_file(tmp_path),
    )
    yield from hotline_app(app_settings, clock, in_rooms)


def test_a_called_back_customer_meets_the_agent_in_their_room(
    app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    asker, back = callbacks.called_back(app, switchboard)
    assert back.state == "conference" and back.dialed[-1]["value"] == f"call-{asker.call_sid}"
    [leg] = agent_legs(switchboard, asker)
    phone = answer(app, switchboard, leg)
    assert WHISPER in " ".join(h.text for h in phone.heard)
    room = switchboard.conferences.find(f"call-{asker.call_sid}")
    assert room is not None and room.hears(back.call_sid, leg.sid) and room.hears(leg.sid, back.call_sid)
    hotline = services_of(app)
    assert hotline.agents.get("li_na").state == ON_CALL
    phone.hangup()
    assert back.heard_text().endswith(SURVEY_ASK)  # the customer rates the call
    back.silence()
    assert back.heard_text().endswith("感谢您的来电，再见。") and back.state == "completed"
    assert hotline.agents.get("li_na").state == WRAP_UP
    counters = callbacks.stats(redis_conn, asker)
    assert counters["callbacks_connected"] == "1" and counters["answered"] == "1"
    assert redis_conn.hget(keys.call(asker.call_sid), "status") == "served"


def test_an_agent_who_misses_a_called_back_customer_in_the_room_means_a_new_call_soon(
    app: Flask, switchboard: Switchboard, redis_conn: redis.Redis
) -> None:
    asker, back = callbacks.called_back(app, switchboard)
    [leg] = agent_legs(switchboard, asker)
    not_reached(app, leg, "no-answer")
    back.continue_loop()  # the REST redirect out of the room
    assert "客服代表暂时无法接听" in back.heard_text() and back.state == "completed"
    agent = services_of(app).agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == "no-answer"
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["cb_status"]) == ("callback", "waiting")


def test_an_agent_leg_into_a_customers_room_whose_end_was_never_reported_is_settled_by_the_reaper(
    app: Flask, switchboard: Switchboard, redis_conn: redis.Redis, clock: FixedClock
) -> None:
    """The agent's leg rang out, and its status callback met a Redis outage: Twilio knows it is
    over, the hotline does not. The reaper asks Twilio about that leg (not only the customer's),
    counts the agent not reached, and the customer hears so: they are called again soon."""
    asker, back = callbacks.called_back(app, switchboard)
    assert back.state == "conference"
    [leg] = agent_legs(switchboard, asker)
    leg.status = "no-answer"  # as Twilio has it; the report never reached the hotline
    hotline = services_of(app)
    clock.set(clock.now() + timedelta(seconds=hotline.callbacks.check_seconds() + 1))  # the lease ran out
    reaped = reap_once(hotline, hotline.clock.now())
    assert reaped.agents == {"li_na": "callback agent no-answer"}
    agent = hotline.agents.get("li_na")
    assert agent.state == NOT_READY and agent.reason == "no-answer"
    back.continue_loop()  # the reaper's REST redirect out of the room
    assert "客服代表暂时无法接听" in back.heard_text() and back.state == "completed"
    record = redis_conn.hgetall(keys.call(asker.call_sid))
    assert (record["status"], record["cb_status"]) == ("callback", "waiting")
