"""What the after-call tests share: walking a caller to the reference number, agents, the worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from rq.job import Job

from ivr.api.auth import issue_token
from ivr.callcenter.agents import READY
from ivr.services import services_of
from standin.phone import Call

MANDARIN, ENGLISH = "1", "2"
ENGLISH_ACCOUNT, ENGLISH_CALLER = "6222000033", "+14155550123"


def at_reference(dial: Callable[..., Call], from_: str, language: str, account: str, *keys: str) -> Call:
    """A caller who gave their account and chose an issue, hearing the reference number."""
    call = dial(from_=from_, max_redirects=2)
    call.press(language)
    call.press(account)
    call.press("1")
    for key in keys:
        call.press(key)
    assert call.state == "gathering"
    return call


def ready(app: Flask, agent_id: str, run_jobs: Callable[[], None]) -> None:
    """The agent goes ready and the matcher runs."""
    hotline = services_of(app)
    now = hotline.clock.now()
    hotline.agents.choose(agent_id, READY, now)
    hotline.agents.heartbeat(agent_id, now)
    hotline.jobs.match_agent(None, agent_id)
    run_jobs()


def talk_to(app: Flask, call: Call, agent_id: str, run_jobs: Callable[[], None], seconds: int = 120) -> None:
    """The agent takes the waiting caller, talks, and hangs up first."""
    ready(app, agent_id, run_jobs)
    call.continue_loop()
    assert call.state == "dialing", call.heard_text()
    call.answer()
    call.dial_result("completed", duration=seconds)


def retries_due(app: Flask) -> int:
    """The retry interval of every scheduled job has passed: rq's scheduler enqueues them."""
    queue = services_of(app).jobs.queue
    registry = queue.scheduled_job_registry
    ids = registry.get_job_ids()
    for job_id in ids:
        job = Job.fetch(job_id, connection=queue.connection)
        registry.remove(job)
        queue.enqueue_job(job)
    return len(ids)


def supervisor_get(app: Flask, path: str) -> tuple[int, Any]:
    """GET an /api/supervisor path with a supervisor's token."""
    token = issue_token(services_of(app).stores.data, "supervisor", "duty_lead")
    resp = app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
    return resp.status_code, resp.get_json()
