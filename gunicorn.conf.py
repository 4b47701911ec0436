"""gunicorn's settings file, read from the working directory by `gunicorn wsgi:app` (Procfile, make run).

Only what the metrics need (ivr/web/metrics.py): prometheus_client's multiprocess mode, so that
/metrics adds up the webhook latencies of every worker. The directory must be known before
prometheus_client is first imported (here, in the master, before the workers fork), and emptied
at start: files left by an earlier run would be counted again.
"""

import os
import tempfile
from pathlib import Path

_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="hotline-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _dir
for _old in Path(_dir).glob("*.db"):
    _old.unlink()

from gunicorn.arbiter import Arbiter  # noqa: E402
from gunicorn.workers.base import Worker  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402  (after the directory is set)


def child_exit(server: Arbiter, worker: Worker) -> None:
    """A worker ended: its live gauges no longer count (its counters and histograms still do)."""
    multiprocess.mark_process_dead(worker.pid)
