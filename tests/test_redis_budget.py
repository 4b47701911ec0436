"""The Redis budget of a webhook: at most two round trips, whatever else is going on.

The README promises that each menu webhook and hold turn makes at most two Redis round trips (one
that reads the call's record, or on the call's first webhook the script that creates it; one
pipeline that writes or reads the queue), calls its scripts by SHA, and that none of its work, nor
the supervisor's queue statistics, grows with the number of calls in the system. These tests
drive whole calls through the stand-in phone and measure every HTTP request the phone sends (the
phone follows `<Redirect>`s inside one caller action, so the measure is per request, not per
action):

- **round trips**: writes to a Redis socket, counted by a `redis.connection` subclass installed
  in the app's two clients (`stores.data`, decoding, and `stores.jobs`, rq's). One command is one
  round trip, a pipeline or MULTI/EXEC is one, a script call is one (three when Redis does not
  have the script cached: EVALSHA, SCRIPT LOAD, EVALSHA). The handshake of a new connection
  (HELLO, CLIENT SETINFO, ...) is not counted: the pool keeps its connections, so a running
  process pays it once.
- **commands**: what Redis itself executed for the request, commands called by Lua scripts and
  inside MULTI/EXEC included, read from `INFO commandstats` before and after. That is why this
  module runs on a Redis server of its own (embedded, started for the module): no other client
  may touch the counters.

"Nothing grows with the number of calls" is checked twice: every command a webhook runs is one
whose cost is O(1) or O(log N) in the size of a queue (or bounded by one call's fields), and the
same call makes the same round trips and the same commands with 2,000 other calls in the system.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import rq
from flask import Flask
from redis.connection import AbstractConnection

from ivr import keys
from ivr.api.auth import issue_token
from ivr.callcenter.calls import CallRecord, CallWriter
from ivr.callcenter.queues import JOIN
from ivr.callcenter.routing import Route
from ivr.jobs import QUEUE_NAME
from ivr.seeding import seed
from ivr.services import services_of
from ivr.store import Stores, embedded_redis_url, stop_embedded_redis
from standin.phone import Call
from standin.transport import FlaskTransport, Response
from tests.conftest import DEMO_ACCOUNT, OPEN_HOURS, PUBLIC_BASE_URL

BUDGET = 2  # round trips per webhook request ...
BUDGETED = ("/voice/incoming", "/voice/step/", "/voice/hold")  # ... of these webhooks
OTHER_CALLS = 2_000

# Commands a webhook may run: each costs O(1), O(log N) in the size of a queue, or is bounded by
# the fields of one call record or one rq job hash. A command that scans a key or the keyspace
# (ZRANGE, LRANGE, SMEMBERS, KEYS, SCAN, ...) would have to be argued for before it is added here.
BOUNDED_COMMANDS = frozenset(
    {"evalsha", "eval", "multi", "exec"}
    | {"get", "mget", "set", "setex", "setnx", "getdel", "incr", "incrby", "decr"}
    | {"exists", "expire", "pexpire", "expireat", "ttl", "del", "unlink"}
    # HGETALL and HVALS read whole hashes: a call record, or one field per staffed agent (the
    # staffing, which the hotline file bounds), never one per caller.
    | {"hget", "hmget", "hset", "hsetnx", "hexists", "hincrby", "hdel", "hlen", "hgetall", "hvals"}
    | {"zadd", "zcard", "zcount", "zrank", "zrevrank", "zrem", "zscore", "zmscore", "zincrby"}
    | {"sadd", "srem", "sismember", "scard", "rpush", "lpush", "llen"}
    # O(log n + m) for m removed: each entry is removed once, so over time it is O(log n) a call.
    | {"zremrangebyscore"}
    # O(log n + m) for a fixed m: the wait estimate reads the 64 longest waits of one queue.
    | {"zrange"}
    # The event log (ivr/callcenter/events.py): an append to a stream is O(1).
    | {"xadd"}
)

# The requests of `whole_call`, in order (path without query).
WHOLE_CALL_PATHS = [
    "/voice/incoming",
    "/voice/step/language",  # 2: English
    "/voice/step/account",  # the account number
    "/voice/step/account",  # 1: confirmed
    "/voice/step/issue_menu",  # *: the menu again
    "/voice/step/issue_menu",  # 4: account security
    "/voice/step/security_menu",  # 1: freeze now (the rq job rides on the write)
    "/voice/step/freeze",  # not frozen yet: wait
    "/voice/step/freeze",  # frozen: reference number and hand-off
    "/voice/hold",
    "/voice/hold",
    "/voice/hold",
    "/voice/status",  # hang-up
]


# -- counting ---------------------------------------------------------------------------------


@dataclass
class RoundTrips:
    """Round trips one Redis client made."""

    count: int = 0


def counting(base: type[AbstractConnection], trips: RoundTrips) -> type[AbstractConnection]:
    """A subclass of the connection class `base` that counts each send as one round trip."""

    class CountingConnection(base):  # type: ignore[valid-type,misc]
        """Counts `send_packed_command` calls (a pipeline sends once), not the connect handshake."""

        _handshake = False

        def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
            self._handshake = True
            try:
                super().connect_check_health(*args, **kwargs)
            finally:
                self._handshake = False

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            if not self._handshake:
                trips.count += 1
            super().send_packed_command(command, check_health)

    return CountingConnection


def count_round_trips(client: redis.Redis) -> RoundTrips:
    """Make every connection of `client`'s pool count its round trips from now on."""
    trips = RoundTrips()
    pool = client.connection_pool
    pool.disconnect()
    pool.connection_class = counting(pool.connection_class, trips)
    pool.reset()  # drop the old connections: the pool makes counting ones from now on
    return trips


def executed(stats_conn: redis.Redis) -> Counter[str]:
    """How often Redis has executed each command (script calls included), from INFO."""
    stats = stats_conn.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()})


@dataclass(frozen=True)
class Measured:
    """One webhook request and what it cost."""

    path: str  # path and query, as the phone requested it
    data: int  # round trips on the decoding client
    jobs: int  # round trips on rq's client
    commands: Counter[str]  # commands Redis executed

    @property
    def round_trips(self) -> int:
        """Round trips on both clients."""
        return self.data + self.jobs

    @property
    def route(self) -> str:
        """The path without its query."""
        return self.path.partition("?")[0]


@dataclass
class Meter:
    """Measures requests; `requests` holds what was measured since the last `clear()`."""

    stats_conn: redis.Redis
    data: RoundTrips
    jobs: RoundTrips
    requests: list[Measured] = field(default_factory=list)

    @contextlib.contextmanager
    def measure(self, path: str) -> Iterator[None]:
        """Measure what happens inside the block as the request for `path`."""
        data, jobs, before = self.data.count, self.jobs.count, executed(self.stats_conn)
        yield
        after = executed(self.stats_conn)
        after["info"] -= 1  # the INFO that read `before`
        commands = Counter({name: n for name, n in (after - before).items() if n})
        self.requests.append(Measured(path, self.data.count - data, self.jobs.count - jobs, commands))

    def clear(self) -> None:
        """Forget what was measured so far."""
        self.requests.clear()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's own embedded Redis server: INFO commandstats then counts only its commands."""
    data_dir: Path = tmp_path_factory.mktemp("budget-redis")
    yield embedded_redis_url(data_dir)
    stop_embedded_redis(data_dir)


@pytest.fixture
def meter(app: Flask, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Meter:
    """Count the app's round trips and Redis's commands around every request a phone sends."""
    stores: Stores = services_of(app).stores
    meter = Meter(redis_conn, count_round_trips(stores.data), count_round_trips(stores.jobs))
    original = FlaskTransport.request

    def measured(self: FlaskTransport, method: str, url: str, params: dict[str, str]) -> Response:
        with meter.measure(url.removeprefix(PUBLIC_BASE_URL)):
            return original(self, method, url, params)

    monkeypatch.setattr(FlaskTransport, "request", measured)
    return meter


# -- calls and callers ------------------------------------------------------------------------


def whole_call(dial: Callable[..., Call], run_jobs: Callable[[], None]) -> Call:
    """A verified English caller who freezes the account, hears the reference, holds, hangs up.

    Language, account number, confirmation, the issue menu (repeated once with `*`), the
    security self-service menu, the freeze and its wait, the hand-off, three hold documents and
    the status callback: the requests in WHOLE_CALL_PATHS.
    """
    call = dial(max_redirects=1)  # stop after each chained document, so the job runs meanwhile
    call.press("2")
    call.press(DEMO_ACCOUNT)
    call.press("1")
    call.press("*")
    call.press("4")
    call.press("1")
    assert call.state == "looping"  # waiting for the freeze
    run_jobs()
    call.continue_loop()
    assert call.state == "gathering"  # the reference number
    call.silence()
    call.continue_loop(documents=2)  # two more turns on hold, no key pressed during them
    assert call.on_hold
    call.hangup()
    return call


def reset_database(app: Flask, conn: redis.Redis) -> None:
    """An empty database with the demo accounts loaded, as a fresh start of the app leaves it."""
    hotline = services_of(app)
    conn.flushdb()
    seed(hotline.config, hotline.stores.data)


def fill_the_hotline(app: Flask, calls: int = OTHER_CALLS) -> Counter[str]:
    """`calls` other callers, put in through the app's own code: `CallStore.open` (record,
    reference number, the day's counters) and `QueueDoor.hand_off` in a `CallWriter`'s write.

    They arrived over the last 20 minutes, in both languages and every priority class, spread
    over the departments; as many as fit wait in the queues (one place is left in each, so the
    measured caller still gets in), and the rest are still in the menu. Returns how many wait in
    each department.
    """
    hotline = services_of(app)
    cfg = hotline.config.file
    door = hotline.engine.services.door
    departments, classes, locales = (
        list(cfg.departments),
        list(cfg.priorities.items()),
        hotline.config.locales,
    )
    day = OPEN_HOURS.strftime("%y%m%d")
    waiting: Counter[str] = Counter()
    for n in range(calls):
        sid, caller = f"CA{n:032x}", f"+86139{n:08d}"
        when = OPEN_HOURS - timedelta(seconds=(calls - n) * 0.6)
        record = hotline.calls.open(sid, when, day, caller, caller, "+864001234567")
        writer = CallWriter(sid)
        writer.set(lang=locales[n % len(locales)], node="issue_menu")
        with_room = [d for d in departments if waiting[d] < cfg.departments[d].capacity - 1]
        if with_room:
            department = with_room[n % len(with_room)]
            waiting[department] += 1
            priority, rank = classes[n % len(classes)]
            target = Route(department=department, priority=priority, rank=rank, issue="other")
            merged = CallRecord(sid, {**record.fields, **writer.updates})
            door.hand_off(writer, merged, target, cfg.departments[department].capacity, when)
        writer.flush(hotline.stores.data)
    # Jobs the hand-offs queued (if any) would have run long ago: this test runs no agents.
    rq.Queue(QUEUE_NAME, connection=hotline.stores.jobs).empty()
    return waiting


def over_budget(requests: list[Measured]) -> list[Measured]:
    """The menu and hold requests that made more than BUDGET round trips."""
    return [r for r in requests if r.route.startswith(BUDGETED) and r.round_trips > BUDGET]


def unbounded(requests: list[Measured]) -> dict[str, set[str]]:
    """Per request, the commands Redis ran that are not in BOUNDED_COMMANDS."""
    return {
        r.path: set(r.commands) - BOUNDED_COMMANDS for r in requests if set(r.commands) - BOUNDED_COMMANDS
    }


def cost(requests: list[Measured]) -> list[tuple[str, int, int, Counter[str]]]:
    """What each request cost: route, round trips on each client, commands Redis ran."""
    return [(r.route, r.data, r.jobs, r.commands) for r in requests]


# -- the tests --------------------------------------------------------------------------------


def test_the_counter_counts_round_trips_not_commands(app: Flask, meter: Meter) -> None:
    """A GET is one round trip, a pipeline of five commands (or a MULTI/EXEC) one, a script one.

    On both of the app's clients. The first GET opens a connection: Redis sees the handshake,
    the round-trip count does not. INFO commandstats sees every command, a script's included.
    """
    stores: Stores = services_of(app).stores
    for client, trips in ((stores.data, meter.data), (stores.jobs, meter.jobs)):
        meter.clear()
        with meter.measure("first GET"):
            client.get("hl:nothing")
        assert trips.count == 1
        assert meter.requests[0].commands["get"] == 1 and len(meter.requests[0].commands) > 1
        with meter.measure("GET"):
            client.get("hl:nothing")
        assert trips.count == 2 and meter.requests[1].commands == Counter({"get": 1})
        with meter.measure("pipeline"):
            pipe = client.pipeline(transaction=False)
            for n in range(5):
                pipe.set(f"hl:test:{n}", n)
            pipe.execute()
        assert trips.count == 3 and meter.requests[2].commands == Counter({"set": 5})
        with client.pipeline(transaction=True) as transaction:
            transaction.incr("hl:test:0").incr("hl:test:1").execute()
        assert trips.count == 4
        script = client.register_script("return redis.call('INCR', KEYS[1])")
        client.script_load(script.script)
        with meter.measure("script"):
            script(keys=["hl:test:2"])
        assert trips.count == 6 and meter.requests[3].commands == Counter({"evalsha": 1, "incr": 1})
    assert (meter.data.count, meter.jobs.count) == (6, 6)


def test_every_menu_and_hold_request_of_a_whole_call_makes_at_most_two_round_trips(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    meter: Meter,
) -> None:
    """Each incoming, step and hold request of a whole call: at most two round trips in all.

    Measured in a running process: one call first warms it up (Redis's script cache, the
    connections, rq's probe of the server version; see the cold-start test). The step that
    enqueues the freeze job is no exception: the job rides on the step's MULTI/EXEC, and rq's
    own client makes no round trip in any request. Every command Redis runs for any request
    (the status callback's included) is in BOUNDED_COMMANDS. The status callback itself is not
    a menu webhook and is not held to the budget: for a queued caller it closes the call and
    takes the caller out of the department queue, two scripts after the read.
    """
    whole_call(dial, run_jobs)  # warm-up
    reset_database(app, redis_conn)
    meter.clear()
    call = whole_call(dial, run_jobs)
    assert [r.route for r in meter.requests] == WHOLE_CALL_PATHS
    assert over_budget(meter.requests) == []
    # The first hold turn reads the record, then its queue; each turn after it, whose URL names
    # the queue, reads both in one script.
    assert [r.round_trips for r in meter.requests if r.route == "/voice/hold"] == [2, 1, 1]
    assert [r for r in meter.requests if r.jobs] == []
    assert unbounded(meter.requests) == {}
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["freeze"] == "done" and record["department"] == "security"
    assert record["status"] == "ended"


def test_two_thousand_other_calls_change_nothing_a_webhook_does(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    meter: Meter,
) -> None:
    """The same call, alone and among 2,000 others: the same round trips and the same commands.

    The others (`fill_the_hotline`) have records and reference numbers, and fill every
    department queue up to one place below its capacity, 299 of them in security (ahead of the
    caller or behind, by class and arrival); the rest are in the menu. Per request, the status
    callback included, the round trips on each client and the count of each command Redis runs
    (Lua's included) must be equal.
    """
    hotline = services_of(app)
    whole_call(dial, run_jobs)  # warm-up
    reset_database(app, redis_conn)
    meter.clear()
    alone = whole_call(dial, run_jobs)
    assert redis_conn.hget(keys.call(alone.call_sid), "department") == "security"
    by_itself = list(meter.requests)

    reset_database(app, redis_conn)
    waiting = fill_the_hotline(app)
    capacities = {name: d.capacity for name, d in hotline.config.file.departments.items()}
    assert waiting == {name: capacity - 1 for name, capacity in capacities.items()}
    assert {name: hotline.queues.waiting(name) for name in capacities} == waiting
    assert sum(waiting.values()) < OTHER_CALLS < redis_conn.dbsize() / 2  # records + references
    meter.clear()
    crowded = whole_call(dial, run_jobs)
    record = redis_conn.hgetall(keys.call(crowded.call_sid))
    assert record["department"] == "security" and record["freeze"] == "done"
    assert record["ref"][6:11] == f"{OTHER_CALLS + 1:05d}"  # the day's 2,001st call
    assert hotline.queues.waiting("security") == waiting["security"]  # it hung up: left the queue
    assert cost(meter.requests) == cost(by_itself)
    assert over_budget(meter.requests) == [] and unbounded(meter.requests) == {}


def test_a_cold_start_pays_only_script_loads_in_the_handshake_and_rqs_version_probe(
    app: Flask,
    dial: Callable[..., Call],
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
    meter: Meter,
) -> None:
    """A new process on a Redis without the scripts cached pays a little extra, once.

    Each new connection of the data client loads every script in its handshake (SCRIPT LOAD,
    pipelined after HELLO; not a round trip of any request: the pool keeps its connections),
    so even the first request on a Redis that never saw the scripts calls them by SHA, pipelines
    included, and no EVALSHA answers NOSCRIPT. rq asks the server for its version (INFO, on rq's
    client) the first time the process enqueues a job. Per request, the first call's round trips
    are the second call's plus exactly that; and neither sends a script's body (EVAL).
    """
    redis_conn.script_flush()
    services_of(app).stores.data.connection_pool.disconnect()  # a new process: new connections
    whole_call(dial, run_jobs)
    cold = list(meter.requests)
    reset_database(app, redis_conn)
    meter.clear()
    whole_call(dial, run_jobs)
    warm = list(meter.requests)
    assert [r.route for r in cold] == [r.route for r in warm] == WHOLE_CALL_PATHS
    explained = [(r.route, w.data, w.jobs + r.commands["info"]) for r, w in zip(cold, warm, strict=True)]
    assert [(r.route, r.data, r.jobs) for r in cold] == explained
    assert sum(r.commands["script"] for r in cold) > 0  # the handshake loaded the scripts
    assert sum(r.commands["eval"] for r in cold + warm) == 0
    assert sum(r.commands["evalsha"] for r in warm) > 0
    assert over_budget(warm) == []


def _flushed_on_hold(dial: Callable[..., Call], redis_conn: redis.Redis) -> tuple[Call, int, list[str]]:
    """A caller on hold, the scripts flushed under the app's live connections, three documents
    of the loop after it: (the call, its mark before them, the hold turns requested)."""
    call = dial()
    call.press("2")
    call.press(DEMO_ACCOUNT)
    call.press("1")
    call.press("9")  # anything else: to general enquiries
    call.silence()  # the reference number's Gather
    assert call.on_hold
    redis_conn.script_flush()
    mark, sent = call.mark(), len(call.request_paths())
    call.continue_loop(documents=3)
    assert call.on_hold
    return call, mark, [path for path in call.request_paths()[sent:] if path.startswith("/voice/hold")]


def test_scripts_flushed_under_live_connections_cost_a_pipelined_turn_one_turn_ridden_out(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SCRIPT FLUSH while the app's connections stay up: the caller on hold never notices.

    A hold turn read in two round trips (the first turn's way, forced here for every turn) whose
    pipeline meets NOSCRIPT is answered like a turn during a failover (the music, and the turn
    again, its URL marking since when: no apology, no overflow); the connection that met it
    loads every script again before its next command, and the turn after it reaches Redis again
    (its URL drops the mark).
    """
    import ivr.voice.waiting as waiting

    monkeypatch.setattr(waiting, "turn_wait", lambda *args: (None, None))
    call, mark, turns = _flushed_on_hold(dial, redis_conn)
    lang = services_of(app).config.languages["en-US"]
    assert lang.text("overflow_apology") not in call.heard_text(mark)
    ridden_out = [turn for turn in turns if "g=" in turn]
    assert len(ridden_out) == 1 and "g=" not in turns[-1]  # once, then Redis as usual
    assert redis_conn.script_exists(JOIN.sha) == [True]


def test_scripts_flushed_under_live_connections_cost_a_one_trip_turn_nothing(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis
) -> None:
    """A hold turn after the first runs its one script on the client (`turn_wait`): NOSCRIPT
    has it load the script and run it again within the turn (the connection loads every script
    again before its next command), so no turn is ridden out and the caller hears the loop."""
    call, mark, turns = _flushed_on_hold(dial, redis_conn)
    lang = services_of(app).config.languages["en-US"]
    assert lang.text("overflow_apology") not in call.heard_text(mark)
    assert turns and all("&d=" in turn and "g=" not in turn for turn in turns)
    assert redis_conn.script_exists(JOIN.sha) == [True]


def test_the_supervisor_statistics_cost_the_same_with_two_thousand_callers_waiting(
    app: Flask, redis_conn: redis.Redis, meter: Meter
) -> None:
    """GET /api/supervisor/queues reads counters, the head of each queue and each department's
    live state, never the callers one by one: with a caller or two waiting in each department
    and with 2,000 calls in the hotline (every queue full but one place), Redis runs the same
    commands the same number of times, in the same round trips, and the report counts them all.
    """
    hotline = services_of(app)
    token = issue_token(redis_conn, "supervisor", "budget")
    client = app.test_client()

    def report() -> tuple[Measured, dict[str, int]]:
        meter.clear()
        with meter.measure("/api/supervisor/queues"):
            answer = client.get("/api/supervisor/queues", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        return meter.requests[0], {q["department"]: q["waiting"] for q in answer.get_json()["queues"]}

    report()  # warm-up: connections
    reset_database(app, redis_conn)
    token = issue_token(redis_conn, "supervisor", "budget")
    few = fill_the_hotline(app, calls=8)
    quiet, quiet_waiting = report()
    reset_database(app, redis_conn)
    token = issue_token(redis_conn, "supervisor", "budget")
    many = fill_the_hotline(app)
    crowded, crowded_waiting = report()
    assert quiet_waiting == {d: few[d] for d in hotline.config.file.departments}
    assert crowded_waiting == dict(many) and sum(many.values()) > 1_000
    assert (crowded.data, crowded.jobs, crowded.commands) == (quiet.data, quiet.jobs, quiet.commands)
    # The token, the counters, the agents (two), and every department's live state in one pipeline.
    assert crowded.data == 5
    # Besides the webhooks' commands: SMEMBERS of the agents (as many as the hotline file has).
    assert set(crowded.commands) - BOUNDED_COMMANDS == {"smembers"}
