"""The agent and supervisor JSON API, under /api.

`register_api(app)` mounts it: one parent blueprint (`/api`) holding the agent, supervisor and
OpenAPI blueprints, JSON error handlers on it (every error under /api is `{"error": ...}`),
and the transfer and wrap-up services the agent views use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from flask import Blueprint, Flask

from ivr.api.agents import bp as agents_bp
from ivr.api.errors import ERROR_CODES, json_error, routing_error
from ivr.api.openapi import bp as openapi_bp
from ivr.api.supervisor import bp as supervisor_bp
from ivr.callcenter.notes import WrapUps
from ivr.callcenter.transfers import Redirector, Transfers


@dataclass(frozen=True)
class ApiServices:
    """What the API adds to the hotline (built once per app)."""

    transfers: Transfers
    wrapups: WrapUps


def register_api(app: Flask) -> None:
    """Mount the API on `app` (whose hotline is built)."""
    hotline: Any = app.extensions["hotline"]
    app.extensions["hotline_api"] = ApiServices(
        transfers=Transfers(
            hotline.config.file,
            hotline.calls,
            hotline.agents,
            hotline.queues,
            hotline.jobs,
            # The matcher's REST connector also redirects calls to other documents.
            cast(Redirector, hotline.matcher.connector),
        ),
        wrapups=WrapUps(hotline.stores.data, hotline.agents),
    )
    api = Blueprint("api", __name__, url_prefix="/api")
    api.register_blueprint(agents_bp)
    api.register_blueprint(supervisor_bp)
    api.register_blueprint(openapi_bp)
    for code in ERROR_CODES:
        api.register_error_handler(code, json_error)
    api.register_error_handler(Exception, json_error)  # anything else, even when testing
    app.register_blueprint(api)
    # An unknown path or method is refused before any blueprint is chosen: the app decides.
    app.register_error_handler(404, routing_error)
    app.register_error_handler(405, routing_error)
