"""Lua scripts with named keys and arguments, called with keyword arguments.

A script is declared once, in the module whose data it moves, with the names of its KEYS and
ARGV in order; the last name of either may end in `*`: a list of any length (e.g. "lanes*").
Callers pass every name as a keyword, so no caller counts positions:

    _LEAVE = Script(LUA, keys=("waiting", "since", "lanes*"), args=("sid", "reason"))
    _LEAVE(conn, waiting=..., since=..., lanes=[...], sid=sid, reason="1")   # one round trip
    _LEAVE.queue(pipe, ...)                                                  # inside a pipeline

Run on a client, the script goes as EVALSHA (its SHA is computed once, the server caches the
body after the first SCRIPT LOAD, as redis-py's `register_script` does). Queued on a pipeline it
goes as EVALSHA too when the pipeline's client loads the scripts as it connects (`LoadsScripts`,
the hotline's data client): every script declared before the process's first connection is then
on every server the client reaches, a restarted or newly promoted one included, since reaching it
takes a new connection. redis-py's own pipelines of scripts ask SCRIPT EXISTS first, one more round
trip than the webhook budget allows (tests/test_redis_budget.py); on any other client, or for a
script declared later (none in the product), the pipeline sends the body (EVAL), which costs no
extra round trip either. A server that forgot its scripts under live connections (SCRIPT FLUSH)
fails the pipeline that meets it (NOSCRIPT: the webhook rides it out as it does a failover, see
ivr/voice/webhook.py); that connection loads every script again before its next command.

Argument values: None is sent as '' and a bool as '1' / '0' (what the scripts compare with).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import redis
from redis.client import Pipeline
from redis.connection import AbstractConnection
from redis.exceptions import NoScriptError

Value = str | int | float | bool | None

# Every script declared, by SHA, in the order declared.
_DECLARED: dict[str, Script] = {}
# The scripts on every server a `LoadsScripts` connection reaches: those declared when the first
# such connection was made (each later connection loads all declared by then, a superset).
_EVERYWHERE: frozenset[str] | None = None
_first_load = threading.Lock()


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
        _DECLARED.setdefault(self.sha, self)

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
        return self.run(client, script_keys, script_args)

    def run(self, client: redis.Redis, script_keys: Sequence[Any], script_args: Sequence[Any]) -> Any:
        """Run the script now with KEYS and ARGV as `bind` lays them out (a caller that keeps
        them between calls skips the binding); its reply."""
        try:
            return client.evalsha(self.sha, len(script_keys), *script_keys, *script_args)
        except NoScriptError:
            client.script_load(self.lua)
            return client.evalsha(self.sha, len(script_keys), *script_keys, *script_args)

    def queue(self, pipe: Pipeline, **values: Any) -> None:
        """Queue the script on a pipeline (no extra round trip); its reply comes in order.

        EVALSHA when the server is sure to have it (see the module's docstring), else EVAL.
        """
        script_keys, script_args = self.bind(values)
        loaded = _EVERYWHERE is not None and self.sha in _EVERYWHERE
        if loaded and issubclass(pipe.connection_pool.connection_class, LoadsScripts):
            pipe.evalsha(self.sha, len(script_keys), *script_keys, *script_args)
        else:
            pipe.eval(self.lua, len(script_keys), *script_keys, *script_args)


if TYPE_CHECKING:  # the mixin's base as the type checker sees it: the class it is mixed into
    _ConnectionBase = AbstractConnection
else:
    _ConnectionBase = object


class LoadsScripts(_ConnectionBase):
    """Mixin for a redis-py connection class: every declared script is loaded as it connects.

    One pipelined SCRIPT LOAD per script, part of the connection's handshake (after HELLO): a
    pool keeps its connections, so a running process pays it once per connection. A reply of
    NOSCRIPT (the server's scripts were flushed) has the connection load them all again before
    the next command it sends.
    """

    _scripts_lost = False

    def on_connect_check_health(self, check_health: bool = True) -> None:
        """redis-py's handshake, then the scripts."""
        global _EVERYWHERE
        super().on_connect_check_health(check_health=check_health)
        with _first_load:  # the first snapshot is the smallest: every connection loads at least it
            scripts = list(_DECLARED.values())
            if _EVERYWHERE is None:
                _EVERYWHERE = frozenset(script.sha for script in scripts)
        self._load(scripts)

    def _load(self, scripts: list[Script]) -> None:
        if scripts:
            self.send_packed_command(
                self.pack_commands([("SCRIPT", "LOAD", script.lua) for script in scripts]), check_health=False
            )
            for _ in scripts:
                self.read_response()

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """redis-py's read; a NOSCRIPT reply marks the scripts to be loaded again."""
        try:
            return super().read_response(*args, **kwargs)
        except NoScriptError:
            self._scripts_lost = True
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """redis-py's send, after loading the scripts again if the server had lost them."""
        if self._scripts_lost:
            self._scripts_lost = False
            self._load(list(_DECLARED.values()))
        super().send_packed_command(command, check_health)
