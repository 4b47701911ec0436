"""Prometheus metrics at GET /metrics: what an operator alerts on, correct under several workers.

Two kinds, read differently:

- **Live figures** (callers waiting, the longest wait, agents by state, today's offered /
  answered / abandoned, service level, event log length) are read from Redis when Prometheus
  scrapes, by a collector (`HotlineCollector`), so every web process answers the same numbers
  and none keeps state of its own.
- **Webhook latency** (`hotline_webhook_seconds`, a histogram per webhook route and status class)
  is measured in each process. Under gunicorn's several workers, prometheus_client's
  multiprocess mode adds them up: `gunicorn.conf.py` (which gunicorn reads from its working
  directory) points `PROMETHEUS_MULTIPROC_DIR` at a fresh directory before the workers start and
  marks a worker's files dead when it exits.
  Without that variable (the test client, `flask run`) the process's own registry is served.

The endpoint needs a supervisor's token (`Authorization: Bearer`, which Prometheus's
`authorization` scrape setting sends): the figures are the business's. Its errors (401, 403,
429, 503) are JSON, as the API's are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ivr import keys
from ivr.api.auth import require
from ivr.api.errors import answer_errors_as_json
from ivr.api.supervisor import statistics
from ivr.services import Services, services

bp = Blueprint("metrics", __name__)
answer_errors_as_json(bp)

WEBHOOK_SECONDS = Histogram(
    "hotline_webhook_seconds",
    "Time to answer a Twilio webhook, by route and status class",
    ["route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class HotlineCollector(Collector):
    """The live figures, read from Redis at each scrape (the supervisor statistics)."""

    def __init__(self, hotline: Services) -> None:
        self.hotline = hotline

    def collect(self) -> Iterator[Metric]:
        """One family per figure, labelled by department (and state)."""
        hotline = self.hotline
        report = statistics(hotline).queue_report(hotline.clock.now())

        def per_department(name: str, documentation: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, documentation, labels=["department"])

        families = {
            "waiting": per_department("hotline_queue_waiting", "Callers waiting"),
            "longest_wait_seconds": per_department(
                "hotline_queue_longest_wait_seconds", "How long the longest-waiting caller has waited"
            ),
            "offered": per_department("hotline_calls_offered_today", "Calls offered today"),
            "answered": per_department("hotline_calls_answered_today", "Calls answered today"),
            "abandoned": per_department(
                "hotline_calls_abandoned_today", "Callers who hung up waiting, today"
            ),
            "service_level": per_department(
                "hotline_service_level_ratio", "Answered within the service level today (0-1)"
            ),
        }
        agents = GaugeMetricFamily(
            "hotline_agents", "Agents of a department by state", labels=["department", "state"]
        )
        for queue in report["queues"]:
            dept = queue["department"]
            for name, family in families.items():
                if queue[name] is not None:
                    family.add_metric([dept], float(queue[name]))
            for state, count in queue["agents"].items():
                agents.add_metric([dept, state], float(count))
        yield from families.values()
        yield agents
        log = GaugeMetricFamily("hotline_event_log_entries", "Entries kept in the event log")
        log.add_metric([], float(hotline.stores.data.xlen(keys.events())))
        yield log


def _route_of(path: str) -> str:
    """A webhook's route without its state (`/voice/step/account` -> `step`), few label values."""
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[2] else "voice"


def install(app: Flask) -> None:
    """Time every webhook of `app` and serve /metrics."""

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(resp: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None and request.path.startswith("/voice/"):
            WEBHOOK_SECONDS.labels(_route_of(request.path), f"{resp.status_code // 100}xx").observe(
                time.perf_counter() - started
            )
        return resp

    app.register_blueprint(bp)


@bp.get("/metrics")
@require("supervisor")
def metrics() -> Response:
    """The Prometheus text format: this process's (or all workers') histograms and the live figures."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every worker's histograms, added up
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    live = CollectorRegistry()
    live.register(HotlineCollector(services()))
    return Response(body + generate_latest(live), mimetype=CONTENT_TYPE_LATEST)
