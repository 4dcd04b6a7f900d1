"""The layers depend only on those before them (docs/architecture.md), checked on the source:
each file's own imports here, and every chain of imports by import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "console"

# layer -> imports it must never make
FORBIDDEN = {
    "core": ("textual", "console.csms", "console.sim", "console.api", "console.tui", "console.depot", "fastapi"),
    "csms": ("textual", "console.sim", "console.api", "console.tui", "console.depot"),
    "sim": ("textual", "console.api", "console.tui", "console.depot", "console.core.models", "console.core.store"),
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


def test_import_contracts() -> None:
    """import-linter follows imports through other modules, third-party packages included."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
