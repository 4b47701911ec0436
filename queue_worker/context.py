"""What a job needs from the hotline, built once per worker process from the environment."""

from __future__ import annotations

from ivr.app import Hotline, build_hotline
from ivr.settings import Settings

_current: Hotline | None = None


def hotline() -> Hotline:
    """The worker's hotline: same settings, file and Redis as the web processes."""
    global _current
    if _current is None:
        _current = build_hotline(Settings.from_env(), worker=True)
    return _current


def install(instance: Hotline | None) -> None:
    """Use `instance` for the jobs of this process (a test's app, or None to rebuild)."""
    global _current
    _current = instance
