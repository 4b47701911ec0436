"""What every Twilio-facing endpoint shares: the signature check and the never-fail answer.

A caller must never hear Twilio's "application error": whatever goes wrong inside a handler
(Redis down or slow, a bug), the answer is a 200 with valid TwiML that apologises and dials the
overflow number. A handler may name an `outage` answer instead for when Redis cannot be reached
(the hold loop keeps its callers waiting through a failover). Only a request that is not from
Twilio gets anything else (403).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime

import redis
from flask import Response, request
from twilio.request_validator import RequestValidator

from ivr import routes
from ivr.callcenter.calls import CallRecord
from ivr.clock import business_day
from ivr.digits import whole_number
from ivr.phones import mask_phone, to_e164
from ivr.redis_clients import retry_budget
from ivr.services import services
from ivr.store import WEBHOOK_CONNECT_WINDOW
from ivr.urlstate import UrlState
from ivr.voice import twiml

log = logging.getLogger("ivr.voice")

CALL_SID = re.compile(r"CA[0-9a-f]{32}")

Handler = Callable[..., twiml.Document]
# What to answer when Redis cannot be reached, or None for the overflow.
Outage = Callable[[], twiml.Document | None]
# Errors that say Redis is out of reach or between primaries (a failover), not that a command
# is wrong: only these are ridden out by an `outage` answer.
UNREACHABLE = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.MasterDownError,
)


def public_url() -> str:
    """The URL exactly as Twilio requested it: behind a proxy, rebuilt from PUBLIC_BASE_URL."""
    base = services().settings.public_base_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def base_url() -> str:
    """Where the hotline's own URLs start, as Twilio must call them."""
    base = services().settings.public_base_url
    return base or request.host_url.rstrip("/")


def link(name: str, state: UrlState | None = None, **path_args: str) -> str:
    """The absolute URL of the webhook route `name` (ivr/routes.py) carrying `state`."""
    return routes.url(base_url(), name, state, **path_args)


def signature_ok() -> bool:
    """Check X-Twilio-Signature with twilio's RequestValidator."""
    hotline = services()
    if not hotline.settings.validate_signatures:
        return True
    validator = RequestValidator(hotline.settings.twilio_auth_token)
    params = request.form.to_dict() if request.method == "POST" else {}
    return validator.validate(public_url(), params, request.headers.get("X-Twilio-Signature", ""))


def xml(resp: twiml.Document) -> Response:
    """A TwiML document as Twilio wants it."""
    return Response(str(resp), status=200, mimetype="text/xml")


def twilio_webhook(handler: Handler | None = None, *, outage: Outage | None = None):  # noqa: ANN201
    """Validate the signature, run the handler, and answer with TwiML whatever happens.

    `@twilio_webhook` or `@twilio_webhook(outage=...)`: on a Redis error, `outage()` answers
    instead of the overflow when it returns a document.
    """
    if handler is None:
        return functools.partial(twilio_webhook, outage=outage)

    @functools.wraps(handler)
    def wrapper(*args: object, **kwargs: object) -> Response:
        if not signature_ok():
            # The body may hold a caller's number or keys: log neither.
            log.warning("rejected %s %s: bad X-Twilio-Signature", request.method, request.path)
            return Response("invalid Twilio signature\n", status=403, mimetype="text/plain")
        hotline = services()
        try:
            with retry_budget(WEBHOOK_CONNECT_WINDOW):  # one budget for every connect of the request
                return xml(handler(*args, **kwargs))
        except NoCallSid:
            log.warning("%s without a usable CallSid: overflow", request.path)
        except redis.RedisError as exc:
            answer = outage() if outage is not None and isinstance(exc, UNREACHABLE) else None
            if answer is not None:
                log.error("redis unavailable on %s (%s): the caller stays on hold", request.path, exc)
                return xml(answer)
            log.error("redis unavailable on %s (%s): overflow", request.path, exc)
        except Exception:
            log.exception(
                "webhook %s failed for caller %s: overflow",
                request.path,
                mask_phone(request.form.get("From")),
            )
        return xml(twiml.overflow(hotline.config, None))

    return wrapper


def call_sid() -> str | None:
    """The request's CallSid when it has Twilio's shape, else None."""
    sid = request.form.get("CallSid", "")
    return sid if CALL_SID.fullmatch(sid) else None


def open_call(sid: str, now: datetime) -> CallRecord:
    """Round trip 1: the call's record, created when Twilio first tells us about the CallSid."""
    hotline = services()
    cfg = hotline.config.file
    day = business_day(now, cfg.hotline.timezone)
    raw_from = request.form.get("From", "")
    caller = to_e164(raw_from, cfg.hotline.default_region)
    record = hotline.calls.open(sid, now, day, caller, raw_from, request.form.get("To", ""))
    if record.is_new:
        log.info("call %s from %s: reference %s", sid, mask_phone(caller or raw_from), record.get("ref"))
    return record


def int_field(value: str | None, default: int) -> int:
    """A whole number (ASCII digits) from a form field or query argument, else `default`."""
    number = whole_number(value)
    return default if number is None else number


class NoCallSid(Exception):
    """The request has no CallSid of Twilio's shape: nothing to attach the call to."""


def this_call(now: datetime) -> CallRecord:
    """The request's call record (round trip 1); NoCallSid makes the webhook answer the overflow."""
    sid = call_sid()
    if sid is None:
        raise NoCallSid
    return open_call(sid, now)


def language_of(record: CallRecord):  # noqa: ANN201 - a prompts.Language
    """The caller's language, or the hotline's default before they chose."""
    config = services().config
    return config.languages.get(record.get("lang")) or config.languages[config.locales[0]]
