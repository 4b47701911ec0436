"""Logging that keeps callers' numbers and account identifiers out of the logs.

Text lines by default; JSON lines (one object a line) with `HOTLINE_LOG_FORMAT=json`, for a log
pipeline. Either way a record carries what the request it came from was about, bound by the
webhook wrapper and the API's authentication (`bind`): the call's SID, its reference number
(masked like any long number) and the agent; the JSON line has them as fields.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

# Any free-standing run of 6 or more digits (a phone number, an account identifier) keeps only
# its last two digits. Runs inside identifiers (a CallSid's hex) are left alone.
_LONG_DIGITS = re.compile(r"(?<![A-Za-z0-9])\+?\d[\d\- ]{4,}\d(?![A-Za-z0-9])")


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _mask(match: re.Match[str]) -> str:
    text = match.group(0)
    if _DATE.fullmatch(text):
        return text  # a date (an API path's 2010-04-01, a log's timestamp), not a number
    digits = [c for c in text if c.isdigit()]
    if len(digits) < 6:
        return text
    return "*" * (len(digits) - 2) + "".join(digits[-2:])


def mask_text(text: str) -> str:
    """`text` with every free-standing run of 6 or more digits masked to its last two."""
    return _LONG_DIGITS.sub(_mask, text)


_TRACEBACKS = logging.Formatter()


class MaskingFilter(logging.Filter):
    """Rewrites every record's message, traceback and stack so that long digit runs are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask, then let the record through."""
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        # A traceback quotes the exception's message and the code's lines (a caller's number in
        # a KeyError, an account in a ValueError): format it now, masked, where every handler's
        # formatter will find it (Formatter.format uses a record's exc_text when it is set).
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


# What the current request (or job) is about: call_sid, ref, agent. Reset by `bind(reset=True)`.
_CONTEXT: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("hotline_log_context", default=())
CONTEXT_FIELDS = ("call_sid", "ref", "agent")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def bind(*, reset: bool = False, **fields: str | None) -> None:
    """Say what the records logged from here on are about (empty values are left out)."""
    current = {} if reset else dict(_CONTEXT.get())
    current.update({k: v for k, v in fields.items() if v})
    _CONTEXT.set(tuple(current.items()))


class ContextFilter(logging.Filter):
    """Copies the bound call SID, reference number and agent onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the fields (masked where they are numbers), then let the record through."""
        for name, value in _CONTEXT.get():
            setattr(record, name, mask_text(value))
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the bound fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON (already masked by MaskingFilter)."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None):
                line[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(self.formatException(record.exc_info))
        if record.exc_text:
            line["traceback"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def configure(level: int = logging.INFO, *, json_lines: bool = False) -> None:
    """Log to stderr with masking on every handler (ours, gunicorn's, rq's), as text or JSON lines."""
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        # Masking first: the context's values and the JSON line are built from masked records.
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        if json_lines:
            handler.setFormatter(JsonLines())
        elif handler.formatter is None or isinstance(handler.formatter, JsonLines):
            handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root.setLevel(level)
    # twilio-python logs every request's headers at INFO: noise, and the URLs hold CallSids.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
