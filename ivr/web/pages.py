"""The agent desktop (`/agent`) and the supervisors' wallboard (`/wallboard`): pages, sign-in, phone.

Each page shows its sign-in form until the session belongs to the page's role (ivr/api/sessions.py).
Once signed in, the page's script reads its live stream (ivr/web/live.py) and acts through the
same JSON API the console uses (`/api/agent/...`, `/api/supervisor/...`), with the session's CSRF
token in a header. `POST /agent/phone` answers or hangs up on the local stand-in (ivr/web/phone.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from ivr.api.sessions import check_csrf, csrf_token, session_principal, sign_in, sign_out
from ivr.api.tokens import Principal
from ivr.services import services
from ivr.web.labels import LABELS, LOCALES, choose_locale
from ivr.web.phone import ACTIONS, PhoneError, client_identity, phone_for
from ivr.web.softphone import configured as softphone_configured

bp = Blueprint("desk", __name__)

PAGES = {"agent": "desk.agent_page", "supervisor": "desk.wallboard_page"}
REASONS = ("break", "meal", "training", "meeting")
DISPOSITIONS = ("resolved", "escalated", "transferred", "callback_needed", "no_resolution")


@bp.after_request
def _no_framing(resp: Response) -> Response:
    """The pages are never framed nor cached; their scripts come from this hotline only."""
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Cache-Control", "no-store")
    # The softphone talks to Twilio (signalling over wss, the ringtones from the SDK's host).
    twilio = " https://*.twilio.com wss://*.twilio.com" if softphone_configured(services().settings) else ""
    sounds = " https://sdk.twilio.com" if twilio else ""
    resp.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'{twilio}; "
        f"media-src 'self'{sounds}; frame-ancestors 'none'",
    )
    return resp


def _locale(preferred: list[str]) -> str:
    hotline = services()
    return choose_locale(session.get("lang"), [*preferred, *hotline.config.locales])


def _page(role: str, template: str, who: Principal | None, **context: Any) -> str:
    """The page for `role`, or its sign-in form."""
    hotline = services()
    agent = hotline.agents.get(who.subject) if who is not None and role == "agent" else None
    locale = _locale(agent.languages if agent else [])
    common = {
        "t": LABELS[locale],
        "locale": locale,
        "locales": LOCALES,
        "csrf": csrf_token(),
        "role": role,
        "error": request.args.get("error", ""),
    }
    if who is None or who.role != role:
        wrong_role = who is not None
        return render_template("signin.html", wrong_role=wrong_role, **common)
    return render_template(template, who=who, agent=agent, **common, **context)


@bp.get("/agent")
def agent_page() -> ResponseReturnValue:
    """The agent desktop."""
    hotline = services()
    who = session_principal(hotline.stores.data)
    cfg = hotline.config.file
    agent = hotline.agents.get(who.subject) if who is not None and who.role == "agent" else None
    identity = client_identity(agent.reach) if agent else None
    softphone = bool(identity) and softphone_configured(hotline.settings)
    phone = phone_for(hotline.settings) if identity and not softphone else None
    return _page(
        "agent",
        "agent.html",
        who,
        departments={d: dept.names for d, dept in cfg.departments.items()},
        lines=dict(sorted(cfg.specialist_lines.items())),
        reasons=REASONS,
        dispositions=DISPOSITIONS,
        standin_phone=phone is not None,
        softphone=softphone,
        reach=agent.reach if agent else "",
    )


@bp.get("/wallboard")
def wallboard_page() -> ResponseReturnValue:
    """The supervisors' wallboard."""
    hotline = services()
    who = session_principal(hotline.stores.data)
    names = {d: dept.names for d, dept in hotline.config.file.departments.items()}
    return _page("supervisor", "wallboard.html", who, departments=names, reasons=REASONS)


@bp.post("/signin")
def signin() -> ResponseReturnValue:
    """Exchange the token typed into the form for a session; back to the page it came from."""
    check_csrf()
    role = request.form.get("role", "")
    if role not in PAGES:
        abort(400, description="unknown page")
    who = sign_in(services().stores.data, request.form.get("token", "").strip())
    if who is None:
        return redirect(url_for(PAGES[role], error="signin_wrong"), 303)
    if who.role != role:
        return redirect(url_for(PAGES[role], error="signin_role"), 303)
    return redirect(url_for(PAGES[role]), 303)


@bp.post("/signout")
def signout() -> ResponseReturnValue:
    """End the session."""
    check_csrf()
    role = request.form.get("role", "agent")
    sign_out()
    return redirect(url_for(PAGES.get(role, PAGES["agent"])), 303)


@bp.post("/language")
def language() -> ResponseReturnValue:
    """Show the pages in another language (kept in the session)."""
    check_csrf()
    chosen = request.form.get("locale", "")
    if chosen in LABELS:
        session["lang"] = chosen
    role = request.form.get("role", "agent")
    return redirect(url_for(PAGES.get(role, PAGES["agent"])), 303)


@bp.post("/agent/phone")
def phone_action() -> ResponseReturnValue:
    """Register, answer or hang up the agent's phone on the local stand-in; errors in words."""
    hotline = services()
    who = session_principal(hotline.stores.data)
    if who is None or who.role != "agent":
        return jsonify(error="sign in as an agent"), 401
    check_csrf()
    kind = str((request.get_json(silent=True) or {}).get("kind", ""))
    if kind not in ACTIONS:
        return jsonify(error=f"unknown phone action {kind!r}: one of {', '.join(ACTIONS)}"), 400
    agent = hotline.agents.get(who.subject)
    identity = client_identity(agent.reach) if agent else None
    phone = phone_for(hotline.settings)
    if identity is None or phone is None:
        return jsonify(error="no phone to control here: calls ring the agent's own phone"), 409
    try:
        phone.act(identity, kind)
    except PhoneError as exc:
        return jsonify(error=str(exc)), 409
    return jsonify(done=kind)
