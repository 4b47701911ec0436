"""The REST stand-in as one Flask app per account, and serving it on a local port.

``create_rest_app`` serves Twilio's REST API (calls, conferences, recordings, messages) under
``/2010-04-01/Accounts/{AccountSid}/`` with Twilio's JSON errors and HTTP Basic auth (AccountSid
and auth token), to the real twilio-python client; ``serve_in_thread`` runs it on a local port.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from standin.rest.calls import add_call_routes
from standin.rest.conferences import add_conference_routes
from standin.rest.messages import add_message_routes
from standin.rest.params import ApiError
from standin.rest.recordings import add_recording_routes
from standin.rest.resources import API_VERSION
from standin.rest.switchboard import Switchboard

__all__ = ["create_rest_app", "serve_in_thread"]


def create_rest_app(switchboard: Switchboard, account_sid: str, auth_token: str) -> Flask:
    """The REST API of one account, backed by ``switchboard``."""
    app = Flask("standin.rest")

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error.response()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Unknown paths and methods get Twilio's JSON errors too, never an HTML page.
        if error.code == 405:
            return ApiError(405, 20004, "Method not allowed").response()
        return ApiError(404, 20404, f"The requested resource {request.path} was not found").response()

    @app.before_request
    def authenticate() -> None:
        auth = request.authorization
        given = (auth.username or "", auth.password or "") if auth and auth.type == "basic" else ("", "")
        expected = (account_sid, auth_token)
        if not all(hmac.compare_digest(a.encode(), b.encode()) for a, b in zip(given, expected, strict=True)):
            raise ApiError(401, 20003, "Authenticate")
        # Valid credentials for another account's resources: error 20003, "Permission Denied".
        # Read from the path itself: view_args is empty when no route matched (404, 405).
        in_path = re.match(rf"/{API_VERSION}/Accounts/([^/]+?)(?:\.json)?(?:/|$)", request.path)
        if in_path and in_path.group(1) != account_sid:
            raise ApiError(403, 20003, "Permission Denied")

    add_call_routes(app, switchboard, account_sid)
    add_conference_routes(app, switchboard, account_sid)
    add_recording_routes(app, switchboard, account_sid)
    add_message_routes(app, switchboard)
    return app


def serve_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve ``app`` over HTTP from a daemon thread; return its base URL and a ``stop()``.

    ``port=0`` takes a free port. The server is threaded, so a request the app makes to the
    stand-in while it is itself being called does not wait for the first one to finish.
    """
    server = make_server(host, port, app, threaded=True)
    # A short poll interval: stop() waits for the next poll, and tests start and stop many servers.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"standin-{app.name}", daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.server_port}", stop
