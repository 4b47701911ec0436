"""Jobs, enqueued by dotted path from the web side (see ivr/jobs.py).

Module-level functions with plain arguments. They let exceptions through, so rq retries them
and keeps the final failure in its failed-job registry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import Job

from ivr import keys
from ivr.clock import business_day
from ivr.followup.sms import CallSummarySender
from ivr.phones import mask_account
from ivr.waits.profile import ensure_summary, rollup
from queue_worker.context import services

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


def match_department(department: str) -> int:
    """Give a department's waiting callers to ready agents; how many were matched."""
    hl = services()
    return len(hl.matcher.for_department(department))


def match_agent(agent_id: str) -> bool:
    """Give a newly ready agent the best caller they can serve."""
    hl = services()
    return hl.matcher.for_agent(agent_id) is not None


def sweep_agents() -> int:
    """End finished wrap-ups (then match those agents) and take silent consoles offline."""
    hl = services()
    now = hl.clock.now()
    ready = hl.agents.sweep(now, hl.config.file.hotline.heartbeat_timeout_seconds)
    for agent_id in ready:
        hl.matcher.for_agent(agent_id)
    return len(ready)


def send_call_summary(call_sid: str) -> str:
    """Text a caller who asked for it their reference number, summary and self-service link."""
    hl = services()
    sender = CallSummarySender(
        file=hl.config.file,
        languages=hl.config.languages,
        conn=hl.stores.data,
        client=hl.rest,
        limits=hl.limits,
    )
    return sender.send(call_sid, hl.clock.now())


# The sweep runs every SWEEP_EVERY_SECONDS while any worker runs: each run schedules the next on
# rq's scheduler. Runs are named after their 15-second slot of the wall clock and scheduled with
# `unique=True`, so however many workers start (each schedules one) there is one run per slot.
SWEEP_EVERY_SECONDS = 15


def schedule_periodic(
    queue: Queue, job: Callable[[], int], name: str, every: int, now: float | None, timeout: int
) -> bool:
    """Schedule `job` at the next `every`-second slot boundary; False when a worker already did."""
    slot = int((time.time() if now is None else now) // every) + 1
    try:
        queue.enqueue_at(
            datetime.fromtimestamp(slot * every, UTC),
            job,
            job_id=f"{name}-{slot}",
            unique=True,
            job_timeout=timeout,
            result_ttl=every,
            failure_ttl=24 * 3600,
        )
    except DuplicateJobError:
        return False
    return True


def schedule_sweep(queue: Queue, now: float | None = None) -> bool:
    """Schedule the sweep at the next slot boundary; False when a worker already scheduled it."""
    return schedule_periodic(queue, periodic_sweep, "sweep-agents", SWEEP_EVERY_SECONDS, now, 60)


def periodic_sweep() -> int:
    """The sweep, rescheduled first so that a failing sweep does not stop the next ones."""
    schedule_sweep(services().jobs.queue)
    return sweep_agents()


# The hour-of-week profile learns from the day's counters every ROLLUP_EVERY_SECONDS (and once
# when a worker starts), scheduled like the sweep: one run per slot, however many workers.
ROLLUP_EVERY_SECONDS = 300
ROLLUP_PROFILES = "queue_worker.jobs.rollup_profiles"


def rollup_profiles() -> int:
    """Add what each department's counters gained since the last run to its hour-of-week profile.

    A department that has no summary yet (a new hotline) gets one from its planned staffing and
    the stated default shape, so the hold loop can speak of peak hours from the first call.
    Returns how many departments gained observed time.
    """
    hl = services()
    cfg = hl.config.file
    now = hl.clock.now()
    tz = cfg.hotline.timezone
    day, yesterday = business_day(now, tz), business_day(now - timedelta(days=1), tz)
    added = 0
    for department in cfg.departments:
        added += rollup(hl.stores.data, cfg, department, now, day, yesterday)
        ensure_summary(hl.stores.data, cfg, department)
    return added


def schedule_rollup(queue: Queue, now: float | None = None) -> bool:
    """Schedule the profile rollup at the next slot boundary; False when already scheduled."""
    return schedule_periodic(queue, periodic_rollup, "rollup-profiles", ROLLUP_EVERY_SECONDS, now, 120)


def periodic_rollup() -> int:
    """The rollup, rescheduled first so that a failing run does not stop the next ones."""
    schedule_rollup(services().jobs.queue)
    return rollup_profiles()


def reconcile_call(call_sid: str) -> str:
    """Twilio refused to redirect a call: end it here if it is over (its hang-up notice was lost)."""
    hl = services()
    return hl.holds.reconcile(call_sid, hl.clock.now())


def place_callback(call_sid: str, agent_id: str, attempt: int) -> str:
    """Call a customer back for the agent their place reached; at most one call per attempt."""
    return services().callbacks.place(call_sid, agent_id, attempt).outcome


def callback_due(call_sid: str) -> bool:
    """A callback's backoff passed: its place goes back in the queue for the next agent."""
    return services().callbacks.due(call_sid)


def scheduled_callback(call_sid: str) -> bool:
    """A scheduled callback's slot came: the caller joins the queue as a callback place."""
    return services().callbacks.start_scheduled(call_sid)


def callback_job_failed(job: Job, connection: object, *exc_info: object) -> None:
    """rq's failure callback of `place_callback`: once no retry is left, free the agent and move on."""
    if job.retries_left:
        return  # rq runs it again after the interval
    call_sid, _agent_id, attempt = job.args
    hl = services()
    hl.callbacks.not_reached(call_sid, attempt, "api_error", hl.clock.now())
