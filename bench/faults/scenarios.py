"""One scenario (a row): start the hotline for real, play callers and agents, hurt it, account.

Each row gets its own temporary directory, Redis (or Sentinel topology), web app, workers and
stand-in for Twilio, so what one fault left behind never shows up in the next row.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.faults.people import AgentSim, Caller, CallerLog, Phones
from bench.faults.topology import PROJECT_ROOT, Hotline, RedisServer, Sentinels
from bench.faults.truth import SAMPLE_SECONDS, Monitor, Row, account
from ivr import keys
from ivr.api.auth import issue_token
from queue_worker.reaper import DEFAULT_INTERVAL_SECONDS, LEASE_PASSES
from standin.live import LiveCalls
from standin.serve import serve_live_standin
from standin.transport import HttpTransport

ACCOUNT_SID = "AC" + "0" * 32  # local values, as `make run` uses them: not secrets
AUTH_TOKEN = "local-development-token"
HOLD_MUSIC_SECONDS = 6.0  # one turn of hold music on the stand-in's phones
WRAP_UP_SECONDS = 3
CALLBACK_RING_SECONDS = 10
# The reaper passes every few seconds; when its holder dies, another worker takes its lease after
# LEASE_PASSES passes: the longest an expired hold may wait for it.
REAPER_SECONDS = DEFAULT_INTERVAL_SECONDS * LEASE_PASSES
# After the window: callers' patience (at most 60 s) and a callback's three attempts fit in this.
SETTLE_AT_MOST_SECONDS = 75.0


@dataclass(frozen=True)
class Plan:
    """A row: the fault, how many times, over how many seconds of traffic."""

    name: str
    fault: str  # none, redis-kill, redis-stop, worker-kill, fault-point, sentinel, drop-status
    count: int = 0
    window: float = 30.0
    point: str = ""  # the fault point (fault-point rows)


@dataclass(frozen=True)
class Options:
    """What every row shares."""

    base_port: int = 7500
    agents: int = 3
    rate: float = 0.3  # callers per second during the window
    callers: int = 0  # a fixed number of callers instead of the rate
    patience: float = 30.0  # mean, seconds (exponential, 8 s to 60 s)
    talk: float = 10.0  # mean talk time, seconds (lognormal)
    callback_share: float = 0.25
    ring_timeout: int = 8
    reaper: float = REAPER_SECONDS  # the longest a hold waits for the reaper
    settle: float | None = None  # seconds watched after the last caller (default ring + reaper)
    point_share: float = 0.3  # probability of dying at the fault point, each time it is reached
    drop_share: float = 0.1
    seed: int = 1
    keep: bool = False
    verbose: bool = False
    connect_via: str = "dial"  # or "conference": each caller meets the agent in a room of their own


def port_free(port: int) -> bool:
    """Whether nothing listens on this loopback port (connections closing on it do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def fault_points(root: Path = PROJECT_ROOT) -> list[str]:
    """The fault points of matching and of callbacks named in the code (`reached("...")`)."""
    found: set[str] = set()
    for folder in ("ivr", "queue_worker"):
        for path in (root / folder).rglob("*.py"):
            found.update(re.findall(r"\breached\(\s*[\"']([\w.:-]+)[\"']", path.read_text(encoding="utf-8")))
    return sorted(name for name in found if name.startswith(("matching", "callback")))


def sentinel_supported() -> bool:
    """Whether this build takes a `redis+sentinel://` REDIS_URL."""
    from ivr.settings import Settings, SettingsError

    try:
        Settings.from_mapping(
            {
                "twilio_account_sid": ACCOUNT_SID,
                "twilio_auth_token": AUTH_TOKEN,
                "redis_url": "redis+sentinel://127.0.0.1:1,127.0.0.1:2/hotline/0",
            }
        )
    except SettingsError:
        return False
    return True


def write_hotline_file(
    work: Path, agent_ids: list[str], ring_timeout: int, connect_via: str = "dial"
) -> Path:
    """The shipped hotline file, open around the clock, with short rings, wrap-ups and retries."""
    data = yaml.safe_load((PROJECT_ROOT / "hotline.yaml").read_text(encoding="utf-8"))
    data["hotline"].update(ring_timeout_seconds=ring_timeout, max_hold_minutes=5, connect_via=connect_via)
    data["holidays"] = []
    for department in data["departments"].values():
        department.update(hours="always", wrap_up_seconds=WRAP_UP_SECONDS)
    data["directory"]["file"] = str(PROJECT_ROOT / "demo_accounts.yaml")
    data["messages"]["offer_sms"] = False
    data["survey"]["enabled"] = False
    data["callbacks"].update(retry_backoff_seconds=[10, 20], ring_timeout_seconds=CALLBACK_RING_SECONDS)
    skills = {"payments": 5, "general": 4, "international": 3, "accounts": 3, "security": 2}
    data["agents"] = [
        {"id": a, "name": a, "departments": skills, "languages": ["zh-CN", "en-US"], "reach": f"client:{a}"}
        for a in agent_ids
    ]
    path = work / "hotline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class Scenario:
    """One row, from the first process started to the last one stopped."""

    def __init__(self, plan: Plan, opts: Options) -> None:
        self.plan, self.opts = plan, opts
        self.rng = random.Random(f"{opts.seed}:{plan.name}")
        self.work = Path(tempfile.mkdtemp(prefix="hotline-faults-"))
        self.agent_ids = [f"agent_{i + 1}" for i in range(opts.agents)]
        base = opts.base_port
        self.web_url, self.standin_port = f"http://127.0.0.1:{base}", base + 1
        self.redis: RedisServer | None = None
        self.sentinels: Sentinels | None = None
        if plan.fault == "sentinel":
            self.sentinels = Sentinels(base + 20, self.work)
        else:
            self.redis = RedisServer(base + 10, self.work / "redis")
        self.faults = 0
        self.callers: list[CallerLog] = []

    def connect(self) -> redis.Redis:
        """A client of the current primary."""
        if self.sentinels is not None:
            return self.sentinels.client()
        assert self.redis is not None
        return redis.Redis(
            port=self.redis.port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0),  # a stalled Redis is a missed sample, not a wait
        )  # fmt: skip

    def run(self) -> Row:
        """Start, play, hurt, settle, account; everything stopped at the end."""
        began = time.monotonic()
        stops: list[Callable[[], None]] = []
        try:
            row = self._run(stops)
        finally:
            for stop in reversed(stops):
                try:
                    stop()
                except Exception as exc:  # noqa: BLE001 - the next process must still be stopped
                    print(f"  (stopping: {exc})")
            if not self.opts.keep:
                shutil.rmtree(self.work, ignore_errors=True)
        row.seconds = time.monotonic() - began
        row.notes.append(f"stopped after {row.seconds:.0f} s")
        return row

    def ports(self) -> list[int]:
        """The loopback ports this row listens on."""
        base = self.opts.base_port
        servers = self.sentinels.servers + self.sentinels.sentinels if self.sentinels else [self.redis]
        return [base, base + 1, *(s.port for s in servers if s is not None)]

    def _run(self, stops: list[Callable[[], None]]) -> Row:
        plan, opts, began = self.plan, self.opts, time.monotonic()
        taken = [port for port in self.ports() if not port_free(port)]
        if taken:  # never talk to another program's Redis or web app by mistake
            raise RuntimeError(f"ports {taken} are taken by another program: choose --base-port")
        if self.sentinels is not None:
            stops.append(self.sentinels.stop)
            self.sentinels.start()
            redis_url = self.sentinels.url
        else:
            assert self.redis is not None
            stops.append(self.redis.stop)
            self.redis.start()
            redis_url = f"redis://127.0.0.1:{self.redis.port}/0"
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's access log
        standin = serve_live_standin(
            lambda: HttpTransport(self.web_url, AUTH_TOKEN),
            ACCOUNT_SID,
            AUTH_TOKEN,
            port=self.standin_port,
            default_play_seconds=HOLD_MUSIC_SECONDS,
            drop_status_share=opts.drop_share if plan.fault == "drop-status" else 0.0,
            seed=opts.seed,
        )  # the hotline's calls to customers ring their phones
        stops.append(standin.stop)
        switchboard, live, standin_url = standin.switchboard, standin.live, standin.url
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "REDIS_", "TWILIO_"))}
        env.update(
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_API_BASE_URL=standin_url,
            PUBLIC_BASE_URL=self.web_url,
            REDIS_URL=redis_url,
            HOTLINE_CONFIG=str(
                write_hotline_file(self.work, self.agent_ids, opts.ring_timeout, opts.connect_via)
            ),
            HOTLINE_DATA_DIR=str(self.work / "data"),
            PYTHONUNBUFFERED="1",
        )
        hotline = Hotline(env, opts.base_port, self.work)
        stops.append(hotline.stop)
        points = ",".join(f"{p}:{opts.point_share}" for p in plan.point.split(",")) if plan.point else ""
        hotline.start(fault_points=points)
        conn = self.connect()
        tokens = {a: issue_token(conn, "agent", a) for a in self.agent_ids}
        time.sleep(1.2)  # the tokens reach the AOF (fsync every second) before anything is hurt

        hold_limit = opts.ring_timeout + opts.reaper
        monitor = Monitor(self.connect, live, self.agent_ids, hold_limit)
        monitor.start()
        stops.append(monitor.halt)
        phones = Phones(switchboard, live, random.Random(self.rng.random()))
        phones.start()
        stops.append(phones.stop.set)
        agents = [
            AgentSim(
                a, tokens[a], self.web_url, live, random.Random(self.rng.random()), opts.talk, i % 2 == 0
            )
            for i, a in enumerate(self.agent_ids)
        ]
        for agent in agents:
            agent.start()
        stops += [agent.stop.set for agent in agents]
        self._wait_ready(conn)
        self.ready_after = time.monotonic() - began

        injector = threading.Thread(target=self._inject, args=(hotline,), name="faults", daemon=True)
        injector.start()
        threads = self._arrivals(live, phones)
        injector.join()
        self._settle(threads, phones, monitor)
        self.phases = (
            f"ready at {self.ready_after:.0f} s, calls over at {self.drained - began:.0f} s, "
            f"settled at {time.monotonic() - began:.0f} s"
        )
        monitor.stop.set()
        monitor.join(10)
        dropped = sum(
            1 for call in live.calls() for e in call.events.since(0) if e["kind"] == "status-dropped"
        )
        if plan.fault == "fault-point":
            self.faults = hotline.fault_kills()
        elif plan.fault == "drop-status":
            self.faults = dropped
        row = account(plan.name, self.callers, live, list(phones.dialled.values()), monitor)
        row.faults = self.faults
        asked = sum(1 for c in self.callers if c.asked_callback is not None)
        row.notes.append(
            f"{self.phases}; callbacks asked {asked}, calls placed to customers "
            f"{len(phones.dialled)}; status callbacks dropped {dropped}"
        )
        row.notes.append(
            f"worker restarts {hotline.restarts}; agents set ready again {sum(a.readied for a in agents)}; "
            f"agent API errors {sum(a.api_errors for a in agents)}; Redis samples missed "
            f"{monitor.failed_samples}/{monitor.samples + monitor.failed_samples}"
        )
        if opts.verbose:
            for c in self.callers:
                if c.sid in row.lost_sids:
                    row.notes.append(f"lost {c.sid} {c.number}: " + " | ".join(c.trail[-8:]))
                    for d in phones.dialled.values():
                        if d.for_call == c.sid:
                            row.notes.append(f"  called back {d.sid}: " + " | ".join(d.trail[-8:]))
            if opts.keep:
                row.notes.append(f"logs kept in {self.work}")
        return row

    def _wait_ready(self, conn: redis.Redis) -> None:
        """Until the hotline has every agent ready (at most 30 s)."""
        from bench.faults.topology import wait_for

        def all_ready() -> bool:
            try:
                return all(conn.hget(keys.agent(a), "state") == "ready" for a in self.agent_ids)
            except redis.RedisError:
                return False

        wait_for(all_ready, 30, "agents ready")

    def _arrivals(self, live: LiveCalls, phones: Phones) -> list[Caller]:
        """Callers arrive during the window (a Poisson process, or a fixed number spread over it)."""
        opts, rng = self.opts, self.rng
        start, window = time.monotonic(), self.plan.window
        if opts.callers:
            times = sorted(rng.uniform(0, window * 0.5) for _ in range(opts.callers))
        else:
            times, t = [], rng.expovariate(opts.rate)
            while t < window:
                times.append(t)
                t += rng.expovariate(opts.rate)
        threads = []
        for i, at in enumerate(times):
            time.sleep(max(0.0, start + at - time.monotonic()))
            number = f"+86139{i:08d}"  # valid mobile numbers: a callback may call them
            log = CallerLog(
                i,
                number,
                patience=min(max(rng.expovariate(1 / opts.patience), 8.0), 60.0),
                wants_callback=rng.random() < opts.callback_share,
            )
            self.callers.append(log)
            caller = Caller(live, phones, log, random.Random(rng.random()), callback_after=rng.uniform(1, 4))
            caller.start()
            threads.append(caller)
        time.sleep(max(0.0, start + window - time.monotonic()))
        return threads

    def _inject(self, hotline: Hotline) -> None:
        """The row's faults, spread over the window with some jitter."""
        plan = self.plan
        if plan.fault not in ("redis-kill", "redis-stop", "worker-kill", "sentinel") or plan.count <= 0:
            return
        start = time.monotonic()
        span = plan.window - 2.0
        for i in range(plan.count):
            at = 1.0 + (i + self.rng.uniform(0.2, 0.8)) * span / plan.count
            time.sleep(max(0.0, start + at - time.monotonic()))
            if plan.fault == "redis-kill":
                assert self.redis is not None
                self.redis.kill()
                time.sleep(self.rng.uniform(0.0, 1.0))
                self.redis.start()
            elif plan.fault == "redis-stop":
                assert self.redis is not None
                self.redis.pause()
                time.sleep(5.0)
                self.redis.resume()
            elif plan.fault == "worker-kill":
                if not hotline.kill_worker(self.rng):
                    continue
            else:
                assert self.sentinels is not None
                self.sentinels.failover()
            self.faults += 1

    def _settle(self, callers: list[Caller], phones: Phones, monitor: Monitor) -> None:
        """Until every caller ended and every callback asked for was bridged (or time ran out),
        then until every agent is free, or for the ring timeout and the reaper's period: a hold
        left behind has had its chance to be released."""
        deadline = time.monotonic() + SETTLE_AT_MOST_SECONDS
        while time.monotonic() < deadline:
            owed = [
                c for c in self.callers if c.asked_callback is not None and not self._called_back(c, phones)
            ]
            if not any(t.is_alive() for t in callers) and not owed and not phones.busy():
                break
            time.sleep(0.5)
        self.drained = time.monotonic()
        opts = self.opts
        if opts.settle is not None:
            time.sleep(opts.settle)
            return
        until = time.monotonic() + opts.ring_timeout + opts.reaper
        time.sleep(2 * SAMPLE_SECONDS)
        while time.monotonic() < until and not monitor.quiet():
            time.sleep(SAMPLE_SECONDS)

    @staticmethod
    def _called_back(caller: CallerLog, phones: Phones) -> bool:
        return any(d.for_call == caller.sid and d.bridged is not None for d in list(phones.dialled.values()))
