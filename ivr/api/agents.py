"""The agent's API: their state, heartbeat, current call (screen pop), transfer and wrap-up.

Every route needs an agent's token, and acts on that agent only: a call is readable or
writable by the agent whose current (or last) call it is, and by no one else (403).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from ivr import keys, routes
from ivr.api.auth import principal, require
from ivr.api.errors import BadField, parse_body
from ivr.api.schemas import (
    API_STATE,
    AgentMe,
    ConsultRequest,
    ConsultResult,
    HeartbeatAck,
    HoldRequest,
    HoldResult,
    RecordingRequest,
    RecordingState,
    ScreenPop,
    StateChange,
    StateChanged,
    TransferRequest,
    TransferResult,
    WrapUpRequest,
    WrapUpResult,
)
from ivr.callcenter.agents import OFFLINE, ON_CALL, READY, RINGING, WRAP_UP, AgentView, StateConflict
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.notes import WrapUpRefused, notes_of, written_by
from ivr.callcenter.rooms import RoomRefused
from ivr.callcenter.screenpop import screen_pop
from ivr.callcenter.transfers import TransferRefused
from ivr.digits import is_digits
from ivr.redis_types import text_or_none
from ivr.services import services

bp = Blueprint("agent_api", __name__, url_prefix="/agent")

# States in which the agent has a current call (its screen pop is at GET /call).
WITH_CALL = (RINGING, ON_CALL, WRAP_UP)


def _me() -> AgentView:
    """The agent the token was issued to; 401 if they were removed since."""
    agent = services().agents.get(principal().subject)
    if agent is None:
        abort(401, description="the agent of this token no longer exists")
    return agent


def _ref(call_sid: str) -> str | None:
    """The reference number of a call, if its record is still there."""
    return text_or_none(services().stores.data.hget(keys.call(call_sid), "ref")) if call_sid else None


def _own_call(agent: AgentView, ref: str) -> CallRecord:
    """The call with reference `ref`: 404 if unknown, 403 unless it is the agent's current or last."""
    sid = text_or_none(services().stores.data.get(keys.reference(ref))) if is_digits(ref) else None
    record = services().calls.load(sid) if sid else None
    if record is None:
        abort(404, description=f"no call with reference {ref}")
    if sid != agent.call_sid:
        abort(403, description="this call is not yours")
    return record


def _current_call(agent: AgentView) -> CallRecord:
    """The agent's current call: 404 when they have none."""
    record = services().calls.load(agent.call_sid) if agent.call_sid and agent.state in WITH_CALL else None
    if record is None:
        abort(404, description=f"no current call (agent is {agent.state})")
    return record


@bp.get("/me")
@require("agent")
def me() -> dict[str, Any]:
    """The agent's state, since when, and why (not ready)."""
    agent, now = _me(), services().clock.now()
    return AgentMe(
        id=agent.id,
        name=agent.name,
        state=API_STATE[agent.state],
        since=agent.state_since,
        seconds_in_state=max(int((now - agent.state_since).total_seconds()), 0),
        reason=agent.reason,
        departments=agent.departments,
        languages=agent.languages,
        call=_ref(agent.call_sid),
    ).model_dump(mode="json")


@bp.route("/state", methods=["PUT", "POST"])
@require("agent")
def change_state() -> dict[str, Any]:
    """Ready, not ready (with a reason) or offline; 409 when the agent's state does not allow it."""
    body = parse_body(StateChange)
    hotline, agent = services(), _me()
    now = hotline.clock.now()
    try:
        previous = hotline.agents.choose(agent.id, body.state, now, body.reason)
    except StateConflict as exc:
        abort(409, description=str(exc))
    if body.state == OFFLINE:  # a console that said goodbye is not "silent": nothing to sweep
        hotline.stores.data.zrem(keys.agent_heartbeats(), agent.id)
    else:  # choosing a state is a sign of life; without it a console that never beats stays ready
        hotline.agents.heartbeat(agent.id, now)
    if body.state == READY:
        hotline.jobs.match_agent(None, agent.id)
    return StateChanged(state=body.state, previous=API_STATE[previous], since=now).model_dump(mode="json")


@bp.post("/heartbeat")
@require("agent")
def heartbeat() -> dict[str, Any]:
    """The console is alive; one that stays silent too long is taken offline by the sweeper."""
    hotline, agent = services(), _me()
    if agent.state != OFFLINE:  # an offline agent has nothing to keep alive
        hotline.agents.heartbeat(agent.id, hotline.clock.now())
    timeout = hotline.config.file.hotline.heartbeat_timeout_seconds
    return HeartbeatAck(state=API_STATE[agent.state], timeout_seconds=timeout).model_dump(mode="json")


@bp.get("/call")
@require("agent")
def current_call() -> dict[str, Any]:
    """The screen pop of the agent's current call (ringing, talking or wrapping up)."""
    record = _current_call(_me())
    return _pop(record)


@bp.get("/calls/<ref>")
@require("agent")
def call_by_reference(ref: str) -> dict[str, Any]:
    """The screen pop of a call by its reference number, if it is the agent's current or last."""
    return _pop(_own_call(_me(), ref))


def _pop(record: CallRecord) -> dict[str, Any]:
    """A call's screen pop as the API answers it."""
    hotline = services()
    return ScreenPop.model_validate(screen_pop(hotline.stores.data, record, hotline.clock.now())).model_dump(
        mode="json"
    )


@bp.post("/call/transfer")
@require("agent")
def transfer() -> dict[str, Any]:
    """Send the caller to another department (keeping their place) or to an outside number."""
    body = parse_body(TransferRequest)
    hotline, agent = services(), _me()
    if (body.department is None) == (body.number is None):
        raise BadField("department", "give a department or a number (one of them)")
    if body.department is not None and body.department not in hotline.config.file.departments:
        raise BadField("department", f"no department {body.department!r}")
    lines = hotline.config.file.specialist_lines
    if body.number is not None and body.number not in lines.values():
        raise BadField(
            "number", f"not a specialist line of the hotline (one of: {', '.join(lines) or 'none'})"
        )
    if body.ref is not None:
        _own_call(agent, body.ref)
    transfers, now = hotline.transfers, hotline.clock.now()
    try:
        if body.department is not None:
            done = transfers.to_department(agent.id, body.department, body.notes, now)
        else:
            done = transfers.to_number(agent.id, body.number or "", body.notes, now)
    except TransferRefused as exc:
        abort(409, description=str(exc))
    return TransferResult(
        ref=done.ref,
        department=done.department or None,
        number=done.number or None,
        redirected=done.redirected,
        agent_state=API_STATE[_me().state],
    ).model_dump(mode="json")


@bp.post("/call/hold")
@require("agent")
def hold() -> dict[str, Any]:
    """Hold the caller (music; neither hears the other) or take them back: a call in a room only."""
    body = parse_body(HoldRequest)
    hotline, agent = services(), _me()
    if body.ref is not None:
        _own_call(agent, body.ref)
    record = _current_call(agent)
    if agent.state != ON_CALL or record.get("status") != CallStatus.ON_CALL:
        abort(409, description=f"agent is {agent.state}: no caller to hold")
    music = routes.url(_base(), "room_wait")
    try:
        hotline.rooms.hold(record, body.hold, music)
    except RoomRefused as exc:
        abort(409, description=str(exc))
    return HoldResult(ref=record.get("ref"), on_hold=body.hold).model_dump(mode="json")


def _base() -> str:
    return services().settings.public_base_url or request.host_url.rstrip("/")


@bp.post("/call/consult")
@require("agent")
def consult() -> dict[str, Any]:
    """Warm transfer: hold the caller and ring the agent (or specialist line) to consult into the room."""
    body = parse_body(ConsultRequest)
    hotline, agent = services(), _me()
    if sum(given is not None for given in (body.agent, body.department, body.line)) != 1:
        raise BadField("agent", "give an agent, a department or a specialist line (one of them)")
    if body.department is not None and body.department not in hotline.config.file.departments:
        raise BadField("department", f"no department {body.department!r}")
    if body.line is not None and body.line not in hotline.config.file.specialist_lines:
        raise BadField("line", f"no specialist line {body.line!r} (hotline.yaml specialist_lines)")
    if body.agent is not None and hotline.agents.get(body.agent) is None:
        raise BadField("agent", f"no agent {body.agent!r}")
    if body.ref is not None:
        _own_call(agent, body.ref)
    _current_call(agent)
    try:
        done = hotline.consults.start(
            agent.id,
            hotline.clock.now(),
            _base(),
            target=body.agent or "",
            department=body.department or "",
            line=body.line or "",
        )
    except RoomRefused as exc:
        abort(409, description=str(exc))
    return ConsultResult(ref=done.ref, agent=done.agent, state=done.state).model_dump(mode="json")


@bp.post("/call/consult/complete")
@require("agent")
def consult_complete() -> dict[str, Any]:
    """Complete the warm transfer: the consulted agent keeps the caller, this agent wraps up."""
    return _consult_end(complete=True)


@bp.post("/call/consult/cancel")
@require("agent")
def consult_cancel() -> dict[str, Any]:
    """Cancel the consultation: the consulted agent leaves, the caller is back off hold."""
    return _consult_end(complete=False)


def _consult_end(*, complete: bool) -> dict[str, Any]:
    hotline, agent = services(), _me()
    _current_call(agent)
    consults, now = hotline.consults, hotline.clock.now()
    try:
        done = (
            consults.complete(agent.id, now, _base()) if complete else consults.cancel(agent.id, now, _base())
        )
    except RoomRefused as exc:
        abort(409, description=str(exc))
    return ConsultResult(ref=done.ref, agent=done.agent, state=done.state).model_dump(mode="json")


@bp.post("/call/recording")
@require("agent")
def pause_recording() -> dict[str, Any]:
    """Pause the conversation's recording (a card number, a password) or resume it."""
    body = parse_body(RecordingRequest)
    hotline, agent = services(), _me()
    record = _current_call(agent)
    if agent.state != ON_CALL:
        abort(409, description=f"agent is {agent.state}: no conversation being recorded")
    try:
        hotline.rooms.pause_recording(record, body.paused)
    except RoomRefused as exc:
        abort(409, description=str(exc))
    return RecordingState(
        ref=record.get("ref"), recording="paused" if body.paused else "in-progress"
    ).model_dump(mode="json")


@bp.post("/call/wrapup")
@require("agent")
def wrap_up() -> dict[str, Any]:
    """File wrap-up notes and a disposition on the agent's current call (on it, or wrapping it up)."""
    body = parse_body(WrapUpRequest)
    hotline, agent = services(), _me()
    record = _own_call(agent, body.ref) if body.ref is not None else None
    sid = record.sid if record else agent.call_sid
    if not sid:
        abort(404, description="no call to wrap up")
    wrapups = hotline.wrapups
    try:
        wrapups.file(agent.id, sid, body.notes, body.disposition, hotline.clock.now())
    except WrapUpRefused as exc:
        abort(409, description=str(exc))
    filed = hotline.calls.load(sid) or CallRecord(sid, {})
    return WrapUpResult(
        ref=filed.get("ref"),
        disposition=body.disposition,
        notes=len(notes_of(filed)),
        your_notes=written_by(filed, agent.id),
    ).model_dump(mode="json")
