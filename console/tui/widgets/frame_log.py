"""OCPP frames and console events as they stream: one charger's (detail) or the fleet's (logs view).

A row per line, so one can be picked (`y` shows its whole JSON); `f` follows
the newest line, and the filter narrows to lines that contain its text.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.markup import escape
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static
from textual.widgets._data_table import CellDoesNotExist

from console.core.views import LogView
from console.tui.format import DIRECTION_ARROWS, clock_time, compact_payload, log_matches, short_id
from console.tui.modals.frame_json import FrameJson

MAX_LINES = 1000
COLUMNS = (
    ("time", "Time", 8),
    ("identity", "Charger", 14),
    ("direction", " ", 1),
    ("action", "Action", 22),
    ("message_id", "Msg id", 8),
    ("payload", "Payload", 400),
)


class FrameLog(DataTable[str]):
    """The lines themselves; `LogPanel` adds the filter and the keys."""

    def __init__(self, fleet: bool = False, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.fleet = fleet
        self.entries: deque[LogView] = deque(maxlen=MAX_LINES)
        self.last_id = 0
        self.filter_text = ""
        self.follow = True
        self._columns = tuple(key for key, _, _ in COLUMNS if fleet or key != "identity")

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            if key in self._columns:
                self.add_column(label, width=width, key=key)

    def _cells(self, entry: LogView) -> tuple[str, ...]:
        every = {
            "time": f"[dim]{clock_time(entry.at)}[/]",
            "identity": escape(entry.identity),
            "direction": f"[bold]{DIRECTION_ARROWS.get(entry.direction, '?')}[/]",
            "action": f"[bold]{escape(entry.action or '')}[/]",
            "message_id": f"[dim]{escape(short_id(entry.message_id))}[/]",
            "payload": escape(compact_payload(entry)),
        }
        return tuple(every[key] for key in self._columns)

    @property
    def selected(self) -> LogView | None:
        if not self.row_count:
            return None
        try:
            row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return next((entry for entry in self.entries if str(entry.id) == row_key), None)

    def show_history(self, entries: Iterable[LogView]) -> None:
        self.reset()
        self.append(entries)

    def reset(self) -> None:
        self.clear()
        self.entries.clear()
        self.last_id = 0

    def append(self, entries: Iterable[LogView]) -> None:
        """Add the lines not shown yet (ids only grow), dropping the oldest past `MAX_LINES`."""
        added = False
        for entry in entries:
            if entry.id <= self.last_id:
                continue
            self.last_id = entry.id
            if len(self.entries) == MAX_LINES:
                oldest = self.entries[0]
                if str(oldest.id) in self.rows:
                    self.remove_row(str(oldest.id))
            self.entries.append(entry)
            if log_matches(entry, self.filter_text):
                self.add_row(*self._cells(entry), key=str(entry.id))
                added = True
        if added and self.follow:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def refilter(self, text: str) -> None:
        self.filter_text = text
        self.clear()
        for entry in self.entries:
            if log_matches(entry, text):
                self.add_row(*self._cells(entry), key=str(entry.id))
        if self.follow and self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)


class LogPanel(Vertical):
    BINDINGS = [
        Binding("f", "follow", "Follow", id="logs.follow", tooltip="Follow the newest line on/off"),
        # A priority key, as the main screen's `/`: handled as it arrives, so the keys queued behind it are the filter's.
        Binding("slash", "filter", "Filter", id="logs.filter", priority=True, tooltip="Show only lines containing a text"),
        Binding("y", "raw", "JSON", id="logs.raw", tooltip="The selected frame's full JSON"),
    ]

    def __init__(self, fleet: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.fleet = fleet

    def compose(self) -> ComposeResult:
        yield Static("", classes="log-status")
        yield Input(placeholder="filter lines (enter keeps it, escape clears)", compact=True, classes="log-filter")
        yield FrameLog(fleet=self.fleet)

    @property
    def log(self) -> FrameLog:  # type: ignore[override]
        return self.query_one(FrameLog)

    def on_mount(self) -> None:
        self._status()

    def _status(self) -> None:
        log = self.log
        follow = "following" if log.follow else "paused (f follows)"
        shown = f" · filter {log.filter_text!r}" if log.filter_text else ""
        self.query_one(".log-status", Static).update(f"{follow}{escape(shown)}")

    def action_follow(self) -> None:
        log = self.log
        log.follow = not log.follow
        if log.follow and log.row_count:
            log.move_cursor(row=log.row_count - 1, animate=False)
        self._status()

    def action_filter(self) -> None:
        field = self.query_one(".log-filter", Input)
        if self.screen.focused is field:
            raise SkipAction()  # a `/` typed into the filter is text
        field.display = True
        # Focused now, not after the keys queued behind `/`: `focus()` would move it only once they went elsewhere.
        self.screen.set_focus(field)

    def action_raw(self) -> None:
        entry = self.log.selected
        if entry is not None:
            self.app.push_screen(FrameJson(entry))

    @on(Input.Changed, ".log-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.log.refilter(event.value)
        self._status()

    @on(Input.Submitted, ".log-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.log.focus()

    def clear_filter(self) -> bool:
        """Escape on the filter: clear it; False when there was none."""
        field = self.query_one(".log-filter", Input)
        if not field.display:
            return False
        field.value = ""
        field.display = False
        self.log.refilter("")
        self._status()
        self.log.focus()
        return True
