"""Account identifiers: their format and Luhn check digit (a reference number's is made in calls.py)."""

from __future__ import annotations

from ivr.digits import is_digits
from ivr.hotline.schema import AccountIds


def luhn_check_digit(body: str) -> str:
    """The Luhn digit that makes `body + digit` pass the Luhn check."""
    total = 0
    for i, char in enumerate(reversed(body)):
        value = int(char)
        if i % 2 == 0:  # doubled positions, counted from the digit that will sit left of the check
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True when the last digit of `number` is its Luhn check digit."""
    return len(number) >= 2 and is_digits(number) and luhn_check_digit(number[:-1]) == number[-1]


def valid_account_id(digits: str, rules: AccountIds) -> bool:
    """Format and check digit, before any lookup: a typo never reaches the directory."""
    if len(digits) != rules.length or not is_digits(digits):
        return False
    return rules.check_digit == "none" or luhn_valid(digits)
