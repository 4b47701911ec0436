"""The WSGI entry point gunicorn serves: `gunicorn wsgi:app` (and `flask --app wsgi` commands)."""

import sys

from ivr import create_app
from ivr.hotline.loader import ConfigError
from ivr.settings import SettingsError

# gunicorn halts, rather than starting worker after worker, when a worker exits with this status.
APP_LOAD_ERROR = 4

try:
    app = create_app()
except (SettingsError, ConfigError) as exc:
    # An operator's mistake, not a bug: what is wrong, by field or by line, without a traceback.
    print(exc, file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)
