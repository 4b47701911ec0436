"""The web side's door to the rq workers: jobs are enqueued by dotted path.

The web process never imports `queue_worker`; it names the job, and the worker imports it.
"""

from __future__ import annotations

import redis
from rq import Queue, Retry

QUEUE_NAME = "hotline"
FREEZE_ACCOUNT = "queue_worker.jobs.freeze_account"


class JobQueue:
    """Enqueues the hotline's background jobs."""

    def __init__(self, jobs_conn: redis.Redis) -> None:
        self.queue = Queue(QUEUE_NAME, connection=jobs_conn)

    def freeze_account(self, pipe: redis.client.Pipeline | None, sid: str, account_id: str) -> None:
        """Freeze an account for a caller waiting on the line (a short, retried job)."""
        self.queue.enqueue_call(
            FREEZE_ACCOUNT,
            args=(sid, account_id),
            # One job per call: a repeated webhook delivery must not freeze twice.
            job_id=f"freeze-{sid}",
            retry=Retry(max=2, interval=1),
            timeout=30,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            pipeline=pipe,
        )
