"""The text message after a call: who may be offered it, what it says, and sending it once.

The caller is asked with their reference number, and only when their caller ID is a number the
hotline may text (`check_outbound_number`); their yes is kept on the call record (`sms=wanted`).
When the call ends, the status callback enqueues one job per call (`sms-{CallSid}`, unique),
which checks the number and the rate limits again and sends through Twilio's REST API.

Sending at most once: the job id stops a second job; the call record stops a second send by a
retried job (`sms_sid` is written as soon as Twilio accepted the message); and a try that may
have reached Twilio without being recorded (a worker killed mid-send) is settled by asking
Twilio for the messages already sent to that number before sending again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr import keys
from ivr.callcenter.calls import CallRecord
from ivr.hotline.schema import HotlineFile
from ivr.outbound.limits import OutboundLimits
from ivr.outbound.numbers import check_outbound_number
from ivr.phones import mask_phone
from ivr.prompts import Language
from ivr.twilio_rest import TwilioApi, TwilioError

log = logging.getLogger(__name__)

WANTED, SENT = "wanted", "sent"


def caller_number(record: CallRecord) -> str:
    """The number the message would go to: the caller ID as the call record keeps it."""
    return record.get("caller") or record.get("from")


def may_offer(file: HotlineFile, record: CallRecord) -> bool:
    """Whether to ask this caller: messages are set up and their number may be texted."""
    settings = file.messages
    if settings is None or not settings.offer_sms:
        return False
    return check_outbound_number(file, caller_number(record)).ok


def self_service_link(file: HotlineFile, issue: str) -> str:
    """The self-service page of the caller's issue, else the general help page."""
    spec = file.issues.get(issue)
    default = file.messages.help_url if file.messages else ""
    return (spec.self_service_url if spec else None) or default


def summary_text(file: HotlineFile, lang: Language, record: CallRecord) -> str:
    """Reference number, one line on how the call went, and the link, in the caller's language."""
    issue = record.get("issue") or "other"
    label = lang.text(f"label_{issue}") if f"label_{issue}" in lang.texts else issue
    if record.get("voicemail"):
        line = lang.text("sms_summary_voicemail", issue=label)
    elif record.get("outcome") == "served" or record.get("status") == "served":
        line = lang.text("sms_summary_served", issue=label)
    else:
        line = lang.text("sms_summary_unserved", issue=label)
    return lang.text(
        "sms_summary",
        name=file.hotline.name,
        reference=record.get("ref"),
        summary=line,
        link=self_service_link(file, issue),
    )


class TransientSendError(RuntimeError):
    """Twilio did not take the message for now (an outage, a rate limit): the job is retried."""


@dataclass
class CallSummarySender:
    """Sends one call's summary; the worker job is a thin wrapper around `send`."""

    file: HotlineFile
    languages: dict[str, Language]
    conn: Any  # the decoding Redis client of the app's data
    twilio: TwilioApi
    limits: OutboundLimits

    def send(self, sid: str, now: datetime) -> str:
        """Send the summary of call `sid` if the caller asked; what happened, in a word."""
        fields = self.conn.hgetall(keys.call(sid))
        if not fields:
            return "gone"  # the record expired: nothing to say, nobody to say it to
        record = CallRecord(sid, fields)
        if record.get("sms_sid"):
            return "already-sent"
        if record.get("sms") != WANTED or self.file.messages is None:
            return "not-asked"
        check = check_outbound_number(self.file, caller_number(record))
        day = record.day
        if not check.ok or check.e164 is None:
            self._settle(sid, day, f"refused:{check.reason}", "messages_refused")
            log.info("no message for call %s: number refused (%s)", sid, check.reason)
            return "refused"
        if not record.get("sms_allowed"):  # counted against the limits once, not per retry
            limit = self.limits.allow("message", check.e164, now)
            if limit is not None:
                self._settle(sid, day, f"limited:{limit}", "messages_refused")
                return "limited"
            self.conn.hset(keys.call(sid), "sms_allowed", "1")
        lang = self.languages.get(record.get("lang")) or next(iter(self.languages.values()))
        body = summary_text(self.file, lang, record)
        sender = self.file.messages.sender
        if record.get("sms_tries"):  # an earlier try may have reached Twilio unrecorded
            earlier = self._already_sent(check.e164, sender, record.get("ref"))
            if earlier:
                self._sent(sid, day, earlier)
                return "already-sent"
        self.conn.hincrby(keys.call(sid), "sms_tries", 1)
        try:
            message_sid = self.twilio.send_message(to=check.e164, from_=sender, body=body)
        except TwilioError as exc:
            if exc.transient:
                raise TransientSendError(str(exc)) from exc
            # Twilio refuses this message for good (an unreachable or opted-out number).
            self._settle(sid, day, f"failed:{exc.code}", "messages_failed")
            log.warning(
                "message for call %s to %s refused by Twilio: %s", sid, mask_phone(check.e164), exc.code
            )
            return "failed"
        self._sent(sid, day, message_sid)
        log.info("call summary of %s sent to %s as %s", sid, mask_phone(check.e164), message_sid)
        return "sent"

    def _already_sent(self, to: str, sender: str, ref: str) -> str | None:
        """The SID of a message with this reference number Twilio already has for `to`."""
        for message in self.twilio.messages_to(to, sender, limit=20):
            if ref and ref in message.body:
                return message.sid
        return None

    def _sent(self, sid: str, day: str, message_sid: str) -> None:
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(keys.call(sid), mapping={"sms": SENT, "sms_sid": message_sid})
        pipe.hincrby(keys.followups(day), "messages_sent", 1)
        pipe.expire(keys.followups(day), keys.STATS_TTL_SECONDS)
        pipe.execute()

    def _settle(self, sid: str, day: str, outcome: str, counter: str) -> None:
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(keys.call(sid), "sms", outcome)
        pipe.hincrby(keys.followups(day), counter, 1)
        pipe.expire(keys.followups(day), keys.STATS_TTL_SECONDS)
        pipe.execute()
