"""Textual's footer, fitted to its width: whole keys only, the least important dropped first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from textual import events
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeyFooter(Footer):
    """Shows the `essential` actions' keys always, then the focused widget's own keys, the palette
    and the keys of `priority` in its order while they fit; kept keys stay in the bindings' order."""

    def __init__(self, essential: Iterable[str], priority: Sequence[str], id: str | None = None) -> None:
        super().__init__(id=id)
        self.essential = frozenset(essential)
        self.priority = tuple(priority)
        self._width = 0

    def compose(self) -> Iterable[Widget]:
        widgets = list(super().compose())
        room = self.size.width
        kept: set[Widget] = set()
        for key in sorted((widget for widget in widgets if isinstance(widget, FooterKey)), key=self._rank):
            needed = self._cells(key)
            if needed <= room or self._rank(key) == 0:
                kept.add(key)
                room -= needed
        yield from (widget for widget in widgets if not isinstance(widget, FooterKey) or widget in kept)

    def _rank(self, key: FooterKey) -> int:
        if key.action in self.essential:
            return 0
        if key.action in self.priority:
            return 3 + self.priority.index(key.action)
        # The focused widget's own keys (a log's follow, a frame's JSON) matter most where they apply.
        return 2 if key.has_class("-command-palette") else 1

    def _cells(self, key: FooterKey) -> int:
        """The cells a key takes, as the footer's stylesheet lays it out (see textual.widgets._footer)."""
        text = cell_len(key.key_display) + cell_len(key.description)
        if self.compact:
            cells = text + 2  # a space before the description, a margin after
            return cells + 1 if key.has_class("-command-palette") else cells  # its border
        return text + 3  # a space each side of the key, one after the description (the palette's border takes one)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self.call_after_refresh(self.recompose)

    def watch_compact(self) -> None:
        if self.is_attached:
            self.call_after_refresh(self.recompose)

    def watch_show_command_palette(self) -> None:
        if self.is_attached:
            self.call_after_refresh(self.recompose)
