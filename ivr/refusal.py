"""How a process refuses to start on an operator's mistake: a bad setting or hotline file.

The web process (wsgi.py: gunicorn, `flask --app wsgi` commands) and the worker
(`python -m queue_worker`) both answer the same way: what is wrong, by variable or by line,
without a traceback, and the status gunicorn takes as "App failed to load" (it halts rather
than starting worker after worker; a process supervisor sees a failed start, not a crash).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ivr.hotline.loader import ConfigError
from ivr.settings import SettingsError

APP_LOAD_ERROR = 4


@contextmanager
def refused_on_bad_settings() -> Iterator[None]:
    """Inside: a SettingsError or ConfigError prints its problems and exits with `APP_LOAD_ERROR`."""
    try:
        yield
    except (SettingsError, ConfigError) as exc:
        # An operator's mistake, not a bug: the message names every problem; a traceback would bury it.
        print(exc, file=sys.stderr)
        sys.exit(APP_LOAD_ERROR)
