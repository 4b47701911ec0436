"""The door to the rq workers: one typed method per job, enqueuing the job's own function.

rq stores the function's dotted path (`ivr.jobs.matching.match_department`) and the worker imports
it. Job ids, retries, timeouts and TTLs are set here, once per job. Methods that take a pipeline
let a webhook enqueue in its single write.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError

from ivr.jobs.accounts import freeze_account
from ivr.jobs.callbacks import callback_due, callback_job_failed, place_callback, scheduled_callback
from ivr.jobs.matching import match_agent, match_department, reconcile_call
from ivr.jobs.messages import send_call_summary
from ivr.jobs.periodic import rollup_profiles, sweep_agents

QUEUE_NAME = "hotline"
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
            freeze_account,
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
            match_department,
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
            match_agent,
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
            reconcile_call,
            args=(sid,),
            retry=Retry(max=3, interval=[2, 10, 30]),
            timeout=30,
            result_ttl=600,
            failure_ttl=24 * 3600,
        )

    def sweep_agents(self) -> None:
        """End finished wrap-ups and take silent consoles offline."""
        self.queue.enqueue_call(sweep_agents, timeout=60, result_ttl=60, failure_ttl=24 * 3600)

    def send_call_summary(self, call_sid: str, retry_seconds: list[int]) -> bool:
        """Text the caller their reference number and summary; False when already enqueued.

        One job per call (`sms-{CallSid}`, unique): a status callback delivered twice does not
        send twice. Twilio refusing for now is retried after each of `retry_seconds`.
        """
        try:
            self.queue.enqueue_call(
                send_call_summary,
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
            place_callback,
            args=(sid, agent_id, attempt),
            job_id=f"callback-{sid}-{attempt}",
            retry=Retry(max=3, interval=[5, 15, 30]),
            # After the last retry the attempt counts as not reached, so the agent is not held.
            on_failure=Callback(callback_job_failed),
            timeout=60,
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
            pipeline=pipe,
        )

    def callback_due(self, sid: str, fails: int, delay: timedelta) -> None:
        """After the backoff, put a callback that did not reach the customer back in the queue."""
        self.queue.enqueue_in(
            delay,
            callback_due,
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
            scheduled_callback,
            sid,
            job_id=f"callback-scheduled-{sid}",
            job_timeout=60,
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
        )

    def rollup_profiles(self) -> None:
        """Learn the hour-of-week profiles now (a worker starting: a new hotline gets its summary)."""
        self.queue.enqueue_call(rollup_profiles, timeout=120, result_ttl=300, failure_ttl=24 * 3600)
