"""The processes the web benchmark measures: gunicorn as the Procfile starts it, and their CPU time.

Every web server here (the hotline on each data set, the static floor, the sample-style app) is
the Procfile's `web:` command line, word for word, with only `PORT`, `WEB_CONCURRENCY` and (for
the peers) the WSGI app changed: the same threads and timeout, every other variable at its
Procfile default. Each is pinned with
`taskset` to the server core, Redis too; the load generator runs on the other core.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def procfile_web_args(port: int, concurrency: int, app: str = "wsgi:app") -> list[str]:
    """The Procfile's `web:` command with its variables filled in, serving `app`."""
    for line in (PROJECT_ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("web:"):
            command = line.removeprefix("web:").strip()
            break
    else:
        raise RuntimeError("the Procfile has no web: line")
    given = {"WEB_CONCURRENCY": str(concurrency), "PORT": str(port)}
    # ${NAME:-default}: what the benchmark sets (workers, port), else the Procfile's default.
    command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: given.get(m.group(1), m.group(2)), command)
    words = shlex.split(command)
    if "wsgi:app" not in words or words[0] != "gunicorn":
        raise RuntimeError(f"the Procfile's web line is not `gunicorn ... wsgi:app`: {command}")
    return [app if word == "wsgi:app" else word for word in words]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (/proc/<pid>/stat), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def children(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers of its master)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class WebServer:
    """One gunicorn (master and workers) on 127.0.0.1:`port`, pinned to `core`."""

    def __init__(self, name: str, port: int, env: dict[str, str], core: int, work: Path, app: str) -> None:
        self.name, self.port, self.env, self.core, self.app = name, port, env, core, app
        self.log = work / f"web-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.workers: list[int] = []

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, concurrency: int) -> None:
        """Start it (without waiting: `wait_ready` does)."""
        args = ["taskset", "-c", str(self.core), *procfile_web_args(self.port, concurrency, self.app)]
        args[3:4] = [str(Path(sys.executable).with_name("gunicorn"))]  # the venv's gunicorn
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, concurrency: int, seconds: float = 90) -> None:
        """Until it answers and all its workers run."""
        deadline = time.monotonic() + seconds
        while True:
            if self.proc is None or self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"gunicorn {self.name} exited:\n{tail}")
            try:
                requests.get(f"{self.url}/", timeout=2)
                self.workers = children(self.proc.pid)
                if len(self.workers) >= concurrency:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {self.name} not ready after {seconds:g} s; see {self.log}")
            time.sleep(0.2)

    def cpu(self) -> float:
        """CPU seconds used so far by its master and workers."""
        assert self.proc is not None
        return sum(cpu_seconds(pid) for pid in [self.proc.pid, *children(self.proc.pid)])

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL to the group if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def pin(pid: int, core: int) -> None:
    """Pin a running process (all its threads) to one core."""
    subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid)], check=True, capture_output=True)
