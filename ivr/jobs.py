"""The web side's door to the rq workers: jobs are enqueued by dotted path.

The web process never imports `queue_worker`; it names the job, and the worker imports it.
Every method takes an optional pipeline, so a webhook can enqueue in its single write.
"""

from __future__ import annotations

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

QUEUE_NAME = "hotline"
FREEZE_ACCOUNT = "queue_worker.jobs.freeze_account"
MATCH_DEPARTMENT = "queue_worker.jobs.match_department"
MATCH_AGENT = "queue_worker.jobs.match_agent"
SWEEP_AGENTS = "queue_worker.jobs.sweep_agents"
SEND_CALL_SUMMARY = "queue_worker.jobs.send_call_summary"


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

    def match_department(self, pipe: redis.client.Pipeline | None, department: str) -> None:
        """Look for ready agents for a department's waiting callers (a caller joined)."""
        self.queue.enqueue_call(
            MATCH_DEPARTMENT,
            args=(department,),
            timeout=60,
            result_ttl=60,
            failure_ttl=24 * 3600,
            pipeline=pipe,
        )

    def match_agent(self, pipe: redis.client.Pipeline | None, agent_id: str) -> None:
        """Look for a caller for an agent who became ready."""
        self.queue.enqueue_call(
            MATCH_AGENT, args=(agent_id,), timeout=60, result_ttl=60, failure_ttl=24 * 3600, pipeline=pipe
        )

    def sweep_agents(self) -> None:
        """End finished wrap-ups and take silent consoles offline."""
        self.queue.enqueue_call(SWEEP_AGENTS, timeout=60, result_ttl=60, failure_ttl=24 * 3600)

    def send_call_summary(self, call_sid: str, retry_seconds: list[int]) -> bool:
        """Text the caller their reference number and summary; False when already enqueued.

        One job per call (`sms-{CallSid}`, unique): a status callback delivered twice does not
        send twice. Twilio refusing for now is retried after each of `retry_seconds`.
        """
        try:
            self.queue.enqueue_call(
                SEND_CALL_SUMMARY,
                args=(call_sid,),
                job_id=f"sms-{call_sid}",
                unique=True,
                retry=Retry(max=len(retry_seconds), interval=list(retry_seconds)) if retry_seconds else None,
                timeout=30,
                result_ttl=2 * 24 * 3600,  # as long as the call record: the id stays taken
                failure_ttl=7 * 24 * 3600,
            )
        except DuplicateJobError:
            return False
        return True
