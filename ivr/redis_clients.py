"""How the hotline's Redis clients reach their server: a plain URL or a Sentinel service.

`REDIS_URL` is either an ordinary redis-py URL (`redis://`, `rediss://`, `unix://`) or names a
Redis Sentinel service, so every process follows the primary through a failover:

    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db][?sentinel_password=…]

The hosts are the sentinels (port 26379 when omitted), `service` is the name they monitor
(`sentinel monitor mymaster …`), `db` the database number (0). The password, when given, is the
primary's (`requirepass`); `sentinel_password` is for sentinels that require one themselves.
Clients are redis-py's `Sentinel(...).master_for(service)`: each new connection asks the
sentinels where the primary is, and idle connections to a demoted primary are dropped.

Every connection retries its *connect* (never a command that may have reached Redis: a retried
write could be applied twice) with a short backoff for a bounded window, so a Redis restarting
or a primary being replaced costs a caller a moment, not their call.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.connection import AbstractConnection
from redis.sentinel import Sentinel, SentinelManagedConnection

from ivr.scripts import LoadsScripts

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379
FIRST_PAUSE_SECONDS = 0.05  # doubled after each failed connect, with jitter
MAX_PAUSE_SECONDS = 0.4


@dataclass(frozen=True)
class SentinelService:
    """A Redis service managed by sentinels, as `REDIS_URL` names it."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None

    def describe(self) -> str:
        """The service for logs and reports, without any password."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"{SENTINEL_SCHEME}://{hosts}/{self.service}/{self.db}"


def is_sentinel_url(url: str) -> bool:
    """True when `url` names a Sentinel service rather than one server."""
    return url.startswith(f"{SENTINEL_SCHEME}://")


def parse_sentinel_url(url: str) -> SentinelService:
    """The Sentinel service of a `redis+sentinel://` URL; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"must start with {SENTINEL_SCHEME}://")
    credentials, _, hostlist = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    sentinels = tuple(_host_port(item) for item in hostlist.split(",") if item)
    if not sentinels:
        raise ValueError("names no sentinel: redis+sentinel://host:26379,host2:26379/mymaster/0")
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("must name the service and optionally the database: …/mymaster/0")
    if len(path) == 2 and not (path[1].isascii() and path[1].isdigit()):
        raise ValueError(f"database must be a number, not {path[1]!r}")
    query = parse_qs(parts.query)
    unknown = set(query) - {"sentinel_password"}
    if unknown:
        raise ValueError(f"unknown option {sorted(unknown)[0]!r} (only sentinel_password)")
    return SentinelService(
        sentinels=sentinels,
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=query["sentinel_password"][0] if "sentinel_password" in query else None,
    )


def _host_port(item: str) -> tuple[str, int]:
    if item.startswith("["):  # [::1]:26379
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = item.partition(":")
    port = port or str(DEFAULT_SENTINEL_PORT)
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"sentinel {item!r} is not host:port")
    return host, int(port)


if TYPE_CHECKING:  # the mixin's base as the type checker sees it: the class it is mixed into
    _ConnectionBase = AbstractConnection
else:
    _ConnectionBase = object


class RetryingConnect(_ConnectionBase):
    """Mixin for a redis-py connection class: connecting is retried for `connect_window` seconds.

    Only the connect is retried: nothing has reached Redis yet, so trying again cannot apply
    anything twice. Each attempt of a Sentinel-managed connection asks the sentinels afresh,
    so a retry finds a newly promoted primary.
    """

    connect_window: float = 1.0

    def connect(self) -> None:
        """Connect, retrying with backoff while the window (and the thread's budget) lasts."""
        if self._sock:  # connected: redis-py's connect would return at once (the pool asks every command)
            return
        deadline = time.monotonic() + self.connect_window
        shared = getattr(_budget, "deadline", None)
        if shared is not None:
            deadline = min(deadline, shared)
        pause = FIRST_PAUSE_SECONDS
        while True:
            try:
                super().connect()
                return
            except (redis.ConnectionError, redis.TimeoutError):
                wait = pause * random.uniform(0.5, 1.0)  # jitter: many threads reconnect at once
                if time.monotonic() + wait > deadline:
                    raise
                time.sleep(wait)
                pause = min(pause * 2, MAX_PAUSE_SECONDS)


class DisconnectWhenInterrupted(_ConnectionBase):
    """Mixin for redis-py's Sentinel-managed connection: a read cut short closes the connection.

    redis-py's plain connections do so, its `SentinelManagedConnection.read_response` does not
    (it defaults `disconnect_on_error` to False): a read interrupted by an exception that is not
    a Redis error (rq's StopRequested when a worker is told to stop during BLPOP) left the reply
    on the socket, and the next command on that connection read it (rq then failed to register
    the worker's death, after waiting for the BLPOP to end).
    """

    def read_response(self, *args: Any, disconnect_on_error: bool = True, **kwargs: Any) -> Any:
        """redis-py's read, closing the connection when it fails (unless the caller says not to)."""
        return super().read_response(*args, disconnect_on_error=disconnect_on_error, **kwargs)


_budget = threading.local()


@contextlib.contextmanager
def retry_budget(seconds: float) -> Iterator[None]:
    """Inside the block (one webhook request), every connect on this thread stops retrying
    `seconds` after it began: the retries of all its connects share one budget."""
    _budget.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _budget.deadline = None


_RETRYING: dict[tuple[type, float, bool], type] = {}


def retrying(
    base: type[AbstractConnection], window: float, *, load_scripts: bool = False
) -> type[AbstractConnection]:
    """`base` with its connect retried for `window` seconds (one class per base, window and
    `load_scripts`: the hotline's Lua scripts loaded on every new connection, ivr/scripts.py)."""
    key = (base, window, load_scripts)
    if key not in _RETRYING:
        name = f"Retrying{base.__name__}"
        mixins: tuple[type, ...] = (
            (RetryingConnect, DisconnectWhenInterrupted)
            if issubclass(base, SentinelManagedConnection)
            else (RetryingConnect,)
        )
        if load_scripts:
            mixins = (*mixins, LoadsScripts)
        _RETRYING[key] = type(name, (*mixins, base), {"connect_window": window})
    return _RETRYING[key]


def client(
    url: str,
    connect_window: float,
    *,
    decode: bool,
    sentinel_timeout: float,
    load_scripts: bool = False,
    **options: Any,
) -> redis.Redis:
    """A client of the server (or Sentinel service) at `url`, with `options` for its connections.

    `load_scripts`: every new connection loads the hotline's Lua scripts (ivr/scripts.py), so a
    pipeline can call them by SHA.

    `sentinel_timeout` bounds each question to a sentinel (connect, and read): one answers at
    once or not at all, and none may hold a webhook, or a worker whose BLPOP has no timeout.
    """
    if is_sentinel_url(url):
        service = parse_sentinel_url(url)
        sentinel_options: dict[str, Any] = {
            "socket_timeout": sentinel_timeout,
            "socket_connect_timeout": sentinel_timeout,
        }
        if service.sentinel_password:
            sentinel_options["password"] = service.sentinel_password
        sentinel = Sentinel(list(service.sentinels), sentinel_kwargs=sentinel_options)
        return sentinel.master_for(
            service.service,
            connection_class=retrying(SentinelManagedConnection, connect_window, load_scripts=load_scripts),
            db=service.db,
            username=service.username,
            password=service.password,
            decode_responses=decode,
            **options,
        )
    conn = redis.Redis.from_url(url, decode_responses=decode, **options)
    pool = conn.connection_pool
    pool.connection_class = retrying(pool.connection_class, connect_window, load_scripts=load_scripts)
    return conn


def describe(url: str) -> str:
    """`url` for logs and reports, without any password."""
    if is_sentinel_url(url):
        return parse_sentinel_url(url).describe()
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"
