"""What a job runs against: the process's services, installed by the worker (or a test).

The jobs package sits below `ivr.services` (which builds the `JobQueue`), so it names the services
it uses through `JobServices`, a protocol that `ivr.services.Services` satisfies, instead of
importing the container. `python -m queue_worker` installs a factory that builds them from the
environment on first use (queue_worker/context.py); a test installs its app's.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from datetime import datetime
from typing import Protocol

from rq import Queue

from ivr.callcenter.accounts import AccountDirectory
from ivr.callcenter.agents import Agents
from ivr.clock import Clock
from ivr.hotline.loader import HotlineConfig
from ivr.outbound.limits import OutboundLimits
from ivr.store import Stores
from ivr.twilio_rest import TwilioApi


class Matching(Protocol):
    """The matcher, as the matching jobs call it (ivr/callcenter/matching.py)."""

    def for_department(self, department: str) -> Sized: ...

    def for_agent(self, agent_id: str) -> object | None: ...


class PlacedCallback(Protocol):
    """What one run of the callback job did (ivr/callcenter/callbacks.py: `Placed`)."""

    @property
    def outcome(self) -> str: ...


class CallbackWork(Protocol):
    """The callbacks, as the callback jobs call them (ivr/callcenter/callbacks.py)."""

    def place(self, sid: str, agent_id: str, attempt: int) -> PlacedCallback: ...

    def due(self, sid: str) -> bool: ...

    def start_scheduled(self, sid: str) -> bool: ...

    def not_reached(self, sid: str, attempt: int, reason: str, now: datetime) -> str: ...


class Reconciling(Protocol):
    """The holds, as the reconciliation job calls them (ivr/callcenter/holds.py)."""

    def reconcile(self, sid: str, now: datetime) -> str: ...


class Enqueuing(Protocol):
    """The job queue, as the periodic jobs reschedule themselves on it."""

    @property
    def queue(self) -> Queue: ...


class JobServices(Protocol):
    """The services the jobs use (read-only: `ivr.services.Services` has them all)."""

    @property
    def config(self) -> HotlineConfig: ...
    @property
    def stores(self) -> Stores: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def rest(self) -> TwilioApi: ...
    @property
    def directory(self) -> AccountDirectory: ...
    @property
    def jobs(self) -> Enqueuing: ...
    @property
    def agents(self) -> Agents: ...
    @property
    def matcher(self) -> Matching: ...
    @property
    def limits(self) -> OutboundLimits: ...
    @property
    def callbacks(self) -> CallbackWork: ...
    @property
    def holds(self) -> Reconciling: ...


_current: JobServices | None = None
_factory: Callable[[], JobServices] | None = None


def services() -> JobServices:
    """The services the jobs of this process run against (built by the factory on first use)."""
    global _current
    if _current is None:
        if _factory is None:
            raise RuntimeError("no services for jobs: run them in `python -m queue_worker`, or install()")
        _current = _factory()
    return _current


def install(instance: JobServices | None) -> None:
    """Use `instance` for the jobs of this process (a test's app's services, or None to rebuild)."""
    global _current
    _current = instance


def build_with(factory: Callable[[], JobServices]) -> None:
    """How this process builds its services the first time a job needs them."""
    global _factory
    _factory = factory
