"""Whether a number may be called back or sent a message.

A callback or an SMS costs money and reaches a stranger if the number is wrong, so a number must
be valid, of an allowed type (mobile or fixed line: premium-rate, shared-cost, VoIP, pager and
unknown types are refused, the classic toll-fraud targets), and in a country the hotline file
allows. phonenumbers does the parsing and the classification.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from ivr.hotline.schema import HotlineFile

# How the hotline file names the types it allows, and the phonenumbers types each admits.
# FIXED_LINE_OR_MOBILE (ranges shared by both, as in the US and China) passes either one.
TYPE_NAMES: dict[str, frozenset[int]] = {
    "mobile": frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}),
    "fixed_line": frozenset({PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}),
}

REASONS = ("garbled", "invalid", "type", "country")


@dataclass(frozen=True)
class NumberCheck:
    """The outcome: the number in E.164 when allowed, else the reason it is refused."""

    e164: str | None
    reason: str | None = None  # one of REASONS when refused
    region: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def check_number(
    raw: str | None, countries: Collection[str], types: Collection[str], default_region: str
) -> NumberCheck:
    """Check a caller ID or a keyed-in number (national numbers read in `default_region`)."""
    text = (raw or "").strip()
    if not text or not any(c.isdigit() for c in text):
        return NumberCheck(None, "garbled")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return NumberCheck(None, "garbled")
    if not phonenumbers.is_valid_number(parsed):
        return NumberCheck(None, "invalid")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    allowed = frozenset().union(*(TYPE_NAMES[name] for name in types))
    if phonenumbers.number_type(parsed) not in allowed:
        return NumberCheck(None, "type", region)
    if region not in countries:
        return NumberCheck(None, "country", region)
    return NumberCheck(e164, None, region)


def check_outbound_number(file: HotlineFile, raw: str | None) -> NumberCheck:
    """`check_number` with the countries, types and home region of the hotline file."""
    out = file.outbound
    return check_number(raw, out.countries, out.number_types, file.hotline.default_region)


def callback_allowed(file: HotlineFile, e164: str, caller: str | None, registered: str | None) -> bool:
    """A callback may ring the caller ID, the account's registered mobile, or what an operator allows."""
    return e164 in (caller, registered) or e164 in file.callbacks.allowed_numbers
