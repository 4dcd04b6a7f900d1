"""The layers depend only on those before them (DESIGN.md), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "console"

# layer -> imports it must never make
FORBIDDEN = {
    "core": ("textual", "console.csms", "console.sim", "console.api", "console.tui", "console.depot", "fastapi"),
    "csms": ("textual", "console.sim", "console.api", "console.tui", "console.depot"),
    "sim": ("textual", "console.api", "console.tui", "console.depot"),
    "api": ("textual", "console.tui", "console.depot"),
    "tui": ("console.csms", "console.sim", "console.api", "console.depot", "sqlmodel", "sqlalchemy", "websockets"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in sorted(imports_of(path))
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer])
    ]
    assert offences == []
