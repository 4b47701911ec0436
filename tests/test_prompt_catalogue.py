"""The prompt catalogue is checked with the hotline file: every prompt in every language, the
same placeholders in each.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ivr.prompts import PROMPTS_DIR
from tests.hotline_copies import HotlineCopy


@pytest.fixture
def hotline(tmp_path: Path) -> HotlineCopy:
    """A scratch copy of hotline.yaml and demo_accounts.yaml to break."""
    return HotlineCopy.of_shipped(tmp_path)


@pytest.fixture
def prompts_copy(tmp_path: Path) -> Path:
    """A scratch copy of the prompt catalogue."""
    folder = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, folder)
    return folder


@pytest.mark.parametrize(
    "prompt_id",
    ["label_refund", "goodbye"],  # referenced by the hotline file / said by the code
)
def test_prompt_missing_in_one_language(hotline: HotlineCopy, prompts_copy: Path, prompt_id: str) -> None:
    english = prompts_copy / "en-US.yaml"
    lines = english.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f"  {prompt_id}:")]
    assert len(kept) == len(lines) - 1
    english.write_text("".join(kept), encoding="utf-8")

    assert hotline.load().locales == ["zh-CN", "en-US"]  # the shipped catalogue is still used by default
    assert hotline.problems(prompts_copy) == [f"prompts/en-US.yaml: prompt {prompt_id!r} is missing"]


def test_prompt_only_in_one_language(hotline: HotlineCopy, prompts_copy: Path) -> None:
    chinese = prompts_copy / "zh-CN.yaml"
    data = yaml.safe_load(chinese.read_text(encoding="utf-8"))
    data["prompts"]["holiday_notice"] = "今天是节假日。"
    chinese.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    assert hotline.problems(prompts_copy) == ["prompts/en-US.yaml: prompt 'holiday_notice' is missing"]


def test_placeholders_differing_between_languages(hotline: HotlineCopy, prompts_copy: Path) -> None:
    english = prompts_copy / "en-US.yaml"
    text = english.read_text(encoding="utf-8")
    old = "  welcome: Welcome to the {name} customer hotline."
    assert text.count(old) == 1
    english.write_text(text.replace(old, "  welcome: Welcome to the {company} customer hotline."), "utf-8")

    assert hotline.problems(prompts_copy) == [
        "prompt 'welcome': placeholders differ between languages (zh-CN ['name'], en-US ['company'])"
    ]
