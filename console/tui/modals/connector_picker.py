"""Which connector: for unlocking a charger with more than one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class ConnectorPicker(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="connector.cancel")]

    def __init__(self, title: str, connectors: list[tuple[int, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.connectors = connectors

    def compose(self) -> ComposeResult:
        with Vertical(id="connector-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield OptionList(
                *(Option(f"{number}  {status}", id=str(number)) for number, status in self.connectors),
                id="connector-options",
            )
            yield Static("enter picks · escape cancels", classes="dialog-hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(int(event.option.id or 0))

    def action_cancel(self) -> None:
        self.dismiss(None)
