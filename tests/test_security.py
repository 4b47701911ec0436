"""The security gaps, closed as a user meets them: callbacks ring only the caller's own numbers,
wrong API tokens are logged and locked out, and signature checks stay on outside a local run.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from flask import Flask

from ivr import keys
from ivr.api.auth import FAILURE_WINDOW_SECONDS, MAX_FAILURES
from ivr.hotline.loader import ConfigError, load_hotline
from ivr.settings import Settings, SettingsError
from tests.test_api import Api, token_for

ROOT = Path(__file__).resolve().parent.parent
SCANNER, CONSOLE = "203.0.113.7", "198.51.100.20"
BASE = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "x" * 20}


# -- callbacks: only the caller's own numbers, or what an operator allows ------------------------


def _hotline_with(tmp_path: Path, allowed: list[str]) -> Path:
    data = yaml.safe_load((ROOT / "hotline.yaml").read_text(encoding="utf-8"))
    data["hotline"]["connect_via"] = "dial"  # these calls are written for the Dial
    data["callbacks"]["allowed_numbers"] = allowed
    shutil.copy(ROOT / "demo_accounts.yaml", tmp_path / "demo_accounts.yaml")
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_numbers_an_operator_allows_are_checked_at_start(tmp_path: Path) -> None:
    """Not E.164, a premium-rate number, a country outbound does not allow: each named at start."""
    with pytest.raises(ConfigError) as caught:
        load_hotline(_hotline_with(tmp_path, ["021 5000 1234"]))
    assert "callbacks.allowed_numbers" in str(caught.value) and "E.164" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_hotline(_hotline_with(tmp_path, ["+862150001234", "+19002345678", "+819012345678"]))
    problems = caught.value.problems
    assert len(problems) == 2
    assert any("callbacks.allowed_numbers.1: not a number type outbound allows" in p for p in problems)
    assert any("callbacks.allowed_numbers.2: not in outbound.countries" in p for p in problems)
    assert load_hotline(_hotline_with(tmp_path, ["+862150001234"])).file.callbacks.allowed_numbers


# -- wrong bearer tokens --------------------------------------------------------------------------


@pytest.fixture
def api(app: Flask) -> Api:
    """The API, each answer checked against the OpenAPI document."""
    return Api(app)


def _from(api: Api, address: str, token: str, path: str = "/api/supervisor/queues") -> Any:
    resp = api.client.get(
        path, headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": address}
    )
    api.check("GET", path, resp)
    return resp


def test_wrong_tokens_are_logged_masked_and_an_address_is_locked_out(
    app: Flask, api: Api, redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    good = token_for(app, "supervisor", "zhang_min")
    guess = "hl_" + "A" * 43
    with caplog.at_level(logging.WARNING, logger="ivr.api"):
        for _ in range(MAX_FAILURES):
            assert _from(api, SCANNER, guess).status_code == 401
    failures = [r.getMessage() for r in caplog.records if "wrong bearer token" in r.getMessage()]
    assert len(failures) == MAX_FAILURES
    assert SCANNER in failures[-1] and f"{MAX_FAILURES} of {MAX_FAILURES}" in failures[-1]
    assert guess not in caplog.text and "A" * 8 not in caplog.text  # never the token, nor a piece of it

    locked = _from(api, SCANNER, guess)
    assert locked.status_code == 429 and "too many wrong tokens" in locked.get_json()["error"]
    assert 1 <= int(locked.headers["Retry-After"]) <= FAILURE_WINDOW_SECONDS
    # Locked out means locked out: a valid token from that address learns nothing either.
    assert _from(api, SCANNER, good).status_code == 429
    # Another client is not affected, and the counter ends with its window.
    assert _from(api, CONSOLE, good).status_code == 200
    assert 0 < redis_conn.ttl(keys.auth_failures(SCANNER)) <= FAILURE_WINDOW_SECONDS
    redis_conn.delete(keys.auth_failures(SCANNER))  # as when the window ends
    assert _from(api, SCANNER, good).status_code == 200


def test_behind_a_trusted_proxy_the_lockout_counts_the_clients_address(
    app_settings: dict[str, Any], redis_conn: redis.Redis
) -> None:
    from ivr import create_app

    app = create_app({**app_settings, "trusted_proxies": 1})
    client = Api(app).client
    good = token_for(app, "supervisor", "zhang_min")
    for _ in range(MAX_FAILURES + 1):
        client.get(
            "/api/supervisor/queues",
            headers={"Authorization": "Bearer wrong", "X-Forwarded-For": SCANNER},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
        )
    assert redis_conn.exists(keys.auth_failures(SCANNER))
    resp = client.get(
        "/api/supervisor/queues",
        headers={"Authorization": f"Bearer {good}", "X-Forwarded-For": CONSOLE},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert resp.status_code == 200  # the proxy itself is not locked out


# -- signature checks stay on outside a local run -----------------------------------------------


@pytest.mark.parametrize(
    ("env", "allowed"),
    [
        ({}, False),  # Twilio's own REST API: a real deployment
        ({"TWILIO_API_BASE_URL": "http://127.0.0.1:7401"}, True),  # the stand-in, no public URL
        ({"TWILIO_API_BASE_URL": "http://[::1]:7401", "PUBLIC_BASE_URL": "http://localhost:8000"}, True),
        (
            {
                "TWILIO_API_BASE_URL": "http://127.0.0.1:7401",
                "PUBLIC_BASE_URL": "https://hotline.example.com",
            },
            False,
        ),
        (
            {"TWILIO_API_BASE_URL": "https://api.twilio.com", "PUBLIC_BASE_URL": "http://127.0.0.1:8000"},
            False,
        ),
        ({"TWILIO_API_BASE_URL": "http://127.0.0.1.example.com:7401"}, False),  # a name, not loopback
        ({"TWILIO_API_BASE_URL": "http://10.1.2.3:7401"}, False),  # a private address is reachable
    ],
)
def test_signature_checks_may_be_switched_off_only_in_a_local_run(env: dict[str, str], allowed: bool) -> None:
    environ = {**BASE, **env, "HOTLINE_VALIDATE_SIGNATURES": "false"}
    if allowed:
        assert Settings.from_env(environ).validate_signatures is False
        return
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    assert str(caught.value).startswith("invalid settings:\n  HOTLINE_VALIDATE_SIGNATURES: may be false only")
    assert Settings.from_env({**BASE, **env}).validate_signatures  # left on, the same settings start
