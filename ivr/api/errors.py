"""Errors under /api and of /metrics: always JSON, `{"error": message}` (and `field` for a bad
request body). `answer_errors_as_json` puts the handlers on a blueprint."""

from __future__ import annotations

import logging
from typing import TypeVar

import redis
from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import BadRequest, HTTPException

from ivr.digits import whole_number

log = logging.getLogger("ivr.api")

# The codes the API answers with; the OpenAPI document describes each.
ERROR_CODES = (400, 401, 403, 404, 405, 409, 429, 500, 503)
# Headers an error keeps from its exception: what to try instead (405), and when again (429).
KEPT_HEADERS = ("Allow", "Retry-After")

M = TypeVar("M", bound=BaseModel)


class BadField(BadRequest):
    """A request body or query parameter the API cannot use, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(description=f"{field}: {message}")
        self.field = field


def parse_body(model: type[M]) -> M:
    """The request's JSON body as `model`, or a 400 naming the first field at fault."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadField("body", "must be a JSON object (Content-Type: application/json)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadField(field, first["msg"].removeprefix("Value error, ")) from None


def query_int(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter (ASCII digits) within [low, high], or a 400 naming it."""
    text = request.args.get(name)
    if text is None:
        return default
    number = whole_number(text)
    if number is None or not low <= number <= high:
        raise BadField(name, f"a whole number from {low} to {high}, not {text[:20]!r}")
    return number


def json_error(exc: Exception) -> tuple[Response, int]:
    """Any error of an API view as JSON; a bug is logged and answered with a bare 500."""
    field = getattr(exc, "field", None)
    if isinstance(exc, HTTPException):
        code, message = exc.code or 500, exc.description or exc.name
    elif isinstance(exc, redis.RedisError):
        code, message = 503, "storage unavailable, try again"
        log.error("redis unavailable on %s: %s", request.path, type(exc).__name__)
    else:
        code, message = 500, "internal error"
        log.exception("API %s %s failed", request.method, request.path)
    body = {"error": message, **({"field": field} if field else {})}
    response = jsonify(body)
    if isinstance(exc, HTTPException):
        for name, value in exc.get_headers():
            if name in KEPT_HEADERS:
                response.headers[name] = value
    if code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotline"'
    return response, code


def answer_errors_as_json(bp: Blueprint) -> None:
    """Every error of `bp`'s views answered by `json_error`: each code the API uses, and any other
    exception (a bug too, even when testing)."""
    for code in ERROR_CODES:
        bp.register_error_handler(code, json_error)
    bp.register_error_handler(Exception, json_error)


def routing_error(exc: HTTPException) -> Response | tuple[Response, int] | HTTPException:
    """404 and 405 raised before a view is chosen: JSON under /api, Flask's own page elsewhere."""
    if request.path == "/api" or request.path.startswith("/api/"):
        return json_error(exc)
    return exc
