"""Themes: every `*.toml` file in the themes folder becomes a Textual theme.

A theme file holds the `Theme` fields at top level (name, primary, …, dark) and
the console's own colours in a `[variables]` table (`status-charging`, …).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.theme import BUILTIN_THEMES, Theme

DEFAULT_THEMES_DIR = Path(__file__).resolve().parents[2] / "themes"
DEFAULT_THEME = "console-dark"

# The charger statuses the core reports, each a `$status-…` variable.
STATUSES = (
    "available",
    "preparing",
    "charging",
    "suspended",
    "finishing",
    "reserved",
    "faulted",
    "unavailable",
    "offline",
)

# Fallbacks for themes that do not set a status colour (Textual's own themes too).
STATUS_DEFAULTS = {
    "status-available": "#5FBF77",
    "status-preparing": "#61AFEF",
    "status-charging": "#4FD1C5",
    "status-suspended": "#C8A2E8",
    "status-finishing": "#61AFEF",
    "status-reserved": "#C8A2E8",
    "status-faulted": "#E06C75",
    "status-unavailable": "#E5C07B",
    "status-offline": "#808890",
}

THEME_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "background",
    "surface",
    "panel",
    "boost",
    "foreground",
    "success",
    "warning",
    "error",
)


def theme_from_toml(path: Path) -> Theme:
    """One theme file; raises ValueError naming the file when it is not a theme."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path.name}: {error}") from error
    name = data.get("name") or path.stem
    if "primary" not in data:
        raise ValueError(f"{path.name}: a theme needs at least 'primary'")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError(f"{path.name}: [variables] must be a table")
    return Theme(
        name=str(name),
        dark=bool(data.get("dark", True)),
        variables={str(key): str(value) for key, value in variables.items()},
        **{field: str(data[field]) for field in THEME_FIELDS if field in data},
    )


def load_themes(directory: Path) -> tuple[list[Theme], list[str]]:
    """Every theme in `directory`, sorted by file name, and the problems of files that are not."""
    themes: list[Theme] = []
    problems: list[str] = []
    if not directory.is_dir():
        return themes, problems
    for path in sorted(directory.glob("*.toml")):
        try:
            themes.append(theme_from_toml(path))
        except ValueError as error:
            problems.append(str(error))
    return themes, problems


def theme_names(directory: Path) -> list[str]:
    """Every theme the console can show: Textual's own and the good files in `directory`."""
    themes, _ = load_themes(directory)
    return sorted({*BUILTIN_THEMES, *(theme.name for theme in themes)})
