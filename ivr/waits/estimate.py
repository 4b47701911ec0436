"""The one wait estimate the hold loop, the statistics and callback offers use.

The contract: everything the hotline knows at one instant about one caller's queue is a
`QueueState`; `estimate(state)` turns it into an `Estimate` (mean and a range with a stated
coverage), or None when no figure can be backed (nobody serving the queue). The benchmark under
`bench/` calls `estimate` the same way the webhooks do, so what it measures is what callers hear.

The model: with n callers ahead, s agents each finishing a call at rate mu = 1/handle, and
waiting callers giving up at rate theta = 1/patience, the caller's wait is the time for n + 1
departures from the queue in front of them, a sum of exponentials with rates s*mu + i*theta,
i = n..0; its mean is sum_i 1/(s*mu + i*theta).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HANDLE_SECONDS = 180.0
COVERAGE = 0.8  # the share of real waits the announced range is meant to hold


@dataclass(frozen=True)
class QueueState:
    """What the hotline knows, at one instant, about the queue in front of one caller.

    agents: staffed agents serving this caller's queue now (ready, busy or in wrap-up); may be
        fractional when agents are shared with other departments.
    ready: of them, free this instant.
    ahead: callers who will be served before this one as things stand (higher classes, and the
        same class arrived earlier, in every queue these agents serve).
    mean_handle_seconds: how long a served caller keeps an agent (talk plus wrap-up); None: unknown.
    mean_patience_seconds: callers' mean patience before hanging up; None: nobody abandons.
    overtaking_per_second: arrival rate of callers in higher classes, who will go first.
    staffing_changes: planned (seconds from now, agents from then on), in time order.
    waited_seconds: how long this caller has waited already.
    """

    agents: float
    ready: int = 0
    ahead: int = 0
    mean_handle_seconds: float | None = None
    mean_patience_seconds: float | None = None
    overtaking_per_second: float = 0.0
    staffing_changes: tuple[tuple[float, float], ...] = ()
    waited_seconds: float = 0.0


@dataclass(frozen=True)
class Estimate:
    """An expected wait in seconds, with a range [low, high] meant to hold `coverage` of waits."""

    seconds: float
    low: float = 0.0
    high: float = 0.0
    coverage: float = COVERAGE

    @property
    def minutes(self) -> int:
        """Rounded up to whole minutes, at least one."""
        return max(1, int(-(-self.seconds // 60)))

    @property
    def under_a_minute(self) -> bool:
        """Short enough to say 'less than a minute'."""
        return self.seconds < 60


def estimate(state: QueueState) -> Estimate | None:
    """The expected wait of the caller `state` describes; None when nobody serves the queue."""
    if state.agents <= 0:
        return None
    if state.ahead < state.ready:
        return Estimate(seconds=0.0)  # an idle agent is there for this caller: being connected
    mu = 1.0 / (state.mean_handle_seconds or DEFAULT_HANDLE_SECONDS)
    theta = 1.0 / state.mean_patience_seconds if state.mean_patience_seconds else 0.0
    rates = [state.agents * mu + i * theta for i in range(state.ahead - state.ready + 1)]
    mean = sum(1.0 / r for r in rates)
    sd = sum(1.0 / r**2 for r in rates) ** 0.5
    # A normal-ish band for now; the estimator work replaces it with the wait's own quantiles.
    return Estimate(seconds=mean, low=max(0.0, mean - 1.28 * sd), high=mean + 1.28 * sd)


def estimate_wait(
    ahead: int, staffed_agents: int, mean_handle_seconds: float | None, ready_agents: int = 0
) -> Estimate | None:
    """The webhooks' shorthand while they read only position, staffing and handle time."""
    return estimate(
        QueueState(
            agents=staffed_agents, ready=ready_agents, ahead=ahead, mean_handle_seconds=mean_handle_seconds
        )
    )
