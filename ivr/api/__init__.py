"""The agent and supervisor JSON API, under /api.

`register_api(app)` mounts it: one parent blueprint (`/api`) holding the agent, supervisor and
OpenAPI blueprints, and JSON error handlers on it (every error under /api is `{"error": ...}`).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from ivr.api.agents import bp as agents_bp
from ivr.api.errors import answer_errors_as_json, routing_error
from ivr.api.openapi import bp as openapi_bp
from ivr.api.supervisor import bp as supervisor_bp


def register_api(app: Flask) -> None:
    """Mount the API on `app`."""
    api = Blueprint("api", __name__, url_prefix="/api")
    api.register_blueprint(agents_bp)
    api.register_blueprint(supervisor_bp)
    api.register_blueprint(openapi_bp)
    answer_errors_as_json(api)
    app.register_blueprint(api)
    # An unknown path or method is refused before any blueprint is chosen: the app decides.
    app.register_error_handler(404, routing_error)
    app.register_error_handler(405, routing_error)
