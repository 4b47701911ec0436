"""The call's status has one owner: its table is the rule, and no other module writes a status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis

from ivr import keys
from ivr.callcenter.calls import CallWriter
from ivr.callcenter.lifecycle import ALLOWED_FROM, CLOSE_OUTCOMES, CallLife, CallStatus, allowed_from

ROOT = Path(__file__).resolve().parent.parent
STATUS_VALUES = "|".join(s.value for s in CallStatus)
# A call status spelled as the value written: in a Lua HSET, a Python mapping or a keyword argument.
WRITES = [
    re.compile(rf"'status',\s*'({STATUS_VALUES})'"),
    re.compile(rf"\"status\":\s*\"({STATUS_VALUES})\""),
    re.compile(rf"\bstatus=\"({STATUS_VALUES})\""),
]


def test_no_module_but_the_owner_writes_a_call_status() -> None:
    """Every write of a call's status names a CallStatus and goes through lifecycle.py."""
    found = []
    for path in sorted((ROOT / "ivr").rglob("*.py")):
        if path.name == "lifecycle.py":
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for rx in WRITES for m in rx.finditer(text)]
    assert found == []


def test_every_status_is_reachable_and_every_live_one_can_end() -> None:
    """The table covers every status; ended comes from every status a live call can be in."""
    assert set(ALLOWED_FROM) == set(CallStatus)
    reachable = {CallStatus.MENU} | {to for to, sources in ALLOWED_FROM.items() if sources}
    assert reachable == set(CallStatus)
    assert set(CLOSE_OUTCOMES) >= ALLOWED_FROM[CallStatus.ENDED]
    with pytest.raises(ValueError, match="may not come from"):
        allowed_from(CallStatus.ON_CALL, (CallStatus.QUEUED,))


def test_a_move_from_a_status_the_table_does_not_allow_changes_nothing(redis_conn: redis.Redis) -> None:
    """A late or repeated event cannot move a call back: the move reports what the call really is."""
    life = CallLife(redis_conn)
    redis_conn.hset(keys.call("CA1"), mapping={"status": "queued", "agent": ""})
    assert life.move("CA1", CallStatus.CONNECTING, agent="li_na") == "queued"
    assert life.move("CA1", CallStatus.ON_CALL, expect={"agent": "emma_chen"}) is None
    assert life.move("CA1", CallStatus.ON_CALL, expect={"agent": "li_na"}) == "connecting"
    assert life.move("CA1", CallStatus.CONNECTING) is None  # on a call: a stale match is refused
    assert redis_conn.hgetall(keys.call("CA1")) == {"status": "on_call", "agent": "li_na"}
    assert life.move("CAnone", CallStatus.QUEUED) is None  # no record is invented
    assert not redis_conn.exists(keys.call("CAnone"))


def test_a_webhook_cannot_write_a_status_by_hand() -> None:
    """The webhook's single write refuses a status field: it must name a move."""
    with pytest.raises(ValueError, match="lifecycle"):
        CallWriter("CA1").set(status="queued")
