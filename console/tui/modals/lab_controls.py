"""What an operator can do to a simulated charger: the lab's hands on the EV and the wire."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

# (control, what the operator sees)
CONTROLS = (
    ("plug_in", "Plug in an EV (it waits for a tag or a remote start)"),
    ("present_id_tag", "Present the idTag OPERATOR"),
    ("unplug", "Unplug the EV"),
    ("inject_fault", "Inject a fault (OtherError)"),
    ("clear_fault", "Clear the fault"),
    ("drop_connection", "Drop the connection (the charger reconnects)"),
)


class LabControls(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="lab.cancel")]

    def __init__(self, identity: str) -> None:
        super().__init__()
        self.identity = identity

    def compose(self) -> ComposeResult:
        with Vertical(id="lab-dialog", classes="dialog"):
            yield Static(f"Simulated {self.identity}", classes="dialog-title", markup=False)
            yield OptionList(*(Option(label, id=control) for control, label in CONTROLS), id="lab-options")
            yield Static("enter picks · escape cancels", classes="dialog-hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
