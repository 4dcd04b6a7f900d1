"""The operations menu (`m`): every operation the charger's OCPP version takes, from the catalogue; enter picks one."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.core.catalogue import OperationSpec

NAME_WIDTH = 28


class OperationsMenu(ModalScreen[OperationSpec | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="operations.cancel")]

    def __init__(self, title: str, operations: list[OperationSpec]) -> None:
        super().__init__()
        self.title_text = title
        self.operations = {spec.name: spec for spec in operations}

    def compose(self) -> ComposeResult:
        with Vertical(id="operations-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield OptionList(*(self._option(spec) for spec in self.operations.values()), id="operations-options")
            yield Static("enter opens its form · ! asks before sending · escape cancels", classes="dialog-hint")

    @staticmethod
    def _option(spec: OperationSpec) -> Option:
        line = Text(f"{spec.name:<{NAME_WIDTH}}", style="bold")
        line.append("! " if spec.confirm or spec.confirm_when else "  ", style="bold red")
        line.append(spec.summary, style="dim")
        return Option(line, id=spec.name)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.operations[event.option.id or ""])

    def action_cancel(self) -> None:
        self.dismiss(None)
