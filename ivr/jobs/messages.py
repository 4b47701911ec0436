"""The message job: text a caller their reference number and the call's summary."""

from __future__ import annotations

from ivr.followup.sms import CallSummarySender
from ivr.jobs.context import services


def send_call_summary(call_sid: str) -> str:
    """Text a caller who asked for it their reference number, summary and self-service link."""
    hl = services()
    sender = CallSummarySender(
        file=hl.config.file,
        languages=hl.config.languages,
        conn=hl.stores.data,
        twilio=hl.rest,
        limits=hl.limits,
    )
    return sender.send(call_sid, hl.clock.now())
