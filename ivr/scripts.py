"""Lua scripts with named keys and arguments, called with keyword arguments.

A script is declared once, in the module whose data it moves, with the names of its KEYS and
ARGV in order; the last name of either may end in `*`: a list of any length (e.g. "lanes*").
Callers pass every name as a keyword, so no caller counts positions:

    _LEAVE = Script(LUA, keys=("waiting", "since", "lanes*"), args=("sid", "reason"))
    _LEAVE(conn, waiting=..., since=..., lanes=[...], sid=sid, reason="1")   # one round trip
    _LEAVE.queue(pipe, ...)                                                  # inside a pipeline

Run on a client, the script goes as EVALSHA (its SHA is computed once, the server caches the
body after the first SCRIPT LOAD, as redis-py's `register_script` does). Queued on a pipeline it
goes as EVAL: a pipeline of EVALSHA would first ask SCRIPT EXISTS, one more round trip than the
webhook budget allows (tests/test_redis_budget.py).

Argument values: None is sent as '' and a bool as '1' / '0' (what the scripts compare with).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError

Value = str | int | float | bool | None


def _encode(value: Value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return value


class Script:
    """One Lua script: its body and the names of its keys and arguments, in order."""

    def __init__(self, lua: str, *, keys: Sequence[str], args: Sequence[str] = ()) -> None:
        self.lua = lua
        self.keys = tuple(keys)
        self.args = tuple(args)
        self.sha = hashlib.sha1(lua.encode()).hexdigest()
        names = [name.rstrip("*") for name in (*self.keys, *self.args)]
        if len(set(names)) != len(names):
            raise ValueError(f"a script names a key or argument twice: {names}")
        for group in (self.keys, self.args):
            if any(name.endswith("*") for name in group[:-1]):
                raise ValueError(f"only the last name may be a list (ends in '*'): {group}")

    def _flatten(self, names: tuple[str, ...], values: Mapping[str, Any], *, is_key: bool) -> list[Any]:
        out: list[Any] = []
        for name in names:
            if name.endswith("*"):
                items = values[name[:-1]]
                if isinstance(items, str | bytes):
                    raise TypeError(f"script argument {name[:-1]!r} takes a list, not a string")
                out.extend(items if is_key else (_encode(item) for item in items))
            else:
                out.append(values[name] if is_key else _encode(values[name]))
        return out

    def bind(self, values: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
        """The KEYS and ARGV lists of a call, in the script's order, from named values."""
        expected = {name.rstrip("*") for name in (*self.keys, *self.args)}
        missing, extra = expected - values.keys(), values.keys() - expected
        if missing or extra:
            raise TypeError(f"script call: missing {sorted(missing)}, unexpected {sorted(extra)}")
        return self._flatten(self.keys, values, is_key=True), self._flatten(self.args, values, is_key=False)

    def __call__(self, client: redis.Redis, **values: Any) -> Any:
        """Run the script now (one round trip once the server has it cached); its reply."""
        if isinstance(client, Pipeline):
            raise TypeError("on a pipeline, use Script.queue (its reply comes with the pipeline's)")
        script_keys, script_args = self.bind(values)
        try:
            return client.evalsha(self.sha, len(script_keys), *script_keys, *script_args)
        except NoScriptError:
            client.script_load(self.lua)
            return client.evalsha(self.sha, len(script_keys), *script_keys, *script_args)

    def queue(self, pipe: Pipeline, **values: Any) -> None:
        """Queue the script on a pipeline (as EVAL: no extra round trip); its reply comes in order."""
        script_keys, script_args = self.bind(values)
        pipe.eval(self.lua, len(script_keys), *script_keys, *script_args)
