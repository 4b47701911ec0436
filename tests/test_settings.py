"""The process settings (the environment) are checked whole before anything starts: every
problem reported at once, each on its variable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.redis_clients import parse_sentinel_url
from ivr.settings import Settings, SettingsError
from tests.hotline_copies import VALID_ENV, HotlineCopy


@pytest.fixture
def hotline(tmp_path: Path) -> HotlineCopy:
    """A scratch copy of hotline.yaml and demo_accounts.yaml to break."""
    return HotlineCopy.of_shipped(tmp_path)


def _settings_error(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    return str(caught.value)


def test_valid_settings(hotline: HotlineCopy) -> None:
    settings = Settings.from_env(
        {
            **VALID_ENV,
            "PUBLIC_BASE_URL": "https://hotline.example.com/",
            "REDIS_URL": "rediss://cache.example.com:6380/0",
            "HOTLINE_CONFIG": str(hotline.path),
        }
    )

    assert settings.twilio_account_sid == VALID_ENV["TWILIO_ACCOUNT_SID"]
    assert settings.public_base_url == "https://hotline.example.com"
    assert settings.redis_url == "rediss://cache.example.com:6380/0"
    assert settings.hotline_config == hotline.path


def test_missing_token_and_malformed_sid_are_reported_together() -> None:
    message = _settings_error({"TWILIO_ACCOUNT_SID": "AC" + "g" * 32, "TWILIO_AUTH_TOKEN": ""})

    assert message == (
        "invalid settings:\n"
        "  TWILIO_ACCOUNT_SID: must be 'AC' followed by 32 hexadecimal digits\n"
        "  TWILIO_AUTH_TOKEN: must be set"
    )


def test_short_sid_and_missing_token_are_reported_together() -> None:
    message = _settings_error({"TWILIO_ACCOUNT_SID": "AC123"})

    assert message == (
        "invalid settings:\n"
        "  TWILIO_ACCOUNT_SID: String should have at least 34 characters\n"
        "  TWILIO_AUTH_TOKEN: must be set"
    )


@pytest.mark.parametrize("url", ["hotline.example.com", "ftp://hotline.example.com", "https://"])
def test_bad_public_base_url(url: str) -> None:
    assert _settings_error({**VALID_ENV, "PUBLIC_BASE_URL": url}) == (
        "invalid settings:\n  PUBLIC_BASE_URL: must be an http(s) URL such as https://hotline.example.com"
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/0", "127.0.0.1:6379", "memcached://localhost"])
def test_bad_redis_url_scheme(url: str) -> None:
    assert _settings_error({**VALID_ENV, "REDIS_URL": url}) == (
        "invalid settings:\n  REDIS_URL: must start with redis://, rediss://, unix:// or redis+sentinel://"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "redis+sentinel:///hotline",
            "names no sentinel: redis+sentinel://host:26379,host2:26379/mymaster/0",
        ),
        ("redis+sentinel://s1:26379,s2:x/hotline", "sentinel 's2:x' is not host:port"),
        ("redis+sentinel://s1:26379", "must name the service and optionally the database: …/mymaster/0"),
        ("redis+sentinel://s1/hotline/one", "database must be a number, not 'one'"),
        ("redis+sentinel://s1/hotline?password=x", "unknown option 'password' (only sentinel_password)"),
    ],
)
def test_bad_sentinel_url(url: str, problem: str) -> None:
    assert _settings_error({**VALID_ENV, "REDIS_URL": url}) == f"invalid settings:\n  REDIS_URL: {problem}"


def test_sentinel_url_names_the_service_its_sentinels_and_credentials() -> None:
    url = "redis+sentinel://:s3cret@10.0.0.1,10.0.0.2:26380,[::1]:26381/hotline/2?sentinel_password=pw"
    settings = Settings.from_env({**VALID_ENV, "REDIS_URL": url})
    service = parse_sentinel_url(settings.redis_url or "")
    assert service.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381))
    assert (service.service, service.db, service.password, service.sentinel_password) == (
        "hotline",
        2,
        "s3cret",
        "pw",
    )
    assert "s3cret" not in service.describe() and "pw" not in service.describe()


def test_hotline_config_pointing_to_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "hotline-prod.yaml"

    assert _settings_error({**VALID_ENV, "HOTLINE_CONFIG": str(missing)}) == (
        f"invalid settings:\n  HOTLINE_CONFIG: no such file: {missing}"
    )


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("HOTLINE_SECRET_KEY", "x" * 15, "String should have at least 16 characters"),
        ("HOTLINE_PUSH_STREAMS", "0", "Input should be greater than or equal to 1"),
        ("HOTLINE_TRUSTED_PROXIES", "6", "Input should be less than or equal to 5"),
        ("HOTLINE_REAPER_SECONDS", "0", "Input should be greater than 0"),
        ("TWILIO_TWIML_APP_SID", "AP" + "1" * 31, "String should match pattern '^AP[0-9a-fA-F]{32}$'"),
        ("TWILIO_TWIML_APP_SID", "AC" + "1" * 32, "String should match pattern '^AP[0-9a-fA-F]{32}$'"),
    ],
)
def test_an_out_of_range_setting_is_refused_by_name(variable: str, value: str, problem: str) -> None:
    assert _settings_error({**VALID_ENV, variable: value}) == f"invalid settings:\n  {variable}: {problem}"
