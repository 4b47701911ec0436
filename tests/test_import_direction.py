"""Imports go one way: the product <- the stand-in for Twilio <- the tools, benchmarks and tests.

The product (`ivr`, `queue_worker`) runs against real Twilio and never needs the simulator; the
simulator (`standin`) stands in for Twilio and knows nothing of the phone, console and launcher
(`hotline_tools`) built on it; the installed packages never reach into `bench` or `tests`. Read
with `ast`, so an import inside a function or under `TYPE_CHECKING` counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The packages each one must not import (its own top-level name, then the forbidden ones).
FORBIDDEN = {
    "ivr": {"standin", "hotline_tools", "bench", "tests"},
    "queue_worker": {"standin", "hotline_tools", "bench", "tests"},
    "standin": {"hotline_tools", "bench", "tests"},
    "hotline_tools": {"bench", "tests"},
}


def imported_modules(source: str, module: str) -> set[str]:
    """The dotted names of every module `source` (the module named `module`) imports."""
    package = module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            names.add(stem)
            if node.module is None:  # `from . import x`: x is a module of the package
                names.update(f"{stem}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    """`ivr/voice/views.py` -> `ivr.voice.views`; a package's `__init__.py` counts as its module."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.append("__init__")  # relative imports resolve against the package itself
    return ".".join(parts)


def violations(package: str) -> list[str]:
    """`file: imported module` for each import of `package` that points the wrong way."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in sorted(imported_modules(path.read_text(), module_name(path))):
            if name.split(".")[0] in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_each_package_imports_only_below_itself(package: str) -> None:
    assert (ROOT / package / "__init__.py").is_file()
    assert violations(package) == []


def test_the_reader_sees_every_form_of_import() -> None:
    source = (
        "import standin.phone\n"
        "from hotline_tools.launcher import LOCAL_DEFAULTS\n"
        "def later():\n"
        "    from bench import traffic\n"
        "from . import rest\n"
        "from ..voice import twiml\n"
    )
    names = imported_modules(source, "ivr.callcenter.redirect")
    assert {"standin.phone", "hotline_tools.launcher", "bench"} <= names
    assert {"ivr.callcenter.rest", "ivr.voice"} <= names
