"""Logging that keeps callers' numbers and account identifiers out of the logs."""

from __future__ import annotations

import logging
import re

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


def configure(level: int = logging.INFO) -> None:
    """Log to stderr with masking on every handler (ours, gunicorn's, rq's)."""
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(stderr)
    for handler in root.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
    root.setLevel(level)
    # twilio-python logs every request's headers at INFO: noise, and the URLs hold CallSids.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
