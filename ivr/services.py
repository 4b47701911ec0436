"""The hotline's services: built once per process by `build_services`, reached by `services()`.

Web processes build them in `create_app` (ivr/app.py), workers in `queue_worker/context.py`; both
get the same `Services`. Request code (voice views, the API, the admin commands, health) asks
`services()`; domain code is handed the few services it uses, never the container.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import redis
from flask import Flask, current_app

from ivr.callcenter.accounts import AccountDirectory, HttpDirectory, RedisDirectory
from ivr.callcenter.agents import Agents
from ivr.callcenter.callbacks import Callbacks
from ivr.callcenter.calls import CallStore
from ivr.callcenter.connections import Connections
from ivr.callcenter.consults import Consults
from ivr.callcenter.ending import CallEnding
from ivr.callcenter.holds import Holds
from ivr.callcenter.matching import Matcher
from ivr.callcenter.monitoring import Monitoring
from ivr.callcenter.notes import WrapUps
from ivr.callcenter.queues import Queues
from ivr.callcenter.redirect import RestConnector
from ivr.callcenter.returning import ReturningCallers
from ivr.callcenter.rooms import Rooms
from ivr.callcenter.routing import QueueDoor
from ivr.callcenter.transfers import Transfers
from ivr.clock import Clock, clock_from_env
from ivr.hotline.loader import HotlineConfig, load_hotline
from ivr.jobs import JobQueue
from ivr.outbound.limits import OutboundLimits
from ivr.seeding import seed
from ivr.settings import Settings, SettingsError
from ivr.store import Stores, connect, embedded_redis_url
from ivr.twilio_rest import TwilioApi, make_twilio
from ivr.voice.engine import Engine, StepServices
from ivr.waits.live import LiveQueues

# Where a Flask app keeps its services (`app.extensions[EXTENSION]`); read it with `services()`.
EXTENSION = "hotline"


@dataclass(frozen=True)
class Services:
    """Everything a request handler or a job needs, built once per process."""

    settings: Settings
    config: HotlineConfig
    stores: Stores
    clock: Clock
    rest: TwilioApi  # Twilio's REST API (ivr/twilio_rest.py: the one adapter)
    connector: RestConnector  # redirects live calls, asks Twilio how a call is
    calls: CallStore
    directory: AccountDirectory
    jobs: JobQueue
    queues: Queues
    agents: Agents
    matcher: Matcher
    connections: Connections
    engine: Engine
    limits: OutboundLimits
    callbacks: Callbacks
    returning: ReturningCallers
    live: LiveQueues  # what a wait estimate reads
    ending: CallEnding
    rooms: Rooms  # the agent's leg of a connection through a conference room
    consults: Consults  # warm transfers in the caller's room
    monitoring: Monitoring  # supervisors listening, coaching, barging in a call's room
    holds: Holds
    transfers: Transfers
    wrapups: WrapUps


def build_services(settings: Settings, clock: Clock | None = None, *, worker: bool = False) -> Services:
    """Validate the hotline file, connect Redis (embedded when REDIS_URL is unset), wire the parts."""
    config = load_hotline(settings.hotline_config)
    cfg = config.file
    # Read before Redis is touched: a bad clock variable stops the start naming itself.
    try:
        clock = clock or clock_from_env(
            os.environ.get("HOTLINE_CLOCK_START"),
            os.environ.get("HOTLINE_CLOCK_SPEED"),
            os.environ.get("HOTLINE_CLOCK_ORIGIN"),
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    url = settings.redis_url or embedded_redis_url(settings.data_dir)
    stores = connect(url, worker=worker)
    conn = stores.data
    directory = make_directory(config, conn)
    seed(config, conn, clock.now())  # the file's agents and the demo accounts (see ivr/seeding.py)
    rest = make_twilio(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_base_url)
    connector = RestConnector(rest, settings.public_base_url)
    calls, jobs = CallStore(conn), JobQueue(stores.jobs)
    queues, agents = Queues(conn, config.locales), Agents(conn)
    limits = OutboundLimits(conn, cfg.outbound.limits, cfg.hotline.timezone)
    callbacks = Callbacks(cfg, conn, queues, agents, jobs, limits, clock, rest, settings.public_base_url)
    returning = ReturningCallers(cfg, queues)
    matcher = Matcher(cfg, conn, agents, queues, connector, clock, callbacks=callbacks, jobs=jobs)
    connections = Connections(cfg, conn, agents, queues)
    door = QueueDoor(queues, jobs, returning=returning)
    rooms = Rooms(conn, rest, cfg.hotline.ring_timeout_seconds, cfg.hotline.overflow_number)
    ending = CallEnding(cfg, conn, calls, queues, returning, connections, jobs, rooms)
    holds = Holds(
        cfg,
        conn,
        calls=calls,
        queues=queues,
        agents=agents,
        connections=connections,
        callbacks=callbacks,
        jobs=jobs,
        ending=ending,
        twilio=connector,
    )
    return Services(
        settings=settings,
        config=config,
        stores=stores,
        clock=clock,
        rest=rest,
        connector=connector,
        calls=calls,
        directory=directory,
        jobs=jobs,
        queues=queues,
        agents=agents,
        matcher=matcher,
        connections=connections,
        engine=Engine(config, StepServices(directory=directory, door=door, jobs=jobs)),
        limits=limits,
        callbacks=callbacks,
        returning=returning,
        live=LiveQueues(cfg, conn, queues),
        ending=ending,
        rooms=rooms,
        consults=Consults(cfg, conn, calls, agents, rooms, rest),
        monitoring=Monitoring(conn, rest, cfg.hotline.ring_timeout_seconds, cfg.hotline.overflow_number),
        holds=holds,
        transfers=Transfers(cfg, calls, agents, queues, jobs, connector),
        wrapups=WrapUps(conn, agents),
    )


def make_directory(config: HotlineConfig, conn: redis.Redis) -> AccountDirectory:
    """The account directory the hotline file asks for (demo accounts: ivr/seeding.py loads them)."""
    spec = config.file.directory
    if spec.kind == "http":
        return HttpDirectory(spec.url or "", spec.timeout_seconds, config.file.hotline.default_region)
    return RedisDirectory(conn)


def install(app: Flask, built: Services) -> None:
    """Give `app` its services (once, in `create_app`)."""
    app.extensions[EXTENSION] = built


def services_of(app: Flask) -> Services:
    """The services of `app` (tests and tools holding an app object)."""
    built = app.extensions[EXTENSION]
    if not isinstance(built, Services):
        raise TypeError(f"app.extensions[{EXTENSION!r}] holds {type(built).__name__}, not Services")
    return built


def services() -> Services:
    """The services of the app handling the current request or command."""
    return services_of(current_app)
