"""The selected charger's OCPP frames and events, newest at the bottom."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

from console.core.views import LogView
from console.tui.format import DIRECTION_ARROWS, clock_time, compact_payload, short_id

ACTION_WIDTH = 22


class FrameLog(RichLog):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=1000, wrap=False, highlight=False, markup=False, **kwargs)  # type: ignore[arg-type]
        self.last_id = 0

    def show_history(self, entries: Iterable[LogView]) -> None:
        self.clear()
        self.last_id = 0
        self.append(entries)

    def append(self, entries: Iterable[LogView]) -> None:
        """Write the entries not written yet (ids only grow)."""
        for entry in entries:
            if entry.id <= self.last_id:
                continue
            self.last_id = entry.id
            line = self.line(entry)
            # The whole line, scrolled sideways if long: its width must not depend on
            # whether the log had been sized when the line arrived.
            self.write(line, width=line.cell_len)

    def reset(self) -> None:
        self.clear()
        self.last_id = 0

    @staticmethod
    def line(entry: LogView) -> Text:
        arrow = DIRECTION_ARROWS.get(entry.direction, "?")
        action = (entry.action or "")[:ACTION_WIDTH]
        line = Text.assemble(
            (clock_time(entry.at), "dim"),
            " ",
            (arrow, "bold"),
            " ",
            (f"{action:<{ACTION_WIDTH}}", "bold"),
            " ",
            (f"{short_id(entry.message_id):<8}", "dim"),
            " ",
            compact_payload(entry),
            no_wrap=True,
        )
        return line
