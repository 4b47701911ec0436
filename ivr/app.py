"""The application factory: settings, the hotline's services and the blueprints, wired once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr import logs
from ivr.api import register_api
from ivr.cli import register_cli
from ivr.clock import Clock
from ivr.readiness import bp as readiness_bp
from ivr.services import build_services, install
from ivr.settings import Settings
from ivr.voice.afterhours import bp as after_hours_bp
from ivr.voice.callback import bp as callback_bp
from ivr.voice.customer import bp as customer_bp
from ivr.voice.room import bp as room_bp
from ivr.voice.survey import bp as survey_bp
from ivr.voice.transfer import bp as transfer_bp
from ivr.voice.views import bp as voice_bp
from ivr.voice.waiting import bp as waiting_bp
from ivr.web import register_web


def create_app(test_config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the Flask app; settings from the environment, or from `test_config` in tests."""
    logs.configure()
    settings = Settings.from_mapping(test_config) if test_config is not None else Settings.from_env()
    logs.configure(json_lines=settings.log_format == "json")
    app = Flask(__name__)
    if settings.trusted_proxies:  # the client's address, as the proxies saw it (the token lockout)
        # Flask's documented way to wrap its WSGI app, though its types declare `wsgi_app` a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    install(app, build_services(settings, clock))
    # A worker thread serves request after request: what one was about must not tag the next's logs.
    app.before_request(lambda: logs.bind(reset=True))
    app.register_blueprint(voice_bp)
    app.register_blueprint(waiting_bp)
    app.register_blueprint(room_bp)
    app.register_blueprint(transfer_bp)
    app.register_blueprint(survey_bp)
    app.register_blueprint(after_hours_bp)
    app.register_blueprint(callback_bp)
    app.register_blueprint(customer_bp)
    register_api(app)
    register_cli(app)
    app.register_blueprint(readiness_bp)
    register_web(app)
    return app
