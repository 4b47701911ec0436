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


class _FileLoader(yaml.SafeLoader):
    """Safe YAML, but dates stay text: pydantic checks them, so a date like 2026-02-30 is a
    located problem instead of a ValueError escaping from the YAML constructor."""


_FileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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


def _repeated_keys(node: yaml.Node, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], int]]:
    """Keys written twice in the same mapping, with the line of the second one."""
    found: list[tuple[tuple[Any, ...], int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                found.append((path + (key.value,), key.start_mark.line + 1))
            seen.add(key.value)
            found.extend(_repeated_keys(value, path + (key.value,)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.extend(_repeated_keys(item, path + (i,)))
    return found


def load_hotline(path: Path, prompts_dir: Path = PROMPTS_DIR) -> HotlineConfig:
    """Load and validate the hotline file; raises ConfigError listing every problem."""
    tree, raw = _read(path)
    lines = _line_index(tree)
    parsed = _validate(path, raw, lines)
    problems = [
        f"{path.name}:{_where(lines, loc)} {'.'.join(str(p) for p in loc)}: {message}"
        for loc, message in cross_check(parsed, base_dir=path.parent)
    ]
    languages: dict[str, Language] = {}
    try:
        languages = load_catalogue([lang.locale for lang in parsed.languages], prompts_dir)
    except PromptError as exc:
        problems.append(str(exc))
    else:
        problems += _check_prompts(path.name, parsed, languages, lines)
    if problems:
        raise ConfigError(path, problems)
    return HotlineConfig(path=path, file=parsed, languages=languages)


def _read(path: Path) -> tuple[yaml.Node, dict[str, Any]]:
    """The file's YAML tree (for line numbers) and its data; a key given twice is refused."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
        tree = yaml.compose(text)
        raw = yaml.load(text, Loader=_FileLoader)
    except OSError as exc:
        raise ConfigError(path, [f"{name}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(path, [f"{name}{line}: not valid YAML: {exc}"]) from None
    if tree is None or not isinstance(raw, dict):
        raise ConfigError(path, [f"{name}:1: the file must be a mapping of sections"])
    repeated = [
        f"{name}:{line} {'.'.join(map(str, where))}: is given twice" for where, line in _repeated_keys(tree)
    ]
    if repeated:  # the later value would silently win: an operator's edit lost without a word
        raise ConfigError(path, repeated)
    return tree, raw


def _validate(path: Path, raw: dict[str, Any], lines: dict[tuple[Any, ...], int]) -> HotlineFile:
    """The schema's verdict, each problem on the line where it is written."""
    try:
        return HotlineFile.model_validate(raw)
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
            problems.append(f"{path.name}:{_where(lines, loc)} {dotted}: {message}")
        raise ConfigError(path, problems) from None


def _check_prompts(
    name: str, parsed: HotlineFile, languages: dict[str, Language], lines: dict[tuple[Any, ...], int]
) -> list[str]:
    """Prompt ids the file names that no language has, then the catalogues' own problems."""
    problems = []
    # A reference no language has is a typo in this file: report it where it is written.
    known = set().union(*(lang.texts for lang in languages.values()))
    files = ", ".join(f"prompts/{locale}.yaml" for locale in languages)
    referenced = set()
    for loc, prompt_id in prompt_references(parsed):
        if prompt_id in known:
            referenced.add(prompt_id)
        else:
            dotted = ".".join(str(p) for p in loc)
            problems.append(f"{name}:{_where(lines, loc)} {dotted}: no prompt {prompt_id!r} in {files}")
    problems.extend(check_catalogue(languages, referenced))
    return problems


def referenced_prompts(parsed: HotlineFile) -> set[str]:
    """Every prompt id the hotline file names."""
    return {prompt_id for _, prompt_id in prompt_references(parsed)}


def prompt_references(parsed: HotlineFile) -> list[tuple[tuple[Any, ...], str]]:
    """Every prompt id the hotline file names, with where it is named."""
    refs: list[tuple[tuple[Any, ...], str]] = []
    for name, node in parsed.flow.nodes.items():
        where = ("flow", "nodes", name)
        for field in ("prompt", "reprompt"):
            if getattr(node, field):
                refs.append((where + (field,), getattr(node, field)))
        for i, prompt_id in enumerate(node.prompts):
            refs.append((where + ("prompts", i), prompt_id))
        for i, opt in enumerate(node.options):
            if opt.label:
                refs.append((where + ("options", i, "label"), opt.label))
    return refs
