"""What the parts of the hotline file share: strictness (an unknown key is an error), the
identifier, key and locale shapes, and the checks of phone numbers and links."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from ivr.phones import is_valid_e164

__all__ = ["Digit", "Identifier", "Locale", "Strict", "e164", "https_link"]

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Digit = Annotated[str, StringConstraints(pattern=r"^[1-9#]$")]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")]


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def e164(value: str) -> str:
    """A phone number the hotline dials or shows must be valid and written in E.164."""
    if not is_valid_e164(value):
        raise ValueError(f"{value!r} is not a valid phone number in E.164 (+8621...)")
    return value


def https_link(value: str) -> str:
    """A link sent to a customer's phone must be https (a text message is easy to spoof)."""
    if not re.fullmatch(r"https://[^\s/]+(/\S*)?", value):
        raise ValueError(f"{value!r} is not an https:// link")
    return value
