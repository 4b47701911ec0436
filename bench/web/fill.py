"""The data sets the web benchmark measures, filled through the hotline's own code, and its requests.

A data set is one Redis database holding N callers waiting, all in one department or spread over
every department of the hotline file, put there as the hotline puts them: `CallStore.open` (the
record, its reference number, the day's counters) and `QueueDoor.hand_off` in a `CallWriter`'s
one write (without its matching job: no agent is free), with language lanes alternating. The
file's agents are on a call (staffed, none ready), so every hold turn tells a wait and no
matcher moves anyone. Besides them, a few calls sit in the menu (the menu step's callers).

The requests are laid out and signed as Twilio sends them: the parameters of a call's webhook
(`standin.webhook.call_params`) and `X-Twilio-Signature` computed by twilio's `RequestValidator`
over PUBLIC_BASE_URL + path + query and the POST fields (`standin.transport.sign`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import redis
import rq
import yaml

from ivr import create_app, routes
from ivr.api.auth import issue_token
from ivr.callcenter.calls import CallRecord, CallWriter
from ivr.callcenter.routing import Route
from ivr.clock import business_day
from ivr.jobs import QUEUE_NAME
from ivr.seeding import seed
from ivr.services import Services, services_of
from ivr.urlstate import LoopState, Position
from standin.transport import sign
from standin.webhook import call_params

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-web-auth-token"
PUBLIC_BASE_URL = "https://hotline.example.com"  # behind a TLS proxy: Twilio signs this URL
HOTLINE_NUMBER = "+864001234567"
ONE_DEPARTMENT = "payments"
MENU_CALLERS = 64  # calls in the menu, for the menu step
ARRIVALS_OVER_SECONDS = 540  # the waiting callers arrived over the last nine minutes
HOLD_CADENCE_SECONDS = 60  # a hold turn is about a minute of music and words


@dataclass(frozen=True)
class DataSet:
    """N callers waiting in one department or spread over all, in Redis database `db`."""

    name: str
    waiting: int
    spread: bool
    db: int
    # Callers of every class (`priorities`: one in four of the first, one in four of the next,
    # the rest of the last), as on a day of surges of urgent and high callers: every class's kept
    # arrival times full (ARRIVALS_KEPT) once a department has 512 waiting. Else all of the last.
    classes: bool = False


@dataclass
class Filled:
    """What a filled data set holds: the waiting callers in queue order per department, menu calls."""

    data: DataSet
    queued: dict[str, list[str]] = field(default_factory=dict)  # department -> sids, head first
    menu: list[str] = field(default_factory=list)
    last_class: set[str] = field(default_factory=set)  # the waiting callers of the last class
    token: str = ""  # a supervisor's API token
    bytes_per_caller: float = 0.0
    seconds: float = 0.0

    def callers(self) -> list[tuple[str, int, str]]:
        """Every waiting caller with their position and department, round-robin over the departments."""
        rows = [[(sid, i + 1, d) for i, sid in enumerate(sids)] for d, sids in self.queued.items()]
        out: list[tuple[str, int, str]] = []
        for i in range(max((len(r) for r in rows), default=0)):
            out += [row[i] for row in rows if i < len(row)]
        return out

    def at(self, where: str, count: int) -> list[tuple[str, int, str]]:
        """`count` callers at the head, middle or tail of the largest queue, with their positions
        and department."""
        department, sids = max(self.queued.items(), key=lambda item: len(item[1]))
        n = len(sids)
        count = min(count, n)
        start = {"head": 0, "middle": max(n // 2 - count // 2, 0), "tail": n - count}[where]
        return [(sids[i], i + 1, department) for i in range(start, start + count)]


def bench_hotline_file(work: Path) -> Path:
    """The shipped hotline file, open around the clock, with room for 100,000 callers a department."""
    data = yaml.safe_load((PROJECT_ROOT / "hotline.yaml").read_text(encoding="utf-8"))
    data["hotline"].update(max_hold_minutes=240)
    data["holidays"] = []
    for department in data["departments"].values():
        department.update(hours="always", capacity=200_000)
    data["directory"]["file"] = str(PROJECT_ROOT / "demo_accounts.yaml")
    path = work / "hotline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def app_env(redis_url: str, hotline_file: Path, work: Path) -> dict[str, str]:
    """The environment a deployment gives the web process (minus Twilio's REST API: none is called)."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9",  # the hold and menu webhooks never call it
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "REDIS_URL": redis_url,
        "HOTLINE_CONFIG": str(hotline_file),
        "HOTLINE_DATA_DIR": str(work / "data"),
    }


def _staff(hotline: Services, now: datetime) -> None:
    """Every agent of the file on a call: staffed (the estimate counts them), none free."""
    for spec in hotline.config.file.agents:
        hotline.agents.choose(spec.id, "ready", now)
        hotline.agents.reserve(spec.id, now)
        hotline.agents.ring(spec.id, "CA" + "0" * 32, now, lease_seconds=86_400)
        hotline.agents.answered(spec.id, now)


RETRIES = 5


def _queue_caller(
    hotline: Services,
    sid: str,
    n: int,
    department: str,
    now: datetime,
    waiting: int,
    day: str,
    classes: bool = False,
) -> bool:
    """Caller `n` of `waiting`: their record, then the hand-off to `department`, as the menu does;
    whether they are of the last class."""
    cfg = hotline.config.file
    issue = cfg.issues["other"]
    priority = issue.priority
    if classes:
        by_rank = sorted(cfg.priorities, key=lambda p: cfg.priorities[p])
        priority = by_rank[min(n // len(cfg.departments) % 4, len(by_rank) - 1)]
    caller = _caller_number(sid)
    when = now - timedelta(seconds=ARRIVALS_OVER_SECONDS * (waiting - n) / waiting)
    record = hotline.calls.open(sid, when, day, caller, caller, HOTLINE_NUMBER)
    writer = CallWriter(sid)
    locales = hotline.config.locales
    writer.set(lang=locales[n % len(locales)], node="issue_menu")
    target = Route(department=department, priority=priority, rank=cfg.priorities[priority], issue="other")
    merged = CallRecord(sid, {**record.fields, **writer.updates})
    hotline.engine.services.door.hand_off(writer, merged, target, cfg.departments[department].capacity, when)
    # The hand-off's last command queues the matching job (rq), which would find no free
    # agent here; left out, the fill takes a fifth of the time and Redis holds only callers.
    writer.extra.pop()
    writer.flush(hotline.stores.data)
    return cfg.priorities[priority] == max(cfg.priorities.values())


def fill(data: DataSet, redis_url: str, hotline_file: Path, work: Path) -> Filled:
    """Empty database `data.db`, then the file's agents, the waiting callers and the menu calls."""
    began = time.monotonic()
    settings = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_api_base_url": "http://127.0.0.1:9",
        "public_base_url": PUBLIC_BASE_URL,
        "redis_url": redis_url,
        "hotline_config": hotline_file,
        "data_dir": work / "data",
    }
    hotline = services_of(create_app(settings))
    conn: redis.Redis = hotline.stores.data
    conn.flushdb()
    seed(hotline.config, conn)
    cfg = hotline.config.file
    now = datetime.now(UTC)
    day = business_day(now, cfg.hotline.timezone)
    _staff(hotline, now)
    before = int(conn.info("memory")["used_memory"])
    departments = list(cfg.departments) if data.spread else [ONE_DEPARTMENT]
    filled = Filled(data, {d: [] for d in departments})
    for n in range(data.waiting):
        sid = f"CA{data.db:02x}{n:030x}"
        department = departments[n % len(departments)]
        for attempt in range(RETRIES):  # a stall of a busy machine's Redis outlasts a webhook timeout
            try:
                if _queue_caller(hotline, sid, n, department, now, data.waiting, day, data.classes):
                    filled.last_class.add(sid)
                break
            except redis.TimeoutError:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(1)  # opening and joining again is safe: both keep what is there
        filled.queued[department].append(sid)
    after = int(conn.info("memory")["used_memory"])
    filled.bytes_per_caller = (after - before) / max(data.waiting, 1)
    for n in range(MENU_CALLERS):
        sid = f"CA{data.db:02x}{0xFFFF0000 + n:030x}"
        caller = _caller_number(sid)
        hotline.calls.open(sid, now, day, caller, caller, HOTLINE_NUMBER)
        writer = CallWriter(sid)
        writer.set(lang="en-US", node="issue_menu")
        writer.flush(conn)
        filled.menu.append(sid)
    rq.Queue(QUEUE_NAME, connection=hotline.stores.jobs).empty()  # the staffing's jobs: no worker here
    filled.token = issue_token(conn, "supervisor", "bench")
    filled.seconds = time.monotonic() - began
    conn.close()
    hotline.stores.jobs.close()
    return filled


# -- requests, as Twilio lays them out and signs them ---------------------------------------------


@dataclass(frozen=True)
class Request:
    """One pre-signed request: method, path with query, headers, form body."""

    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


def _signed_post(url: str, params: dict[str, str]) -> Request:
    path = url.removeprefix(PUBLIC_BASE_URL)
    headers = {
        "X-Twilio-Signature": sign(AUTH_TOKEN, url, params),
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
    }
    return Request("POST", path, headers, urlencode(params))


def _caller_number(sid: str) -> str:
    return f"+86139{int(sid[4:], 16) % 10**8:08d}"


def hold_turn(sid: str, position: int, now: float, department: str) -> Request:
    """A hold turn as the loop asks for it a minute after the last: position and wait said again
    (the URL names the caller's queue, as every turn's after the first does)."""
    state = LoopState(
        position=position,
        announced_at=int(now) - HOLD_CADENCE_SECONDS - 1,
        hint_said=True,
        department=department,
    )
    url = routes.url(PUBLIC_BASE_URL, "hold", state)
    params = call_params(
        account_sid=ACCOUNT_SID,
        call_sid=sid,
        call_status="in-progress",
        from_=_caller_number(sid),
        to=HOTLINE_NUMBER,
    )
    return _signed_post(url, params)


def menu_step(sid: str) -> Request:
    """A key pressed in the issue menu: 7, fees (an answer read out, and the next Gather)."""
    url = routes.url(PUBLIC_BASE_URL, "step", Position(node="issue_menu"), node_id="issue_menu")
    params = call_params(
        account_sid=ACCOUNT_SID,
        call_sid=sid,
        call_status="in-progress",
        from_=_caller_number(sid),
        to=HOTLINE_NUMBER,
    )
    params.update(Digits="7", FinishedOnKey="")
    return _signed_post(url, params)


def supervisor_queues(token: str) -> Request:
    """The supervisor's queue statistics."""
    return Request("GET", "/api/supervisor/queues", {"Authorization": f"Bearer {token}"})


def sample_menu(digit: str) -> Request:
    """The sample-style app's menu, a key pressed (it checks no signature: none is sent)."""
    params = call_params(
        account_sid=ACCOUNT_SID, call_sid="CA" + "1" * 32, call_status="in-progress",
        from_="+8613900000001", to=HOTLINE_NUMBER,
    )  # fmt: skip
    params["Digits"] = digit
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}
    return Request("POST", "/ivr/menu", headers, urlencode(params))


def floor_request() -> Request:
    """A webhook as Twilio sends it, to the static floor (which reads nothing of it)."""
    return _signed_post(f"{PUBLIC_BASE_URL}/voice/hold", call_params(
        account_sid=ACCOUNT_SID, call_sid="CA" + "2" * 32, call_status="in-progress",
        from_="+8613900000002", to=HOTLINE_NUMBER,
    ))  # fmt: skip
