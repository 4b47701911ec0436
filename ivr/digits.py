"""Whole numbers in text a caller keyed or said, or an API client sent: ASCII digits only.

`str.isdigit()` is true for '²' and '᧚', which `int()` then refuses, and `int()` itself takes
'١٢', ' 7 ', '-3' and '1_0'. Every number read from a caller or a client goes through here.
"""

from __future__ import annotations

ASCII_DIGITS = frozenset("0123456789")
# Longer runs are not a count, a duration or a timestamp we use (and int() of a huge run is slow).
MAX_DIGITS = 18


def is_digits(text: str | None) -> bool:
    """Non-empty and made of the ASCII digits 0-9 only."""
    return bool(text) and all(c in ASCII_DIGITS for c in text or "")


def whole_number(text: str | None, default: int | None = None) -> int | None:
    """`text` as a non-negative integer when it is 1-18 ASCII digits, else `default`."""
    if text is None or len(text) > MAX_DIGITS or not is_digits(text):
        return default
    return int(text)
