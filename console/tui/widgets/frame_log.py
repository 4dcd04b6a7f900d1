"""OCPP frames and console events as they stream: one charger's (detail) or the fleet's (logs view).

A row per line, so one can be picked (`y` shows its whole JSON); `f` follows
the newest line, and the filter narrows to lines that contain its text.

A line-API widget rather than Textual's DataTable: at the cap every new line
pushed out the oldest, and DataTable's `remove_row` re-indexes every row (a
flush of 250 lines took 0.7 s) and throws away every drawn line. Here the
lines are a ring of the newest `MAX_LINES`, a flush costs the same however
long the backlog, and only the rows on screen are drawn, each once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.markup import escape
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from console.core.views import LogView
from console.tui.format import DIRECTION_ARROWS, clock_time, compact_payload, log_matches, short_id
from console.tui.modals.frame_json import FrameJson

MAX_LINES = 1000
# Spaces on each side of a cell.
PADDING = 1
COLUMNS = (
    ("time", "Time", 8),
    ("identity", "Charger", 14),
    ("direction", " ", 1),
    ("action", "Action", 22),
    ("message_id", "Msg id", 8),
    ("payload", "Payload", 400),
)
WIDTHS = {key: width for key, _, width in COLUMNS}
LABELS = {key: label for key, label, _ in COLUMNS}


class FrameLog(ScrollView, can_focus=True):
    """The lines themselves; `LogPanel` adds the filter and the keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False, id="logs.up"),
        Binding("down", "cursor_down", "Down", show=False, id="logs.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="logs.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="logs.page_down"),
        Binding("home", "first", "First", show=False, id="logs.first"),
        Binding("end", "last", "Last", show=False, id="logs.last"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"frame-log--header", "frame-log--cursor"}
    DEFAULT_CSS = """
    FrameLog {
        background: $surface;
        color: $foreground;
        & > .frame-log--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .frame-log--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .frame-log--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    def __init__(self, fleet: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fleet = fleet
        self.entries: deque[LogView] = deque(maxlen=MAX_LINES)
        # The entries the filter keeps, oldest first: the rows.
        self._shown: deque[LogView] = deque(maxlen=MAX_LINES)
        # entry id -> (whether it held the cursor, its style, the drawn line).
        self._strips: dict[int, tuple[bool, Style, Strip]] = {}
        self._header: tuple[Style, Strip] | None = None
        # (style, cursor style, width) for the lines of the paint under way.
        self._paint: tuple[Style, Style, int] | None = None
        self.last_id = 0
        self.filter_text = ""
        self.follow = True
        self.cursor_row = 0
        self._columns = tuple(key for key, _, _ in COLUMNS if fleet or key != "identity")
        self._width = sum(WIDTHS[key] + 2 * PADDING for key in self._columns)

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

    # -- reads -------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._shown)

    @property
    def selected(self) -> LogView | None:
        if not self._shown:
            return None
        return self._shown[min(self.cursor_row, len(self._shown) - 1)]

    def get_cell_at(self, coordinate: tuple[int, int]) -> str:
        """The cell at (row, column) as drawn (Rich markup)."""
        row, column = coordinate
        return self._cells(self._shown[row])[column]

    # -- lines -------------------------------------------------------------------------

    def show_history(self, entries: Iterable[LogView]) -> None:
        self.reset()
        self.append(entries)

    def reset(self) -> None:
        self.entries.clear()
        self._shown.clear()
        self._strips.clear()
        self.last_id = 0
        self.cursor_row = 0
        self._changed(dropped=0)

    def append(self, entries: Iterable[LogView]) -> None:
        """Add the lines not shown yet (ids only grow), dropping the oldest past `MAX_LINES`.

        Only the newest `MAX_LINES` of a backlog are kept, so a flush costs the same whatever piled up.
        """
        fresh: deque[LogView] = deque(maxlen=MAX_LINES)
        for entry in entries:
            if entry.id > self.last_id:
                self.last_id = entry.id
                fresh.append(entry)
        if not fresh:
            return
        before = len(self._shown)
        self.entries.extend(fresh)
        kept = [entry for entry in fresh if log_matches(entry, self.filter_text)]
        self._shown.extend(kept)
        oldest = self.entries[0].id
        while self._shown and self._shown[0].id < oldest:
            self._shown.popleft()
        if len(self._strips) > len(self.entries):
            self._strips = {key: value for key, value in self._strips.items() if key >= oldest}
        self._changed(dropped=before + len(kept) - len(self._shown))

    def refilter(self, text: str) -> None:
        """Show only the lines containing `text`; the cursor stays on its line, or the next one shown."""
        selected = self.selected
        self.filter_text = text
        self._shown = deque((entry for entry in self.entries if log_matches(entry, text)), maxlen=MAX_LINES)
        if selected is not None and self._shown:
            at = bisect_left(self._shown, selected.id, key=lambda entry: entry.id)
            self.cursor_row = min(at, len(self._shown) - 1)
        self._changed(dropped=0)

    def _changed(self, dropped: int) -> None:
        """After rows came or went: `dropped` went from the top, so a paused cursor and view stay on their lines."""
        self.virtual_size = Size(self._width, len(self._shown) + 1)
        if self.follow:
            self.move_cursor(row=len(self._shown) - 1)
            # Once laid out again: the first rows bring the scrollbars, which take a line.
            self.call_after_refresh(self._scroll_to_cursor)
        else:
            if dropped:
                self.scroll_to(y=max(0, int(self.scroll_y) - dropped), animate=False, immediate=True, force=True)
            self.move_cursor(row=self.cursor_row - dropped)
        self.refresh()

    # -- cursor ------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        """Rows that fit under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Put the cursor on `row` (clamped) and scroll it into view."""
        before = self.cursor_row
        self.cursor_row = max(0, min(row, len(self._shown) - 1))
        if before != self.cursor_row:
            self._refresh_row(before)
            self._refresh_row(self.cursor_row)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        # Forced: before the next layout the scrollbar may not be shown yet, and scrolling would be refused.
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True, force=True)
        elif self.cursor_row >= top + self._page:
            self.scroll_to(y=self.cursor_row - self._page + 1, animate=False, immediate=True, force=True)

    def _refresh_row(self, row: int) -> None:
        line = row - int(self.scroll_y) + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._page)

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._page)

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._shown) - 1)

    def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = int(self.scroll_y) + offset.y - 1
        if row < len(self._shown):
            self.move_cursor(row=row)

    # -- drawing -----------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line needs, once per paint: a style is worked out from the CSS each time it is asked for.
        self._paint = (self.rich_style, self.get_component_rich_style("frame-log--cursor"), self.size.width)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if self._paint is None:
            self._paint = (self.rich_style, self.get_component_rich_style("frame-log--cursor"), self.size.width)
        base, cursor_style, width = self._paint
        scroll_x, scroll_y = int(self.scroll_x), int(self.scroll_y)
        if y == 0:
            strip = self._header_strip()
        else:
            row = scroll_y + y - 1
            if row >= len(self._shown):
                return Strip.blank(width, base)
            cursor = row == self.cursor_row
            strip = self._row_strip(self._shown[row], cursor, cursor_style if cursor else base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header_strip(self) -> Strip:
        style = self.get_component_rich_style("frame-log--header")
        if self._header is None or self._header[0] != style:
            line = Text(no_wrap=True, end="")
            for column in self._columns:
                line.append_text(self._cell(Text(LABELS[column]), WIDTHS[column]))
            self._header = (style, self._strip(line, style))
        return self._header[1]

    def _row_strip(self, entry: LogView, cursor: bool, style: Style) -> Strip:
        cached = self._strips.get(entry.id)
        if cached is not None and cached[0] == cursor and cached[1] == style:
            return cached[2]
        line = Text(no_wrap=True, end="")
        for column, cell in zip(self._columns, self._cells(entry)):
            text = Text.from_markup(cell)
            if cursor:
                # The cursor's colours win, as a highlighted row reads best in one colour.
                text = Text(text.plain)
            line.append_text(self._cell(text, WIDTHS[column]))
        strip = self._strip(line, style)
        self._strips[entry.id] = (cursor, style, strip)
        return strip

    @staticmethod
    def _cell(text: Text, width: int) -> Text:
        text.truncate(width, overflow="ellipsis", pad=True)
        return Text.assemble(" " * PADDING, text, " " * PADDING)

    def _strip(self, line: Text, style: Style) -> Strip:
        segments = list(line.render(self.app.console))
        return Strip(segments, self._width).apply_style(style).simplify()


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
        # Older frames were pruned (retention): say from when the log goes.
        backend = getattr(self.app, "backend", None)
        since = backend.info.frames_since if backend is not None else None
        kept = f" · kept since {since:%Y-%m-%d %H:%M} UTC" if since is not None else ""
        self.query_one(".log-status", Static).update(f"{follow}{escape(shown)}{kept}")

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
