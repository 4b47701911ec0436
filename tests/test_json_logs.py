"""JSON-lines logs: each line an object with the call's SID, its reference (masked) and the agent.

A whole call through the webhooks logs its reference line with the call's fields; an error's
traceback is in the line, masked like the message; a bad HOTLINE_LOG_FORMAT stops the start.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask

from ivr import keys, logs
from ivr.settings import Settings, SettingsError
from standin.phone import Call
from tests.test_api import payments_caller


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The product's loggers also write JSON lines to a buffer, as `HOTLINE_LOG_FORMAT=json` sets up."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(logs.MaskingFilter())
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonLines())
    product = logging.getLogger("ivr")
    product.addHandler(handler)
    yield buffer
    product.removeHandler(handler)


def lines(buffer: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_calls_lines_carry_its_sid_and_masked_reference(
    app: Flask, dial: Callable[..., Call], redis_conn: redis.Redis, json_lines: io.StringIO
) -> None:
    caller = payments_caller(dial)
    ref = redis_conn.hget(keys.call(caller.call_sid), "ref")
    assert ref
    opened = next(line for line in lines(json_lines) if line["message"].startswith("call "))
    assert (
        opened["call_sid"] == caller.call_sid
        and opened["level"] == "INFO"
        and opened["logger"] == "ivr.voice"
    )
    assert opened["ref"] == "*" * 10 + ref[-2:] and ref not in json_lines.getvalue()
    assert "13800138000" not in json_lines.getvalue()  # the caller's number, masked as in text logs


def test_a_traceback_is_in_the_line_and_masked(json_lines: io.StringIO) -> None:
    logs.bind(reset=True, call_sid="CA" + "a" * 32, agent="li_na")
    try:
        raise KeyError("+8613800138000")
    except KeyError:
        logging.getLogger("ivr.test").exception("lookup failed for 6222000017")
    logs.bind(reset=True)
    (line,) = lines(json_lines)
    assert line["message"] == "lookup failed for ********17" and line["agent"] == "li_na"
    assert "KeyError" in line["traceback"] and "8613800138000" not in line["traceback"]


def test_the_format_setting_is_checked() -> None:
    base = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "x" * 16}
    assert Settings.from_mapping({**base, "log_format": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match="HOTLINE_LOG_FORMAT"):
        Settings.from_mapping({**base, "log_format": "xml"})
