"""Lua scripts with named keys and arguments (ivr/scripts.py), and rules that live only in Lua."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import redis

from ivr import keys
from ivr.callcenter.calls import CallStore
from ivr.callcenter.identifiers import luhn_valid
from ivr.callcenter.queues import JOIN, Queues
from ivr.scripts import Script

_ECHO = Script(
    "return {KEYS, ARGV}",
    keys=("first", "rest*"),
    args=("name", "flag", "missing", "pairs*"),
)


def test_a_script_is_called_by_name_and_sends_keys_and_arguments_in_its_order(
    redis_conn: redis.Redis,
) -> None:
    """Names become positions; lists fill the tail; None and booleans become what Lua compares."""
    reply = _ECHO(
        redis_conn,
        first="hl:t:a",
        rest=["hl:t:b", "hl:t:c"],
        name="x",
        flag=True,
        missing=None,
        pairs=[1, "y"],
    )
    assert reply == [["hl:t:a", "hl:t:b", "hl:t:c"], ["x", "1", "", "1", "y"]]


def test_a_script_on_a_pipeline_gives_its_reply_with_the_pipelines(redis_conn: redis.Redis) -> None:
    """Queued on a pipeline: the same reply, in order, even on a server that never saw the script."""
    fresh = Script(f"-- {uuid.uuid4()}\n" + _ECHO.lua, keys=_ECHO.keys, args=_ECHO.args)
    assert redis_conn.script_exists(fresh.sha) == [False]
    pipe = redis_conn.pipeline(transaction=True)
    pipe.set("hl:t:n", 1)
    fresh.queue(pipe, first="hl:t:a", rest=[], name="x", flag=False, missing="", pairs=[])
    assert pipe.execute() == [True, [["hl:t:a"], ["x", "0", ""]]]


def test_a_script_called_with_a_wrong_name_says_which(redis_conn: redis.Redis) -> None:
    """A missing or unknown name is refused before anything reaches Redis."""
    with pytest.raises(TypeError, match=r"missing \['pairs'\], unexpected \['pair'\]"):
        _ECHO(redis_conn, first="k", rest=[], name="x", flag=True, missing="", pair=[])
    with pytest.raises(TypeError, match="takes a list"):
        _ECHO(redis_conn, first="k", rest="hl:t:b", name="x", flag=True, missing="", pairs=[])
    with pytest.raises(ValueError, match="twice"):
        Script("return 1", keys=("call",), args=("call",))


def test_a_script_runs_on_a_server_that_does_not_have_it(redis_conn: redis.Redis) -> None:
    """A server that never saw the script, or forgot it (a restart, a failover), is given it."""
    fresh = Script(f"-- {uuid.uuid4()}\n" + _ECHO.lua, keys=_ECHO.keys, args=_ECHO.args)
    assert redis_conn.script_exists(fresh.sha) == [False]
    assert fresh(redis_conn, first="a", rest=[], name="1", flag=True, missing="", pairs=[])[1][0] == "1"
    assert redis_conn.script_exists(fresh.sha) == [True]
    assert fresh(redis_conn, first="a", rest=[], name="2", flag=True, missing="", pairs=[])[1][0] == "2"


def test_the_reference_number_has_its_luhn_check_digit(redis_conn: redis.Redis) -> None:
    """yymmdd + 5-digit daily sequence + Luhn digit, made in one place (the call's opening script)."""
    store = CallStore(redis_conn)
    now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    redis_conn.set(keys.reference_sequence("261122"), 41)
    record = store.open("CAref0001", now, "261122", None, "anonymous", "+8610000000")
    assert record.get("ref") == "261122000423"
    assert store.open("CAref0001", now, "261122", None, "anonymous", "+86100").get("ref") == "261122000423"
    redis_conn.set(keys.reference_sequence("261122"), 99998)
    ref = store.open("CAref0002", now, "261122", None, "anonymous", "+8610000000").get("ref")
    assert ref == "261122999996" and luhn_valid(ref)


def test_a_returning_caller_joins_at_the_kept_place_only_with_the_same_account(
    redis_conn: redis.Redis,
) -> None:
    """The kept-place lookup is an option of the queue's own join: same account, same score."""
    queues = Queues(redis_conn, ["en-US"])
    early = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    late = datetime(2026, 11, 22, 3, 5, tzinfo=UTC)
    assert queues.join("CAfirst", "cards", "en-US", 1, early, 10, "261122") == 1
    assert queues.join("CAother", "cards", "en-US", 1, early, 10, "261122") == 2
    kept_score = redis_conn.hget(keys.queue_waiting("cards"), "CAfirst").split("|")[1]
    redis_conn.hset(
        keys.last_place("cards", "+8613800000001"), mapping={"account": "42", "score": kept_score}
    )
    queues.leave("CAfirst", "cards", "261122", abandoned=True)

    def rejoin(sid: str, account: str) -> int:
        values = queues.join_values(
            sid, "cards", "en-US", 1, late, 10, "261122", kept_place_of=("+8613800000001", account)
        )
        return int(JOIN(redis_conn, **values))

    assert rejoin("CAstranger", "43") == 2  # another account: a new arrival, behind CAother
    assert rejoin("CAagain", "42") == 1  # the same account: back in front
    stats = redis_conn.hgetall(keys.department_stats("cards", "261122"))
    assert stats["returned"] == "1" and not redis_conn.exists(keys.last_place("cards", "+8613800000001"))
