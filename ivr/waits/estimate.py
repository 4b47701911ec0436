"""The one wait estimate the hold loop, the statistics and callback offers use.

For now a plain rule: callers ahead times the department's mean handle time, shared among
the agents who serve it (ready, ringing, on a call or in wrap-up). It ignores abandonment,
priorities and the coming staffing; the wait-time work replaces this function's body, and
every user of it follows.
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


def estimate_wait(ahead: int, staffed_agents: int, mean_handle_seconds: float | None) -> Estimate:
    """Expected wait of a caller with `ahead` callers in front of them."""
    handle = mean_handle_seconds or DEFAULT_HANDLE_SECONDS
    return Estimate(seconds=ahead * handle / max(staffed_agents, 1))
