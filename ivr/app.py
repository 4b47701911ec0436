"""The application factory: settings, the hotline's services and the blueprints, wired once."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Request
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

URLENCODED = "application/x-www-form-urlencoded"
UTF8_PARAMS = frozenset({"", "charset=utf-8"})


class HotlineRequest(Request):
    """Flask's request, with a urlencoded body (every Twilio webhook's) read in one step.

    The same fields as werkzeug's form parser gives (its `parse_qsl` call, word for word; a body
    that is not UTF-8 gives no fields, as there), without the parser objects, limited stream and
    header parsing it builds on the way: a twentieth of a hold turn's CPU. Any other body (a
    multipart form, no or a bad Content-Length, a body over MAX_CONTENT_LENGTH, a body already read)
    goes to werkzeug's own parser.
    """

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        environ = self.environ
        mimetype, _, params = environ.get("CONTENT_TYPE", "").partition(";")
        length = environ.get("CONTENT_LENGTH", "")
        limit = self.max_content_length
        if (
            mimetype.strip().lower() != URLENCODED
            or params.strip().lower() not in UTF8_PARAMS
            or not (length.isascii() and length.isdigit())
            or (limit is not None and int(length) > limit)
            or "stream" in self.__dict__  # the body was read (get_data) or its stream taken
        ):
            super()._load_form_data()
            return
        body = environ["wsgi.input"].read(int(length))
        try:
            items = parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
        except ValueError:  # not UTF-8 (werkzeug's parser is silent about it: no fields)
            items = []
        self.__dict__.update(
            stream=io.BytesIO(),  # read to its end, as werkzeug leaves it
            form=self.parameter_storage_class(items),
            files=self.parameter_storage_class(),
        )


def create_app(test_config: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the Flask app; settings from the environment, or from `test_config` in tests."""
    logs.configure()
    settings = Settings.from_mapping(test_config) if test_config is not None else Settings.from_env()
    logs.configure(json_lines=settings.log_format == "json")
    app = Flask(__name__)
    app.request_class = HotlineRequest
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
