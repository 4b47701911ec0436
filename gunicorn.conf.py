"""gunicorn's settings file, read from the working directory by `gunicorn wsgi:app` (Procfile, make run).

No control socket: gunicorn's default is one per user ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl),
so a second hotline (or a benchmark's server) on the host would take over the first one's.

The metrics (ivr/web/metrics.py) need prometheus_client's multiprocess mode, so that
/metrics adds up the webhook latencies of every worker. The directory must be known before
prometheus_client is first imported (here, in the master, before the workers fork), and emptied
at start: files left by an earlier run would be counted again.
"""

import os
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType

_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="hotline-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _dir
for _old in Path(_dir).glob("*.db"):
    _old.unlink()

control_socket_disable = True

from gunicorn.arbiter import Arbiter  # noqa: E402
from gunicorn.workers.base import Worker  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402  (after the directory is set)


def child_exit(server: Arbiter, worker: Worker) -> None:
    """A worker ended: its live gauges no longer count (its counters and histograms still do)."""
    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Worker) -> None:
    """On SIGTERM, end the worker's live streams first: an open desktop or wallboard would hold its
    thread, and the worker, until the graceful timeout, and a restart or `make run`'s Ctrl-C with it.
    An app without live streams (the web benchmark's peers, served under these same settings) has
    nothing to end."""
    from ivr.web.live import EXTENSION, hub_of

    if EXTENSION not in getattr(worker.wsgi, "extensions", {}):
        return
    hub = hub_of(worker.wsgi)
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=hub.close, daemon=True).start()  # not under a lock a thread may hold
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)
