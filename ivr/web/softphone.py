"""The agent desktop's softphone: Twilio's Voice JavaScript SDK, registered as `client:<agent>`.

With `TWILIO_API_KEY` and `TWILIO_API_SECRET` set, an agent whose `reach` is `client:<id>` gets
a short-lived access token from `GET /agent/voice-token` (a `VoiceGrant` allowing incoming calls,
and outgoing ones through `TWILIO_TWIML_APP_SID` when set), and the page registers a Twilio
`Device` with it: the hotline's `<Dial><Client>` then rings in the browser, where the agent
answers, mutes and hangs up. The SDK is the npm package `@twilio/voice-sdk` (Apache-2.0),
pinned in package.json and installed by `make softphone` into node_modules/ (not committed);
`/vendor/twilio.min.js` serves its build.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify, send_file
from flask.typing import ResponseReturnValue
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from ivr.api.sessions import session_principal
from ivr.services import services
from ivr.settings import Settings
from ivr.web.phone import client_identity

bp = Blueprint("softphone", __name__)

TOKEN_SECONDS = 3600  # the page asks for a new one before it expires (the SDK's tokenWillExpire)
VOICE_SDK = (
    Path(__file__).resolve().parents[2] / "node_modules" / "@twilio" / "voice-sdk" / "dist" / "twilio.min.js"
)


def configured(settings: Settings) -> bool:
    """Whether the hotline can issue softphone tokens."""
    return bool(settings.twilio_api_key and settings.twilio_api_secret)


def voice_token(settings: Settings, identity: str, ttl: int = TOKEN_SECONDS) -> str:
    """An access token for `client:<identity>`: incoming calls, and outgoing through the TwiML app."""
    if not (settings.twilio_api_key and settings.twilio_api_secret):
        raise ValueError("TWILIO_API_KEY and TWILIO_API_SECRET are not set")
    token = AccessToken(
        settings.twilio_account_sid,
        settings.twilio_api_key,
        settings.twilio_api_secret,
        identity=identity,
        ttl=ttl,
    )
    token.add_grant(VoiceGrant(outgoing_application_sid=settings.twilio_twiml_app_sid, incoming_allow=True))
    return token.to_jwt()


@bp.get("/agent/voice-token")
def token() -> ResponseReturnValue:
    """The signed-in agent's softphone token; 404 when there is no softphone for them."""
    hotline = services()
    who = session_principal(hotline.stores.data)
    if who is None or who.role != "agent":
        return jsonify(error="sign in as an agent"), 401
    agent = hotline.agents.get(who.subject)
    identity = client_identity(agent.reach) if agent else None
    if not configured(hotline.settings) or identity is None:
        return jsonify(error="no softphone here: TWILIO_API_KEY and TWILIO_API_SECRET are not set, "
                       "or the agent is reached at a number"), 404  # fmt: skip
    return jsonify(token=voice_token(hotline.settings, identity), identity=identity, expires_in=TOKEN_SECONDS)


@bp.get("/vendor/twilio.min.js")
def sdk() -> ResponseReturnValue:
    """The Voice SDK's build, from the npm package `make softphone` installed."""
    if not VOICE_SDK.is_file():
        abort(404, description="the Voice SDK is not installed: run `make softphone`")
    return send_file(VOICE_SDK, mimetype="text/javascript", max_age=3600)
