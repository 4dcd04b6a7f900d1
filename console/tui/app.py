"""The Textual console over a `Backend`: embedded (the in-process core) or attached (HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.theme import Theme

from console.core.backend import Backend
from console.core.clock import Clock
from console.tui.commands import ChargerCommands
from console.tui.screens.main import MainScreen
from console.tui.themes import DEFAULT_THEME, DEFAULT_THEMES_DIR, STATUS_DEFAULTS, load_themes


class ConsoleApp(App[None]):
    CSS_PATH = "console.tcss"
    TITLE = "ocpp-console"
    COMMANDS = App.COMMANDS | {ChargerCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="console.quit", priority=True, tooltip="Quit the console"),
    ]

    def __init__(
        self,
        backend: Backend,
        clock: Clock,
        theme_name: str | None = None,
        themes_dir: Path | None = None,
        save_theme: Callable[[str], None] | None = None,
        confirm_single: bool = True,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.clock = clock
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

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    def on_mount(self) -> None:
        for problem in self.theme_problems:
            self.notify(problem, title="Themes", severity="warning")
        self._saved_theme = self.theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, theme: Theme) -> None:
        # Saved at once, not on quit: attach mode and a console that is killed keep the choice too.
        if self._save_theme is not None and theme.name != self._saved_theme:
            self._saved_theme = theme.name
            self._save_theme(theme.name)
