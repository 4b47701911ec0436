"""The Messages resource of the REST stand-in: send (kept by the switchboard, or refused as asked
with ``Switchboard.fail_messages``) and list text messages."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from standin.rest.params import ApiError, filtered, is_e164_number
from standin.rest.resources import ACCOUNT_PATH, API_VERSION, message_json, page
from standin.rest.switchboard import Switchboard, rfc2822_now
from standin.webhook import new_sid

__all__ = ["add_message_routes"]


def add_message_routes(app: Flask, switchboard: Switchboard) -> None:
    """Serve the account's messages from ``switchboard`` on ``app``."""

    @app.post(f"{ACCOUNT_PATH}/Messages.json")
    def create_message(account: str) -> tuple[Response, int]:
        form = request.form
        to, from_, service = form.get("To", ""), form.get("From"), form.get("MessagingServiceSid")
        body = form.get("Body", "")
        if not to:
            raise ApiError(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service:
            raise ApiError(400, 21603, "A 'From' phone number is required.")
        if not body:
            raise ApiError(400, 21602, "Message body is required.")
        if len(body) > 1600:
            raise ApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if not is_e164_number(to):
            raise ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        failure = switchboard.next_message_failure()
        if failure is not None:
            raise ApiError(*failure)
        message = {
            "sid": new_sid("SM"), "to": to, "from": from_ or None, "body": body,
            # A Messaging Service picks the sender later: the message is only accepted so far.
            "status": "queued" if from_ else "accepted", "date_created": rfc2822_now(),
            "messaging_service_sid": service,
        }  # fmt: skip
        switchboard.send(message)
        return jsonify(message_json(account, message)), 201

    @app.get(f"{ACCOUNT_PATH}/Messages.json")
    def list_messages(account: str) -> Response:
        found = filtered(switchboard.messages, (("to", "To"), ("from", "From")))
        messages = [message_json(account, message) for message in reversed(found)]  # newest first
        return page("messages", f"/{API_VERSION}/Accounts/{account}/Messages.json", messages)
