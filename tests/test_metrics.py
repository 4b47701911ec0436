"""Prometheus /metrics: the live figures read from Redis, and webhook latency added up across workers.

In process: a caller on hold shows as waiting in payments, and the webhooks they went through
are counted. Under gunicorn with two workers (the Procfile's server, with `gunicorn.conf.py`):
however the requests were spread, every scrape, whichever worker answers it, counts them all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
import requests
from flask import Flask

from ivr.api.auth import issue_token
from ivr.store import embedded_redis, stop_embedded_redis
from standin.phone import Call
from tests.test_api import payments_caller, token_for
from tests.test_launcher import ROOT, free_ports


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the Prometheus text `text`."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(
        rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$" if labels else rf"^{name} (\S+)$", text, re.M
    )
    return float(found.group(1)) if found else None


def test_live_figures_and_webhook_latency(app: Flask, dial: Callable[..., Call]) -> None:
    client = app.test_client()
    agent = {"Authorization": f"Bearer {token_for(app, 'agent', 'li_na')}"}
    for headers, code in (({}, 401), ({"Authorization": "Bearer hl_wrong"}, 401), (agent, 403)):
        refused = client.get("/metrics", headers=headers)  # answered as the API answers
        assert refused.status_code == code and refused.is_json and refused.get_json()["error"]
    assert client.get("/metrics").headers["WWW-Authenticate"] == 'Bearer realm="hotline"'
    before = client.get("/metrics", headers={"Authorization": f"Bearer {token_for(app, 'supervisor', 'z')}"})
    counted = sample(
        before.get_data(as_text=True), "hotline_webhook_seconds_count", route="incoming", status="2xx"
    )
    payments_caller(dial)
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {token_for(app, 'supervisor', 'z')}"})
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    assert sample(text, "hotline_queue_waiting", department="payments") == 1.0
    assert sample(text, "hotline_calls_offered_today", department="payments") == 1.0
    assert sample(text, "hotline_agents", department="payments", state="offline") == 2.0
    assert sample(text, "hotline_webhook_seconds_count", route="incoming", status="2xx") == (counted or 0) + 1
    assert (sample(text, "hotline_event_log_entries") or 0) >= 1


def test_two_gunicorn_workers_count_every_webhook_in_every_scrape() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="hotline-metrics-test-"))
    server = embedded_redis(data_dir)
    (port,) = free_ports(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_", "PROMETHEUS_"))}
    env |= {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "local-development-token",
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        "HOTLINE_VALIDATE_SIGNATURES": "false",  # a local run: the requests below are not signed
        "REDIS_URL": server.url,
    }
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--no-control-socket",
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        token = issue_token(redis.Redis.from_url(server.url, decode_responses=True), "supervisor", "ops")

        def ring(n: int) -> int:
            form = {
                "CallSid": f"CA{n:032x}",
                "From": "+8613800138000",
                "To": "+864001234567",
                "AccountSid": "AC" + "0" * 32,
            }
            return requests.post(f"{base}/voice/incoming", data=form, timeout=10).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(ring, range(40))) == {200}
        for _ in range(6):  # several scrapes: each worker answers some
            text = requests.get(
                f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
            ).text
            assert sample(text, "hotline_webhook_seconds_count", route="incoming", status="2xx") == 40.0
    finally:
        web.terminate()
        web.wait(timeout=30)
        stop_embedded_redis(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
