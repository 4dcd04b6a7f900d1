"""Theme colours for Rich markup cells (DataTable and RichLog cells do not read `$variables`)."""

from __future__ import annotations

from rich.markup import escape
from textual.app import App

# Action states by how they read: done well, done badly, still moving, set aside.
STATE_VARIABLES = {
    "acknowledged": "success",
    "completed": "success",
    "rejected": "error",
    "failed": "error",
    "pending": "warning",
    "sent": "warning",
    "scheduled": "accent",
    "cancelled": "text-muted",
    "expired": "text-muted",
}


def paint(app: App[object], variable: str, text: str) -> str:
    """`text` escaped and coloured by the theme's `variable`, when the theme has it."""
    colour = app.theme_variables.get(variable)
    return f"[{colour}]{escape(text)}[/]" if colour else escape(text)


def state_cell(app: App[object], state: str) -> str:
    return paint(app, STATE_VARIABLES.get(state, "foreground"), state)


def status_cell(app: App[object], status: str) -> str:
    return paint(app, f"status-{status}", status)
