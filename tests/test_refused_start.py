"""The app refuses to start on a broken hotline file, saying every problem, in a process of its
own as `make run` starts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hotline_copies import ROOT, VALID_ENV, HotlineCopy


@pytest.fixture
def hotline(tmp_path: Path) -> HotlineCopy:
    """A scratch copy of hotline.yaml and demo_accounts.yaml to break."""
    return HotlineCopy.of_shipped(tmp_path)


def _start_app(hotline: HotlineCopy) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWILIO_", "HOTLINE_", "REDIS_", "PUBLIC_BASE_URL"))
    }
    env.update(
        VALID_ENV,
        HOTLINE_CONFIG=str(hotline.path),
        HOTLINE_DATA_DIR=str(hotline.folder / "data"),
        REDIS_URL="redis://127.0.0.1:6379/13",
    )
    return subprocess.run(
        [sys.executable, "-c", "import ivr.app, ivr.settings; ivr.app.create_app()"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_app_refuses_to_start_with_a_broken_file(hotline: HotlineCopy) -> None:
    hours = hotline.replace("    hours: weekdays\n", "    hours: weekday\n")
    menu = hotline.replace("          next: fees_help\n", "          next: fee_help\n")

    result = _start_app(hotline)

    assert result.returncode != 0
    assert "ConfigError" in result.stderr
    assert f"{hotline.path}: 3 problem(s), the hotline will not start:" in result.stderr
    assert (
        f"hotline.yaml:{hours} departments.accounts.hours: no opening hours named 'weekday'" in result.stderr
    )
    assert (
        f"hotline.yaml:{menu} flow.nodes.issue_menu.options.6.next: goes to 'fee_help', which is not a node"
        in result.stderr
    )


def test_app_refuses_to_start_with_invalid_yaml(hotline: HotlineCopy) -> None:
    line = hotline.replace("  max_tries: 3 ", "  max_tries: 3: ")

    result = _start_app(hotline)

    assert result.returncode != 0
    assert f"hotline.yaml:{line}: not valid YAML: mapping values are not allowed here" in result.stderr
