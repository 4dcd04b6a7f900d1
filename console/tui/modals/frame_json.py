"""One log line in full: the frame's JSON, indented."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.core.views import LogView
from console.tui.format import DIRECTION_ARROWS, pretty_message, stamp


class FrameJson(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="json.close"),
        Binding("y", "close", "Close", show=False, id="json.close_y"),
        Binding("q", "close", "Close", show=False, id="json.close_q"),
    ]

    def __init__(self, entry: LogView) -> None:
        super().__init__()
        self.entry = entry

    def compose(self) -> ComposeResult:
        entry = self.entry
        arrow = DIRECTION_ARROWS.get(entry.direction, "?")
        title = f"{entry.identity} {arrow} {entry.action or entry.direction} · {stamp(entry.at)} UTC"
        with Vertical(id="json-dialog", classes="dialog"):
            yield Static(title, classes="dialog-title", markup=False)
            with VerticalScroll(id="json-body"):
                yield Static(pretty_message(entry), id="json-text", markup=False)
            yield Static("escape closes", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
