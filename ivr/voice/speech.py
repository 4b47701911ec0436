"""Understanding what a caller said: spoken digits and menu keywords, in both languages."""

from __future__ import annotations

import re
import unicodedata

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "to": "2", "too": "2",
    "three": "3", "four": "4", "for": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9",
}  # fmt: skip
_CHINESE_DIGITS = {
    "零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
    "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}  # fmt: skip
_MULTIPLIERS = {"double": 2, "triple": 3}


def _digit_of(char: str) -> str | None:
    """The ASCII digit a character stands for ('7', '᧗', '七'), or None."""
    value = unicodedata.digit(char, None)  # any script's digits, superscripts and circled ones too
    if value is not None:
        return str(value)
    return _CHINESE_DIGITS.get(char)


def normalise(text: str) -> str:
    """Lower case, full-width folded to ASCII, punctuation dropped, spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).lower()
    cleaned = "".join(c if c.isalnum() or c.isspace() else " " for c in folded)
    return re.sub(r"\s+", " ", cleaned).strip()


def spoken_digits(text: str) -> str:
    """The digits in a spoken answer ('six two double two', '六二二二', '6 2 2 2'), in ASCII, or ''."""
    out: list[str] = []
    repeat = 1
    for token in normalise(text).split(" "):
        if token in _MULTIPLIERS:
            repeat = _MULTIPLIERS[token]
            continue
        if token in _DIGIT_WORDS:
            out.append(_DIGIT_WORDS[token] * repeat)
        else:
            for char in token:
                digit = _digit_of(char)
                if digit is None:
                    continue  # filler words ("my number is", "是") are skipped
                out.append(digit * repeat)
                repeat = 1
        repeat = 1
    return "".join(out)


def matches(text: str, keywords: list[str]) -> bool:
    """True when any keyword occurs in what was said."""
    said = normalise(text)
    squeezed = said.replace(" ", "")
    for keyword in keywords:
        wanted = normalise(keyword)
        if not wanted:
            continue
        # Mandarin results come with or without spaces between words; compare without them too.
        if re.search(rf"(?<![a-z]){re.escape(wanted)}(?![a-z])", said) or (
            not wanted.isascii() and wanted.replace(" ", "") in squeezed
        ):
            return True
    return False
