"""The web side's door to the rq workers: jobs are enqueued by dotted path.

The web process never imports `queue_worker`; it names the job, and the worker imports it.
Every method takes an optional pipeline, so a webhook can enqueue in its single write.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError

QUEUE_NAME = "hotline"
FREEZE_ACCOUNT = "queue_worker.jobs.freeze_account"
MATCH_DEPARTMENT = "queue_worker.jobs.match_department"
MATCH_AGENT = "queue_worker.jobs.match_agent"
SWEEP_AGENTS = "queue_worker.jobs.sweep_agents"
SEND_CALL_SUMMARY = "queue_worker.jobs.send_call_summary"
PLACE_CALLBACK = "queue_worker.jobs.place_callback"
CALLBACK_DUE = "queue_worker.jobs.callback_due"
SCHEDULED_CALLBACK = "queue_worker.jobs.scheduled_callback"
CALLBACK_JOB_FAILED = "queue_worker.jobs.callback_job_failed"
RECONCILE_CALL = "queue_worker.jobs.reconcile_call"
# A matching job that fails (Redis or Twilio trouble, a worker that dies) runs again: matching is
# idempotent, and what a dead run held is freed by the reaper's leases.
MATCH_RETRY = Retry(max=3, interval=[1, 5, 15])


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
            retry=MATCH_RETRY,
            timeout=60,
            result_ttl=60,
            failure_ttl=24 * 3600,
            pipeline=pipe,
        )

    def match_agent(self, pipe: redis.client.Pipeline | None, agent_id: str) -> None:
        """Look for a caller for an agent who became ready."""
        self.queue.enqueue_call(
            MATCH_AGENT,
            args=(agent_id,),
            retry=MATCH_RETRY,
            timeout=60,
            result_ttl=60,
            failure_ttl=24 * 3600,
            pipeline=pipe,
        )

    def reconcile_call(self, sid: str) -> None:
        """Ask Twilio how a call is, and end it here if it is over (its hang-up notice was lost)."""
        self.queue.enqueue_call(
            RECONCILE_CALL,
            args=(sid,),
            retry=Retry(max=3, interval=[2, 10, 30]),
            timeout=30,
            result_ttl=600,
            failure_ttl=24 * 3600,
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

    def place_callback(
        self, pipe: redis.client.Pipeline | None, sid: str, agent_id: str, attempt: int
    ) -> None:
        """Call a customer back for the agent their place reached (retried if Twilio's API fails)."""
        self.queue.enqueue_call(
            PLACE_CALLBACK,
            args=(sid, agent_id, attempt),
            job_id=f"callback-{sid}-{attempt}",
            retry=Retry(max=3, interval=[5, 15, 30]),
            # After the last retry the attempt counts as not reached, so the agent is not held.
            on_failure=Callback(CALLBACK_JOB_FAILED),
            timeout=60,
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
            pipeline=pipe,
        )

    def callback_due(self, sid: str, fails: int, delay: timedelta) -> None:
        """After the backoff, put a callback that did not reach the customer back in the queue."""
        self.queue.enqueue_in(
            delay,
            CALLBACK_DUE,
            sid,
            job_id=f"callback-due-{sid}-{fails}",
            job_timeout=60,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
        )

    def scheduled_callback(self, sid: str, delay: timedelta) -> None:
        """At the chosen slot, put the caller in the queue as a callback place."""
        self.queue.enqueue_in(
            delay,
            SCHEDULED_CALLBACK,
            sid,
            job_id=f"callback-scheduled-{sid}",
            job_timeout=60,
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
        )
