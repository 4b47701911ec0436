"""What each predictor would announce, from what the hotline knows at the instant.

Every predictor answers the same question: how much longer will this caller wait. History-based
predictors estimate a whole wait and announce what is left of it (never below zero): the
head-of-line caller's wait so far, the last caller to reach an agent, the mean of the last ten
callers served, the mean wait so far of everyone now waiting (what Twilio reports as
AvgQueueTime), and Asterisk's announced hold time, a running average new = (3·old + last)/4
announced as that + 30 s minus the time already waited (app_queue.c). The queue-length formula
of Erlang's all-busy M/M/s is (n + 1)·h/s, ignoring abandonment. The product's estimate comes
from `ivr.waits.estimate.estimate`, called with the `QueueState` the hotline builds.
"""

from __future__ import annotations

from collections import deque

from ivr.waits.estimate import DEFAULT_HANDLE_SECONDS, Estimate

PRODUCT = "product estimate"
LIVE = "product, through the live path"
ANNOUNCED = "product, as announced"
HEAD_OF_LINE = "head of line"
LAST_SERVED = "last to enter service"
RECENT = "mean of last 10 waits"
NOW_WAITING = "now waiting (Twilio AvgQueueTime)"
ASTERISK = "Asterisk holdtime"
ERLANG_QL = "Erlang (n+1)h/s, no abandonment"
PREDICTORS = (PRODUCT, LIVE, ANNOUNCED, HEAD_OF_LINE, LAST_SERVED, RECENT, NOW_WAITING, ASTERISK, ERLANG_QL)
# The predictors published elsewhere (the live path must never do worse than the best of them).
PUBLISHED = (HEAD_OF_LINE, LAST_SERVED, RECENT, NOW_WAITING, ASTERISK, ERLANG_QL)

RECENT_WAITS = 10


def said_range(est: Estimate | None) -> tuple[float, float] | None:
    """The range the words stand for, in seconds, as a caller takes them (no ±20%).

    "between L and H minutes" [L, H]; "up to H" [0, H]; "about N" N give or take half its
    rounding step; "less than a minute" [0, 60); None when no figure is said.
    """
    if est is None or est.beyond:
        return None
    return est.spoken().seconds()


def announcement(est: Estimate) -> tuple[float, float, float]:
    """What a caller hears, in seconds: (the figure, the lowest and highest wait within ±20% of it).

    A spoken range "between L and H minutes" is taken at its middle, and a wait counts as within
    ±20% of it from 0.8·L to 1.2·H; the forms with no low end ("up to H", "up to a minute and a
    half", "less than a minute") 0 to H, taken at H / 2.
    """
    said = est.spoken()
    if said.kind in ("soon", "up_to_90s", "up_to"):
        top = said.seconds()[1]
        return top / 2, 0.0, 1.2 * top
    low, high = 60.0 * said.low, 60.0 * said.high
    return (low + high) / 2, 0.8 * low, 1.2 * high


class DepartmentHistory:
    """What one department's counters and recent calls tell, as the hotline keeps them."""

    def __init__(self, prior_handles: list[float], prior_patience: list[float] | None) -> None:
        # The profile starts from past weeks: a hotline does not learn its handle time anew each day.
        self.handle_sum, self.handle_count = sum(prior_handles), len(prior_handles)
        # Patience from abandonment (exponential MLE): time spent waiting / callers who gave up.
        self.waited_sum = sum(prior_patience) if prior_patience else 0.0
        self.abandoned = len(prior_patience) if prior_patience else 0
        self.last_wait: float | None = None
        self.recent: deque[float] = deque(maxlen=RECENT_WAITS)
        self.holdtime = 0.0  # Asterisk's running average

    def served(self, wait: float) -> None:
        """A caller reached an agent after `wait` seconds."""
        self.last_wait = wait
        self.recent.append(wait)
        self.holdtime = (3 * self.holdtime + wait) / 4
        self.waited_sum += wait

    def gave_up(self, wait: float) -> None:
        """A caller hung up after waiting `wait` seconds."""
        self.waited_sum += wait
        self.abandoned += 1

    def handled(self, seconds: float) -> None:
        """An agent finished a call of this department."""
        self.handle_sum += seconds
        self.handle_count += 1

    @property
    def mean_handle(self) -> float | None:
        return self.handle_sum / self.handle_count if self.handle_count else None

    @property
    def mean_patience(self) -> float | None:
        return self.waited_sum / self.abandoned if self.abandoned else None


def history_predictions(
    history: DepartmentHistory, waited: float, head_waited: float, mean_waited: float
) -> dict[str, float]:
    """The history-based predictors' remaining waits for a caller who has waited `waited`."""

    def left(total: float) -> float:
        return max(0.0, total - waited)

    last = history.last_wait if history.last_wait is not None else 0.0
    recent = sum(history.recent) / len(history.recent) if history.recent else 0.0
    return {
        HEAD_OF_LINE: left(head_waited),
        LAST_SERVED: left(last),
        RECENT: left(recent),
        NOW_WAITING: left(mean_waited),
        ASTERISK: left(history.holdtime + 30.0),
    }


def erlang_queue_length(ahead: int, agents: float, mean_handle: float | None) -> float:
    """(n + 1)·h/s: the all-busy M/M/s mean, blind to abandonment and overtaking."""
    return (ahead + 1) * (mean_handle or DEFAULT_HANDLE_SECONDS) / agents
