"""The callback jobs: call a customer back, retry after the backoff, start a scheduled callback."""

from __future__ import annotations

from rq.job import Job

from ivr.jobs.context import services


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
