"""Background work: the job bodies, one module per family, and `JobQueue`, which enqueues them.

- `queue.py`: `JobQueue`, one typed method per job (its id, retries, timeouts, TTLs), `QUEUE_NAME`;
- `matching.py`, `callbacks.py`, `messages.py`, `accounts.py`, `periodic.py`: the job bodies,
  module-level functions with plain arguments (rq imports them by dotted path). They let
  exceptions through, so rq retries them and keeps the final failure in its failed-job registry;
- `context.py`: the services the bodies run against, installed by the worker.

Nothing here imports the HTTP layer or the worker; the web side enqueues, `queue_worker` works.
"""

from ivr.jobs.queue import MATCH_RETRY, QUEUE_NAME, JobQueue

__all__ = ["MATCH_RETRY", "QUEUE_NAME", "JobQueue"]
