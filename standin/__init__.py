"""A local stand-in for Twilio's voice platform, to place whole calls through the app's webhooks.

``Call`` plays the caller and Twilio together: it requests the app's webhooks over a
``Transport`` (signed like Twilio signs them), checks every answer with ``check_twiml`` and runs
the TwiML as Twilio would, recording what the caller heard.
"""

from standin.phone import ApplicationError, Call, CallbackError, CallStateError
from standin.transport import (
    FlaskTransport,
    HttpTransport,
    Response,
    Transport,
    TransportError,
    sign,
)
from standin.twiml_check import TwiMLError, check_twiml, spoken_text
from standin.webhook import Heard

__all__ = [
    "ApplicationError",
    "Call",
    "CallStateError",
    "CallbackError",
    "FlaskTransport",
    "Heard",
    "HttpTransport",
    "Response",
    "TwiMLError",
    "Transport",
    "TransportError",
    "check_twiml",
    "sign",
    "spoken_text",
]
