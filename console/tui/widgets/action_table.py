"""Action history, newest first: one charger's (in the detail) or the fleet's (the actions view)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.markup import escape
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets._data_table import CellDoesNotExist, RowDoesNotExist

from console.core.errors import ConsoleError
from console.core.events import ActionChanged
from console.core.views import ActionView
from console.tui.modals.confirm import ConfirmDialog
from console.tui.format import CANCELLABLE_STATES, action_timing, parameters_cell, stamp
from console.tui.widgets.paint import state_cell

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

COLUMNS = (
    ("identity", "Charger", 14),
    ("created", "Created", 19),
    ("command", "Command", 19),
    ("execution", "Execution", 9),
    ("state", "State", 12),
    ("timing", "Timing", 18),
    ("parameters", "Parameters", 24),
    ("detail", "Detail", 40),
)


def cancellable(action: ActionView, now: datetime) -> bool:
    """Pending or scheduled, or a window still open (cancelling it idles the charger)."""
    if action.state in CANCELLABLE_STATES:
        return True
    window_open = action.end_at is not None and action.end_at > now
    return action.execution == "windowed" and action.state in ("acknowledged", "unknown") and window_open


class ActionTable(DataTable[str]):
    BINDINGS = [
        # Not `k`: that is up to every vim user. k9s kills with ctrl+k.
        Binding(
            "ctrl+k", "cancel_action", "Cancel action", id="actions.cancel",
            tooltip="Cancel the selected pending or scheduled action, or an open window (asks first)",
        ),
        Binding(
            "ctrl+o", "check_outcome", "Check charger", id="actions.check",
            tooltip="An action whose outcome is unknown (the console stopped before the answer): read what its charger shows now",
        ),
    ]
    app: ConsoleHost

    def __init__(self, fleet: bool = False, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self.fleet = fleet
        self.actions: dict[str, ActionView] = {}
        self._columns = tuple(key for key, _, _ in COLUMNS if fleet or key != "identity")

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            if key in self._columns:
                self.add_column(label, width=width, key=key)

    @property
    def selected(self) -> ActionView | None:
        if not self.row_count:
            return None
        try:
            row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return self.actions.get(row_key or "")

    def _cells(self, action: ActionView, now: datetime) -> tuple[str, ...]:
        every = {
            "identity": escape(action.identity),
            "created": stamp(action.created_at),
            "command": escape(action.command),
            "execution": action.execution,
            "state": state_cell(self.app, action.state),
            "timing": action_timing(action, now, self.app.zone),
            "parameters": escape(parameters_cell(action)),
            # An action an API key asked for says which key (its id): the trail of who did what.
            "detail": escape(f"{action.key_id}: {action.detail or ''}" if action.key_id else action.detail or ""),
        }
        return tuple(every[key] for key in self._columns)

    def show(self, actions: Iterable[ActionView], now: datetime) -> None:
        """Replace the rows with `actions` (newest first), keeping the cursor on the same action."""
        selected = self.selected
        self.clear()
        self.actions = {}
        for action in actions:
            self.actions[action.id] = action
            self.add_row(*self._cells(action, now), key=action.id)
        if selected is not None and selected.id in self.actions:
            self.move_cursor(row=self.get_row_index(selected.id), animate=False)

    def apply(self, changes: Iterable[ActionChanged], now: datetime) -> bool:
        """Update the rows of known actions in place; True when one is new (the list must be read again)."""
        unknown = False
        for change in changes:
            summary = change.action
            before = self.actions.get(summary.id)
            if before is None:
                unknown = True
                continue
            # The rest (its schedule, its window) stays as read.
            action = dataclasses.replace(
                before, state=summary.state, detail=summary.detail, updated_at=summary.updated_at, duration_ms=summary.duration_ms
            )
            self.actions[action.id] = action
            try:
                for column, value in zip(self._columns, self._cells(action, now)):
                    if column in ("state", "timing", "detail"):
                        self.update_cell(action.id, column, value)
            except (CellDoesNotExist, RowDoesNotExist):
                unknown = True
        return unknown

    def tick(self, now: datetime) -> None:
        """Ages of actions still moving, countdowns of scheduled ones."""
        for action in self.actions.values():
            if action.state in ("pending", "sent", "scheduled"):
                self.update_cell(action.id, "timing", action_timing(action, now, self.app.zone))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_action":
            if self.app.backend.info.read_only:
                return False
            selected = self.selected
            return True if selected is not None and cancellable(selected, self.app.clock.now()) else None
        if action == "check_outcome":
            selected = self.selected
            return selected is not None and selected.state == "unknown"
        return True

    def action_cancel_action(self) -> None:
        action = self.selected
        if action is not None:
            self.run_worker(self._cancel(action), group="cancel action")

    async def _cancel(self, action: ActionView) -> None:
        question = f"Cancel {action.command} on {action.identity} ({action.execution}, {action.state})?"
        if not await self.app.push_screen_wait(ConfirmDialog(question, yes_label="Cancel action")):
            return
        try:
            cancelled = await self.app.backend.cancel_action(action.id)
        except ConsoleError as error:
            self.notify(str(error), title=f"{action.command} on {action.identity} not cancelled", severity="error")
            return
        self.notify(f"{cancelled.command} on {cancelled.identity}: {cancelled.state}", title="Action cancelled")

    def action_check_outcome(self) -> None:
        action = self.selected
        if action is not None and action.state == "unknown":
            self.run_worker(self._check(action), group="check outcome")

    async def _check(self, action: ActionView) -> None:
        try:
            charger = await self.app.backend.get_charger(action.charger_id)
        except ConsoleError as error:
            self.notify(str(error), title=f"{action.identity} not checked", severity="error")
            return
        connected = "connected" if charger.is_connected else "offline (as last seen)"
        self.notify(
            f"{charger.status}, {charger.current_power_kw:g} kW, {connected}: see whether it did the {action.command}",
            title=f"{action.command} on {action.identity}: outcome unknown",
            severity="warning",
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()
