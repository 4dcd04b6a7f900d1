"""Every key of the console with what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.close_question"),
        Binding("q", "close", "Close", show=False, id="help.close_q"),
    ]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static("Keys", classes="dialog-title")
            table: DataTable[str] = DataTable(id="help-keys", cursor_type="none", show_header=False)
            table.add_column("key", width=12, key="key")
            table.add_column("description", width=36, key="description")
            for key, description in self.keys:
                table.add_row(key, description)
            yield table
            yield Static("escape closes", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
