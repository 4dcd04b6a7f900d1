"""A charger's configuration (the detail's Config tab): keys or device-model variables as last fetched.

Shown from what the console kept, without asking the charger; `f` fetches it all
again, `enter` changes the selected key (a form, then a confirmation that says
so when the key can strand the charger).
"""

from __future__ import annotations

from datetime import tzinfo

from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable

from console.core.errors import CommandRefused, ConsoleError
from console.core.views import ConfigurationView, OperationResult, SettingView
from console.tui.format import local_stamp
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.setting_form import SettingForm
from console.tui.widgets.charger_table import ChargerTable
from console.tui.widgets.paint import Readout
from console.tui.widgets.row_table import RowTable

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost


class SettingTable(RowTable):
    COLUMNS = (
        ("key", "Key", 44),
        ("value", "Value", 40),
        ("access", "Access", 10),
        ("type", "Type", 10),
        ("care", "Care", 6),
    )

    def show(self, settings: tuple[SettingView, ...]) -> None:
        """Every setting; the cursor stays on the key it was on."""
        row = self.cursor_row
        self.clear()
        for setting in settings:
            self.add_row(
                escape(setting.key),
                escape(setting.value if setting.value is not None else "—"),
                "read-only" if setting.readonly else "",
                escape(setting.data_type or ""),
                "⚠" if setting.warning else "",
                key=setting.key,
            )
        if 0 < row < self.row_count:
            self.move_cursor(row=row, animate=False)


def status_line(view: ConfigurationView | None, busy: bool = False, zone: tzinfo | None = None) -> Content:
    if busy:
        return Content.styled("fetching the configuration from the charger…", "$accent")
    if view is None:
        return Content.styled("reading…", "$text-muted")
    parts: list[str | tuple[str, str]] = []
    if view.fetched_at is None:
        parts.append(("never fetched", "$text-muted"))
    else:
        parts.append(f"{len(view.settings)} keys, fetched {local_stamp(view.fetched_at, zone)}")
    if view.unknown_keys:
        parts.append((f" · unknown: {', '.join(view.unknown_keys)}", "$warning"))
    if view.problem:
        parts.append((f" · {view.problem}", "$error"))
    parts.append(("   f fetch again · enter change the selected key · ⚠ can strand the charger", "$text-muted"))
    return Content.assemble(*parts)


class ConfigPanel(Vertical):
    BINDINGS = [
        Binding("f", "fetch", "Fetch", id="config.fetch", tooltip="Fetch the charger's whole configuration again"),
        Binding("enter", "change", "Change", id="config.change", tooltip="Change the selected key"),
        Binding("escape", "leave", "Back", id="config.leave", tooltip="Back to the chargers"),
    ]
    app: ConsoleHost

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.charger_id: str | None = None
        self.identity = ""
        self.view: ConfigurationView | None = None

    def compose(self) -> ComposeResult:
        yield Readout(id="config-status")
        yield SettingTable(id="config-table")

    @property
    def table(self) -> SettingTable:
        return self.query_one(SettingTable)

    def action_leave(self) -> None:
        self.screen.query_one(ChargerTable).focus()

    def clear(self) -> None:
        self.charger_id, self.view = None, None
        self.table.clear()
        self.query_one("#config-status", Readout).show(status_line(None))

    def show(self, charger_id: str, identity: str, view: ConfigurationView) -> None:
        self.charger_id, self.identity, self.view = charger_id, identity, view
        self.query_one("#config-status", Readout).show(status_line(view, zone=self.app.zone))
        self.table.show(view.settings)

    def selected(self) -> SettingView | None:
        if self.view is None or not self.view.settings or self.table.row_count == 0:
            return None
        key = self.table.coordinate_to_cell_key(self.table.cursor_coordinate).row_key.value
        return next((setting for setting in self.view.settings if setting.key == key), None)

    def action_fetch(self) -> None:
        if self.charger_id is not None:
            self.query_one("#config-status", Readout).show(status_line(self.view, busy=True))
            self.run_worker(self._fetch(self.charger_id), group="config-fetch", exclusive=True)

    async def _fetch(self, charger_id: str) -> None:
        try:
            view = await self.app.backend.refresh_configuration(charger_id)
        except ConsoleError as error:
            self.notify(str(error), title="Configuration not fetched", severity="error")
            self.query_one("#config-status", Readout).show(status_line(self.view, zone=self.app.zone))
            return
        if charger_id == self.charger_id:
            self.show(charger_id, self.identity, view)
            if view.problem:
                self.notify(view.problem, title=f"Configuration of {self.identity}", severity="warning")

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_change()

    def action_change(self) -> None:
        setting = self.selected()
        if self.charger_id is None or setting is None:
            return
        if setting.readonly:
            self.notify(f"{setting.key} is read-only", severity="warning")
            return
        charger_id = self.charger_id

        def chosen(value: str | None) -> None:
            if value is not None and value != setting.value:
                self._confirm(charger_id, setting, value)

        self.app.push_screen(SettingForm(self.identity, setting), chosen)

    def _confirm(self, charger_id: str, setting: SettingView, value: str) -> None:
        question = f"Change {setting.key} on {self.identity}\nfrom {setting.value or '—'} to {value}?"
        if setting.warning:
            question += f"\n\n⚠ This can strand the charger: {setting.warning}."

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._change(charger_id, setting, value), group="config-change")

        self.app.push_screen(ConfirmDialog(question, "Change"), answered)

    async def _change(self, charger_id: str, setting: SettingView, value: str) -> None:
        try:
            result = await self.app.backend.change_configuration(charger_id, setting.key, value, confirmed=bool(setting.warning))
        except (CommandRefused, ConsoleError) as error:
            self.notify(str(error), title=f"{setting.key} not changed", severity="error")
            return
        self.notify(said(result, setting.key), severity="information" if result.state == "acknowledged" else "warning")
        if charger_id == self.charger_id:
            self.show(charger_id, self.identity, await self.app.backend.charger_configuration(charger_id))


def said(result: OperationResult, key: str) -> str:
    if result.state == "acknowledged":
        return f"{key}: {result.status or 'accepted'} by {result.identity}"
    if result.state == "rejected":
        return f"{key}: {result.status or 'rejected'} by {result.identity}"
    return f"{key}: {result.detail or result.reason or result.state}"
