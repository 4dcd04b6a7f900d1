"""The fleet as a table: one row per charger, keyed by charger id, diffed on each flush."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.markup import escape
from textual.widgets import DataTable
from textual.widgets._data_table import CellDoesNotExist

from console.core.views import ChargerView
from console.tui.format import connected_cell, last_action_cell, matches, power_cell

# (key, label, width): fixed widths, so an update never re-measures the table.
COLUMNS = (
    ("identity", "Identity", 16),
    ("name", "Name", 14),
    ("location", "Location", 15),
    ("status", "Status", 11),
    ("connected", "Connected", 10),
    ("power", "kW now/max", 10),
    ("action", "Last action", 22),
)


class ChargerTable(DataTable[str]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._cells: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, width=width, key=key)

    @property
    def selected_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def cells(self, charger: ChargerView, now: datetime) -> tuple[str, ...]:
        colour = self.app.theme_variables.get(f"status-{charger.status}")
        status = escape(charger.status)
        return (
            escape(charger.identity),
            escape(charger.name or ""),
            escape(charger.location_name or ""),
            f"[{colour}]{status}[/]" if colour else status,
            connected_cell(charger, now),
            power_cell(charger),
            escape(last_action_cell(charger)),
        )

    def show(self, chargers: Mapping[str, ChargerView], now: datetime, filter_text: str) -> None:
        """Make the rows match `chargers` (filtered), touching only what changed."""
        selected = self.selected_id
        wanted = {charger_id: charger for charger_id, charger in chargers.items() if matches(charger, filter_text)}
        for charger_id in [charger_id for charger_id in self._cells if charger_id not in wanted]:
            self.remove_row(charger_id)
            del self._cells[charger_id]
        reorder = False
        for charger_id, charger in wanted.items():
            cells = self.cells(charger, now)
            before = self._cells.get(charger_id)
            if before is None:
                self.add_row(*cells, key=charger_id)
                reorder = True
            else:
                for (column, _, _), new, old in zip(COLUMNS, cells, before):
                    if new != old:
                        self.update_cell(charger_id, column, new)
                reorder = reorder or cells[0] != before[0]
            self._cells[charger_id] = cells
        if reorder:
            # Identities are plain text (letters, digits, - . _ ~), so the cell sorts as the identity.
            self.sort("identity")
        if selected in self._cells:
            self.move_cursor(row=self.get_row_index(selected), animate=False)
