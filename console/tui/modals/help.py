"""Every key of the current view with what it does; a dimmed one cannot apply now."""

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

    def __init__(self, view: str, keys: list[tuple[str, str]], dimmed: set[str] | None = None) -> None:
        super().__init__()
        self.view = view
        self.keys = keys
        self.dimmed = dimmed or set()

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(f"Keys · {self.view}", classes="dialog-title", markup=False)
            table: DataTable[str] = DataTable(id="help-keys", cursor_type="none", show_header=False)
            table.add_column("key", width=12, key="key")
            table.add_column("description", width=40, key="description")
            for key, description in self.keys:
                if key in self.dimmed:
                    table.add_row(f"[dim]{key}[/]", f"[dim]{description} (not now)[/]")
                else:
                    table.add_row(key, description)
            yield table
            yield Static("escape closes · ctrl+p finds a charger and its actions", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
