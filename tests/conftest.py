"""Fixtures: a real Redis (a private embedded one) -> the app -> a signed phone.

Every test that touches Redis gets a clean database. Calls go through the stand-in for
Twilio (`standin`), which signs requests as Twilio does and checks every TwiML answer.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pytest
import redis
import yaml
from flask import Flask
from hypothesis import settings
from rq import SimpleWorker
from twilio.rest import Client

from ivr import create_app
from ivr.callcenter.queues import Queues
from ivr.clock import FixedClock
from ivr.jobs import QUEUE_NAME
from ivr.services import services_of
from ivr.store import embedded_redis_url, stop_embedded_redis
from ivr.twilio_rest import make_client
from queue_worker import context
from standin.conference import Conference
from standin.phone import Call
from standin.rest import OutboundCall, Switchboard, create_rest_app, serve_in_thread
from standin.transport import FlaskTransport
from standin.webhook import call_params, status_callback_params

# Property tests time nothing (Hypothesis's per-example deadline would fail a test on a busy
# machine). In CI (`CI` set) they run the same examples every time, with no example database:
# a red run there is a bug a developer can replay, never the luck of the draw; locally the
# search stays random, to find new cases.
settings.register_profile("hotline", deadline=None)
settings.register_profile("ci", parent=settings.get_profile("hotline"), derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "hotline")

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token-0123456789"
PUBLIC_BASE_URL = "https://hotline.example.com"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Tuesday morning: every department is open.
OPEN_HOURS = datetime(2026, 11, 24, 10, 30, tzinfo=SHANGHAI)

DEMO_CALLER = "+8613800138000"  # registered mobile of account 6222000017
DEMO_ACCOUNT = "6222000017"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private embedded Redis for the session, or TEST_REDIS_URL when set explicitly.

    The suite empties its database before and after every test, so it never uses a Redis it
    was not given: the machine's own Redis, if any, is left alone. TEST_REDIS_URL (say, a
    Sentinel-managed or remote server kept for tests) is emptied the same way.
    """
    explicit = os.environ.get("TEST_REDIS_URL")
    if explicit:
        yield _database_of_this_worker(explicit)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="hotline-test-redis-"))
    yield embedded_redis_url(data_dir)
    stop_embedded_redis(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist (`make test` runs two workers) each worker empties a database of its
    own on an explicit TEST_REDIS_URL: the URL's database plus the worker's number."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if parts.scheme == "unix":
        query["db"] = str(int(query.get("db", "0")) + int(worker[2:]))
        return urlunsplit(parts._replace(query=urlencode(query)))
    base = int(parts.path.strip("/") or "0")
    return urlunsplit(parts._replace(path=f"/{base + int(worker[2:])}"))


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A decoding client on a freshly emptied database."""
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def clock() -> FixedClock:
    """The hotline's clock, set to a weekday morning; tests move it to test hours."""
    return FixedClock(OPEN_HOURS)


@pytest.fixture(scope="session")
def twilio_api() -> Iterator[tuple[str, Switchboard]]:
    """The stand-in for Twilio's REST API, on a local port: its base URL and its switchboard."""
    switchboard = Switchboard()
    base_url, stop = serve_in_thread(create_rest_app(switchboard, ACCOUNT_SID, AUTH_TOKEN))
    yield base_url, switchboard
    stop()


@pytest.fixture
def switchboard(twilio_api: tuple[str, Switchboard]) -> Switchboard:
    """What the stand-in for Twilio holds: live calls (for redirects), placed calls, messages.

    The server lives for the session; the calls of earlier tests are forgotten, so that asking
    Twilio for the calls to a number (as the hotline does to adopt a dead job's call) finds this
    test's calls only.
    """
    twilio_api[1].forget_calls()
    return twilio_api[1]


ROOT = Path(__file__).resolve().parent.parent


def hotline_variant(folder: Path, edit: Callable[[dict[str, Any]], None], source: Path | None = None) -> Path:
    """A copy of the shipped hotline file (or `source`) in `folder`, as `edit` changes its data,
    with the demo accounts beside it."""
    data = yaml.safe_load((source or ROOT / "hotline.yaml").read_text(encoding="utf-8"))
    edit(data)
    if not (folder / "demo_accounts.yaml").exists():
        shutil.copy(ROOT / "demo_accounts.yaml", folder / "demo_accounts.yaml")
    (folder / "hotline.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return folder / "hotline.yaml"


def in_rooms(*recorded: str) -> Callable[[dict[str, Any]], None]:
    """An edit for `hotline_variant`: connect through conference rooms; record only the departments
    named."""

    def edit(data: dict[str, Any]) -> None:
        data["hotline"]["connect_via"] = "conference"
        for name, department in data["departments"].items():
            department["record"] = name in recorded

    return edit


def hotline_app(
    settings: dict[str, Any], clock: FixedClock, path: Path, switchboard: Switchboard | None = None
) -> Iterator[Flask]:
    """For a module's own `app` fixture: the hotline on the file at `path`, as the worker context
    of the test, with the stand-in's switchboard on it where given."""
    application = create_app({**settings, "hotline_config": path}, clock=clock)
    if switchboard is not None:
        application.extensions["test_switchboard"] = switchboard
    context.install(services_of(application))
    yield application
    context.install(None)


@pytest.fixture
def rooms_app(
    app_settings: dict[str, Any],
    redis_conn: redis.Redis,
    clock: FixedClock,
    tmp_path: Path,
    switchboard: Switchboard,
) -> Iterator[Flask]:
    """The hotline connecting through conference rooms, recording nothing: a room test module's
    `app` (`def app(rooms_app: Flask) -> Flask: return rooms_app`), which `dial` and `run_jobs`
    then use."""
    yield from hotline_app(app_settings, clock, hotline_variant(tmp_path, in_rooms()), switchboard)


@pytest.fixture
def ringing(app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None]) -> tuple[Call, OutboundCall]:
    """In a room test module: a top-up caller matched with li_na, in their room, li_na's phone
    ringing (her leg)."""
    from tests.rooms import in_the_room  # tests/rooms.py builds on this module

    return in_the_room(app, dial, run_jobs)


@pytest.fixture
def talking(
    app: Flask, dial: Callable[..., Call], run_jobs: Callable[[], None], switchboard: Switchboard
) -> tuple[Call, Call, Conference]:
    """In a room test module: a caller talking with li_na in their room (the caller, li_na's
    phone, the room), wang_wei ready (security, Mandarin)."""
    from tests.rooms import talking_with_li_na  # tests/rooms.py builds on this module

    return talking_with_li_na(app, dial, run_jobs, switchboard)


@pytest.fixture(scope="session")
def dial_hotline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped hotline file, connecting callers by a Dial instead of through rooms.

    The demo file connects through conference rooms; the suite's calls are written for the Dial
    unless a test asks for rooms (tests/test_connecting_room.py), so the default app pins it.
    """
    return hotline_variant(
        tmp_path_factory.mktemp("dial-hotline"), lambda data: data["hotline"].update(connect_via="dial")
    )


@pytest.fixture
def app_settings(redis_url: str, twilio_api: tuple[str, Switchboard], dial_hotline: Path) -> dict[str, Any]:
    """Settings as the environment would give them (field names), on the Dial's hotline file."""
    return {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_api_base_url": twilio_api[0],
        "public_base_url": PUBLIC_BASE_URL,
        "redis_url": redis_url,
        "hotline_config": dial_hotline,
    }


@pytest.fixture
def app(app_settings: dict[str, Any], redis_conn: redis.Redis, clock: FixedClock) -> Iterator[Flask]:
    """The hotline app on a clean Redis, with its jobs running in this process when asked."""
    application = create_app(app_settings, clock=clock)
    context.install(services_of(application))
    yield application
    context.install(None)


@pytest.fixture
def dial(app: Flask, switchboard: Switchboard) -> Callable[..., Call]:
    """Place a call to the hotline: `dial(from_="+86...")` returns a started Call."""

    def _dial(from_: str = DEMO_CALLER, start: bool = True, **kwargs: Any) -> Call:
        transport = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN)
        call = switchboard.register(Call(transport, from_=from_, account_sid=ACCOUNT_SID, **kwargs))
        if start:
            call.start()
        return call

    return _dial


def run_jobs_of(app: Flask) -> None:
    """Run every queued rq job of `app` now, in this process (a real rq worker, burst mode)."""
    SimpleWorker([QUEUE_NAME], connection=services_of(app).stores.jobs).work(burst=True)


@pytest.fixture
def run_jobs(app: Flask) -> Callable[[], None]:
    """Run every queued rq job now, in this process (a real rq worker, burst mode)."""
    return lambda: run_jobs_of(app)


def to_hold(call: Call, *, verified: bool = True) -> Call:
    """A started call keys its way to the hold loop in payments: Mandarin, the demo account
    (confirmed: verified by the demo caller ID) or nothing (unidentified), a failed top-up (tips
    first), an agent; the reference number plays out."""
    call.press("1")  # Mandarin
    if verified:
        call.press(DEMO_ACCOUNT)
        call.press("1")
    else:
        for _ in range(3):
            call.silence()
    call.press("1")  # top-up failed: tips first
    call.press("1")  # an agent
    call.silence()  # the reference number plays out
    assert call.on_hold
    return call


def picked_up(app: Flask, switchboard: Switchboard, placed: OutboundCall, **extra: str) -> Call:
    """Twilio rings the `To` of a call the hotline placed, and it is picked up: the call runs the
    placed call's Url (`extra`: more of Twilio's parameters, such as `AnsweredBy`)."""
    call = Call(
        FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN),
        from_=placed.from_,
        to=placed.to,
        account_sid=ACCOUNT_SID,
        call_sid=placed.sid,
        voice_url=placed.url or "",
        status_callback=placed.status_callback,
        extra_params={"Direction": "outbound-api", **extra},
    )
    switchboard.register(call)
    call.start()
    return call


def not_reached(app: Flask, placed: OutboundCall, status: str) -> None:
    """A call the hotline placed was never answered: Twilio's status callback says how (no-answer,
    busy...)."""
    params = call_params(
        account_sid=ACCOUNT_SID, call_sid=placed.sid, call_status=status, from_=placed.from_, to=placed.to
    )
    params.update(status_callback_params(status, 0), Direction="outbound-api")
    reply = FlaskTransport(app.test_client(), PUBLIC_BASE_URL, AUTH_TOKEN).request(
        "POST", placed.status_callback or "", params
    )
    assert reply.status == 200


def client_of(app: Flask) -> Client:
    """A twilio-python client of the REST API the app talks to (the stand-in): a test plays Twilio's user."""
    settings = services_of(app).settings
    return make_client(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_base_url)


def waiting_in(conn: redis.Redis, department: str) -> list[str]:
    """CallSids waiting in a department, in the order agents will get them."""
    return Queues(conn, ["zh-CN", "en-US"]).listing(department)
