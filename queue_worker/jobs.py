"""The jobs' old dotted paths, for jobs enqueued before they moved to ivr/jobs/.

rq keeps a job's function as a dotted path in Redis: a callback scheduled days ahead, or a retry
waiting in rq's registries, still names `queue_worker.jobs.<name>` after an upgrade. Define
nothing here: new jobs live in ivr/jobs/ and are enqueued by `ivr.jobs.JobQueue`.
"""

from __future__ import annotations

from ivr.jobs.accounts import freeze_account
from ivr.jobs.callbacks import callback_due, callback_job_failed, place_callback, scheduled_callback
from ivr.jobs.matching import match_agent, match_department, reconcile_call
from ivr.jobs.messages import send_call_summary
from ivr.jobs.periodic import periodic_rollup, periodic_sweep, rollup_profiles, sweep_agents

__all__ = [
    "callback_due",
    "callback_job_failed",
    "freeze_account",
    "match_agent",
    "match_department",
    "periodic_rollup",
    "periodic_sweep",
    "place_callback",
    "reconcile_call",
    "rollup_profiles",
    "scheduled_callback",
    "send_call_summary",
    "sweep_agents",
]
