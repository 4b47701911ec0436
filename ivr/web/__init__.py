"""The pages people use in a browser: the agent desktop and the supervisors' wallboard, live.

`register_web(app)` mounts them: the pages and sign-in (pages.py), their live streams (live.py,
fed by the process's hub, push.py), with the session cookie's settings (ivr/api/sessions.py),
and Prometheus's /metrics (metrics.py).
Templates live in ivr/templates/, the small scripts and the style sheet in ivr/static/.
"""

from __future__ import annotations

from flask import Flask

from ivr.api.sessions import configure
from ivr.services import services_of
from ivr.web import metrics
from ivr.web.live import bp as live_bp
from ivr.web.live import install_hub
from ivr.web.pages import bp as pages_bp
from ivr.web.softphone import bp as softphone_bp


def register_web(app: Flask) -> None:
    """Mount the pages and their streams on `app` (after its services are installed)."""
    configure(app, services_of(app).settings)
    install_hub(app)
    app.register_blueprint(pages_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(softphone_bp)
    metrics.install(app)
