"""The webhook a transferred caller is redirected to: they hear what is happening, then move on.

`?to=<department>`: "transferring you to ..." and back into the hold loop, now in the target
department's queue at their own place (the hold loop connects them if a match came first).
`?number=<E.164>`: "transferring you" and a Dial to the outside number the agent chose; the
number must be the one on the call record, so only a transfer made through the API is dialled.
"""

from __future__ import annotations

from flask import Blueprint, request

from ivr import routes
from ivr.services import services
from ivr.urlstate import HOLD_AGAIN, Transfer
from ivr.voice import twiml
from ivr.voice.webhook import language_of, link, this_call, twilio_webhook

bp = Blueprint("transfer", __name__)

OUTSIDE_RING_SECONDS = 30


@bp.post(routes.rule("transfer"))
@twilio_webhook
def transfer() -> twiml.Document:
    """Tell the caller they are being transferred, then hold (department) or dial (number)."""
    hotline = services()
    record = this_call(hotline.clock.now())
    lang = language_of(record)
    resp = twiml.document()
    where = Transfer.from_args(request.args)
    number = where.number
    if number:
        if record.get("status") != "transferred" or record.get("transfer_number") != number:
            return twiml.overflow(hotline.config, lang)  # not a transfer we made: never dial it
        return twiml.dial_outside(lang, number, OUTSIDE_RING_SECONDS)
    department = hotline.config.file.departments.get(where.to)
    if department is not None and record.get("department") == where.to:
        name = department.names.get(lang.locale, "")
        twiml.say(resp, lang, lang.text("transfer_department", department=name))
    # The hold loop knows what to do with the caller now: wait, be connected, or the overflow.
    twiml.redirect(link("hold", HOLD_AGAIN), resp)
    return resp
