"""The fleet as a table: one row per charger, keyed by charger id, diffed on each flush.

A line-API widget rather than Textual's DataTable: DataTable drops every
cached cell render whenever one cell changes or the cursor moves, so with
thousands of chargers sending meter values each frame re-rendered every
visible cell through Rich. Here each row keeps its rendered strip until its
own cells (or whether it holds the cursor) change, and a key press redraws
two lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from rich.markup import escape
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.core.clock import Clock
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
# Spaces on each side of a cell.
PADDING = 1
# (key, label, width): fixed widths, so an update never re-measures the table.
COLUMNS = (
    ("mark", " ", 1),
    ("identity", "Identity", 14),
    ("name", "Name", 14),
    ("location", "Location", 13),
    ("version", "OCPP", 5),
    ("status", "Status", 11),
    ("connected", "Last msg", 10),  # "● 7s ago": connected, its last message 7 s ago
    ("power", "kW now/max", 11),
    ("energy", "kWh", 7),
    ("action", "Last action", 24),
)
WIDTHS = {key: width for key, _, width in COLUMNS}
LABELS = {key: label for key, label, _ in COLUMNS}
# Columns that take the width a wide terminal has beyond the fixed widths, each up to
# its own maximum (in this order, a character at a time), so names are not cut with room to spare.
FLEX_MAX = {"identity": 24, "name": 30, "location": 26, "action": 60}
# What a narrow terminal keeps.
COMPACT = ("mark", "identity", "name", "status", "connected", "power")
# After the operator moves the cursor, live changes leave the order alone this long (seconds).
HOLD_AFTER_MOVE = 4.0


def fit_widths(columns: tuple[str, ...], available: int) -> dict[str, int]:
    """Each column's width for a table `available` cells wide: the fixed widths, and what is
    left shared among the flexible columns shown, a character at a time, up to each one's maximum."""
    widths = dict(WIDTHS)
    spare = available - sum(WIDTHS[key] + 2 * PADDING for key in columns)
    flexible = [key for key in FLEX_MAX if key in columns]
    while spare > 0 and flexible:
        for key in list(flexible):
            if spare <= 0:
                break
            if widths[key] >= FLEX_MAX[key]:
                flexible.remove(key)
                continue
            widths[key] += 1
            spare -= 1
    return widths


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


class ChargerTable(ScrollView, can_focus=True):
    """Chargers in rows; the cursor row is the selected charger.

    Marks belong to chargers, not rows. While there are marks, or the operator moved the
    cursor a moment ago, live changes do not re-sort: rows stay where the operator sees
    them (`order_held` says a re-sort waits) until `resort()` or the hold ends.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", show=False, id="chargers.open"),
        Binding("up", "cursor_up", "Up", show=False, id="chargers.up"),
        Binding("down", "cursor_down", "Down", show=False, id="chargers.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="chargers.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="chargers.page_down"),
        Binding("home", "first", "First", show=False, id="chargers.first"),
        Binding("end", "last", "Last", show=False, id="chargers.last"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"charger-table--header", "charger-table--cursor"}
    DEFAULT_CSS = """
    ChargerTable {
        background: $surface;
        color: $foreground;
        & > .charger-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .charger-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .charger-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    class _RowMessage(Message):
        def __init__(self, table: ChargerTable, charger_id: str | None) -> None:
            super().__init__()
            self.table = table
            self.charger_id = charger_id

        @property
        def control(self) -> ChargerTable:
            return self.table

    class Highlighted(_RowMessage):
        """The cursor moved onto another charger (None: the table is empty)."""

    class Selected(_RowMessage):
        """Enter (or a click on the cursor row): open the charger."""

    def __init__(self, clock: Clock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        # When the operator last moved the cursor.
        self._moved_at: datetime | None = None
        # The rows are not in sort order: a live re-sort is held back.
        self.order_held = False
        self._cells: dict[str, tuple[str, ...]] = {}
        self._sort_values: dict[str, Any] = {}
        # The rows in display order, and each charger's place in it.
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        # charger id -> (what it was drawn from, the drawn line).
        self._strips: dict[str, tuple[Any, Strip]] = {}
        self._header: tuple[Any, Strip] | None = None
        self.cursor_row = 0
        self._highlighted: str | None = None
        self.marked: set[str] = set()
        self.sort_column = "identity"
        self.sort_reverse = False
        self.compact = False
        self._columns: tuple[str, ...] = ()
        self._widths: dict[str, int] = dict(WIDTHS)
        self._width = 0
        self._fitted_to = 0
        # The order changed since the last `show`: the next flush must not be skipped.
        self.resorted = False
        self._shown_filter = ""
        self._set_columns()

    # -- columns -----------------------------------------------------------------------

    def _set_columns(self) -> None:
        self._columns = tuple(key for key, _, _ in COLUMNS if not self.compact or key in COMPACT)
        self._widths = fit_widths(self._columns, self._fitted_to)
        self._width = sum(self._widths[key] + 2 * PADDING for key in self._columns)
        self._header = None
        self._resize()

    def on_resize(self, event: events.Resize) -> None:
        """Columns take the width there is; redrawn only when it changes."""
        # The vertical scrollbar's room is kept, so a growing fleet does not re-fit the columns.
        width = event.size.width - self.styles.scrollbar_size_vertical
        if width == self._fitted_to:
            return
        self._fitted_to = width
        widths = fit_widths(self._columns, width)
        if widths != self._widths:
            self._strips.clear()
            self._set_columns()
            self.refresh()

    def _label(self, key: str) -> str:
        label = LABELS[key]
        if key != self.sort_column:
            return label
        return f"{label}{'▲' if not self.sort_reverse else '▼'}"

    def set_compact(self, compact: bool) -> None:
        """Fewer columns for a narrow terminal; the rows come back on the next `show`."""
        if compact == self.compact:
            return
        self.compact = compact
        self._cells.clear()
        self._sort_values.clear()
        self._order.clear()
        self._index.clear()
        self._strips.clear()
        self._set_columns()
        self.refresh()

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self._order) + 1)

    # -- reads -------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def selected_id(self) -> str | None:
        if not self._order:
            return None
        return self._order[min(self.cursor_row, len(self._order) - 1)]

    @property
    def shown_ids(self) -> list[str]:
        return list(self._order)

    @property
    def hidden_marks(self) -> set[str]:
        """The marked chargers that are not in the table (the filter hides them)."""
        return {charger_id for charger_id in self.marked if charger_id not in self._index}

    def holding(self, now: datetime) -> bool:
        """Whether live changes must not move rows: there are marks, or the cursor moved just now."""
        recently = self._moved_at is not None and now - self._moved_at < timedelta(seconds=HOLD_AFTER_MOVE)
        return bool(self.marked) or recently

    def get_row_index(self, charger_id: str) -> int:
        return self._index[charger_id]

    def get_cell(self, charger_id: str, column: str) -> str:
        """The cell as drawn (Rich markup)."""
        return self._cells[charger_id][self._columns.index(column)]

    # -- rows --------------------------------------------------------------------------

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
        While `holding`, only the operator's own sort or filter reorders the rows.
        """
        selected = self.selected_id
        # The operator's sort or filter, or rows all new (the first load, a narrower table): sorted, held or not.
        asked = self.resorted or filter_text != self._shown_filter or not self._order
        if changed is None or filter_text != self._shown_filter or (chargers and not self._cells):
            reorder = self._show_all(chargers, now, filter_text)
        else:
            reorder = self._show_changed(chargers, now, filter_text, changed)
        self._shown_filter = filter_text
        self.resorted = False
        if asked or not self.holding(now):
            if reorder or self.order_held:
                self._sort()
            self.order_held = False
        elif reorder:
            self.order_held = self._keep_order()
        self._resize()
        if selected in self._index:
            self.move_cursor(row=self._index[selected])
        else:
            self.move_cursor(row=self.cursor_row)
        self.refresh()

    def _show_changed(
        self, chargers: Mapping[str, ChargerView], now: datetime, filter_text: str, changed: set[str]
    ) -> bool:
        reorder = False
        sort_key = SORT_KEYS[self.sort_column]
        for charger_id in changed:
            charger = chargers.get(charger_id)
            if charger is None or not matches(charger, filter_text):
                reorder |= self._drop(charger_id)
                continue
            reorder |= self._put(charger_id, self.cells(charger, now), (sort_key(charger), charger.identity))
        self._refresh_ages(chargers, now, changed)
        return reorder

    def _show_all(self, chargers: Mapping[str, ChargerView], now: datetime, filter_text: str) -> bool:
        wanted = {charger_id: charger for charger_id, charger in chargers.items() if matches(charger, filter_text)}
        reorder = False
        for charger_id in [charger_id for charger_id in self._cells if charger_id not in wanted]:
            reorder |= self._drop(charger_id)
        sort_key = SORT_KEYS[self.sort_column]
        for charger_id, charger in wanted.items():
            reorder |= self._put(charger_id, self.cells(charger, now), (sort_key(charger), charger.identity))
        return reorder

    def _put(self, charger_id: str, cells: tuple[str, ...], sort_value: Any) -> bool:
        """Add or update one row; True when the order may have changed."""
        reorder = False
        if charger_id not in self._cells:
            self._order.append(charger_id)
            self._index[charger_id] = len(self._order) - 1
            reorder = True
        self._cells[charger_id] = cells
        if self._sort_values.get(charger_id) != sort_value:
            self._sort_values[charger_id] = sort_value
            reorder = True
        return reorder

    def _drop(self, charger_id: str) -> bool:
        """Forget one row; True, so `show` sorts, which rebuilds the order once however many rows went."""
        if charger_id not in self._cells:
            return False
        del self._cells[charger_id]
        self._sort_values.pop(charger_id, None)
        self._strips.pop(charger_id, None)
        return True

    def _refresh_ages(self, chargers: Mapping[str, ChargerView], now: datetime, done: set[str]) -> None:
        """The connection column ages every second: refresh it for the rows on screen only."""
        if "connected" not in self._columns:
            return
        index = self._columns.index("connected")
        top = max(0, int(self.scroll_y))
        for charger_id in self._order[top : top + self.size.height + 1]:
            if charger_id in done or charger_id not in chargers:
                continue
            before = self._cells[charger_id]
            cell = connected_cell(chargers[charger_id], now)
            if before[index] != cell:
                self._cells[charger_id] = before[:index] + (cell,) + before[index + 1 :]

    def _sorted(self) -> list[str]:
        return sorted(self._cells, key=self._sort_values.__getitem__, reverse=self.sort_reverse)

    def _sort(self) -> None:
        order = self._sorted()
        if order != self._order:
            self._order = order
            self._index = {charger_id: index for index, charger_id in enumerate(order)}

    def _keep_order(self) -> bool:
        """Rows stay where they are (new ones at the end, gone ones out); True when that is not the sort order."""
        order = [charger_id for charger_id in self._order if charger_id in self._cells]
        if order != self._order:
            self._order = order
            self._index = {charger_id: index for index, charger_id in enumerate(order)}
        return order != self._sorted()

    def resort(self) -> None:
        """Sort now, holding or not (the next `show`)."""
        self.resorted = True
        self.refresh()

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Order the rows by `column`; the same column again flips the order."""
        if column not in SORT_KEYS:
            return
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column, self.sort_reverse = column, reverse
        self._header = None
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
            cells = list(self._cells[charger_id])
            cells[self._columns.index("mark")] = MARK if charger_id in self.marked else " "
            self._cells[charger_id] = tuple(cells)
            self._refresh_row(self._index[charger_id])

    def clear_marks(self) -> None:
        for charger_id in list(self.marked):
            self.toggle_mark(charger_id)

    # -- cursor ------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        """Rows that fit under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Put the cursor on `row` (clamped), scroll it into view and tell who is highlighted now."""
        before = self.cursor_row
        self.cursor_row = max(0, min(row, len(self._order) - 1))
        if before != self.cursor_row:
            self._refresh_row(before)
            self._refresh_row(self.cursor_row)
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + self._page:
            self.scroll_to(y=self.cursor_row - self._page + 1, animate=False, immediate=True)
        highlighted = self.selected_id
        if highlighted != self._highlighted:
            self._highlighted = highlighted
            self.post_message(self.Highlighted(self, highlighted))

    def _refresh_row(self, row: int) -> None:
        line = row - int(self.scroll_y) + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def _move_by_hand(self, row: int) -> None:
        """The operator moves the cursor: the order holds for a moment (see `holding`)."""
        self._moved_at = self._clock.now()
        self.move_cursor(row=row)

    def action_cursor_up(self) -> None:
        self._move_by_hand(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._move_by_hand(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._move_by_hand(self.cursor_row - self._page)

    def action_page_down(self) -> None:
        self._move_by_hand(self.cursor_row + self._page)

    def action_first(self) -> None:
        self._move_by_hand(0)

    def action_last(self) -> None:
        self._move_by_hand(len(self._order) - 1)

    def action_select_cursor(self) -> None:
        charger_id = self.selected_id
        if charger_id is not None:
            self.post_message(self.Selected(self, charger_id))

    def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x + int(self.scroll_x))
            if column is not None:
                self.sort_by(column)
            return
        row = int(self.scroll_y) + offset.y - 1
        if row >= len(self._order):
            return
        if row == self.cursor_row:
            self.action_select_cursor()
        else:
            self._move_by_hand(row)

    def _column_at(self, x: int) -> str | None:
        for key in self._columns:
            x -= self._widths[key] + 2 * PADDING
            if x < 0:
                return key
        return None

    # -- drawing -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = int(self.scroll_x), int(self.scroll_y)
        width = self.size.width
        base = self.rich_style
        if y == 0:
            strip = self._header_strip()
        else:
            row = scroll_y + y - 1
            if row >= len(self._order):
                return Strip.blank(width, base)
            strip = self._row_strip(self._order[row], row == self.cursor_row)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header_strip(self) -> Strip:
        style = self.get_component_rich_style("charger-table--header")
        key = (self._columns, self.sort_column, self.sort_reverse, style)
        if self._header is None or self._header[0] != key:
            line = Text(no_wrap=True, end="")
            for column in self._columns:
                line.append_text(self._cell(Text(self._label(column)), self._widths[column]))
            self._header = (key, self._strip(line, style))
        return self._header[1]

    def _row_strip(self, charger_id: str, cursor: bool) -> Strip:
        cells = self._cells[charger_id]
        style = self.get_component_rich_style("charger-table--cursor") if cursor else self.rich_style
        key = (cells, cursor, style)
        cached = self._strips.get(charger_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        line = Text(no_wrap=True, end="")
        for column, cell in zip(self._columns, cells):
            text = Text.from_markup(cell)
            if cursor:
                # The cursor's colours win, as a highlighted row reads best in one colour.
                text = Text(text.plain)
            line.append_text(self._cell(text, self._widths[column]))
        strip = self._strip(line, style)
        self._strips[charger_id] = (key, strip)
        return strip

    @staticmethod
    def _cell(text: Text, width: int) -> Text:
        text.truncate(width, overflow="ellipsis", pad=True)
        return Text.assemble(" " * PADDING, text, " " * PADDING)

    def _strip(self, line: Text, style: Style) -> Strip:
        segments = list(line.render(self.app.console))
        return Strip(segments, self._width).apply_style(style).simplify()
