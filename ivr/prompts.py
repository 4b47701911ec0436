"""The prompt catalogue: every string a caller hears, per language, referenced by id.

`prompts/<locale>.yaml` holds a `voice` block (the text-to-speech voice and language, speech
recognition language, how digits and lists are read) and a `prompts` mapping of id -> text.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.digits import ASCII_DIGITS
from ivr.settings import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"

# Ids the code says by name (the hotline file references the rest); checked at start.
CODE_PROMPTS = frozenset(
    {
        "choose_language",
        "welcome",
        "recording_decline_offer",
        "recording_declined",
        "closed_departments",
        "enter_account",
        "enter_account_short",
        "account_invalid",
        "account_readback",
        "account_readback_short",
        "account_not_found",
        "account_unidentified",
        "account_confirmed",
        "second_factor",
        "second_factor_short",
        "second_factor_failed",
        "second_factor_ok",
        "menu_option",
        "menu_hint",
        "no_input",
        "invalid_input",
        "to_agent",
        "freeze_working",
        "freeze_done",
        "freeze_failed",
        "freeze_not_allowed",
        "reference_number",
        "reference_repeat",
        "handoff_department",
        "department_closed",
        "all_closed",
        "hold_message",
        "overflow_apology",
        "goodbye",
        "queue_position",
        "queue_first",
        "queue_wait_about",
        "queue_wait_range",
        "queue_wait_up_to",
        "queue_wait_up_to_90s",
        "queue_wait_soon",
        "peak_hour_tomorrow",
        "peak_hour_later",
        "agent_connecting",
        "agent_missed",
        "transfer_department",
        "transfer_outside",
        "whisper",
        "whisper_account",
        "whisper_verified",
        "whisper_unverified",
        "whisper_no_account",
        "whisper_waited_under_minute",
        "whisper_waited_minute",
        "whisper_waited_minutes",
        # after the call: the text message, the survey, after hours
        "sms_offer",
        "sms_offer_ok",
        "sms_summary",
        "sms_summary_served",
        "sms_summary_voicemail",
        "sms_summary_unserved",
        "survey_ask",
        "survey_comment",
        "survey_thanks",
        "afterhours_callback",
        "afterhours_voicemail",
        "voicemail_prompt",
        "voicemail_saved",
        "callback_offer",
        "callback_confirm_caller_id",
        "callback_enter_number",
        "callback_number_readback",
        "callback_number_garbled",
        "callback_number_refused",
        "callback_number_rule",
        "callback_number_not_allowed",
        "callback_limited",
        "callback_back_to_queue",
        "callback_kept",
        "callback_schedule_intro",
        "callback_slot_option",
        "callback_slot_time",
        "callback_slot_none",
        "callback_scheduled",
        "callback_greeting",
        "callback_no_response",
        "callback_agent_missed",
        "callback_hint",
        "hold_key_invalid",
    }
)

Ten = Annotated[list[str], Field(min_length=10, max_length=10)]
Seven = Annotated[list[str], Field(min_length=7, max_length=7)]


class Voice(BaseModel):
    """How one language is spoken and heard."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    say_voice: str
    say_language: str
    speech_language: str
    digits: Ten
    digit_separator: str
    list_separator: str
    days: Seven
    day_range: str
    time_range: str
    star: str
    hash: str
    # Words that choose this language at the language menu, and words that ask for an agent.
    aliases: list[str] = Field(default_factory=list)
    agent_words: list[str] = Field(default_factory=list)


class PromptFile(BaseModel):
    """One `prompts/<locale>.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voice: Voice
    prompts: dict[str, str]


@dataclass(frozen=True)
class Language:
    """The prompts of one locale, ready to speak."""

    locale: str
    voice: Voice
    texts: dict[str, str]

    def text(self, prompt_id: str, **values: object) -> str:
        """The prompt's text with its placeholders filled in."""
        return self.texts[prompt_id].format(**values)

    def sentence(self, prompt_id: str, **values: object) -> str:
        """The prompt's text as a sentence: a value filled in at its start begins with a capital
        ('payments and top-ups call: ...' reads 'Payments and top-ups call: ...'); scripts
        without case are left as they are."""
        said = self.text(prompt_id, **values)
        return said[:1].upper() + said[1:]

    def spell(self, digits: str) -> str:
        """Digits read one by one ('6222' -> '六，二，二，二'), keys by their names."""
        names = {"*": self.voice.star, "#": self.voice.hash}
        words = [self.voice.digits[int(c)] if c in ASCII_DIGITS else names.get(c, c) for c in digits]
        return self.voice.digit_separator.join(words)


class PromptError(ValueError):
    """The prompt catalogue is incomplete or malformed."""


def placeholders(text: str) -> set[str]:
    """The {names} a prompt expects."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def load_language(path: Path) -> Language:
    """Read one prompt file; raises PromptError naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = PromptFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(f"{path.name}: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise PromptError(f"{path.name}: {problems}") from None
    return Language(locale=path.stem, voice=parsed.voice, texts=dict(parsed.prompts))


def load_catalogue(locales: list[str], directory: Path = PROMPTS_DIR) -> dict[str, Language]:
    """Load the prompt files of the given locales (a missing file is a PromptError)."""
    catalogue = {}
    for locale in locales:
        path = directory / f"{locale}.yaml"
        if not path.is_file():
            raise PromptError(f"prompts/{locale}.yaml: missing (language {locale} is offered)")
        catalogue[locale] = load_language(path)
    return catalogue


def check_catalogue(catalogue: dict[str, Language], referenced: set[str]) -> list[str]:
    """Every problem with the catalogue: ids missing in a language, mismatched placeholders."""
    problems = []
    needed = set(CODE_PROMPTS) | referenced
    every_id = needed.union(*(set(lang.texts) for lang in catalogue.values()))
    for prompt_id in sorted(every_id):
        present = {loc: lang.texts[prompt_id] for loc, lang in catalogue.items() if prompt_id in lang.texts}
        for locale in catalogue:
            if locale not in present:
                problems.append(f"prompts/{locale}.yaml: prompt {prompt_id!r} is missing")
        shapes = {loc: placeholders(text) for loc, text in present.items()}
        if len({frozenset(s) for s in shapes.values()}) > 1:
            detail = ", ".join(f"{loc} {sorted(s)}" for loc, s in shapes.items())
            problems.append(f"prompt {prompt_id!r}: placeholders differ between languages ({detail})")
    return problems
