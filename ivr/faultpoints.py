"""Named points inside multi-step work where a crash is most costly, for tests and the fault bench.

`reached(name)` costs nothing in production. A test replaces `hook` (with monkeypatch) to raise
at a point, and so plays a process that died there. The fault benchmark starts workers with
`HOTLINE_FAULT_POINTS="matching.reserved:0.05,callback.dialled:0.1"`: at each named point the
worker kills itself with SIGKILL with that probability, as a real crash would (no `finally`,
no rq failure handling). The names are listed where they are reached, e.g. `grep -rn reached(`.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable


def _from_env(spec: str) -> dict[str, float]:
    """'name:probability,...' -> {name: probability}; a name alone means always."""
    points: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, share = item.partition(":")
        points[name] = float(share) if share else 1.0
    return points


_POINTS = _from_env(os.environ.get("HOTLINE_FAULT_POINTS", ""))


def _kill_self(name: str) -> None:
    share = _POINTS.get(name)
    if share and random.random() < share:
        os.kill(os.getpid(), signal.SIGKILL)


hook: Callable[[str], None] | None = _kill_self if _POINTS else None


def reached(name: str) -> None:
    """The work got to point `name`: a test or the fault benchmark may end the process here."""
    if hook is not None:
        hook(name)
