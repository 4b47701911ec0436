"""What agents write on a call: notes (which travel with a transferred call) and the disposition.

Notes live on the call record, in its `notes` field: a JSON array of objects, oldest first,
each saying who wrote it, when, and why (`transfer` or `wrapup`). Appending is done inside a Lua
script on the call's key, so two writers never lose each other's note, and without decoding
the array in Lua (the new note is spliced in before the closing bracket).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, get_args

import redis

from ivr import keys
from ivr.callcenter.agents import ON_CALL, WRAP_UP, Agents
from ivr.callcenter.calls import CallRecord
from ivr.scripts import Script

# The outcomes an agent files at wrap-up (the API's schema and the OpenAPI document use this).
Disposition = Literal["resolved", "escalated", "transferred", "callback_needed", "no_resolution"]
DISPOSITIONS: tuple[str, ...] = get_args(Disposition)
NOTES_MAX_CHARS = 2000


def append_note_lua(arg: str) -> str:
    """Lua that appends the JSON object in `arg` (e.g. "ARGV[1]") to KEYS[1]'s `notes` array."""
    return f"""
local notes = redis.call('HGET', KEYS[1], 'notes')
if not notes or notes == '' then
  notes = '[' .. {arg} .. ']'
else
  notes = string.sub(notes, 1, -2) .. ',' .. {arg} .. ']'
end
redis.call('HSET', KEYS[1], 'notes', notes)
"""


# `note`: the JSON object appended to the call's notes.
_WRAP_UP = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('no such call') end
"""
    + append_note_lua("ARGV[1]")
    + """
redis.call('HSET', KEYS[1], 'disposition', ARGV[2], 'disposition_by', ARGV[3], 'disposition_at', ARGV[4])
return 1
""",
    keys=("call",),
    args=("note", "disposition", "agent", "now"),
)


class WrapUpRefused(Exception):
    """The agent may not file a wrap-up now (the message says why)."""


def note(agent_id: str, kind: str, text: str, now: datetime, **extra: str) -> str:
    """One note as the JSON object the call record keeps."""
    return json.dumps({"at": now.isoformat(), "agent": agent_id, "kind": kind, "text": text, **extra})


def notes_of(record: CallRecord) -> list[dict[str, Any]]:
    """The notes on a call, oldest first."""
    raw = record.get("notes")
    return list(json.loads(raw)) if raw else []


def written_by(record: CallRecord, agent_id: str) -> int:
    """The notes with words that `agent_id` left on the call (on a transfer or a wrap-up). Every
    wrap-up is kept among the notes, as the call's history, with or without words: one filed
    without any is not a note the agent wrote."""
    return sum(1 for n in notes_of(record) if n.get("agent") == agent_id and n.get("text"))


class WrapUps:
    """Files an agent's wrap-up notes and disposition on their call."""

    def __init__(self, conn: redis.Redis, agents: Agents) -> None:
        self.conn, self.agents = conn, agents

    def file(self, agent_id: str, call_sid: str, text: str, disposition: str, now: datetime) -> None:
        """Store notes and disposition on the agent's current call (on the call, or wrapping it up)."""
        if disposition not in DISPOSITIONS:
            raise ValueError(f"disposition must be one of {', '.join(DISPOSITIONS)}")
        agent = self.agents.get(agent_id)
        if agent is None or agent.call_sid != call_sid:
            raise WrapUpRefused("this is not the agent's current call")
        if agent.state not in (ON_CALL, WRAP_UP):
            raise WrapUpRefused(f"agent is {agent.state}: wrap-up is filed on a call or during wrap-up")
        entry = note(agent_id, "wrapup", text[:NOTES_MAX_CHARS], now, disposition=disposition)
        try:
            _WRAP_UP(
                self.conn,
                call=keys.call(call_sid),
                note=entry,
                disposition=disposition,
                agent=agent_id,
                now=now.isoformat(),
            )
        except redis.ResponseError as exc:
            raise WrapUpRefused(str(exc)) from None
