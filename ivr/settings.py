"""Process settings from the environment, under the names Twilio and Redis users already know."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ivr.redis_clients import is_sentinel_url, parse_sentinel_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOTLINE_CONFIG = PROJECT_ROOT / "hotline.yaml"
DEFAULT_DATA_DIR = PROJECT_ROOT / ".hotline-data"

# Environment variable -> settings field.
ENV_NAMES = {
    "TWILIO_ACCOUNT_SID": "twilio_account_sid",
    "TWILIO_AUTH_TOKEN": "twilio_auth_token",
    "TWILIO_API_BASE_URL": "twilio_api_base_url",
    "PUBLIC_BASE_URL": "public_base_url",
    "REDIS_URL": "redis_url",
    "HOTLINE_CONFIG": "hotline_config",
    "HOTLINE_DATA_DIR": "data_dir",
    "HOTLINE_VALIDATE_SIGNATURES": "validate_signatures",
    "HOTLINE_TRUSTED_PROXIES": "trusted_proxies",
    "HOTLINE_REAPER_SECONDS": "reaper_seconds",
    "HOTLINE_SECRET_KEY": "secret_key",
    "HOTLINE_PUSH_STREAMS": "push_streams",
    "HOTLINE_LOG_FORMAT": "log_format",
    "TWILIO_API_KEY": "twilio_api_key",
    "TWILIO_API_SECRET": "twilio_api_secret",
    "TWILIO_TWIML_APP_SID": "twilio_twiml_app_sid",
}
FIELD_TO_ENV = {field: env for env, field in ENV_NAMES.items()}


def is_loopback_url(url: str) -> bool:
    """True for an http(s) URL whose host is localhost or a loopback address (127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the environment variable."""


class Settings(BaseModel):
    """What one web or worker process needs to know before it reads the hotline file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    twilio_account_sid: str = Field(min_length=34, max_length=34)
    twilio_auth_token: str = Field(min_length=8)
    twilio_api_base_url: str = "https://api.twilio.com"
    public_base_url: str | None = None
    redis_url: str | None = None
    hotline_config: Path = DEFAULT_HOTLINE_CONFIG
    data_dir: Path = DEFAULT_DATA_DIR
    # Off only in a local run (see `_checks_off_only_locally`): never where Twilio can reach us.
    validate_signatures: bool = True
    # Reverse proxies in front of the web process that append to X-Forwarded-For: the API's
    # wrong-token lockout counts per client address, which is otherwise the proxy's.
    trusted_proxies: int = Field(default=0, ge=0, le=5)
    # How often each worker's reaper passes (beat, lease, expired holds): see queue_worker/reaper.py.
    reaper_seconds: float = Field(default=3.0, gt=0, le=60)
    # Signs the agent desktop's and wallboard's session cookies; unset, it is derived from the auth
    # token (every process of a deployment has that one), so sessions survive restarts.
    secret_key: str | None = Field(default=None, min_length=16)
    # Live pages (agent desktops, wallboards) one web process streams to at once: each holds a
    # gunicorn thread, so this must stay under the threads a process has, leaving some for Twilio.
    push_streams: int = Field(default=24, ge=1, le=10_000)
    # Log lines as text, or as JSON objects (one a line) for a log pipeline (ivr/logs.py).
    log_format: Literal["text", "json"] = "text"
    # The agent desktop's softphone (Twilio's Voice JavaScript SDK, ivr/web/softphone.py): an API
    # key and its secret sign the access tokens; the TwiML app, if set, is the one the browser's
    # outgoing calls use. Without the key and secret, agents' `reach` rings instead.
    twilio_api_key: str | None = Field(default=None, pattern=r"^SK[0-9a-fA-F]{32}$")
    twilio_api_secret: str | None = Field(default=None, min_length=32, validate_default=True)
    twilio_twiml_app_sid: str | None = Field(default=None, pattern=r"^AP[0-9a-fA-F]{32}$")

    @field_validator("twilio_account_sid")
    @classmethod
    def _sid_shape(cls, value: str) -> str:
        if not re.fullmatch(r"AC[0-9a-fA-F]{32}", value):
            raise ValueError("must be 'AC' followed by 32 hexadecimal digits")
        return value

    @field_validator("twilio_api_base_url", "public_base_url")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an http(s) URL such as https://hotline.example.com")
        return value.rstrip("/")

    @field_validator("validate_signatures")
    @classmethod
    def _checks_off_only_locally(cls, value: bool, info: ValidationInfo) -> bool:
        """Switching signature checks off is refused anywhere Twilio (or anyone) could reach us.

        The rule: PUBLIC_BASE_URL unset or on a loopback host, and TWILIO_API_BASE_URL a stand-in
        on a loopback host. A real deployment needs a public URL for Twilio's webhooks and Twilio's
        own REST API for redirects and callbacks, so it cannot meet both.
        """
        if value:
            return value
        public = info.data.get("public_base_url")
        api = info.data.get("twilio_api_base_url")
        if (public and not is_loopback_url(public)) or not (api and is_loopback_url(api)):
            raise ValueError(
                "may be false only in a local run: PUBLIC_BASE_URL unset or on a loopback host, "
                "and TWILIO_API_BASE_URL a stand-in on a loopback host"
            )
        return value

    @field_validator("twilio_api_secret")
    @classmethod
    def _secret_with_its_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A key without its secret (or the reverse) cannot sign a token: say so at start."""
        if bool(value) != bool(info.data.get("twilio_api_key")):
            raise ValueError("set together with TWILIO_API_KEY (the key's secret), or neither")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_shape(cls, value: str | None) -> str | None:
        if value and is_sentinel_url(value):
            parse_sentinel_url(value)  # a ValueError names what is wrong
        elif value and not re.match(r"(redis|rediss|unix)://", value):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
        return value or None

    @field_validator("hotline_config")
    @classmethod
    def _config_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from the environment; every problem is reported at once by name."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[env] for env, field in ENV_NAMES.items() if environ.get(env, "") != ""
        }
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Build settings from field names (tests) and translate errors to variable names."""
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                name = FIELD_TO_ENV.get(field, field)
                message = "must be set" if err["type"] == "missing" else err["msg"]
                problems.append(f"{name}: {message.removeprefix('Value error, ')}")
            raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
