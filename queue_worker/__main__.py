"""`python -m queue_worker`: an rq worker for the hotline's queue, with its upkeep thread."""

from __future__ import annotations

from rq import Worker

from ivr import logs
from ivr.jobs import QUEUE_NAME
from ivr.refusal import refused_on_bad_settings
from ivr.services import build_services
from queue_worker.context import services
from queue_worker.reaper import Reaper
from queue_worker.upkeep import Upkeep


def main() -> None:
    """Work the hotline queue until stopped."""
    logs.configure()
    with refused_on_bad_settings():  # as the web process: the problems, no traceback, status 4
        hl = services()
    logs.configure(json_lines=hl.settings.log_format == "json")
    # The reaper (expired holds, lost hang-ups, the agent sweep): a thread of its own, one holder,
    # on Redis clients of its own (a job's forked work horse must not inherit a pool in use).
    reaper = Reaper(build_services(hl.settings, hl.clock, worker=True), hl.settings.reaper_seconds)
    reaper.start()
    # The profile rollup: once now (a new hotline gets its summary at once), then every 5 minutes.
    hl.jobs.rollup_profiles()
    upkeep = Upkeep.of(hl)  # re-seeding, re-arming the rollup, and rq's scheduler process
    upkeep.start()
    try:
        Worker([QUEUE_NAME], connection=hl.stores.jobs).work()
    finally:
        upkeep.stop()
        reaper.stop.set()
        reaper.release()


if __name__ == "__main__":
    main()
