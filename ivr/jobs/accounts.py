"""The account job: freeze an account a caller asked to freeze, while they wait on the line."""

from __future__ import annotations

import logging

from ivr import keys
from ivr.jobs.context import services
from ivr.phones import mask_account

log = logging.getLogger(__name__)


def freeze_account(call_sid: str, account_id: str) -> str:
    """Freeze an account for a caller who asked for it; the caller's hold loop reads the result."""
    hl = services()
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
