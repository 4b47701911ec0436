"""The application factory: settings, hotline file, Redis and the flow engine, wired once."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask, jsonify

from ivr import logs
from ivr.callcenter.accounts import AccountDirectory, HttpDirectory, RedisDirectory
from ivr.callcenter.calls import CallStore
from ivr.callcenter.queues import Queues
from ivr.callcenter.routing import QueueDoor
from ivr.clock import Clock, clock_from_env
from ivr.hotline.loader import HotlineConfig, load_hotline
from ivr.jobs import JobQueue
from ivr.settings import Settings
from ivr.store import Stores, connect, embedded_redis_url
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
    engine: Engine


def build_hotline(settings: Settings, clock: Clock | None = None, *, worker: bool = False) -> Hotline:
    """Validate the hotline file, connect Redis (embedded when REDIS_URL is unset), wire the parts."""
    config = load_hotline(settings.hotline_config)
    url = settings.redis_url or embedded_redis_url(settings.data_dir)
    stores = connect(url, worker=worker)
    directory = make_directory(config, stores.data)
    jobs = JobQueue(stores.jobs)
    queues = Queues(stores.data, config.locales)
    engine = Engine(config, Services(directory=directory, door=QueueDoor(queues), jobs=jobs))
    return Hotline(
        settings=settings,
        config=config,
        stores=stores,
        clock=clock
        or clock_from_env(os.environ.get("HOTLINE_CLOCK_START"), os.environ.get("HOTLINE_CLOCK_SPEED")),
        calls=CallStore(stores.data),
        directory=directory,
        jobs=jobs,
        queues=queues,
        engine=engine,
    )


def make_directory(config: HotlineConfig, conn: redis.Redis) -> AccountDirectory:
    """The account directory the hotline file asks for (demo accounts are loaded now)."""
    spec = config.file.directory
    region = config.file.hotline.default_region
    if spec.kind == "http":
        return HttpDirectory(spec.url or "", spec.timeout_seconds, region)
    directory = RedisDirectory(conn)
    try:
        count = directory.load_file(config.path.parent / (spec.file or ""), region)
        log.info("loaded %d demo accounts", count)
    except redis.RedisError as exc:  # the webhooks answer with the overflow until Redis is back
        log.error("could not load demo accounts: %s", type(exc).__name__)
    return directory


def create_app(test_config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the Flask app; settings from the environment, or from `test_config` in tests."""
    logs.configure()
    settings = Settings.from_mapping(test_config) if test_config is not None else Settings.from_env()
    app = Flask(__name__)
    app.extensions["hotline"] = build_hotline(settings, clock)

    from ivr.voice.views import bp as voice_bp

    app.register_blueprint(voice_bp)

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        """For load balancers: 200 when Redis answers, 503 otherwise."""
        hotline: Hotline = app.extensions["hotline"]
        try:
            hotline.stores.data.ping()
        except redis.RedisError:
            return jsonify(status="degraded", redis="unreachable"), 503
        return jsonify(status="ok", redis="ok")

    return app
