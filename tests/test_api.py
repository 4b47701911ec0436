"""The agent and supervisor API over HTTP: tokens and roles, states, the screen pop, wrap-up,
heartbeats, the supervisor's statistics, and the OpenAPI document.

Every request goes through `Api`, which checks each answer against the OpenAPI document the
app serves: an undocumented status or a body that does not match its schema fails the test.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rq.registry import ScheduledJobRegistry
from werkzeug.test import TestResponse

from ivr import create_app, keys
from ivr.api.auth import issue_token, revoke
from ivr.callcenter.agents import NOT_READY, OFFLINE, READY, RINGING, WRAP_UP
from ivr.clock import FixedClock, ScaledClock
from ivr.jobs.periodic import SWEEP_EVERY_SECONDS, periodic_sweep, schedule_sweep
from ivr.services import services_of
from ivr.waits.estimate import QueueState, estimate
from queue_worker import context
from standin.phone import Call
from tests.conftest import DEMO_ACCOUNT, DEMO_CALLER, OPEN_HOURS, run_jobs_of

DOC = "urn:hotline-api"
CHOOSE_LANGUAGE = "For English, press 2."


class Api:
    """The Flask test client, checking every answer against the app's OpenAPI document."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.doc = self.client.get("/api/openapi.json").get_json()
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC, resource)

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        """Send a request (with a bearer token) and check the answer is the documented one."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = self.client.open(path, method=method, headers=headers, **kwargs)
        self.check(method, path, resp)
        return resp

    def get(self, path: str, token: str | None = None) -> TestResponse:
        """GET."""
        return self.call("GET", path, token)

    def post(self, path: str, token: str | None = None, body: Any = None) -> TestResponse:
        """POST a JSON body."""
        return self.call("POST", path, token, json=body)

    def put(self, path: str, token: str | None = None, body: Any = None) -> TestResponse:
        """PUT a JSON body."""
        return self.call("PUT", path, token, json=body)

    def check(self, method: str, path: str, resp: TestResponse) -> None:
        """The status is listed for the operation, and the body matches its schema."""
        path = path.split("?", 1)[0]  # the query is not part of the path template
        paths = self.doc["paths"]
        template = next((t for t in paths if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", t), path)), None)
        if resp.status_code == 200 and resp.mimetype == "text/csv":  # a download the operation offers
            assert template is not None
            assert "text/csv" in paths[template][method.lower()]["responses"]["200"]["content"]
            return
        body = resp.get_json()
        assert resp.content_type == "application/json" and body is not None
        if template is None or method.lower() not in paths[template]:
            assert resp.status_code in (404, 405) and body["error"]
            return
        answers = paths[template][method.lower()]["responses"]
        answer = answers.get(str(resp.status_code))
        assert answer is not None, f"{method} {path}: {resp.status_code} is not in the document"
        if "$ref" in answer:
            answer = self.doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        schema = answer["content"]["application/json"].get("schema")
        if schema:
            validator = Draft202012Validator({"$ref": DOC + schema["$ref"]}, registry=self.registry)
            validator.validate(body)


@pytest.fixture
def api(app: Flask) -> Api:
    """The API, as a console or a supervisor's dashboard uses it."""
    return Api(app)


def token_for(app: Flask, role: str, subject: str) -> str:
    """A token, as `flask --app wsgi tokens issue` makes it."""
    return issue_token(services_of(app).stores.data, role, subject)


def go_ready(api: Api, token: str, run_jobs: Callable[[], None]) -> None:
    """The agent clicks "ready" and the matcher runs."""
    assert api.put("/api/agent/state", token, {"state": "ready"}).status_code == 200
    run_jobs()


def payments_caller(dial: Callable[..., Call], issue: str = "1", from_: str = DEMO_CALLER) -> Call:
    """A Mandarin caller, verified by caller ID, on hold in payments (1: top-up, 2: reverse)."""
    call = dial(from_=from_, max_redirects=2)
    if CHOOSE_LANGUAGE in call.heard_text():  # a number that chose before is not asked again
        call.press("1")
    call.press(DEMO_ACCOUNT)
    call.press("1")
    call.press(issue)
    call.press("1")  # an agent, after the tips
    call.silence()  # the reference number plays out
    assert call.on_hold
    return call


def connect(api: Api, token: str, call: Call, run_jobs: Callable[[], None]) -> None:
    """The agent goes ready, gets the caller, and answers (hearing the whisper)."""
    go_ready(api, token, run_jobs)
    call.continue_loop()  # the REST redirect out of the hold loop
    assert call.state == "dialing"
    call.answer()


def later(clock: FixedClock, seconds: float) -> None:
    """Move the hotline's clock on."""
    clock.set(clock.now() + timedelta(seconds=seconds))


# -- tokens and roles ---------------------------------------------------------------------------

AGENT_ROUTES = [
    ("GET", "/api/agent/me"),
    ("PUT", "/api/agent/state"),
    ("POST", "/api/agent/state"),
    ("POST", "/api/agent/heartbeat"),
    ("GET", "/api/agent/call"),
    ("GET", "/api/agent/calls/261124000017"),
    ("POST", "/api/agent/call/transfer"),
    ("POST", "/api/agent/call/wrapup"),
]
SUPERVISOR_ROUTES = [("GET", "/api/supervisor/queues"), ("GET", "/api/supervisor/agents")]


@pytest.mark.parametrize(("method", "path"), AGENT_ROUTES + SUPERVISOR_ROUTES)
def test_no_token_or_a_bad_one_is_401(app: Flask, api: Api, method: str, path: str) -> None:
    """Missing, malformed, unknown and revoked tokens: 401 with a JSON message, before any work."""
    conn = services_of(app).stores.data
    revoked = token_for(app, "supervisor", "zhang_min")
    assert revoke(conn, revoked)
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {revoked}"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {revoked}"},
    ):
        resp = api.client.open(path, method=method, headers=headers, json={"state": "ready"})
        api.check(method, path, resp)
        assert resp.status_code == 401, headers
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert resp.get_json()["error"]
    assert services_of(app).agents.get("li_na").state == OFFLINE  # the PUT did nothing


def test_each_role_is_refused_the_others_routes(app: Flask, api: Api) -> None:
    """An agent's token on supervisor routes, and a supervisor's on agent routes: 403."""
    agent, supervisor = token_for(app, "agent", "li_na"), token_for(app, "supervisor", "zhang_min")
    for method, path in SUPERVISOR_ROUTES:
        assert api.call(method, path, agent).status_code == 403
        assert api.call(method, path, supervisor).status_code == 200
    for method, path in AGENT_ROUTES:
        resp = api.call(method, path, supervisor, json={"state": "ready"})
        assert resp.status_code == 403 and "agent role" in resp.get_json()["error"]
    assert api.get("/api/agent/me", agent).get_json()["id"] == "li_na"


def test_a_removed_agents_token_is_401(app: Flask, api: Api, redis_conn: redis.Redis) -> None:
    """A token outlives its agent only as a refusal."""
    token = token_for(app, "agent", "li_na")
    redis_conn.delete(keys.agent("li_na"))
    assert api.get("/api/agent/me", token).status_code == 401


def test_errors_under_api_are_json_and_other_paths_are_not_touched(app: Flask, api: Api) -> None:
    """Unknown paths and methods under /api answer JSON; the rest of the app keeps Flask's pages."""
    token = token_for(app, "agent", "li_na")
    assert api.get("/api/nothing-here", token).status_code == 404
    assert api.call("DELETE", "/api/agent/me", token).status_code == 405
    assert api.client.get("/nothing-here").content_type.startswith("text/html")
    assert api.client.get("/healthz").get_json()["status"] == "ok"


# -- states and heartbeats ----------------------------------------------------------------------


def test_agent_changes_state_and_a_forbidden_change_is_409(
    app: Flask, api: Api, clock: FixedClock, run_jobs: Callable[[], None]
) -> None:
    """Ready, not ready with a reason, offline; bad bodies are 400 naming the field."""
    token = token_for(app, "agent", "li_na")
    resp = api.put("/api/agent/state", token, {"state": "ready"})
    assert resp.status_code == 200 and resp.get_json()["previous"] == OFFLINE
    later(clock, 90)
    me = api.get("/api/agent/me", token).get_json()
    assert me["state"] == READY and me["seconds_in_state"] == 90 and me["call"] is None
    for body, field in [
        ({"state": "not_ready"}, "reason"),
        ({"state": "asleep"}, "state"),
        ({"state": "ready", "colour": "red"}, "colour"),
        ([1, 2], "body"),
    ]:
        resp = api.put("/api/agent/state", token, body)
        assert resp.status_code == 400 and resp.get_json()["field"] == field, body
    resp = api.post("/api/agent/state", token, {"state": "not_ready", "reason": "training"})
    assert resp.status_code == 200
    assert api.get("/api/agent/me", token).get_json()["reason"] == "training"
    hotline = services_of(app)
    hotline.agents.choose("li_na", READY, clock.now())
    assert hotline.agents.reserve("li_na", clock.now())
    hotline.agents.ring("li_na", "CA" + "0" * 32, clock.now())
    resp = api.put("/api/agent/state", token, {"state": "offline"})
    assert resp.status_code == 409 and resp.get_json()["error"] == "agent is ringing"
    assert hotline.agents.get("li_na").state == RINGING


def test_a_silent_console_goes_offline(
    app: Flask, api: Api, clock: FixedClock, run_jobs: Callable[[], None]
) -> None:
    """Heartbeats keep an agent ready; silence past the timeout takes them offline at the sweep."""
    hotline = services_of(app)
    timeout = hotline.config.file.hotline.heartbeat_timeout_seconds
    li_na, emma = token_for(app, "agent", "li_na"), token_for(app, "agent", "emma_chen")
    go_ready(api, li_na, run_jobs)
    go_ready(api, emma, run_jobs)
    later(clock, timeout - 5)
    assert api.post("/api/agent/heartbeat", li_na).get_json() == {"state": READY, "timeout_seconds": timeout}
    later(clock, 10)
    hotline.jobs.sweep_agents()
    run_jobs()
    assert hotline.agents.get("li_na").state == READY
    emma_now = hotline.agents.get("emma_chen")
    assert emma_now.state == OFFLINE and emma_now.reason == "no heartbeat"
    later(clock, timeout)
    hotline.jobs.sweep_agents()
    run_jobs()
    assert hotline.agents.get("li_na").state == OFFLINE


def test_the_heartbeat_timeout_is_real_seconds_on_a_fast_clock(
    app_settings: dict[str, Any], redis_conn: redis.Redis
) -> None:
    """At 30 times real speed the timeout is still real seconds: a console that beat 3 real seconds
    ago (90 seconds on the hotline's clock) stays ready, one silent a real minute goes offline at a
    state time of the hotline's clock."""
    clock = ScaledClock(OPEN_HOURS, speed=30)
    application = create_app(app_settings, clock=clock)
    context.install(services_of(application))
    try:
        hotline = services_of(application)
        timeout = hotline.config.file.hotline.heartbeat_timeout_seconds
        api = Api(application)
        for agent_id in ("li_na", "emma_chen"):
            assert (
                api.put(
                    "/api/agent/state", token_for(application, "agent", agent_id), {"state": "ready"}
                ).status_code
                == 200
            )
        real_now = datetime.now(UTC)
        beats = {
            "li_na": clock.reading(real_now - timedelta(seconds=3)),
            "emma_chen": clock.reading(real_now - timedelta(seconds=timeout + 1)),
        }
        redis_conn.zadd(keys.agent_heartbeats(), {a: at.timestamp() for a, at in beats.items()})
        hotline.jobs.sweep_agents()
        run_jobs_of(application)
        assert hotline.agents.get("li_na").state == READY
        emma = hotline.agents.get("emma_chen")
        assert emma.state == OFFLINE and emma.reason == "no heartbeat"
        assert emma.state_since >= clock.reading(real_now)  # the hotline's clock, not real time
    finally:
        context.install(None)


def test_the_supervisor_sees_the_heartbeat_age_in_real_seconds_on_a_fast_clock(
    app_settings: dict[str, Any], redis_conn: redis.Redis
) -> None:
    """At 30 times real speed a console that beat 15 real seconds ago shows 15 seconds since its
    heartbeat (what the timeout counts), not the 450 the hotline's clock ran meanwhile."""
    clock = ScaledClock(OPEN_HOURS, speed=30)
    application = create_app(app_settings, clock=clock)
    api = Api(application)
    li_na = token_for(application, "agent", "li_na")
    assert api.put("/api/agent/state", li_na, {"state": "ready"}).status_code == 200
    before = datetime.now(UTC)
    beat = clock.reading(before - timedelta(seconds=15))
    redis_conn.zadd(keys.agent_heartbeats(), {"li_na": beat.timestamp()})
    supervisor = token_for(application, "supervisor", "duty_lead")
    rows = api.get("/api/supervisor/agents", supervisor).get_json()["agents"]
    waited = (datetime.now(UTC) - before).total_seconds()  # real time the request itself took
    seconds = next(a for a in rows if a["id"] == "li_na")["seconds_since_heartbeat"]
    assert 15 <= seconds <= 15 + math.ceil(waited)


def test_the_sweep_schedules_itself_once_per_slot(app: Flask, run_jobs: Callable[[], None]) -> None:
    """Workers each start the periodic sweep; one run per slot is scheduled, not one each."""
    queue = services_of(app).jobs.queue
    registry = ScheduledJobRegistry(queue=queue)
    at = 1_800_000_003.0
    assert schedule_sweep(queue, now=at) is True
    assert schedule_sweep(queue, now=at + 1) is False  # a second worker, same slot
    slot = int(at // SWEEP_EVERY_SECONDS) + 1
    assert registry.get_job_ids() == [f"sweep-agents-{slot}"]
    assert registry.get_scheduled_time(f"sweep-agents-{slot}").timestamp() == slot * SWEEP_EVERY_SECONDS
    queue.enqueue(periodic_sweep)
    run_jobs()
    assert len(registry.get_job_ids()) == 2  # the run scheduled the next one


# -- the screen pop and wrap-up ---------------------------------------------------------------


def test_screen_pop_of_the_connected_call(
    app: Flask, api: Api, dial: Callable[..., Call], clock: FixedClock, run_jobs: Callable[[], None]
) -> None:
    """Reference, masked account, verified, issue, language, time waited; nothing when idle."""
    token = token_for(app, "agent", "li_na")
    assert api.get("/api/agent/call", token).status_code == 404
    call = payments_caller(dial)
    later(clock, 95)
    connect(api, token, call, run_jobs)
    pop = api.get("/api/agent/call", token).get_json()
    ref = services_of(app).stores.data.hget(keys.call(call.call_sid), "ref")
    assert pop["ref"] == ref and api.get("/api/agent/me", token).get_json()["call"] == ref
    assert pop["account"] == "******0017" and DEMO_ACCOUNT not in json.dumps(pop)
    assert (pop["verified"], pop["verification"]) == (True, "caller_id")
    assert (pop["issue"], pop["language"], pop["department"]) == ("topup_failed", "zh-CN", "payments")
    assert pop["waited_seconds"] == 95 and pop["previous_calls_7d"] == 0
    later(clock, 30)
    assert api.get("/api/agent/call", token).get_json()["waited_seconds"] == 95  # answered: stops
    assert (
        api.get(f"/api/agent/calls/{ref}", token).get_json() == api.get("/api/agent/call", token).get_json()
    )


def test_calls_from_the_same_number_in_the_last_seven_days(
    app: Flask,
    api: Api,
    dial: Callable[..., Call],
    clock: FixedClock,
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
) -> None:
    """Earlier calls from the caller's number count if they came in the 7 days before this one."""
    for days_ago, number in [(10, DEMO_CALLER), (8, DEMO_CALLER), (3, DEMO_CALLER), (0.1, DEMO_CALLER)] + [
        (1, "+8613912345678")
    ]:
        clock.set(OPEN_HOURS - timedelta(days=days_ago))
        dial(from_=number).hangup()
    clock.set(OPEN_HOURS)
    token = token_for(app, "agent", "li_na")
    call = payments_caller(dial)
    connect(api, token, call, run_jobs)
    assert api.get("/api/agent/call", token).get_json()["previous_calls_7d"] == 2
    # What no live call record can ask about any more (older than 7 + 2 days) is trimmed.
    assert redis_conn.zcard(keys.calls_from(DEMO_CALLER)) == 4


def test_a_number_that_never_reaches_an_agent_keeps_only_nine_days_of_calls(
    dial: Callable[..., Call], clock: FixedClock, redis_conn: redis.Redis
) -> None:
    """A number that calls every day and always hangs up in the menu: nothing reads its history."""
    for days_ago in range(30, -1, -1):
        clock.set(OPEN_HOURS - timedelta(days=days_ago))
        dial(from_=DEMO_CALLER).hangup()
    assert redis_conn.zcard(keys.calls_from(DEMO_CALLER)) == 10  # today and the 9 days before


def test_wrap_up_notes_and_disposition_are_stored(
    app: Flask,
    api: Api,
    dial: Callable[..., Call],
    clock: FixedClock,
    run_jobs: Callable[[], None],
    redis_conn: redis.Redis,
) -> None:
    """Filed on the call or during wrap-up, kept on the call record; refused once ready again."""
    token = token_for(app, "agent", "li_na")
    call = payments_caller(dial)
    connect(api, token, call, run_jobs)
    call.dial_result("completed", duration=180)
    assert services_of(app).agents.get("li_na").state == WRAP_UP
    resp = api.post("/api/agent/call/wrapup", token, {"notes": "top-up retried", "disposition": "maybe"})
    assert resp.status_code == 400 and resp.get_json()["field"] == "disposition"
    body = {"notes": "银行卡限额，已指导更换支付方式", "disposition": "resolved"}
    resp = api.post("/api/agent/call/wrapup", token, body)
    assert resp.status_code == 200 and resp.get_json()["notes"] == 1
    record = redis_conn.hgetall(keys.call(call.call_sid))
    assert record["disposition"] == "resolved" and record["disposition_by"] == "li_na"
    [note] = json.loads(record["notes"])
    assert (note["kind"], note["text"], note["agent"]) == ("wrapup", body["notes"], "li_na")
    pop = api.get(f"/api/agent/calls/{record['ref']}", token).get_json()
    assert pop["disposition"] == "resolved" and pop["notes"][0]["text"] == body["notes"]
    assert api.put("/api/agent/state", token, {"state": "ready"}).status_code == 200
    resp = api.post("/api/agent/call/wrapup", token, {"disposition": "escalated"})
    assert resp.status_code == 409 and "agent is ready" in resp.get_json()["error"]


def test_a_wrap_up_without_words_is_in_the_calls_notes_but_not_one_the_agent_wrote(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None]
) -> None:
    """Each wrap-up is kept in the call's notes (its history); `your_notes` counts only the notes
    with words the agent wrote, which is what the agent's console tells them."""
    token = token_for(app, "agent", "li_na")
    connect(api, token, payments_caller(dial), run_jobs)
    first = api.post("/api/agent/call/wrapup", token, {"disposition": "resolved"}).get_json()
    assert (first["notes"], first["your_notes"]) == (1, 0)
    body = {"disposition": "resolved", "notes": "refund traced"}
    second = api.post("/api/agent/call/wrapup", token, body).get_json()
    assert (second["notes"], second["your_notes"]) == (2, 1)


def test_an_agent_cannot_touch_another_agents_call(
    app: Flask, api: Api, dial: Callable[..., Call], run_jobs: Callable[[], None], redis_conn: redis.Redis
) -> None:
    """Read, wrap up or transfer a call that is not the agent's own: 403; an unknown one: 404."""
    li_na, emma = token_for(app, "agent", "li_na"), token_for(app, "agent", "emma_chen")
    call = payments_caller(dial)
    connect(api, li_na, call, run_jobs)
    ref = redis_conn.hget(keys.call(call.call_sid), "ref")
    assert api.get(f"/api/agent/calls/{ref}", emma).status_code == 403
    assert api.get(f"/api/agent/calls/{ref}", li_na).status_code == 200
    assert api.get("/api/agent/calls/999999999999", li_na).status_code == 404
    assert api.get("/api/agent/call", emma).status_code == 404
    resp = api.post("/api/agent/call/wrapup", emma, {"disposition": "resolved", "ref": ref})
    assert resp.status_code == 403
    resp = api.post("/api/agent/call/transfer", emma, {"department": "security", "ref": ref})
    assert resp.status_code == 403
    assert redis_conn.hget(keys.call(call.call_sid), "disposition") is None
    assert redis_conn.hget(keys.call(call.call_sid), "department") == "payments"


# -- the supervisor -----------------------------------------------------------------------------


def test_queue_statistics_after_a_served_and_an_abandoned_call(
    app: Flask, api: Api, dial: Callable[..., Call], clock: FixedClock, run_jobs: Callable[[], None]
) -> None:
    """Offered, answered, abandoned, rates, service level, averages, waiting, agents by state."""
    li_na, supervisor = token_for(app, "agent", "li_na"), token_for(app, "supervisor", "zhang_min")
    served = payments_caller(dial)
    later(clock, 10)
    connect(api, li_na, served, run_jobs)  # answered after 10 s: within the 20 s service level
    gone = payments_caller(dial, from_="+8613912345678")
    later(clock, 50)
    gone.hangup()  # abandoned after 50 s
    payments_caller(dial, from_="+8618611112222")
    later(clock, 40)
    served.dial_result("completed", duration=240)
    resp = api.get("/api/supervisor/queues", supervisor)
    assert resp.status_code == 200
    report = resp.get_json()
    payments = next(q for q in report["queues"] if q["department"] == "payments")
    assert report["day"] == "261124" and report["service_level_seconds"] == 20
    assert (payments["offered"], payments["answered"], payments["abandoned"]) == (3, 1, 1)
    assert payments["abandonment_rate"] == 0.3333 and payments["service_level"] == 0.5
    assert payments["average_wait_seconds"] == 10.0 and payments["average_abandon_wait_seconds"] == 50.0
    assert payments["average_handle_seconds"] == 240.0 and payments["handled"] == 1
    assert (payments["waiting"], payments["longest_wait_seconds"]) == (1, 40)
    # The one estimator, for a caller joining now: one caller ahead; li_na, in wrap-up, also serves
    # general, but takes payments first (skill 5 against 3), so she counts whole; one call handled
    # today is too few to trust, so the default 180 s a call plus payments' 45 s wrap-up. The caller
    # ahead takes her when her wrap-up, just begun, ends at the worker's next sweep (45 s and 2.5 s
    # on average), then one whole call of hers: 272.5 s (as two average stages of 225 s, 450 s).
    li_na_free = (47.5, 0.0, 0.0)  # the moments of her wrap-up's end: no spread
    expected = estimate(QueueState(agents=1.0, ahead=1, mean_handle_seconds=225.0, first_free=li_na_free))
    assert expected is not None and payments["estimated_wait_seconds"] == int(expected.seconds) == 272
    low, high = payments["estimated_wait_range"]
    assert low == int(expected.low) and high == math.ceil(expected.high) and low < 272 < high
    assert payments["peak_hour_now"] is False and payments["peak_hours"] == []  # no profile rolled up yet
    assert {s: n for s, n in payments["agents"].items() if n} == {WRAP_UP: 1, OFFLINE: 1}
    security = next(q for q in report["queues"] if q["department"] == "security")
    assert security["offered"] == 0 and security["service_level"] is None
    agents = {a["id"]: a for a in api.get("/api/supervisor/agents", supervisor).get_json()["agents"]}
    assert agents["li_na"]["state"] == WRAP_UP and agents["li_na"]["seconds_in_state"] == 0
    assert agents["li_na"]["answered_today"] == 1 and agents["li_na"]["call"] is not None
    assert agents["li_na"]["seconds_since_heartbeat"] == 90  # the last sign of life: going ready
    assert agents["emma_chen"]["state"] == OFFLINE and agents["emma_chen"]["seconds_since_heartbeat"] is None
    later(clock, 15)
    api.put("/api/agent/state", li_na, {"state": "not_ready", "reason": "break"})
    later(clock, 20)
    row = next(
        a for a in api.get("/api/supervisor/agents", supervisor).get_json()["agents"] if a["id"] == "li_na"
    )
    assert (row["state"], row["reason"], row["seconds_in_state"]) == (NOT_READY, "break", 20)


# -- the document -------------------------------------------------------------------------------


def test_openapi_document_validates_and_lists_exactly_the_api_routes(app: Flask, api: Api) -> None:
    """Every route under /api is documented with its methods, and nothing else is."""
    resp = api.client.get("/api/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    validate(doc)
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }
    assert served == documented
    assert len(served) == 24  # 22 paths; the agent's state with PUT and POST, monitoring with POST, DELETE
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
