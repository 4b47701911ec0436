"""Jobs, enqueued by dotted path from the web side (see ivr/jobs.py).

Module-level functions with plain arguments. They let exceptions through, so rq retries them
and keeps the final failure in its failed-job registry.
"""

from __future__ import annotations

import logging

from ivr import keys
from ivr.phones import mask_account
from queue_worker.context import hotline

log = logging.getLogger(__name__)


def freeze_account(call_sid: str, account_id: str) -> str:
    """Freeze an account for a caller who asked for it; the caller's hold loop reads the result."""
    hl = hotline()
    try:
        hl.directory.freeze(account_id)
    except Exception:
        # The caller is told an agent will freeze it first; rq still records the failure.
        hl.stores.data.hset(keys.call(call_sid), "freeze", "failed")
        log.warning("freeze of %s failed for call %s", mask_account(account_id), call_sid)
        raise
    hl.stores.data.hset(keys.call(call_sid), "freeze", "done")
    log.info("froze %s for call %s", mask_account(account_id), call_sid)
    return "frozen"


def match_department(department: str) -> int:
    """Give a department's waiting callers to ready agents; how many were matched."""
    hl = hotline()
    return len(hl.matcher.for_department(department, hl.clock.now()))


def match_agent(agent_id: str) -> bool:
    """Give a newly ready agent the best caller they can serve."""
    hl = hotline()
    return hl.matcher.for_agent(agent_id, hl.clock.now()) is not None


def sweep_agents() -> int:
    """End finished wrap-ups (then match those agents) and take silent consoles offline."""
    hl = hotline()
    now = hl.clock.now()
    ready = hl.agents.sweep(now, hl.config.file.hotline.heartbeat_timeout_seconds)
    for agent_id in ready:
        hl.matcher.for_agent(agent_id, now)
    return len(ready)
