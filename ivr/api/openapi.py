"""The OpenAPI 3.1 document of every JSON endpoint, served at GET /api/openapi.json.

Paths and operations are written here as data; their schemas are generated from the pydantic
models the views use (`schemas.py`), so a field added to a response appears in the document.
The tests check that the document validates and lists exactly the routes the app serves.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ivr.api import schemas
from ivr.callcenter.notes import DISPOSITIONS

bp = Blueprint("openapi", __name__)

REQUESTS: list[type[BaseModel]] = [
    schemas.StateChange, schemas.TransferRequest, schemas.WrapUpRequest, schemas.HoldRequest,
    schemas.ConsultRequest, schemas.MonitorRequest, schemas.RecordingRequest,
]  # fmt: skip
RESPONSES: list[type[BaseModel]] = [
    schemas.Error, schemas.AgentMe, schemas.StateChanged, schemas.HeartbeatAck, schemas.ScreenPop,
    schemas.TransferResult, schemas.WrapUpResult, schemas.QueuesReport, schemas.AgentsReport,
    schemas.FollowupsReport, schemas.TicketsReport, schemas.AgentForced, schemas.IntervalReport,
    schemas.AgentDayReport, schemas.HoldResult, schemas.ConsultResult, schemas.Monitored,
    schemas.RecordingState, schemas.RecordingsReport,
]  # fmt: skip

# Reusable error responses: every error is JSON with a message (`Error`).
ERRORS = {
    "400": (
        "BadRequest",
        "the body or a query parameter is not valid for this operation; `field` names the culprit",
    ),
    "401": ("Unauthorized", "no bearer token, or an unknown or revoked one"),
    "403": ("Forbidden", "the token's role may not do this, or the call is not the agent's"),
    "404": ("NotFound", "no such call or agent, or no current call"),
    "409": ("Conflict", "the agent's or the call's state does not allow this now"),
    "429": (
        "TooManyRequests",
        "too many wrong tokens from this address: every request is refused until Retry-After",
    ),
    "500": ("InternalError", "a bug; the message says nothing more"),
    "503": ("Unavailable", "Redis did not answer; try again"),
}


# The reports' query: which day (today by default), and JSON or CSV.
REPORT_PARAMETERS = [
    {"name": "day", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9]{6}$"}},
    {
        "name": "format",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["json", "csv"]},
    },
]


def _csv_too(op: dict[str, Any]) -> dict[str, Any]:
    """The operation also answers CSV (`?format=csv`)."""
    op["responses"]["200"]["content"]["text/csv"] = {"schema": {"type": "string"}}
    return op


def _ref(name: str) -> dict[str, str]:
    """A reference to a schema of the components."""
    return {"$ref": f"#/components/schemas/{name}"}


def _op(
    op_id: str,
    summary: str,
    response: str,
    *,
    tag: str,
    body: str | None = None,
    errors: tuple[str, ...] = (),
    public: bool = False,
) -> dict[str, Any]:
    """One operation: its 200 response, its request body, and the errors it can answer with."""
    codes = errors if public else ("401", "403", *errors, "429", "500", "503")
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": _ref(response)}}},
            **{code: {"$ref": f"#/components/responses/{ERRORS[code][0]}"} for code in codes},
        },
    }
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if public:
        op["security"] = []
    return op


def _paths() -> dict[str, Any]:
    """Every path under /api with its operations."""
    state = _op(
        "changeState", "Become ready, not ready (with a reason) or offline.", "StateChanged",
        tag="agent", body="StateChange", errors=("400", "409"),
    )  # fmt: skip
    return {
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "tags": ["meta"],
                "security": [],
                "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
            }
        },
        "/api/agent/me": {"get": _op("me", "The agent's state, since when and why.", "AgentMe", tag="agent")},
        "/api/agent/state": {"put": state, "post": {**state, "operationId": "changeStatePost"}},
        "/api/agent/heartbeat": {
            "post": _op(
                "heartbeat", "The console is alive (send every few seconds).", "HeartbeatAck", tag="agent"
            )
        },
        "/api/agent/call": {
            "get": _op(
                "currentCall", "Screen pop of the current call.", "ScreenPop", tag="agent", errors=("404",)
            )
        },
        "/api/agent/calls/{ref}": {
            "parameters": [
                {
                    "name": "ref",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "the call's reference number",
                }
            ],  # fmt: skip
            "get": _op(
                "callByReference",
                "Screen pop of the agent's current or last call, by reference.",
                "ScreenPop",
                tag="agent",
                errors=("404",),
            ),  # fmt: skip
        },
        "/api/agent/call/transfer": {
            "post": _op(
                "transfer",
                "Transfer the caller to a department (keeping their place) or a number.",
                "TransferResult",
                tag="agent",
                body="TransferRequest",
                errors=("400", "404", "409"),
            )  # fmt: skip
        },
        "/api/agent/call/hold": {
            "post": _op(
                "hold",
                "Put the caller on hold with music, or take them back (connect_via: conference).",
                "HoldResult",
                tag="agent",
                body="HoldRequest",
                errors=("400", "404", "409"),
            )  # fmt: skip
        },
        "/api/agent/call/consult": {
            "post": _op(
                "consult",
                "Warm transfer, first step: hold the caller and ring a named agent or a "
                "department's into the call's room (connect_via: conference).",
                "ConsultResult",
                tag="agent",
                body="ConsultRequest",
                errors=("400", "404", "409"),
            )  # fmt: skip
        },
        "/api/agent/call/consult/complete": {
            "post": _op(
                "completeConsult",
                "Hand the caller to the consulted agent and leave the call (wrap-up).",
                "ConsultResult",
                tag="agent",
                errors=("404", "409"),
            )  # fmt: skip
        },
        "/api/agent/call/consult/cancel": {
            "post": _op(
                "cancelConsult",
                "End the consultation and take the caller back off hold.",
                "ConsultResult",
                tag="agent",
                errors=("404", "409"),
            )  # fmt: skip
        },
        "/api/agent/call/recording": {
            "post": _op(
                "pauseRecording",
                "Pause the recording (a card number, a password) or resume it.",
                "RecordingState",
                tag="agent",
                body="RecordingRequest",
                errors=("400", "404", "409"),
            )  # fmt: skip
        },
        "/api/agent/call/wrapup": {
            "post": _op(
                "wrapUp",
                f"File notes and a disposition ({', '.join(DISPOSITIONS)}).",
                "WrapUpResult",
                tag="agent",
                body="WrapUpRequest",
                errors=("400", "404", "409"),
            )  # fmt: skip
        },
        "/api/supervisor/queues": {
            "get": _op("queues", "Queue statistics per department.", "QueuesReport", tag="supervisor")
        },
        "/api/supervisor/agents": {
            "get": _op("agents", "Every agent's state and time in it.", "AgentsReport", tag="supervisor")
        },
        "/api/supervisor/agents/{agent_id}/state": {
            "parameters": [
                {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "put": _op(
                "forceAgentState",
                "Set an agent's state (ready, not ready with a reason, offline) from any state; a "
                "ringing agent's caller goes back to their place in the queue. Logged.",
                "AgentForced",
                tag="supervisor",
                body="StateChange",
                errors=("400", "404", "409"),
            ),
        },
        "/api/supervisor/calls/{ref}/monitor": {
            "parameters": [
                {
                    "name": "ref",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "the call's reference number",
                },
            ],
            "post": _op(
                "monitor",
                "Listen to, coach or barge in on a live call from the supervisor's phone "
                "(connect_via: conference); again to change the mode. Logged.",
                "Monitored",
                tag="supervisor",
                body="MonitorRequest",
                errors=("400", "404", "409"),
            ),
            "delete": _op(
                "stopMonitoring",
                "The supervisor leaves the call. Logged.",
                "Monitored",
                tag="supervisor",
                errors=("404", "409"),
            ),
        },  # fmt: skip
        "/api/supervisor/calls/{ref}/recordings": {
            "parameters": [
                {
                    "name": "ref",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "the call's reference number",
                },
            ],
            "get": _op(
                "callRecordings",
                "A call's recordings: sid, status, URL (fetch with the Twilio account) and duration.",
                "RecordingsReport",
                tag="supervisor",
                errors=("404",),
            ),
        },  # fmt: skip
        "/api/supervisor/followups": {
            "get": _op(
                "followups",
                "Today after the calls: surveys per agent and department, voicemails, messages, "
                "rate-limit refusals, failed jobs.",
                "FollowupsReport",
                tag="supervisor",
            )
        },
        "/api/supervisor/reports/intervals": {
            "parameters": REPORT_PARAMETERS,
            "get": _csv_too(
                _op(
                    "intervalReport",
                    "A day kept by the event log in 15-minute intervals per department: offered, "
                    "answered, abandoned, service level. `?format=csv` downloads it.",
                    "IntervalReport",
                    tag="supervisor",
                    errors=("400", "404"),
                )
            ),
        },
        "/api/supervisor/reports/agents": {
            "parameters": REPORT_PARAMETERS,
            "get": _csv_too(
                _op(
                    "agentReport",
                    "A day kept by the event log per agent: calls rung, answered, missed, seconds in "
                    "each state. `?format=csv` downloads it.",
                    "AgentDayReport",
                    tag="supervisor",
                    errors=("400", "404"),
                )
            ),
        },
        "/api/supervisor/tickets": {
            "parameters": [
                {"name": "department", "in": "query", "required": True, "schema": {"type": "string"}},
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 20},
                },
            ],  # fmt: skip
            "get": _op(
                "tickets",
                "A department's newest voicemail tickets, with their transcriptions.",
                "TicketsReport",
                tag="supervisor",
                errors=("400",),
            ),
        },
    }


@cache
def document() -> dict[str, Any]:
    """The whole OpenAPI document (built once per process)."""
    _, generated = models_json_schema(
        [(m, "validation") for m in REQUESTS] + [(m, "serialization") for m in RESPONSES],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OKPay hotline: agent and supervisor API",
            "version": "1.0.0",
            "description": (
                "JSON over HTTP. Each request carries `Authorization: Bearer <token>`; tokens are "
                "issued with `flask --app wsgi tokens issue agent <id>` (or `supervisor <name>`) "
                "and stored only as a hash. Agent routes need an agent's token, supervisor routes a "
                'supervisor\'s (403 otherwise). Every error is JSON: `{"error": message}`; an '
                "unknown path under /api is a 404 and a method a path does not serve a 405."
            ),
        },
        "tags": [{"name": "agent"}, {"name": "supervisor"}, {"name": "meta"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": generated["$defs"],
            "responses": {
                name: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
                for name, text in ERRORS.values()
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    """Serve the document (no token needed: it describes the API, not its data)."""
    return jsonify(document())
