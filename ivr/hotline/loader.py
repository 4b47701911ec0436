"""Reading the hotline file: parse, validate whole, and report every problem with its line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ivr.hotline.checks import cross_check
from ivr.hotline.schema import HotlineFile
from ivr.prompts import PROMPTS_DIR, Language, PromptError, check_catalogue, load_catalogue


class ConfigError(RuntimeError):
    """The hotline file is invalid; `problems` lists each one as 'file:line path: reason'."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n  ".join(problems)
        super().__init__(f"{path}: {len(problems)} problem(s), the hotline will not start:\n  {listing}")


@dataclass(frozen=True)
class HotlineConfig:
    """The validated hotline file together with its prompt catalogue."""

    path: Path
    file: HotlineFile
    languages: dict[str, Language]

    @property
    def locales(self) -> list[str]:
        """Offered locales, the default first."""
        return [lang.locale for lang in self.file.languages]


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every path in the YAML document to its 1-based line number."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (key.value,)
            lines[child] = key.start_mark.line + 1
            lines.update({k: v for k, v in _line_index(value, child).items() if k != child})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, path + (i,)))
    return lines


def _where(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    """The line of the deepest part of `loc` the file has (a missing key: its parent)."""
    loc = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def load_hotline(path: Path, prompts_dir: Path = PROMPTS_DIR) -> HotlineConfig:
    """Load and validate the hotline file; raises ConfigError listing every problem."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
        tree = yaml.compose(text)
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(path, [f"{name}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(path, [f"{name}{line}: not valid YAML: {exc}"]) from None
    if tree is None or not isinstance(raw, dict):
        raise ConfigError(path, [f"{name}:1: the file must be a mapping of sections"])
    lines = _line_index(tree)

    try:
        parsed = HotlineFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
            dotted = ".".join(str(p) for p in loc) or "(top)"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                message = "is required"
            elif err["type"] == "extra_forbidden":
                message = "is not a known setting (misspelt?)"
            problems.append(f"{name}:{_where(lines, loc)} {dotted}: {message}")
        raise ConfigError(path, problems) from None

    problems = [
        f"{name}:{_where(lines, loc)} {'.'.join(str(p) for p in loc)}: {message}"
        for loc, message in cross_check(parsed, base_dir=path.parent)
    ]
    languages: dict[str, Language] = {}
    try:
        languages = load_catalogue([lang.locale for lang in parsed.languages], prompts_dir)
    except PromptError as exc:
        problems.append(str(exc))
    else:
        problems.extend(check_catalogue(languages, referenced_prompts(parsed)))
    if problems:
        raise ConfigError(path, problems)
    return HotlineConfig(path=path, file=parsed, languages=languages)


def referenced_prompts(parsed: HotlineFile) -> set[str]:
    """Every prompt id the hotline file names."""
    ids: set[str] = set()
    for node in parsed.flow.nodes.values():
        ids.update(p for p in (node.prompt, node.reprompt) if p)
        ids.update(node.prompts)
        ids.update(opt.label for opt in node.options if opt.label)
    return ids
