"""What the hotline loads into Redis from its files, and loading it again when Redis lost it.

The agents of the hotline file and the demo accounts (`directory: kind: file`) live in Redis.
Every web process loads them at start; then it sets a marker key (`keys.seeded()`). A Redis
that loses its data (restarted without persistence, flushed, a replica promoted empty) loses
the marker with everything else, so the workers, which check it on every upkeep pass, load the
files again within seconds instead of at the next deploy. Loading is idempotent: an agent's live
state and a frozen account's status are kept.

API tokens are not in any file (only their hashes are stored): a Redis that lost its data
needs them issued again (`flask --app wsgi tokens issue`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import redis

from ivr import keys
from ivr.callcenter.accounts import RedisDirectory
from ivr.callcenter.agents import Agents
from ivr.hotline.loader import HotlineConfig

log = logging.getLogger(__name__)


def seed(config: HotlineConfig, conn: redis.Redis, now: datetime | None = None) -> bool:
    """Load the file's agents and the demo accounts, then set the marker; False if Redis failed.

    `now` is the hotline clock's time: a new agent is offline since then (the pages count their
    time in state on that clock). None: the real time, for a tool without a hotline clock.
    """
    now = now or datetime.now(UTC)
    try:
        agents = Agents(conn)
        for spec in config.file.agents:
            agents.upsert(spec, now)
        directory = config.file.directory
        if directory.kind == "file":
            path = config.path.parent / (directory.file or "")
            count = RedisDirectory(conn).load_file(path, config.file.hotline.default_region)
            log.info("loaded %d demo accounts", count)
        # Last: a marker without the data would hide a load that failed halfway.
        conn.set(keys.seeded(), int(now.timestamp()))
    except redis.RedisError as exc:  # the webhooks answer with the overflow until Redis is back
        log.error("could not load agents and demo accounts: %s", type(exc).__name__)
        return False
    return True


def reseed_if_lost(config: HotlineConfig, conn: redis.Redis, now: datetime) -> bool:
    """Seed again when the marker is gone (Redis lost its data); True when it did."""
    if conn.exists(keys.seeded()):
        return False
    log.warning("redis lost the hotline's agents and demo accounts: loading them again")
    return seed(config, conn, now)
