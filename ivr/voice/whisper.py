"""What the agent hears before the caller is put through: who is calling, and why."""

from __future__ import annotations

from datetime import datetime

from ivr.callcenter.calls import CallRecord
from ivr.phones import last_digits
from ivr.prompts import Language
from ivr.services import services


def whisper_text(record: CallRecord, lang: Language, now: datetime) -> str:
    """What the agent hears: department, issue, masked account, verified, wait, reference."""
    cfg = services().config.file
    department = cfg.departments.get(record.get("department"))
    issue = record.get("issue") or "other"
    if record.get("account"):
        verified = "whisper_verified" if record.verified else "whisper_unverified"
        account = lang.text(
            "whisper_account", last4=last_digits(record.get("account")), verified=lang.text(verified)
        )
    else:
        account = lang.text("whisper_no_account")
    # From joining the queue to the agent's answer (now), as the answered call's statistics count it.
    queued_at = datetime.fromisoformat(record.get("queued_at") or now.isoformat())
    # A department's name is written to sit inside a sentence ("transfer you to payments and
    # top-ups"); the whisper opens with it, and the agent's console shows it as written.
    return lang.sentence(
        "whisper",
        department=department.names.get(lang.locale, "") if department else "",
        issue=lang.text(f"label_{issue}") if f"label_{issue}" in lang.texts else issue,
        account=account,
        waited=waited(lang, int((now - queued_at).total_seconds())),
        reference=lang.spell(record.get("ref")),
    )


def waited(lang: Language, seconds: int) -> str:
    """How long the caller waited, in whole minutes: under one minute is said as such, because
    "waited 0 minutes" after half a minute on hold sounds like no wait at all."""
    minutes = max(seconds, 0) // 60
    if minutes == 0:
        return lang.text("whisper_waited_under_minute")
    if minutes == 1:
        return lang.text("whisper_waited_minute")
    return lang.text("whisper_waited_minutes", minutes=minutes)
