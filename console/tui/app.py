"""The Textual console over a `Backend`: embedded (the in-process core) or attached (HTTP).

The main screen and the backend behind it take seconds to import: a console started without
its backend shows `StartingScreen`, the frame saying "connecting…", and imports them after
that first paint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Footer

from console.tui.commands import ChargerCommands
from console.tui.host import ConsoleHost
from console.tui.themes import DEFAULT_THEME, DEFAULT_THEMES_DIR, STATUS_DEFAULTS, load_themes
from console.tui.widgets.header import FleetHeader
from console.tui.widgets.paint import Readout

if TYPE_CHECKING:
    from console.core.backend import Backend
    from console.core.clock import Clock


class StartingScreen(Screen[None]):
    """The console's frame while its backend starts: the header says so, ctrl+q quits."""

    def compose(self) -> ComposeResult:
        yield FleetHeader(id="fleet-header")
        yield Footer()

    def on_mount(self) -> None:
        summary = Content.assemble((" ocpp-console ", "bold reverse $primary"), " ", ("connecting…", "bold $warning"))
        self.query_one("#header-summary", Readout).show(summary)


def _import_main_screen() -> type[Screen]:
    from console.tui.screens.main import MainScreen

    return MainScreen


class ConsoleApp(ConsoleHost):
    CSS_PATH = "console.tcss"
    TITLE = "ocpp-console"
    COMMANDS = App.COMMANDS | {ChargerCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="console.quit", priority=True, tooltip="Quit the console"),
    ]

    def __init__(
        self,
        backend: Backend | None,
        clock: Clock,
        theme_name: str | None = None,
        themes_dir: Path | None = None,
        save_theme: Callable[[str], None] | None = None,
        confirm_single: bool = True,
        zone: tzinfo | None = None,
        start: Callable[[], Awaitable[Backend]] | None = None,
    ) -> None:
        """Either a `backend` ready to use, or `start`, which makes it while the frame says "connecting…"."""
        super().__init__()
        self.backend: Backend = backend  # type: ignore[assignment]  # None only while StartingScreen shows
        self._start = start
        # Why `start` failed: the console has exited, its caller says why.
        self.start_error: Exception | None = None
        self.clock = clock
        # The zone times are shown in: None is the machine's own (tests fix one).
        self.zone = zone
        # Whether a stop, restart, inoperative or unlock that ends a session on one charger asks first
        # (`--yes` says no); bulk actions always ask.
        self.confirm_single = confirm_single
        self.theme_problems: list[str] = []
        self._save_theme = save_theme
        themes, self.theme_problems = load_themes(themes_dir or DEFAULT_THEMES_DIR)
        for theme in themes:
            self.register_theme(theme)
        wanted = theme_name or DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        elif theme_name is not None:
            self.theme_problems.append(f"no theme named {theme_name!r}; using {self.theme!r}")

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(STATUS_DEFAULTS)

    def get_default_screen(self) -> Screen:
        if self.backend is None:
            return StartingScreen()
        return _import_main_screen()()

    def on_mount(self) -> None:
        for problem in self.theme_problems:
            self.notify(problem, title="Themes", severity="warning")
        self._saved_theme = self.theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.backend is None and self._start is not None:
            # After the first paint: the imports and the depot's start must not hold it up.
            self.call_after_refresh(lambda: self.run_worker(self._start_backend(), name="start backend"))

    async def _start_backend(self) -> None:
        assert self._start is not None
        try:
            # Off the event loop: the frame keeps answering keys (ctrl+q) while these import.
            await asyncio.to_thread(_import_main_screen)
            backend = await self._start()
        except Exception as error:  # reported by whoever started the console, once the terminal is back
            self.start_error = error
            self.exit(return_code=1)
            return
        self.backend = backend
        # The console gets a mode (a screen stack) of its own: the base of a stack cannot be switched.
        self.add_mode("console", self.get_default_screen)
        await self.switch_mode("console")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The palette's commands act on the fleet: not before there is one.
        return not (action == "command_palette" and self.backend is None)

    def _theme_changed(self, theme: Theme) -> None:
        # Saved at once, not on quit: attach mode and a console that is killed keep the choice too.
        if self._save_theme is not None and theme.name != self._saved_theme:
            self._saved_theme = theme.name
            self._save_theme(theme.name)
