"""Phone numbers: normalising caller IDs to E.164 and masking them for logs."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str | None, default_region: str) -> str | None:
    """The number in E.164, or None for anonymous, client:, sip: and unparseable caller IDs."""
    if not raw:
        return None
    text = raw.strip()
    if text.lower().startswith(("client:", "sip:")) or text.lower() in {
        "anonymous",
        "restricted",
        "unknown",
        "blocked",
    }:
        return None
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_valid_e164(number: str) -> bool:
    """True when `number` is a valid number written in E.164."""
    if not number.startswith("+"):
        return False
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number
    )


def mask_phone(number: str | None) -> str:
    """Keep the country code and the last two digits: enough to tell calls apart in a log."""
    if not number:
        return "-"
    digits = [c for c in number if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(digits)
    head = "+" + "".join(digits[:2]) if number.startswith("+") else ""
    shown_head = len(head) - 1 if head else 0
    return head + "*" * (len(digits) - shown_head - 2) + "".join(digits[-2:])


def mask_account(account_id: str | None) -> str:
    """Show only the last four characters of an account identifier."""
    if not account_id:
        return "-"
    return "*" * max(len(account_id) - 4, 0) + account_id[-4:]


def last_digits(number: str | None, count: int = 4) -> str:
    """The last `count` digits of a number (the second factor callers are asked for)."""
    digits = "".join(c for c in (number or "") if c.isdigit())
    return digits[-count:] if len(digits) >= count else ""
