"""The periodic jobs: the agent sweep (every 5 s), the hour-of-week profile rollup (every 5 min)
and the deletion of recordings past their retention (hourly).

Each run schedules the next on rq's scheduler. Runs are named after their slot of the wall clock
and scheduled with `unique=True`, so however many workers start (each schedules one) there is one
run per slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rq import Queue
from rq.exceptions import DuplicateJobError

from ivr.callcenter.recordings import delete_expired
from ivr.clock import business_day
from ivr.jobs.context import services
from ivr.waits.profile import ensure_summary, rollup

# A wrap-up ends at the first sweep after its time: an agent waits half this on average before
# taking the next caller. At 15 s that was 7.5 s of every call's handle time that the wait
# estimate did not know of: callers told "less than a minute" had one 80% of the time, where the
# model said 85%. A sweep reads every agent's hash, a few hundred reads at most.
SWEEP_EVERY_SECONDS = 5
# The profile learns from the day's counters this often (and once when a worker starts).
ROLLUP_EVERY_SECONDS = 300
# Recordings past their retention are deleted this often.
RETENTION_EVERY_SECONDS = 3600


def sweep_agents() -> int:
    """End finished wrap-ups (then match those agents) and take silent consoles offline."""
    hl = services()
    now = hl.clock.now()
    ready = hl.agents.sweep(now, hl.config.file.hotline.heartbeat_timeout_seconds)
    for agent_id in ready:
        hl.matcher.for_agent(agent_id)
    return len(ready)


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


def delete_old_recordings() -> int:
    """Delete the call recordings past the hotline's retention from Twilio; how many."""
    hl = services()
    return len(
        delete_expired(
            hl.stores.data, hl.rest, hl.clock.now(), hl.config.file.hotline.recording_retention_days
        )
    )


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


def schedule_rollup(queue: Queue, now: float | None = None) -> bool:
    """Schedule the profile rollup at the next slot boundary; False when already scheduled."""
    return schedule_periodic(queue, periodic_rollup, "rollup-profiles", ROLLUP_EVERY_SECONDS, now, 120)


def periodic_rollup() -> int:
    """The rollup, rescheduled first so that a failing run does not stop the next ones."""
    schedule_rollup(services().jobs.queue)
    return rollup_profiles()


def schedule_retention(queue: Queue, now: float | None = None) -> bool:
    """Schedule the recording retention run at the next hour; False when already scheduled."""
    return schedule_periodic(
        queue, periodic_retention, "recording-retention", RETENTION_EVERY_SECONDS, now, 600
    )


def periodic_retention() -> int:
    """The retention run, rescheduled first so that a failing run does not stop the next ones."""
    schedule_retention(services().jobs.queue)
    return delete_old_recordings()
