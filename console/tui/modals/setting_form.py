"""The new value of one configuration key; the caller asks for confirmation before it is sent."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from console.core.views import SettingView
from console.tui.modals.form import Form


class SettingForm(Form[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="setting.cancel"),
        Binding("ctrl+s", "save", "Save", id="setting.save"),
    ]

    def __init__(self, identity: str, setting: SettingView) -> None:
        super().__init__()
        self.identity = identity
        self.setting = setting

    def compose(self) -> ComposeResult:
        setting = self.setting
        with Vertical(id="setting-form", classes="dialog"):
            yield Static(f"{setting.key} · {self.identity}", classes="dialog-title", markup=False)
            if setting.warning:
                yield Static(f"⚠ Changing it can strand the charger: {setting.warning}.", id="setting-warning", markup=False)
            with Horizontal(classes="field-row", id="row-value"):
                yield Label("Value", classes="field-label")
                yield Input(setting.value if setting.value not in (None, "********") else "", compact=True, id="field-value")
            yield Static(f"type {setting.data_type}" if setting.data_type else "", classes="dialog-hint", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Change…", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#field-value", Input).focus()

    def submit(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        self.dismiss(self.query_one("#field-value", Input).value)
