"""The fleet as a table: one row per charger, keyed by charger id, diffed on each flush."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from rich.markup import escape
from textual import on
from textual.widgets import DataTable
from rich.text import Text
from textual.widgets._data_table import CellDoesNotExist, ColumnKey

from console.core.views import ChargerView
from console.tui.format import (
    connected_cell,
    energy_cell,
    last_action_cell,
    matches,
    power_cell,
    short_version,
    utc,
)

MARK = "✓"
# (key, label, width): fixed widths, so an update never re-measures the table.
COLUMNS = (
    ("mark", " ", 1),
    ("identity", "Identity", 14),
    ("name", "Name", 14),
    ("location", "Location", 13),
    ("version", "OCPP", 5),
    ("status", "Status", 11),
    ("connected", "Connection", 10),
    ("power", "kW now/max", 11),
    ("energy", "kWh", 7),
    ("action", "Last action", 24),
)
# What a narrow terminal keeps.
COMPACT = ("mark", "identity", "name", "status", "connected", "power")

def _action_key(charger: ChargerView) -> float:
    return utc(charger.last_action.updated_at).timestamp() if charger.last_action else 0.0


# How each sortable column orders chargers; ties fall back to the identity.
SORT_KEYS: dict[str, Callable[[ChargerView], Any]] = {
    "identity": lambda charger: charger.identity,
    "name": lambda charger: (charger.name or "").lower(),
    "location": lambda charger: (charger.location_name or "").lower(),
    "version": lambda charger: charger.ocpp_version,
    "status": lambda charger: charger.status,
    "connected": lambda charger: (not charger.is_connected, -(utc(charger.last_seen).timestamp() if charger.last_seen else 0)),
    "power": lambda charger: -charger.current_power_kw,
    "energy": lambda charger: -charger.session_energy_kwh,
    "action": lambda charger: -_action_key(charger),
}
SORTABLE = tuple(key for key, _, _ in COLUMNS if key in SORT_KEYS)


class ChargerTable(DataTable[str]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._cells: dict[str, tuple[str, ...]] = {}
        self._sort_values: dict[str, Any] = {}
        self.marked: set[str] = set()
        self.sort_column = "identity"
        self.sort_reverse = False
        self.compact = False
        self._columns: tuple[str, ...] = ()
        # The order changed since the last `show`: the next flush must not be skipped.
        self.resorted = False
        self._shown_filter = ""

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        self._columns = tuple(key for key, _, _ in COLUMNS if not self.compact or key in COMPACT)
        for key, label, width in COLUMNS:
            if key in self._columns:
                self.add_column(self._label(key, label), width=width, key=key)

    def _label(self, key: str, label: str) -> str:
        if key != self.sort_column:
            return label
        return f"{label}{'▲' if not self.sort_reverse else '▼'}"

    def set_compact(self, compact: bool) -> None:
        """Fewer columns for a narrow terminal; the rows come back on the next `show`."""
        if compact == self.compact:
            return
        self.compact = compact
        self.clear(columns=True)
        self._cells.clear()
        self._sort_values.clear()
        self._add_columns()

    @property
    def selected_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    @property
    def shown_ids(self) -> list[str]:
        return [row.key.value for row in self.ordered_rows if row.key.value is not None]

    def cells(self, charger: ChargerView, now: datetime) -> tuple[str, ...]:
        colour = self.app.theme_variables.get(f"status-{charger.status}")
        status = escape(charger.status)
        every = {
            "mark": MARK if charger.id in self.marked else " ",
            "identity": escape(charger.identity),
            "name": escape(charger.name or ""),
            "location": escape(charger.location_name or ""),
            "version": short_version(charger.ocpp_version),
            "status": f"[{colour}]{status}[/]" if colour else status,
            "connected": connected_cell(charger, now),
            "power": power_cell(charger),
            "energy": energy_cell(charger),
            "action": escape(last_action_cell(charger)),
        }
        return tuple(every[key] for key in self._columns)

    def show(
        self,
        chargers: Mapping[str, ChargerView],
        now: datetime,
        filter_text: str,
        changed: set[str] | None = None,
    ) -> None:
        """Make the rows match `chargers` (filtered), touching only what changed; sort at most once.

        With `changed`, only those chargers are looked at, and the ages of the rows
        on screen are brought up to date: a flush then costs the same with 10 or
        10,000 chargers. Without it (or when the filter changed) every row is checked.
        """
        if changed is None or filter_text != self._shown_filter or (chargers and not self._cells):
            self._show_all(chargers, now, filter_text)
        else:
            self._show_changed(chargers, now, filter_text, changed)
        self._shown_filter = filter_text

    def _show_changed(
        self, chargers: Mapping[str, ChargerView], now: datetime, filter_text: str, changed: set[str]
    ) -> None:
        selected = self.selected_id
        reorder = False
        sort_key = SORT_KEYS[self.sort_column]
        for charger_id in changed:
            charger = chargers.get(charger_id)
            if charger is None or not matches(charger, filter_text):
                if charger_id in self._cells:
                    self.remove_row(charger_id)
                    del self._cells[charger_id]
                    self._sort_values.pop(charger_id, None)
                continue
            reorder |= self._put(charger_id, self.cells(charger, now), (sort_key(charger), charger.identity))
        self._refresh_ages(chargers, now, changed)
        self.resorted = False
        if reorder:
            self._sort()
        if selected in self._cells:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _put(self, charger_id: str, cells: tuple[str, ...], sort_value: Any) -> bool:
        """Add or update one row; True when the order may have changed."""
        before = self._cells.get(charger_id)
        reorder = False
        if before is None:
            self.add_row(*cells, key=charger_id)
            reorder = True
        elif cells != before:
            for column, new, old in zip(self._columns, cells, before):
                if new != old:
                    self.update_cell(charger_id, column, new)
        self._cells[charger_id] = cells
        if self._sort_values.get(charger_id) != sort_value:
            self._sort_values[charger_id] = sort_value
            reorder = True
        return reorder

    def _refresh_ages(self, chargers: Mapping[str, ChargerView], now: datetime, done: set[str]) -> None:
        """The connection column ages every second: refresh it for the rows on screen only."""
        if "connected" not in self._columns:
            return
        index = self._columns.index("connected")
        top = max(0, int(self.scroll_y))
        for row in self.ordered_rows[top : top + self.size.height + 1]:
            charger_id = row.key.value
            if charger_id is None or charger_id in done or charger_id not in chargers:
                continue
            before = self._cells.get(charger_id)
            cell = connected_cell(chargers[charger_id], now)
            if before is not None and before[index] != cell:
                self.update_cell(charger_id, "connected", cell)
                self._cells[charger_id] = before[:index] + (cell,) + before[index + 1 :]

    def _show_all(self, chargers: Mapping[str, ChargerView], now: datetime, filter_text: str) -> None:
        selected = self.selected_id
        wanted = {charger_id: charger for charger_id, charger in chargers.items() if matches(charger, filter_text)}
        for charger_id in [charger_id for charger_id in self._cells if charger_id not in wanted]:
            self.remove_row(charger_id)
            del self._cells[charger_id]
            self._sort_values.pop(charger_id, None)
        reorder = False
        sort_key = SORT_KEYS[self.sort_column]
        for charger_id, charger in wanted.items():
            cells = self.cells(charger, now)
            before = self._cells.get(charger_id)
            if before is None:
                self.add_row(*cells, key=charger_id)
                reorder = True
            elif cells != before:
                for column, new, old in zip(self._columns, cells, before):
                    if new != old:
                        self.update_cell(charger_id, column, new)
            self._cells[charger_id] = cells
            value = (sort_key(charger), charger.identity)
            if self._sort_values.get(charger_id) != value:
                self._sort_values[charger_id] = value
                reorder = True
        self.resorted = False
        if reorder:
            self._sort()
        if selected in self._cells:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _sort(self) -> None:
        order = sorted(self._cells, key=self._sort_values.__getitem__, reverse=self.sort_reverse)
        if self.shown_ids == order:
            return
        # DataTable sorts on cell values: identities are unique, so each one stands for its row.
        identity = self._columns.index("identity")
        rank = {self._cells[charger_id][identity]: index for index, charger_id in enumerate(order)}
        self.sort("identity", key=rank.__getitem__)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Order the rows by `column`; the same column again flips the order."""
        if column not in SORT_KEYS:
            return
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column, self.sort_reverse = column, reverse
        for key, label, _ in COLUMNS:
            if key in self._columns:
                self.columns[ColumnKey(key)].label = Text(self._label(key, label))
        self._sort_values.clear()
        self.resorted = True
        self.refresh()

    def cycle_sort(self) -> str:
        """The next sortable column, in column order."""
        shown = [key for key in SORTABLE if key in self._columns]
        index = shown.index(self.sort_column) if self.sort_column in shown else -1
        column = shown[(index + 1) % len(shown)]
        self.sort_by(column, reverse=False)
        return column

    def toggle_mark(self, charger_id: str) -> None:
        if charger_id in self.marked:
            self.marked.discard(charger_id)
        else:
            self.marked.add(charger_id)
        if charger_id in self._cells and "mark" in self._columns:
            mark = MARK if charger_id in self.marked else " "
            self.update_cell(charger_id, "mark", mark)
            cells = list(self._cells[charger_id])
            cells[self._columns.index("mark")] = mark
            self._cells[charger_id] = tuple(cells)

    def clear_marks(self) -> None:
        for charger_id in list(self.marked):
            self.toggle_mark(charger_id)

    @on(DataTable.HeaderSelected)
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value is not None:
            self.sort_by(event.column_key.value)
