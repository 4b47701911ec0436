"""The modules of ivr/ import each other in one direction only: the import graph has no loop."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ivr import keys

IVR = Path(__file__).resolve().parent.parent / "ivr"


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    names = {}
    for path in IVR.rglob("*.py"):
        parts = list(path.relative_to(IVR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the ivr modules it imports anywhere (function bodies and TYPE_CHECKING too)."""
    modules = module_names()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from ivr import keys` imports the module ivr.keys; `from ivr.x import f`, ivr.x.
                targets = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                found = known(target)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def find_loop(graph: dict[str, set[str]]) -> list[str]:
    """One import loop of `graph` as a path that comes back to its start, or [] when there is none."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str]:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph[node]):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done:
                loop = visit(nxt)
                if loop:
                    return loop
        path.pop()
        on_path.discard(node)
        done.add(node)
        return []

    for start in sorted(graph):
        if start not in done:
            loop = visit(start)
            if loop:
                return loop
    return []


def test_the_import_graph_of_ivr_has_no_loop() -> None:
    """A newcomer can read ivr/ bottom-up: no module needs one that needs it back."""
    graph = import_graph()
    assert "ivr.services" in graph["ivr.app"] and "ivr.voice.views" in graph["ivr.app"]
    loop = find_loop(graph)
    assert loop == [], "import loop: " + " -> ".join(loop)


def test_the_loop_finder_finds_a_loop() -> None:
    """The check above can fail: a loop of three modules is found and spelled out."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_loop(graph) == ["a", "b", "c", "a"]
    assert find_loop({"a": {"b"}, "b": set()}) == []


def test_domain_code_is_not_handed_the_services_object() -> None:
    """Only request code (views, API, CLI, health) and the worker reach the whole container."""
    graph = import_graph()
    allowed = ("ivr.app", "ivr.api", "ivr.cli", "ivr.readiness", "ivr.voice", "ivr.web")
    domain = ("ivr.voice.engine", "ivr.voice.turn", "ivr.voice.steps", "ivr.voice.twiml", "ivr.voice.speech")
    users = {name for name, imports in graph.items() if "ivr.services" in imports}
    assert users, "nobody reaches the services: the check would pass for nothing"
    for name in users:
        assert name.startswith(allowed) and not name.startswith(domain), name


def absolute_imports(path: Path) -> set[str]:
    """Every absolute module name `path` imports (`from a.b import c` gives a.b and a.b.c)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def reaches(names: set[str], packages: tuple[str, ...]) -> set[str]:
    """The names of `names` inside any of `packages` (a package counts as inside itself)."""
    return {name for name in names if any(name == p or name.startswith(p + ".") for p in packages)}


def test_the_worker_never_imports_request_code() -> None:
    """queue_worker sits below the request code (docs/architecture.md): no webhook, API or page."""
    request_code = ("ivr.voice", "ivr.api", "ivr.web", "ivr.app", "ivr.cli", "ivr.readiness")
    worker = sorted((IVR.parent / "queue_worker").rglob("*.py"))
    assert worker and any(reaches(absolute_imports(p), ("ivr",)) for p in worker)  # the check has teeth
    found = {
        f"{path.relative_to(IVR.parent)}: {name}"
        for path in worker
        for name in reaches(absolute_imports(path), request_code)
    }
    assert found == set()


def test_nothing_but_the_app_factory_imports_the_pages() -> None:
    """ivr/web (the desktop, the wallboard, the push) is reached only through ivr/app.py."""
    graph = import_graph()
    users = {name for name, imports in graph.items() if any(reaches({i}, ("ivr.web",)) for i in imports)}
    assert {user for user in users if not user.startswith("ivr.web")} == {"ivr.app"}


def test_only_the_twiml_module_touches_twilios_twiml_classes() -> None:
    """Views and flow steps say what the caller hears; ivr/voice/twiml.py alone builds TwiML."""
    users = {
        str(path.relative_to(IVR.parent))
        for path in IVR.rglob("*.py")
        if reaches(absolute_imports(path), ("twilio.twiml",))
    }
    assert users == {"ivr/voice/twiml.py"}


def key_literals(path: Path) -> list[str]:
    """The string literals of `path` that spell a hotline Redis key (`hl:`), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        f"{path.relative_to(IVR.parent)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and re.search(r"(?<![\w:])hl:", node.value)
    ]


def test_every_redis_key_is_spelled_in_the_keys_module() -> None:
    """A key named anywhere but ivr/keys.py (in Python or in a Lua script's text) is a second
    spelling that can drift: no other module spells `hl:` or builds on the keys' prefix."""
    assert keys.call("CA1") == "hl:call:CA1"  # what the check looks for is what keys look like
    product = [*IVR.rglob("*.py"), *(IVR.parent / "queue_worker").rglob("*.py")]
    others = [path for path in product if path != IVR / "keys.py"]
    assert len(others) > 100
    assert [line for path in others for line in key_literals(path)] == []
    prefix_users = [
        str(path.relative_to(IVR.parent))
        for path in others
        if {"ivr.keys.PREFIX"} & absolute_imports(path) or "keys.PREFIX" in path.read_text(encoding="utf-8")
    ]
    assert prefix_users == []
