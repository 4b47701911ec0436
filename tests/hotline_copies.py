"""A scratch copy of the shipped hotline file to break, and how the loader's problems are read:
what the tests of the hotline file, its prompts, the settings and a refused start share."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.hotline.loader import ConfigError, HotlineConfig, load_hotline
from ivr.prompts import PROMPTS_DIR

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "hotline.yaml"
DEMO_ACCOUNTS = ROOT / "demo_accounts.yaml"
VALID_ENV = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "x" * 20}
BOTH_PROMPT_FILES = "prompts/zh-CN.yaml, prompts/en-US.yaml"


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only occurrence of `needle` in `text`."""
    assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times"
    return text[: text.index(needle)].count("\n") + 1


@dataclass
class HotlineCopy:
    """A copy of the shipped hotline file (and its demo accounts) in a scratch folder."""

    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / "hotline.yaml"

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def data(self) -> dict[str, Any]:
        return yaml.safe_load(self.text)

    def write_data(self, data: dict[str, Any]) -> None:
        self.path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    def edit(self, change: Callable[[dict[str, Any]], object]) -> None:
        """Load the file as a dict, let `change` mutate it, write it back (comments are lost)."""
        data = self.data()
        change(data)
        self.write_data(data)

    def replace(self, old: str, new: str) -> int:
        """Replace the only occurrence of `old` in the text; returns the line it is on."""
        text = self.text
        line = line_of(text, old)
        self.path.write_text(text.replace(old, new), encoding="utf-8")
        return line

    def load(self, prompts_dir: Path = PROMPTS_DIR) -> HotlineConfig:
        return load_hotline(self.path, prompts_dir=prompts_dir)

    def problems(self, prompts_dir: Path = PROMPTS_DIR) -> list[str]:
        """The problems the loader reports; fails the test if the file is accepted."""
        with pytest.raises(ConfigError) as caught:
            self.load(prompts_dir)
        problems = caught.value.problems
        assert problems, "a ConfigError must list its problems"
        for problem in problems:  # every problem is also in the message the operator sees
            assert problem in str(caught.value)
        return problems

    @classmethod
    def of_shipped(cls, folder: Path) -> HotlineCopy:
        """A scratch copy of hotline.yaml and demo_accounts.yaml in `folder`, to break."""
        shutil.copy(SHIPPED, folder / "hotline.yaml")
        shutil.copy(DEMO_ACCOUNTS, folder / "demo_accounts.yaml")
        return cls(folder)


def assert_reported(problems: list[str], expected: str, text: str | None = None) -> str:
    """`expected` ('path: reason') is reported as 'hotline.yaml:LINE path: reason'.

    With the file's `text`, the line must also be the one where the path's last key (or list
    item) is written. Returns the matching problem.
    """
    pattern = re.compile(r"hotline\.yaml:(\d+) " + re.escape(expected))
    matches = [p for p in problems if pattern.fullmatch(p)]
    assert len(matches) == 1, f"{expected!r} not reported once in {problems}"
    if text is not None:
        line = text.splitlines()[int(pattern.fullmatch(matches[0]).group(1)) - 1].strip()
        last = expected.split(": ", 1)[0].rsplit(".", 1)[-1]
        if last.isdigit():
            assert line.startswith("- "), f"{matches[0]} points at {line!r}"
        else:
            assert line.removeprefix("- ").startswith(f"{last}:"), f"{matches[0]} points at {line!r}"
    return matches[0]
