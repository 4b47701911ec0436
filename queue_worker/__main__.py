"""`python -m queue_worker`: an rq worker (with its scheduler) for the hotline's queue."""

from __future__ import annotations

from rq import Worker

from ivr import logs
from ivr.jobs import QUEUE_NAME
from queue_worker.context import hotline
from queue_worker.jobs import schedule_sweep


def main() -> None:
    """Work the hotline queue until stopped."""
    logs.configure()
    hl = hotline()
    schedule_sweep(hl.jobs.queue)  # starts the periodic sweep (or finds it running already)
    Worker([QUEUE_NAME], connection=hl.stores.jobs).work(with_scheduler=True)


if __name__ == "__main__":
    main()
