"""The one wait estimate the hold loop, the statistics and callback offers use.

For now a plain rule, the mean wait of the Erlang model when every agent is busy: with n
callers ahead and s agents each finishing a call every h seconds on average, (n + 1) * h / s.
It ignores abandonment, priorities and the coming staffing; the wait-time work replaces this
function's body, and every user of it follows. With nobody staffed there is no estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HANDLE_SECONDS = 180.0


@dataclass(frozen=True)
class Estimate:
    """An expected wait, in seconds."""

    seconds: float

    @property
    def minutes(self) -> int:
        """Rounded up to whole minutes, at least one."""
        return max(1, int(-(-self.seconds // 60)))

    @property
    def under_a_minute(self) -> bool:
        """Short enough to say 'less than a minute'."""
        return self.seconds < 60


def estimate_wait(
    ahead: int, staffed_agents: int, mean_handle_seconds: float | None, ready_agents: int = 0
) -> Estimate | None:
    """Expected wait of a caller with `ahead` callers in front of them; None when nobody serves."""
    if staffed_agents <= 0:
        return None
    if ahead < ready_agents:
        return Estimate(seconds=0.0)  # an idle agent is there for this caller: being connected
    handle = mean_handle_seconds or DEFAULT_HANDLE_SECONDS
    return Estimate(seconds=(ahead + 1) * handle / staffed_agents)
