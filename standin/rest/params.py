"""The request parameters of Twilio's REST API as the stand-in reads and checks them, and its errors.

``ApiError`` is a request Twilio would refuse; raised from a route, it becomes Twilio's JSON
error body (``code``, ``message``, ``more_info``, ``status``). The readers below take a form and
raise it with the error code Twilio gives for that parameter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from flask import Response, jsonify, request
from werkzeug.datastructures import MultiDict

__all__ = [
    "CALL_EVENTS",
    "ApiError",
    "call_events",
    "check_dialable",
    "filtered",
    "flag_param",
    "instructions",
    "is_e164_number",
    "maybe_flag",
    "method_or_none",
    "method_param",
    "not_found",
    "timeout_seconds",
    "to_and_from",
    "url_param",
]

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")


class ApiError(Exception):
    """A request Twilio would refuse, with the HTTP status and Twilio error code it would give."""

    def __init__(self, status: int, code: int, message: str) -> None:
        """``code`` is Twilio's (https://www.twilio.com/docs/errors/<code>)."""
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        """The error as Twilio's JSON body."""
        more_info = f"https://www.twilio.com/docs/errors/{self.code}"
        body = {"code": self.code, "message": self.message, "more_info": more_info, "status": self.status}
        answer = jsonify(body)
        answer.status_code = self.status
        if self.status == 401:
            answer.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return answer


def is_e164_number(number: str) -> bool:
    """Whether ``number`` is a valid phone number written in E.164 (``+8613800138000``)."""
    if not re.fullmatch(r"\+[1-9]\d{1,14}", number):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def _dialable(to: str) -> bool:
    """A call's To: an E.164 number, ``client:name`` or a ``sip:user@host`` address."""
    if to.startswith("client:"):
        return bool(re.fullmatch(r"client:[A-Za-z0-9_.\-]+", to))
    if to.startswith("sip:"):
        return bool(re.fullmatch(r"sip:[^@\s]+@[^@\s]+", to))
    return is_e164_number(to)


def check_dialable(to: str) -> None:
    """Refuse a To that cannot be called (error 21211)."""
    if not _dialable(to):
        raise ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")


def not_found() -> ApiError:
    """Twilio's 404 for the resource this request names."""
    return ApiError(404, 20404, f"The requested resource {request.path} was not found")


def to_and_from(form: MultiDict[str, str]) -> tuple[str, str]:
    """A new call's ``To`` and ``From``, both required."""
    to, from_ = form.get("To", ""), form.get("From", "")
    if not to:
        raise ApiError(400, 21201, "No 'To' number is specified")
    if not from_:
        raise ApiError(400, 21213, "No 'From' number is specified")
    return to, from_


def call_events(form: MultiDict[str, str]) -> list[str]:
    """The progress events a new call's ``StatusCallbackEvent`` asks for (space-separated or repeated)."""
    events = [event for value in form.getlist("StatusCallbackEvent") for event in value.split()]
    if not set(events) <= set(CALL_EVENTS):
        raise ApiError(400, 20001, f"StatusCallbackEvent must be among {', '.join(CALL_EVENTS)}")
    return events


def timeout_seconds(form: MultiDict[str, str], shortest: int) -> int:
    """How long a new call may ring: ``Timeout``, 60 by default, from ``shortest`` to 600 seconds."""
    timeout = form.get("Timeout", "60")
    if not (timeout.isascii() and timeout.isdigit()) or not shortest <= int(timeout) <= 600:
        raise ApiError(
            400, 20001, f"Timeout must be a whole number of seconds, {shortest} to 600: {timeout!r}"
        )
    return int(timeout)


def filtered(items: list[dict[str, Any]], filters: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """The items whose fields match the list filters this request gives: ``(field, query argument)``."""
    wanted = {key: request.args[arg] for key, arg in filters if arg in request.args}
    return [item for item in items if all(item[key] == value for key, value in wanted.items())]


def url_param(form: MultiDict[str, str], name: str, code: int) -> str | None:
    """An optional absolute http(s) URL parameter."""
    value = form.get(name) or None
    if value is not None and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc):
        raise ApiError(400, code, f"{name} is not a valid URL: {value}")
    return value


def method_param(form: MultiDict[str, str], name: str) -> str:
    """An HTTP method parameter Twilio uses for a URL: GET or POST (the default)."""
    method = (form.get(name) or "POST").upper()
    if method not in ("GET", "POST"):
        raise ApiError(400, 20001, f"{name} must be GET or POST, not {form.get(name)!r}")
    return method


def instructions(form: MultiDict[str, str]) -> tuple[str | None, str, str | None]:
    """``(Url, Method, Twiml)``; the stand-in refuses Url and Twiml together, where Twilio picks one."""
    url, twiml = url_param(form, "Url", 21205), form.get("Twiml") or None
    if url and twiml:
        raise ApiError(400, 21205, "Url and Twiml are mutually exclusive")
    return url, method_param(form, "Method"), twiml


def flag_param(form: MultiDict[str, str], name: str, default: bool = False) -> bool:
    """A true/false parameter: Twilio reads anything but ``true`` as false."""
    return form[name].lower() == "true" if name in form else default


def maybe_flag(form: MultiDict[str, str], name: str) -> bool | None:
    """A true/false parameter, or None when the request leaves it as it is."""
    return flag_param(form, name) if name in form else None


def method_or_none(form: MultiDict[str, str], name: str) -> str | None:
    """An HTTP method parameter, or None when the request leaves it as it is."""
    return method_param(form, name) if name in form else None
