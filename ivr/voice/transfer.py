"""The webhook a transferred caller is redirected to: they hear what is happening, then move on.

`?to=<department>`: "transferring you to ..." and back into the hold loop, now in the target
department's queue at their own place (the hold loop connects them if a match came first).
`?number=<E.164>`: "transferring you" and a Dial to the outside number the agent chose; the
number must be the one on the call record, so only a transfer made through the API is dialled.
"""

from __future__ import annotations

from flask import Blueprint, request
from twilio.twiml.voice_response import VoiceResponse

from ivr.services import services
from ivr.voice import twiml
from ivr.voice.holdloop import HOLD_AGAIN
from ivr.voice.webhook import base_url, language_of, this_call, twilio_webhook

bp = Blueprint("transfer", __name__, url_prefix="/voice")

OUTSIDE_RING_SECONDS = 30


@bp.post("/transfer")
@twilio_webhook
def transfer() -> VoiceResponse:
    """Tell the caller they are being transferred, then hold (department) or dial (number)."""
    hotline = services()
    record = this_call(hotline.clock.now())
    lang = language_of(record)
    resp = VoiceResponse()
    number = request.args.get("number", "")
    if number:
        if record.get("status") != "transferred" or record.get("transfer_number") != number:
            return twiml.overflow(hotline.config, lang)  # not a transfer we made: never dial it
        twiml.say(resp, lang, lang.text("transfer_outside"))
        resp.dial(number, timeout=OUTSIDE_RING_SECONDS)
        twiml.say(resp, lang, lang.text("goodbye"))
        resp.hangup()
        return resp
    department = hotline.config.file.departments.get(request.args.get("to", ""))
    if department is not None and record.get("department") == request.args.get("to"):
        name = department.names.get(lang.locale, "")
        twiml.say(resp, lang, lang.text("transfer_department", department=name))
    # The hold loop knows what to do with the caller now: wait, be connected, or the overflow.
    resp.redirect(f"{base_url()}{HOLD_AGAIN}", method="POST")
    return resp
