"""A DataTable of whole rows under fixed columns, the shape of the console's smaller tables."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.widgets import DataTable


class RowTable(DataTable[str]):
    """Row cursor; the columns come from COLUMNS: (key, label, width), fixed so an update never re-measures."""

    COLUMNS: ClassVar[tuple[tuple[str, str, int], ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, width=width, key=key)
