"""The worker's services, built once per worker process from the environment.

The jobs (ivr/jobs/) run against `ivr.jobs.context`; importing this module tells it to build the
same `Services` as the web processes (settings, file, Redis) the first time a job needs them.
"""

from __future__ import annotations

from typing import cast

from ivr.jobs import context as jobs_context
from ivr.services import Services, build_services
from ivr.settings import Settings


def _build() -> Services:
    return build_services(Settings.from_env(), worker=True)


jobs_context.build_with(_build)


def services() -> Services:
    """The worker's services: same settings, file and Redis as the web processes."""
    return cast(Services, jobs_context.services())


def install(instance: Services | None) -> None:
    """Use `instance` for the jobs of this process (a test's app's services, or None to rebuild)."""
    jobs_context.install(instance)
