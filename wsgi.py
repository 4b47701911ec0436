"""The WSGI entry point gunicorn serves: `gunicorn wsgi:app` (and `flask --app wsgi` commands)."""

from ivr import create_app
from ivr.refusal import refused_on_bad_settings

with refused_on_bad_settings():
    app = create_app()
