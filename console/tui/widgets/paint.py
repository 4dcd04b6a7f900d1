"""Theme colours for Rich markup cells (DataTable and RichLog cells do not read `$variables`), and text that redraws only on change."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import App
from textual.content import Content
from textual.widgets import Static

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
    # Sent, but the console stopped before the answer: neither done nor failed.
    "unknown": "secondary",
}


def paint(app: App[object], variable: str, text: str) -> str:
    """`text` escaped and coloured by the theme's `variable`, when the theme has it."""
    colour = app.theme_variables.get(variable)
    return f"[{colour}]{escape(text)}[/]" if colour else escape(text)


def state_cell(app: App[object], state: str) -> str:
    return paint(app, STATE_VARIABLES.get(state, "foreground"), state)


def status_cell(app: App[object], status: str) -> str:
    return paint(app, f"status-{status}", status)


class Readout(Static):
    """A Static that redraws only when what it shows changed.

    The flush hands every readout its text 2–4 times a second; most of the time
    nothing changed, and a Static's update costs a render and a layout pass.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: Any = None

    def show(self, content: Content | str) -> None:
        key = (content.plain, tuple(content.spans)) if isinstance(content, Content) else content
        if key != self._shown:
            self._shown = key
            self.update(content)
