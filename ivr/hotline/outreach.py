"""Calling and texting callers from the hotline file: callbacks, the text message after a call,
which numbers may be reached, and how often."""

from __future__ import annotations

from typing import Annotated, Literal

import phonenumbers
from pydantic import Field, StringConstraints, field_validator

from ivr.hotline.fields import Strict, e164, https_link
from ivr.phones import is_valid_e164

__all__ = ["NUMBER_TYPES", "CallbackSettings", "Messages", "NumberType", "Outbound", "OutboundLimitSettings"]


class OutboundLimitSettings(Strict):
    """How often the hotline may call back or text: per number, across the hotline, per hour."""

    callbacks_per_number_per_day: int = Field(default=3, ge=1, le=50)
    callbacks_per_minute: int = Field(default=30, ge=1, le=10000)
    calls_per_hour: int = Field(default=600, ge=1, le=100000)  # every outbound call, retries too
    messages_per_number_per_day: int = Field(default=5, ge=1, le=50)
    messages_per_minute: int = Field(default=60, ge=1, le=10000)
    messages_per_hour: int = Field(default=1200, ge=1, le=100000)


NumberType = Literal["mobile", "fixed_line"]
NUMBER_TYPES: tuple[NumberType, ...] = ("mobile", "fixed_line")


class Outbound(Strict):
    """Which numbers callbacks and messages may go to, and how often."""

    countries: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] = Field(
        default_factory=lambda: ["CN"], min_length=1
    )
    number_types: list[NumberType] = Field(default_factory=lambda: list(NUMBER_TYPES), min_length=1)
    limits: OutboundLimitSettings = OutboundLimitSettings()

    @field_validator("countries")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        unknown = [code for code in value if code not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"not a country phonenumbers knows: {', '.join(unknown)}")
        return value


class Messages(Strict):
    """The text message a caller may ask for: reference number, summary, self-service link."""

    offer_sms: bool = True  # asked with the reference number, only of numbers a message may reach
    sender: str  # the hotline's SMS-capable number (E.164), the message's From
    help_url: str  # the self-service link for issues without their own self_service_url
    # Seconds between tries when Twilio does not take the message (one retry per entry).
    retry_seconds: list[Annotated[int, Field(ge=0, le=86400)]] = Field(
        default_factory=lambda: [30, 120, 600], max_length=10
    )

    @field_validator("sender")
    @classmethod
    def _sender_e164(cls, value: str) -> str:
        return e164(value)

    @field_validator("help_url")
    @classmethod
    def _help_https(cls, value: str) -> str:
        return https_link(value)


class CallbackSettings(Strict):
    """Calling waiting callers back at their place in the queue, or at a quieter hour."""

    enabled: bool = True
    # The offer is made on its own when the expected wait reaches this, or the position this.
    offer_after_wait_seconds: int = Field(default=600, ge=0, le=86400)
    offer_from_position: int = Field(default=10, ge=1, le=100000)
    max_attempts: int = Field(default=3, ge=1, le=10)  # customer not reached this often: failed
    retry_backoff_seconds: list[Annotated[int, Field(ge=10, le=86400)]] = Field(
        default_factory=lambda: [120, 600], min_length=1
    )  # before the 2nd, 3rd... attempt (the last one repeats)
    keep_place_minutes: int = Field(default=10, ge=0, le=1440)  # a caller who hung up gets it back
    ring_timeout_seconds: int = Field(default=30, ge=5, le=120)  # the customer's phone rings this long
    caller_id: str | None = None  # shown to the customer; default: the number they called
    schedule_slots: int = Field(default=3, ge=1, le=8)  # later hours offered, quietest first
    # Besides the caller ID and the account's registered mobile, the only numbers a caller may
    # key in to be called back at (a branch's desk, say): anything else would let anyone make
    # the hotline ring a stranger or pump calls to a costly exchange.
    allowed_numbers: list[str] = Field(default_factory=list, max_length=1000)

    @field_validator("caller_id")
    @classmethod
    def _caller_id(cls, value: str | None) -> str | None:
        return e164(value) if value is not None else None

    @field_validator("allowed_numbers")
    @classmethod
    def _allowed_e164(cls, value: list[str]) -> list[str]:
        wrong = [number for number in value if not is_valid_e164(number)]
        if wrong:
            raise ValueError(f"not valid phone numbers in E.164 (+8621...): {', '.join(map(repr, wrong))}")
        return value
