"""Twilio's REST API as the hotline uses it (calls, conferences, recordings, messages), served by
the stand-in.

``Switchboard`` (``standin.rest.switchboard``) is what Twilio holds for the account: the live
calls, the outbound calls created through the API and the messages sent; an outbound call is a
record that stays ``queued`` unless the switchboard has a ``dialer`` (the live stand-in,
``standin.live.LiveCalls``), which rings its ``To`` and runs it as Twilio would.
``create_rest_app`` (``standin.rest.app``) serves it under ``/2010-04-01/Accounts/{AccountSid}/``
with Twilio's JSON shapes (``resources``), errors and parameter checks (``params``) and HTTP Basic
auth, one module a resource: ``calls``, ``conferences`` (and their participants), ``recordings``,
``messages``. ``serve_in_thread`` runs it on a local port.
"""

from standin.rest.app import create_rest_app, serve_in_thread
from standin.rest.params import ApiError
from standin.rest.switchboard import Dialer, OutboundCall, Switchboard

__all__ = ["ApiError", "Dialer", "OutboundCall", "Switchboard", "create_rest_app", "serve_in_thread"]
