"""What every Twilio-facing endpoint shares: the signature check and the never-fail answer.

A caller must never hear Twilio's "application error": whatever goes wrong inside a handler
(Redis down or slow, a bug), the answer is a 200 with valid TwiML that apologises and dials the
overflow number. When Redis cannot be reached (an outage, a failover) the caller is kept on the
line instead, for `hotline.redis_grace_seconds` counted from the first failed request: one short
word in every language, a pause, and the same request again (`ride_out_outage`), its own input
(Digits, DialCallStatus, RecordingUrl, ...) carried in the signed query string so the retry is
handled as the original would have been. A handler may name its own `outage` answer (the hold
loop: the music and the next turn), or `no_caller` for a request no caller waits on (a status
callback: reconciliation with Twilio recovers what it would have written). Only a request that
is not from Twilio gets anything else (403).
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import overload
from urllib.parse import urlencode

import redis
from flask import Response, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import ImmutableMultiDict

from ivr import logs, routes
from ivr.callcenter.calls import CallRecord
from ivr.clock import business_day
from ivr.digits import whole_number
from ivr.phones import mask_phone, to_e164
from ivr.prompts import Language
from ivr.redis_clients import retry_budget
from ivr.services import services
from ivr.store import WEBHOOK_CONNECT_WINDOW
from ivr.urlstate import UrlState
from ivr.voice import twiml

log = logging.getLogger("ivr.voice")

CALL_SID = re.compile(r"CA[0-9a-f]{32}")

Handler = Callable[..., twiml.Document | twiml.Rendered]
# A Flask view: a webhook handler wrapped by `twilio_webhook`.
View = Callable[..., Response]
# What to answer when Redis cannot be reached, or None for the overflow.
Outage = Callable[[], twiml.Document | None]
# Errors that say Redis is out of reach or between primaries (a failover), or that the server
# forgot the scripts (a SCRIPT FLUSH under live connections, which load them again at once:
# ivr/scripts.py), not that a command is wrong: only these are ridden out by an `outage` answer.
UNREACHABLE = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.MasterDownError,
    redis.exceptions.NoScriptError,
)
# The retry of a request that met an outage: since when (Unix s) Redis has been out of reach ...
OUTAGE_SINCE_ARG = "rg"
# ... and the request's own input, each field as `in_<Field>` (the signature covers the query).
CARRIED_PREFIX = "in_"
PLACE_FIELDS = ("City", "State", "Zip", "Country")
# Fields Twilio sends with every request of a call, a <Redirect> included: never carried.
CALL_FIELDS = frozenset(
    {"AccountSid", "ApiVersion", "CallSid", "CallStatus", "CallToken", "Called", "Caller", "Direction"}
    | {"ForwardedFrom", "From", "To", "ParentCallSid", "StirVerstat", "StirPassportToken"}
    | {f"{who}{what}" for who in ("From", "To", "Caller", "Called") for what in PLACE_FIELDS}
)
CARRIED_MAX_CHARS = 600  # per field: longer input (a SpeechResult) is cut where the handler cuts it
OUTAGE_PAUSE_SECONDS = 2


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


class SignedFields(dict[str, str]):
    """The POST fields as twilio's RequestValidator reads them: it asks for `getall` first (a
    MultiDict's), then `getlist`, then falls back to a plain dict, raising and catching an
    AttributeError per field on the way; answering `getall` spares it twenty-odd exceptions."""

    def getall(self, name: str) -> list[str]:
        """The one value of a field, as a list."""
        return [self[name]]


def signature_ok() -> bool:
    """Check X-Twilio-Signature with twilio's RequestValidator.

    First the signature of the URL exactly as requested (twilio's `compute_signature`, one
    HMAC): what Twilio signs, so almost every genuine request stops there. Anything else goes
    through twilio's full `validate`, which also tries the URL with and without its port (and
    checks a JSON body's hash): the same requests pass as with `validate` alone, at a third of
    its cost for the common case.
    """
    hotline = services()
    if not hotline.settings.validate_signatures:
        return True
    validator = RequestValidator(hotline.settings.twilio_auth_token)
    params = SignedFields(request.form.to_dict() if request.method == "POST" else {})
    url, signature = public_url(), request.headers.get("X-Twilio-Signature", "")
    if signature and hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True
    return validator.validate(url, params, signature)


def xml(resp: twiml.Document | twiml.Rendered) -> Response:
    """A TwiML document as Twilio wants it."""
    return Response(twiml.render(resp), status=200, mimetype="text/xml")


def no_caller() -> twiml.Document:
    """An empty answer: the request has no caller to keep (a status callback, an agent's whisper)."""
    return twiml.document()


def restore_carried_input() -> None:
    """A retried request gets back the input its first try carried in the query string."""
    carried = {
        name.removeprefix(CARRIED_PREFIX): value
        for name, value in request.args.items()
        if name.startswith(CARRIED_PREFIX) and name.removeprefix(CARRIED_PREFIX) not in CALL_FIELDS
    }
    missing = {name: value for name, value in carried.items() if name not in request.form}
    if missing:
        request.form = ImmutableMultiDict([*request.form.items(multi=True), *missing.items()])


def retry_url(since: int) -> str:
    """This request's own URL, with the outage's start and the request's input in the query."""
    args = [
        (name, value)
        for name, value in request.args.items(multi=True)
        if name != OUTAGE_SINCE_ARG and not name.startswith(CARRIED_PREFIX)
    ]
    args += [
        (f"{CARRIED_PREFIX}{name}", value[:CARRIED_MAX_CHARS])
        for name, value in request.form.items()
        if name not in CALL_FIELDS and value
    ]
    args.append((OUTAGE_SINCE_ARG, str(since)))
    return f"{base_url()}{request.path}?{urlencode(args)}"


def ride_out_outage() -> twiml.Document | None:
    """Redis out of reach: keep the caller on the line and ask again, while the grace lasts."""
    hotline = services()
    now = int(hotline.clock.now().timestamp())
    first = whole_number(request.args.get(OUTAGE_SINCE_ARG))
    since = min(first or now, now)
    if now - since >= hotline.config.file.hotline.redis_grace_seconds:
        return None  # the outage outlasted the grace: the overflow number
    return twiml.outage_retry(
        hotline.config, retry_url(since), apologise=first is None, pause_seconds=OUTAGE_PAUSE_SECONDS
    )


@overload
def twilio_webhook(handler: Handler, *, outage: Outage | None = None) -> View: ...
@overload
def twilio_webhook(handler: None = None, *, outage: Outage | None = None) -> Callable[[Handler], View]: ...
def twilio_webhook(
    handler: Handler | None = None, *, outage: Outage | None = None
) -> View | Callable[[Handler], View]:
    """Validate the signature, run the handler, and answer with TwiML whatever happens.

    `@twilio_webhook` or `@twilio_webhook(outage=...)`: on Redis out of reach, `outage()`
    (by default `ride_out_outage`) answers instead of the overflow when it returns a document.
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
        logs.bind(reset=True, call_sid=request.form.get("CallSid", "")[:64])
        restore_carried_input()
        try:
            with retry_budget(WEBHOOK_CONNECT_WINDOW):  # one budget for every connect of the request
                return xml(handler(*args, **kwargs))
        except NoCallSid:
            log.warning("%s without a usable CallSid: overflow", request.path)
        except redis.RedisError as exc:
            answer = (outage or ride_out_outage)() if isinstance(exc, UNREACHABLE) else None
            if answer is not None:
                log.error("redis unavailable on %s (%s): the caller stays on the line", request.path, exc)
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


def open_call(sid: str, now: datetime, *, first: bool = False) -> CallRecord:
    """Round trip 1: the call's record, created when Twilio first tells us about the CallSid.

    Creating it needs the caller's number in E.164 (a phonenumbers parse, ~30 us). Only the
    first webhook of a call (`first`: the number's Voice URL) can expect to create it; every
    other URL Twilio requests is one the hotline gave it for a call it has a record of, so those
    read the record (HGETALL) without the parse, and only a record that is gone (expired, or lost
    with Redis) costs the parse and one more round trip to create it again.
    """
    hotline = services()
    if not first:
        found = hotline.calls.load(sid)
        if found is not None:
            return found
    cfg = hotline.config.file
    day = business_day(now, cfg.hotline.timezone)
    raw_from = request.form.get("From", "")
    caller = to_e164(raw_from, cfg.hotline.default_region)
    record = hotline.calls.open(sid, now, day, caller, raw_from, request.form.get("To", ""))
    logs.bind(ref=record.get("ref"), agent=record.get("agent"))
    if record.is_new:
        log.info("call %s from %s: reference %s", sid, mask_phone(caller or raw_from), record.get("ref"))
    return record


def int_field(value: str | None, default: int) -> int:
    """A whole number (ASCII digits) from a form field or query argument, else `default`."""
    number = whole_number(value)
    return default if number is None else number


class NoCallSid(Exception):
    """The request has no CallSid of Twilio's shape: nothing to attach the call to."""


def this_call(now: datetime, *, first: bool = False) -> CallRecord:
    """The request's call record (round trip 1); NoCallSid makes the webhook answer the overflow.

    `first`: the call's first webhook, which creates the record (see `open_call`)."""
    sid = call_sid()
    if sid is None:
        raise NoCallSid
    return open_call(sid, now, first=first)


def language_of(record: CallRecord) -> Language:
    """The caller's language, or the hotline's default before they chose."""
    config = services().config
    return config.languages.get(record.get("lang")) or config.languages[config.locales[0]]
