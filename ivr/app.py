"""The application factory: settings, hotline file, Redis and the flow engine, wired once."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr import logs
from ivr.callcenter.accounts import AccountDirectory, HttpDirectory, RedisDirectory
from ivr.callcenter.agents import Agents
from ivr.callcenter.callbacks import Callbacks
from ivr.callcenter.calls import CallStore
from ivr.callcenter.connections import Connections
from ivr.callcenter.matching import Matcher
from ivr.callcenter.queues import Queues
from ivr.callcenter.redirect import RestConnector
from ivr.callcenter.returning import ReturningCallers
from ivr.callcenter.routing import QueueDoor
from ivr.clock import Clock, clock_from_env
from ivr.hotline.loader import HotlineConfig, load_hotline
from ivr.jobs import JobQueue
from ivr.outbound.limits import OutboundLimits
from ivr.seeding import seed
from ivr.settings import Settings
from ivr.store import Stores, connect, embedded_redis_url
from ivr.twilio_rest import make_client
from ivr.voice.engine import Engine, Services

log = logging.getLogger(__name__)


@dataclass
class Hotline:
    """Everything a request handler needs, built once per process."""

    settings: Settings
    config: HotlineConfig
    stores: Stores
    clock: Clock
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


def build_hotline(settings: Settings, clock: Clock | None = None, *, worker: bool = False) -> Hotline:
    """Validate the hotline file, connect Redis (embedded when REDIS_URL is unset), wire the parts."""
    config = load_hotline(settings.hotline_config)
    url = settings.redis_url or embedded_redis_url(settings.data_dir)
    stores = connect(url, worker=worker)
    directory = make_directory(config, stores.data)
    seed(config, stores.data)  # the file's agents and the demo accounts (see ivr/seeding.py)
    jobs = JobQueue(stores.jobs)
    queues = Queues(stores.data, config.locales)
    agents = Agents(stores.data)
    rest = make_client(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_base_url)
    connector = RestConnector(rest, settings.public_base_url)
    clock = clock or clock_from_env(
        os.environ.get("HOTLINE_CLOCK_START"),
        os.environ.get("HOTLINE_CLOCK_SPEED"),
        os.environ.get("HOTLINE_CLOCK_ORIGIN"),
    )
    limits = OutboundLimits(stores.data, config.file.outbound.limits, config.file.hotline.timezone)
    callbacks = Callbacks(
        config.file, stores.data, queues, agents, jobs, limits, clock, rest, settings.public_base_url
    )
    returning = ReturningCallers(config.file, queues)
    matcher = Matcher(
        config.file, stores.data, agents, queues, connector, clock, callbacks=callbacks, jobs=jobs
    )
    door = QueueDoor(queues, jobs, returning=returning)
    engine = Engine(config, Services(directory=directory, door=door, jobs=jobs))
    return Hotline(
        settings=settings,
        config=config,
        stores=stores,
        clock=clock,
        calls=CallStore(stores.data),
        directory=directory,
        jobs=jobs,
        queues=queues,
        agents=agents,
        matcher=matcher,
        connections=Connections(config.file, stores.data, agents, queues),
        engine=engine,
        limits=limits,
        callbacks=callbacks,
        returning=returning,
    )


def make_directory(config: HotlineConfig, conn: redis.Redis) -> AccountDirectory:
    """The account directory the hotline file asks for (demo accounts: ivr/seeding.py loads them)."""
    spec = config.file.directory
    if spec.kind == "http":
        return HttpDirectory(spec.url or "", spec.timeout_seconds, config.file.hotline.default_region)
    return RedisDirectory(conn)


def create_app(test_config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the Flask app; settings from the environment, or from `test_config` in tests."""
    logs.configure()
    settings = Settings.from_mapping(test_config) if test_config is not None else Settings.from_env()
    app = Flask(__name__)
    if settings.trusted_proxies:  # the client's address, as the proxies saw it (the token lockout)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    app.extensions["hotline"] = build_hotline(settings, clock)

    from ivr.api import register_api
    from ivr.cli import register_cli
    from ivr.readiness import bp as readiness_bp
    from ivr.voice.afterhours import bp as after_hours_bp
    from ivr.voice.callback import bp as callback_bp
    from ivr.voice.survey import bp as survey_bp
    from ivr.voice.transfer import bp as transfer_bp
    from ivr.voice.views import bp as voice_bp
    from ivr.voice.waiting import bp as waiting_bp

    app.register_blueprint(voice_bp)
    app.register_blueprint(waiting_bp)
    app.register_blueprint(transfer_bp)
    app.register_blueprint(survey_bp)
    app.register_blueprint(after_hours_bp)
    app.register_blueprint(callback_bp)
    register_api(app)
    register_cli(app)
    app.register_blueprint(readiness_bp)
    return app
