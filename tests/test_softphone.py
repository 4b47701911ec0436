"""The softphone's access token and the page that registers Twilio's Voice SDK with it.

The token is checked as Twilio would: signed with the API key's secret, for the account, with a
VoiceGrant for `client:<agent>` (incoming allowed, outgoing through the TwiML app). No Twilio is
reachable here, so the Device's registration itself is not exercised.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from flask import Flask

from ivr import create_app
from ivr.clock import FixedClock
from ivr.settings import SettingsError
from ivr.web import softphone
from tests.test_api import token_for
from tests.test_desk_pages import sign_in

API_KEY = "SK" + "a" * 32
API_SECRET = "s" * 32  # a Twilio API key secret is 32 characters
TWIML_APP = "AP" + "b" * 32


@pytest.fixture
def phone_app(app_settings: dict[str, Any], redis_conn: object, clock: FixedClock) -> Flask:
    settings = {**app_settings, "twilio_api_key": API_KEY, "twilio_api_secret": API_SECRET}
    return create_app({**settings, "twilio_twiml_app_sid": TWIML_APP}, clock=clock)


def test_a_signed_in_agent_gets_a_voice_token_for_their_client(phone_app: Flask) -> None:
    client = phone_app.test_client()
    assert client.get("/agent/voice-token").status_code == 401
    page = sign_in(client, token_for(phone_app, "agent", "li_na"))
    assert 'src="/vendor/twilio.min.js"' in page and 'id="mute"' in page
    resp = client.get("/agent/voice-token")
    assert resp.status_code == 200 and resp.get_json()["identity"] == "li_na"
    claims = jwt.decode(resp.get_json()["token"], API_SECRET, algorithms=["HS256"])
    assert claims["iss"] == API_KEY and claims["sub"] == "AC" + "1" * 32
    assert claims["grants"]["identity"] == "li_na"
    voice = claims["grants"]["voice"]
    assert voice["incoming"]["allow"] is True and voice["outgoing"]["application_sid"] == TWIML_APP
    assert claims["exp"] - claims["nbf"] == softphone.TOKEN_SECONDS
    policy = client.get("/agent").headers["Content-Security-Policy"]
    assert "wss://*.twilio.com" in policy and "https://sdk.twilio.com" in policy


def test_no_softphone_without_the_key(app: Flask) -> None:
    client = app.test_client()
    page = sign_in(client, token_for(app, "agent", "li_na"))
    assert "twilio.min.js" not in page
    assert client.get("/agent/voice-token").status_code == 404
    assert "twilio.com" not in client.get("/agent").headers["Content-Security-Policy"]


def test_a_key_without_its_secret_stops_the_start(app_settings: dict[str, Any]) -> None:
    with pytest.raises(SettingsError, match="TWILIO_API_SECRET: .*TWILIO_API_KEY"):
        create_app({**app_settings, "twilio_api_key": API_KEY})


def test_the_sdk_is_served_from_the_npm_package_or_said_missing(
    phone_app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    build = tmp_path / "twilio.min.js"
    build.write_text("/* the SDK */")
    monkeypatch.setattr(softphone, "VOICE_SDK", build)
    resp = phone_app.test_client().get("/vendor/twilio.min.js")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "/* the SDK */"
    monkeypatch.setattr(softphone, "VOICE_SDK", tmp_path / "missing.js")
    resp = phone_app.test_client().get("/vendor/twilio.min.js")
    assert resp.status_code == 404 and "make softphone" in resp.get_data(as_text=True)
