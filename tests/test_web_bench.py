"""The web benchmark's pieces that need no load: the server command, the peer app, the request file.

The benchmark itself (`make webbench`) runs by hand: it needs wrk and both cores.
"""

from __future__ import annotations

import runpy
import shlex
import signal
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.web.fill import Request
from bench.web.load import write_requests
from bench.web.peers import create_floor, create_sample
from bench.web.servers import PROJECT_ROOT, procfile_web_args


def test_every_server_runs_the_procfiles_web_command_with_only_port_workers_and_app_changed() -> None:
    """The hotline and its peers are measured under the deployment's gunicorn settings."""
    line = next(x for x in (PROJECT_ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    shipped = shlex.split(line.removeprefix("web:"))
    args = procfile_web_args(8123, 2, "bench.web.peers:floor")
    assert len(args) == len(shipped)
    changed = {(a, b) for a, b in zip(shipped, args, strict=True) if a != b}
    assert ("${WEB_CONCURRENCY:-4}", "2") in changed and ("wsgi:app", "bench.web.peers:floor") in changed
    assert ("0.0.0.0:${PORT:-5000}", "0.0.0.0:8123") in changed
    # Any other variable takes its Procfile default (${WEB_THREADS:-32} -> 32), nothing else changes.
    rest = changed - {
        ("${WEB_CONCURRENCY:-4}", "2"),
        ("0.0.0.0:${PORT:-5000}", "0.0.0.0:8123"),
        ("wsgi:app", "bench.web.peers:floor"),
    }
    assert all(a.startswith("${") and a.endswith("}") and a[:-1].endswith(":-" + b) for a, b in rest)
    assert "$" not in " ".join(args)


def test_the_sample_style_phone_tree_branches_on_the_key_pressed() -> None:
    """Its menu: 1 an answer and goodbye, 2 the next Gather, anything else back to the welcome."""
    client = create_sample().test_client()
    welcome = ET.fromstring(client.post("/ivr/welcome").data)
    assert welcome.find("Gather").get("action") == "/ivr/menu"
    answers = {digit: ET.fromstring(client.post("/ivr/menu", data={"Digits": digit}).data) for digit in "129"}
    assert answers["1"].find("Hangup") is not None
    assert answers["2"].find("Gather").get("action") == "/ivr/fees"
    assert answers["9"].find("Redirect").text == "/ivr/welcome"


def test_the_request_file_keeps_each_request_on_its_own_line(tmp_path: Path) -> None:
    """wrk's script splits a line on tabs: a field that holds one is refused, not sent garbled."""
    good = Request(
        "POST", "/voice/hold?p=3", {"X-Twilio-Signature": "abc=", "A": "b"}, "CallSid=CA1&From=%2B86"
    )
    lines = write_requests(tmp_path / "ok.txt", [good, good]).read_text().splitlines()
    assert lines == ["POST\t/voice/hold?p=3\tX-Twilio-Signature=abc=\x01A=b\tCallSid=CA1&From=%2B86"] * 2
    with pytest.raises(ValueError):
        write_requests(tmp_path / "bad.txt", [Request("POST", "/x", {}, "a=1\tb")])


def test_the_peer_apps_start_under_the_procfiles_gunicorn_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gunicorn.conf.py's worker hook ends a hotline worker's live streams on SIGTERM; the floor and
    the sample have none, and their workers must start all the same (they did not: the benchmark
    could not run)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # the settings file empties it
    settings = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    before = signal.getsignal(signal.SIGTERM)
    for app in (create_floor(), create_sample()):
        settings["post_worker_init"](SimpleNamespace(wsgi=app))
    assert signal.getsignal(signal.SIGTERM) is before
