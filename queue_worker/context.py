"""The worker's services, built once per worker process from the environment."""

from __future__ import annotations

from ivr.services import Services, build_services
from ivr.settings import Settings

_current: Services | None = None


def services() -> Services:
    """The worker's services: same settings, file and Redis as the web processes."""
    global _current
    if _current is None:
        _current = build_services(Settings.from_env(), worker=True)
    return _current


def install(instance: Services | None) -> None:
    """Use `instance` for the jobs of this process (a test's app's services, or None to rebuild)."""
    global _current
    _current = instance
