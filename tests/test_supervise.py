"""The launcher's parts, in process: port and data-dir checks, restarts and their limits.

The launcher as a whole runs as a subprocess in test_launcher.py; here the parts it is built
from are held to what an operator reads: the variable to change, the exit status, the restart.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from hotline_tools import supervise
from hotline_tools.launcher import _web_up
from hotline_tools.preflight import DataDirLock, port_problem
from hotline_tools.supervise import Child, describe_exit


def test_a_port_someone_listens_on_is_named_with_its_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        problem = port_problem("127.0.0.1", port, "STANDIN_PORT")
    assert problem is not None
    assert problem.startswith(f"STANDIN_PORT: cannot listen on 127.0.0.1:{port}: taken by another program")
    assert "STANDIN_PORT=<port> make run" in problem
    assert port_problem("127.0.0.1", port, "STANDIN_PORT") is None  # free again


def test_one_launcher_at_a_time_per_data_dir(tmp_path: Path) -> None:
    first, second = DataDirLock(tmp_path), DataDirLock(tmp_path)
    assert first.acquire() is None
    refused = second.acquire()
    assert refused is not None and refused.startswith("HOTLINE_DATA_DIR: another `make run` (pid ")
    first.release()
    assert second.acquire() is None
    second.release()


def test_a_child_that_dies_is_restarted_then_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervise, "BACKOFF_SECONDS", (0.01,))
    child = Child("web server", [sys.executable, "-c", "import sys; sys.exit(3)"], {}, max_deaths=2)
    child.start()
    pids, going = {child.pid}, True
    deadline = time.monotonic() + 30
    while going and time.monotonic() < deadline:
        going = child.check()
        pids.add(child.pid)
        time.sleep(0.01)
    assert not going and child.deaths == 3 and len(pids) == 3  # started, restarted twice, given up
    assert describe_exit(child.last_exit) == "exit code 3"


def test_a_child_killed_is_described_by_its_signal() -> None:
    child = Child("worker", [sys.executable, "-c", "import time; time.sleep(60)"], {})
    child.start()
    assert child.process is not None
    child.process.send_signal(signal.SIGKILL)
    child.process.wait()
    assert child.check() and child.restart_at is not None  # a restart is due after the backoff
    assert describe_exit(child.last_exit) == "killed by SIGKILL"
    child.terminate()


def test_a_child_killed_at_stop_takes_its_own_children_with_it(tmp_path: Path) -> None:
    """As gunicorn with an open page: master and worker both deaf to SIGTERM; neither is left running."""
    pid_file = tmp_path / "worker.pid"
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    master = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"w = subprocess.Popen([sys.executable, '-c', {deaf!r}]); "
        f"open({str(pid_file)!r}, 'w').write(str(w.pid)); "
        "time.sleep(60)"
    )
    child = Child("web server (gunicorn)", [sys.executable, "-c", master], {})
    child.start()
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.05)
    worker = int(pid_file.read_text())
    child.terminate()
    child.wait(seconds=0.5)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and "Z" not in _state(worker):
        assert time.monotonic() < deadline, "the worker was left running"
        time.sleep(0.05)


def _state(pid: int) -> str:
    """A process's state letter from /proc (Z: gone, waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


def test_a_web_server_that_dies_at_start_says_so_naming_the_port() -> None:
    web = Child("web server (gunicorn)", [sys.executable, "-c", "import sys; sys.exit(1)"], {})
    web.start()
    why = _web_up(web, "127.0.0.1", 7399, [False])
    assert why == (
        "PORT: the web server (gunicorn) could not start on 127.0.0.1:7399 "
        "(exit code 1; its messages are above)"
    )
