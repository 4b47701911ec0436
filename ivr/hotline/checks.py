"""Checks that need the whole hotline file: references between sections and the flow's shape."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ivr.hotline.nodes import KINDS
from ivr.hotline.schema import HotlineFile, Node

Problem = tuple[tuple[Any, ...], str]


def cross_check(cfg: HotlineFile, base_dir: Path) -> list[Problem]:
    """Every cross-reference problem of the file, each with its location."""
    return [
        *_check_languages(cfg),
        *_check_departments(cfg),
        *_check_issues(cfg),
        *_check_flow(cfg),
        *_check_agents(cfg),
        *_check_directory(cfg, base_dir),
        *_check_callbacks(cfg),
    ]


def _duplicates(values: list[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


def _check_languages(cfg: HotlineFile) -> list[Problem]:
    problems: list[Problem] = []
    for dup in _duplicates([lang.locale for lang in cfg.languages]):
        problems.append((("languages",), f"{dup} is offered twice"))
    for dup in _duplicates([lang.digit for lang in cfg.languages]):
        problems.append((("languages",), f"digit {dup} chooses two languages"))
    return problems


def _check_departments(cfg: HotlineFile) -> list[Problem]:
    problems: list[Problem] = []
    locales = [lang.locale for lang in cfg.languages]
    for name, dept in cfg.departments.items():
        where = ("departments", name)
        if dept.hours not in cfg.hours:
            problems.append((where + ("hours",), f"no opening hours named {dept.hours!r}"))
        for locale in locales:
            if locale not in dept.names:
                problems.append((where + ("names",), f"no name in {locale}"))
        if dept.overflow_to is not None:
            if dept.overflow_to == name:
                problems.append((where + ("overflow_to",), "cannot overflow to itself"))
            elif dept.overflow_to not in cfg.departments:
                problems.append((where + ("overflow_to",), f"no department {dept.overflow_to!r}"))
            if dept.overflow_after_seconds is None:
                problems.append((where + ("overflow_to",), "needs overflow_after_seconds"))
        if dept.when_closed is not None:
            if dept.when_closed == name:
                problems.append((where + ("when_closed",), "cannot send callers to itself"))
            elif dept.when_closed not in cfg.departments:
                problems.append((where + ("when_closed",), f"no department {dept.when_closed!r}"))
    return problems


def _check_issues(cfg: HotlineFile) -> list[Problem]:
    problems: list[Problem] = []
    locales = {lang.locale for lang in cfg.languages}
    if "other" not in cfg.issues:
        problems.append((("issues",), "an issue named 'other' is required (callers who press 0)"))
    for name, issue in cfg.issues.items():
        where = ("issues", name)
        if issue.department not in cfg.departments:
            problems.append((where + ("department",), f"no department {issue.department!r}"))
        for field in ("priority", "verified_priority"):
            value = getattr(issue, field)
            if value is not None and value not in cfg.priorities:
                problems.append((where + (field,), f"no priority class {value!r}"))
        for locale, dept in issue.language_departments.items():
            if locale not in locales:
                problems.append((where + ("language_departments", locale), "not an offered language"))
            if dept not in cfg.departments:
                problems.append((where + ("language_departments", locale), f"no department {dept!r}"))
    return problems


def _check_flow(cfg: HotlineFile) -> list[Problem]:
    problems: list[Problem] = []
    nodes = cfg.flow.nodes
    if cfg.flow.start not in nodes:
        problems.append((("flow", "start"), f"no node {cfg.flow.start!r}"))
    for kind in KINDS.values():
        found = [name for name, node in nodes.items() if node.type == kind.name]
        if kind.ends_menu and len(found) != 1:
            problems.append(
                (("flow", "nodes"), f"exactly one {kind.name} node is needed, found {len(found)}")
            )
    edges: dict[str, list[str]] = {}
    for name, node in nodes.items():
        where = ("flow", "nodes", name)
        problems += _check_node_fields(where, node)
        problems += _check_options(where, node, cfg)
        # Each target with where it is written, so a wrong one is reported on its own line.
        targets: list[tuple[tuple[Any, ...], str]] = [(where + ("next",), node.next)] if node.next else []
        targets += [(where + ("options", i, "next"), opt.next) for i, opt in enumerate(node.options)]
        problems += [(loc, f"goes to {t!r}, which is not a node") for loc, t in targets if t not in nodes]
        edges[name] = [t for _, t in targets if t in nodes]
    reached = _reachable(cfg.flow.start, edges) if cfg.flow.start in nodes else set()
    for name in nodes:
        if reached and name not in reached:
            problems.append((("flow", "nodes", name), "cannot be reached from the start"))
    return problems


def _check_options(where: tuple[Any, ...], node: Node, cfg: HotlineFile) -> list[Problem]:
    """A digit chooses one option; an option's issue exists."""
    problems: list[Problem] = [
        (where + ("options",), f"digit {dup} is used twice")
        for dup in _duplicates([o.digit for o in node.options])
    ]
    for i, opt in enumerate(node.options):
        if opt.issue is not None and opt.issue not in cfg.issues:
            problems.append((where + ("options", i, "issue"), f"no issue {opt.issue!r}"))
    return problems


def _check_node_fields(where: tuple[Any, ...], node: Node) -> list[Problem]:
    """What the node's kind needs (ivr/hotline/nodes.py) against what the file gives it."""
    kind = KINDS[node.type]
    problems: list[Problem] = []
    if kind.needs_prompt and not node.prompt:
        problems.append((where, f"a {node.type} node needs a prompt"))
    if kind.needs_options and not node.options:
        problems.append((where, f"a {node.type} node needs options"))
    if not kind.needs_options and node.options:
        problems.append((where + ("options",), f"a {node.type} node has no options"))
    if kind.needs_next and not node.next:
        problems.append((where, f"a {node.type} node needs next"))
    if kind.ends_menu and node.next:
        problems.append((where + ("next",), f"the {node.type} node is where the menu ends"))
    if kind.needs_prompts and not node.prompts:
        problems.append((where, f"an {node.type} node needs prompts"))
    return problems


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _check_agents(cfg: HotlineFile) -> list[Problem]:
    problems: list[Problem] = []
    locales = {lang.locale for lang in cfg.languages}
    for dup in _duplicates([agent.id for agent in cfg.agents]):
        problems.append((("agents",), f"agent id {dup!r} is used twice"))
    for i, agent in enumerate(cfg.agents):
        for dept in agent.departments:
            if dept not in cfg.departments:
                problems.append((("agents", i, "departments"), f"no department {dept!r}"))
        for locale in agent.languages:
            if locale not in locales:
                problems.append((("agents", i, "languages"), f"{locale} is not an offered language"))
    return problems


def _check_directory(cfg: HotlineFile, base_dir: Path) -> list[Problem]:
    directory = cfg.directory
    if directory.kind == "file":
        if not directory.file:
            return [(("directory", "file"), "the file directory needs a file")]
        if not (base_dir / directory.file).is_file():
            return [(("directory", "file"), f"no such file: {directory.file}")]
    if directory.kind == "http" and not (directory.url or "").startswith(("http://", "https://")):
        return [(("directory", "url"), "the http directory needs an http(s) url")]
    return []


def _check_callbacks(cfg: HotlineFile) -> list[Problem]:
    """Every number an operator allows callbacks to must pass the outbound rules too."""
    from ivr.outbound.numbers import check_outbound_number

    problems: list[Problem] = []
    for i, number in enumerate(cfg.callbacks.allowed_numbers):
        check = check_outbound_number(cfg, number)
        if not check.ok:
            why = {"type": "not a number type outbound allows", "country": "not in outbound.countries"}
            problems.append((("callbacks", "allowed_numbers", i), why.get(check.reason or "", "not valid")))
    return problems
