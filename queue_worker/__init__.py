"""rq jobs and the worker: the hotline's work that must not block a webhook."""
