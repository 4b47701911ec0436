"""The Procfile's processes as a deployment starts them, from the repository's directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.web.servers import PROJECT_ROOT, procfile_web_args

# gunicorn's settings as it resolves them from a command line and gunicorn.conf.py.
SETTINGS = """
import sys
from gunicorn.app.wsgiapp import WSGIApplication
sys.argv = sys.argv[1:]
print(WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]").cfg.control_socket_disable)
"""


def test_the_procfiles_web_server_opens_no_per_user_control_socket(tmp_path: Path) -> None:
    """Two hotlines on one host would share gunicorn's default control socket; the Procfile's has none."""
    env = {**os.environ, "HOME": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("XDG_RUNTIME_DIR", None)
    args = procfile_web_args(8602, 1)
    done = subprocess.run(
        [sys.executable, "-c", SETTINGS, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
