"""The lines a console reads: from the keyboard, or from a pipe (echoed, so a transcript shows
them), run one by one until `quit`."""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["command_loop", "read_line"]


def command_loop(
    read: Callable[[], str | None], do: Callable[[str], None], going: Callable[[], bool] = lambda: True
) -> None:
    """Run each line `read` gives with `do` until `quit`, the end of input (None), Ctrl-C, or
    `going` says to stop."""
    try:
        while going():
            line = read()
            if line is None or line.strip() == "quit":
                break
            do(line)
    except KeyboardInterrupt:
        pass


def read_line() -> str | None:
    """A line from the keyboard, or from a pipe (echoed so the transcript shows it)."""
    try:
        line = input("> ") if sys.stdin.isatty() else input()
    except EOFError:
        return None
    if not sys.stdin.isatty():
        print(f"> {line}", flush=True)
    return line
