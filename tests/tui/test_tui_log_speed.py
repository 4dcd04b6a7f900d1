"""The log keeps up with a fleet: a flush costs the same whatever piled up, and only the rows on screen are drawn."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Static

from console.core.views import LogView
from console.tui.modals.frame_json import FrameJson
from console.tui.widgets.frame_log import MAX_LINES, FrameLog, LogPanel

SIZE = (120, 30)
AT = datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc)


def line(number: int, chargers: int = 10) -> LogView:
    identity = f"CP-{number % chargers:05d}"
    frame = f'[2,"m-{number}","MeterValues",{{"connectorId":1,"reading":{number}}}]'
    return LogView(number, f"dep-{number % chargers:05d}", identity, AT, "in", "MeterValues", f"m-{number}", frame)


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogPanel(fleet=True)


class Counted:
    """Counts the lines `log` builds cells for: the work of drawing rows."""

    def __init__(self, log: FrameLog) -> None:
        self.calls = 0
        cells = log._cells

        def counted(entry: LogView) -> tuple[str, ...]:
            self.calls += 1
            return cells(entry)

        log._cells = counted  # type: ignore[method-assign]


async def test_a_backlog_of_5000_lines_keeps_the_newest_and_draws_only_the_screen() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(FrameLog)
        counted = Counted(log)
        log.append(line(number) for number in range(1, 5001))
        await pilot.pause()
        assert log.row_count == MAX_LINES == len(log.entries)
        assert log.entries[0].id == 5001 - MAX_LINES and log.entries[-1].id == 5000
        assert log.cursor_row == MAX_LINES - 1 and log.selected is log.entries[-1]
        assert counted.calls <= SIZE[1]  # the rows on screen, not the backlog
        drawn = counted.calls
        log.append([line(5001)])
        await pilot.pause()
        assert log.entries[-1].id == 5001 and log.row_count == MAX_LINES
        assert counted.calls - drawn <= 3  # the new line and the cursor's old one; the rest were drawn before
        log.append([line(4000), line(5001)])  # ids seen already
        assert log.entries[-1].id == 5001 and log.row_count == MAX_LINES


async def test_a_paused_log_keeps_its_cursor_and_view_on_their_lines_as_old_ones_drop() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(FrameLog)
        log.append(line(number) for number in range(1, MAX_LINES + 1))
        log.focus()
        await pilot.press("f")
        assert log.follow is False
        log.move_cursor(row=500)
        await pilot.pause()
        picked, top = log.selected, log.scroll_y
        assert picked is not None
        log.append(line(number) for number in range(MAX_LINES + 1, MAX_LINES + 101))
        await pilot.pause()
        assert log.selected is picked and log.cursor_row == 400
        assert log.scroll_y == top - 100
        await pilot.press("f")
        assert log.cursor_row == MAX_LINES - 1


async def test_the_filter_narrows_the_capped_lines_and_y_shows_the_picked_one() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(FrameLog)
        log.append(line(number) for number in range(1, 3001))
        log.focus()
        await pilot.press("slash", *"CP-00007", "enter")
        await pilot.pause()
        assert log.row_count == MAX_LINES // 10
        assert all(log.get_cell_at((row, 1)) == "CP-00007" for row in range(log.row_count))
        log.append(line(number) for number in range(3001, 3101))  # 10 more of CP-00007's, 10 of its oldest gone
        await pilot.pause()
        assert log.row_count == MAX_LINES // 10
        assert log.selected is not None and log.selected.id == 3097
        log.move_cursor(row=0)
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, FrameJson)
        assert '"reading": 2107' in str(app.screen.query_one("#json-text", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f")  # paused: clearing the filter keeps the cursor on its line
        app.query_one(LogPanel).clear_filter()
        await pilot.pause()
        assert log.row_count == MAX_LINES and log.selected is not None and log.selected.id == 2107
        assert log.cursor_row == 2107 - 2101


def test_cells_of_a_line() -> None:
    log: Any = FrameLog(fleet=True)
    cells = log._cells(line(7))
    assert cells[1] == "CP-00007" and '"reading":7' in cells[5]
