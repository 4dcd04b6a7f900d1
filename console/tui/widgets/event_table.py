"""What chargers told about themselves, newest first: one charger's (the detail's Events tab) or the fleet's (`:events`).

Two selects above the table narrow it by severity and kind; the owner reads
the history again when a filter changes (`EventsPanel.FilterChanged`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Select

from console.core.chargerevents import KINDS, SEVERITIES
from console.core.views import ChargerEventView
from console.tui.format import stamp
from console.tui.widgets.paint import paint

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

COLUMNS = (
    ("identity", "Charger", 14),
    ("at", "Time", 19),
    ("severity", "Severity", 8),
    ("kind", "Kind", 18),
    ("text", "What", 96),
)
# How each severity reads: the theme's variables, never literal colours.
SEVERITY_VARIABLES = {"alert": "error", "security": "warning", "warning": "warning", "info": "text-muted"}
ALL = ""


class EventTable(DataTable[str]):
    app: ConsoleHost

    def __init__(self, fleet: bool = False, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._columns = tuple(key for key, _, _ in COLUMNS if fleet or key != "identity")

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            if key in self._columns:
                self.add_column(label, width=width, key=key)

    def show(self, events: Iterable[ChargerEventView]) -> None:
        self.clear()
        for event in events:
            cells = {
                "identity": escape(event.identity),
                "at": stamp(event.at),
                "severity": paint(self.app, SEVERITY_VARIABLES.get(event.severity, "foreground"), event.severity),
                "kind": escape(event.kind),
                "text": escape(event.text),
            }
            self.add_row(*(cells[key] for key in self._columns), key=str(event.id))


class EventsPanel(Vertical):
    """The filters and the table."""

    class FilterChanged(Message):
        """The severity or kind to show changed: read the history again."""

    def __init__(self, fleet: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.fleet = fleet
        self.severity: str | None = None
        self.kind: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="event-filters"):
            yield Select(
                [("every severity", ALL), *((severity, severity) for severity in SEVERITIES)],
                allow_blank=False, compact=True, classes="event-severity", tooltip="Show only events of this severity",
            )
            yield Select(
                [("every kind", ALL), *((kind, kind) for kind in KINDS)],
                allow_blank=False, compact=True, classes="event-kind", tooltip="Show only events of this kind",
            )
        yield EventTable(fleet=self.fleet)

    @property
    def table(self) -> EventTable:
        return self.query_one(EventTable)

    def show(self, events: Iterable[ChargerEventView]) -> None:
        self.table.show(events)

    @on(Select.Changed)
    def _filter_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = str(event.value) or None
        if event.select.has_class("event-severity"):
            changed, self.severity = self.severity != value, value
        else:
            changed, self.kind = self.kind != value, value
        if changed:
            self.post_message(self.FilterChanged())
