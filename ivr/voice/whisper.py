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
    queued_at = datetime.fromisoformat(record.get("queued_at") or now.isoformat())
    # A department's name is written to sit inside a sentence ("transfer you to payments and
    # top-ups"); the whisper opens with it, and the agent's console shows it as written.
    return lang.sentence(
        "whisper",
        department=department.names.get(lang.locale, "") if department else "",
        issue=lang.text(f"label_{issue}") if f"label_{issue}" in lang.texts else issue,
        account=account,
        minutes=int((now - queued_at).total_seconds() // 60),
        reference=lang.spell(record.get("ref")),
    )
