"""Files that ship with the console: the sample fleet and the themes."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # Installed wheels carry the files inside the package; a checkout has them at the top.
    inside = _PACKAGE / name
    return inside if inside.exists() else _PACKAGE.parent / name


def sample_fleet_path() -> Path:
    return _find("sample_fleet.json")


def themes_dir() -> Path:
    return _find("themes")
