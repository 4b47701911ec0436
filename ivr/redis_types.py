"""Typed replies of the hotline's Redis client, and the type of a hash the hotline writes.

redis-py types every reply as `bytes | str` because one client class serves decoding and raw
clients alike. The hotline's data client decodes (`ivr/store.py`, `decode=True`), so its
replies are text: these helpers say so once, where a reply enters the code, instead of a cast
at each use. They decode bytes too, so they stay right on a raw client (rq's `jobs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias, cast

from redis.typing import EncodableT, FieldT

# A reply item as redis-py types it.
Reply: TypeAlias = bytes | str


def text(value: Reply) -> str:
    """One reply item as text."""
    return value.decode() if isinstance(value, bytes) else value


def text_or_none(value: Reply | None) -> str | None:
    """One reply item as text, None (a missing key or field) kept."""
    return None if value is None else text(value)


def texts(values: Iterable[Any]) -> list[str]:
    """A list reply (SMEMBERS, LRANGE, ZRANGE without scores, …) as text."""
    return [text(v) for v in values]


def text_hash(reply: Mapping[Reply, Reply]) -> dict[str, str]:
    """An HGETALL reply as text (empty when the hash does not exist)."""
    return {text(k): text(v) for k, v in reply.items()}


def scored(reply: Iterable[Any]) -> list[tuple[str, float]]:
    """A ZRANGE … WITHSCORES reply as (member, score) pairs."""
    return [(text(member), float(score)) for member, score in reply]


def hash_fields(fields: Mapping[str, str | int | float]) -> Mapping[FieldT, EncodableT]:
    """`fields` as HSET's `mapping` argument.

    redis-py types that argument as a Mapping keyed by a union of key types; Mapping is
    invariant in its key, so a `dict[str, str]` is refused although every str key is allowed.
    """
    return cast(Mapping[FieldT, EncodableT], fields)
