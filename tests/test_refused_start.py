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


def _clean_env(hotline: HotlineCopy, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWILIO_", "HOTLINE_", "REDIS_", "PUBLIC_BASE_URL", "PORT", "STANDIN_PORT"))
    }
    env.update(
        VALID_ENV,
        HOTLINE_CONFIG=str(hotline.path),
        HOTLINE_DATA_DIR=str(hotline.folder / "data"),
        # Port 1: nothing listens there, so a start that got as far as Redis fails at once.
        REDIS_URL="redis://127.0.0.1:1/13",
        **extra,
    )
    return env


def _python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """This Python run with `args` from the repository, its output captured."""
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _start_app(hotline: HotlineCopy, **extra: str) -> subprocess.CompletedProcess[str]:
    return _python(_clean_env(hotline, **extra), "-c", "import ivr.app, ivr.settings; ivr.app.create_app()")


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


BAD_CLOCKS = [
    (
        {"HOTLINE_CLOCK_START": "next monday"},
        "HOTLINE_CLOCK_START must be an ISO 8601 time such as 2026-03-02T08:55+08:00, not 'next monday'",
    ),
    ({"HOTLINE_CLOCK_SPEED": "fast"}, "HOTLINE_CLOCK_SPEED must be a number, not 'fast'"),
    ({"HOTLINE_CLOCK_SPEED": "0"}, "HOTLINE_CLOCK_SPEED must be a positive number, not '0'"),
    (
        {"HOTLINE_CLOCK_SPEED": "60", "HOTLINE_CLOCK_ORIGIN": "yesterday"},
        "HOTLINE_CLOCK_ORIGIN must be Unix seconds, not 'yesterday'",
    ),
]


@pytest.mark.parametrize(("clock", "message"), BAD_CLOCKS, ids=["start", "speed", "speed-zero", "origin"])
def test_app_refuses_a_bad_clock_variable_by_name(
    hotline: HotlineCopy, clock: dict[str, str], message: str
) -> None:
    result = _start_app(hotline, **clock)

    assert result.returncode != 0
    assert f"SettingsError: {message}" in result.stderr
    assert "ConnectionError" not in result.stderr  # refused before Redis (nothing on port 1) is reached


@pytest.mark.parametrize(("clock", "message"), BAD_CLOCKS, ids=["start", "speed", "speed-zero", "origin"])
def test_make_run_refuses_a_bad_clock_variable_by_name(
    hotline: HotlineCopy, clock: dict[str, str], message: str
) -> None:
    env = _clean_env(hotline, PORT="8601", STANDIN_PORT="8602", **clock)
    del env["REDIS_URL"]  # the launcher's own embedded Redis, which it must not get as far as starting

    result = _python(env, "-m", "hotline_tools.launcher")

    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert not (hotline.folder / "data").exists()


def _entry_point(hotline: HotlineCopy, *command: str) -> subprocess.CompletedProcess[str]:
    return _python(_clean_env(hotline), *command)


def _says_the_menu_problem(hotline: HotlineCopy, stderr: str, line: int) -> bool:
    return (
        f"hotline.yaml:{line} flow.nodes.issue_menu.options.6.next: goes to 'fee_help', which is not a node"
        in stderr
    )


def test_a_flask_command_says_what_is_wrong_without_a_traceback(hotline: HotlineCopy) -> None:
    menu = hotline.replace("          next: fees_help\n", "          next: fee_help\n")

    result = _entry_point(hotline, "-m", "flask", "--app", "wsgi", "agents", "list")

    assert result.returncode == 4
    assert _says_the_menu_problem(hotline, result.stderr, menu)
    assert "Traceback" not in result.stderr


def test_gunicorn_halts_on_a_broken_file_saying_what_is_wrong(hotline: HotlineCopy) -> None:
    """Workers that cannot load the app stop gunicorn ("App failed to load"), not a restart loop.
    (With several workers gunicorn itself may print its HaltServer's traceback: not ours.)"""
    menu = hotline.replace("          next: fees_help\n", "          next: fee_help\n")

    result = _entry_point(hotline, "-m", "gunicorn", "--workers", "2", "--bind", "127.0.0.1:0", "wsgi:app")

    assert result.returncode != 0
    assert "App failed to load" in result.stderr
    assert _says_the_menu_problem(hotline, result.stderr, menu)
    assert "wsgi.py" not in result.stderr and "ConfigError" not in result.stderr


def test_the_worker_says_what_is_wrong_with_the_file_without_a_traceback(hotline: HotlineCopy) -> None:
    """`python -m queue_worker` refuses a broken file as the web process does: the problems, status 4."""
    menu = hotline.replace("          next: fees_help\n", "          next: fee_help\n")

    result = _entry_point(hotline, "-m", "queue_worker")

    assert result.returncode == 4
    assert _says_the_menu_problem(hotline, result.stderr, menu)
    assert "Traceback" not in result.stderr


def test_the_worker_and_the_web_process_refuse_a_bad_setting_alike(hotline: HotlineCopy) -> None:
    """An empty TWILIO_AUTH_TOKEN: the same words and status from the worker as from wsgi.py."""
    env = {**_clean_env(hotline), "TWILIO_AUTH_TOKEN": ""}
    answers = [
        subprocess.run(
            [sys.executable, *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        for command in (["-m", "queue_worker"], ["-c", "import wsgi"])
    ]

    worker, web = answers
    assert worker.returncode == web.returncode == 4
    assert worker.stderr == web.stderr
    assert (
        worker.stderr.startswith("invalid settings:\n") and "TWILIO_AUTH_TOKEN: must be set" in worker.stderr
    )
