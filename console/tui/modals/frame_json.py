"""Raw JSON, indented: one log line's frame (FrameJson) or a charger's record (RawRecord)."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.core.views import LogView
from console.tui.format import DIRECTION_ARROWS, pretty_message, stamp


class JsonDialog(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="json.close"),
        Binding("y", "close", "Close", show=False, id="json.close_y"),
        Binding("q", "close", "Close", show=False, id="json.close_q"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="json-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            with VerticalScroll(id="json-body"):
                yield Static(self.text, id="json-text", markup=False)
            yield Static("escape closes", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)


class FrameJson(JsonDialog):
    def __init__(self, entry: LogView) -> None:
        arrow = DIRECTION_ARROWS.get(entry.direction, "?")
        super().__init__(f"{entry.identity} {arrow} {entry.action or entry.direction} · {stamp(entry.at)} UTC", pretty_message(entry))
        self.entry = entry


class RawRecord(JsonDialog):
    """A record as the store and the API hold it, every field by its own name."""

    def __init__(self, title: str, record: dict[str, Any]) -> None:
        super().__init__(title, json.dumps(record, indent=2, ensure_ascii=False))
