"""Every key of the current view with what it does, and how the filter reads; a dimmed key cannot apply now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.tui.format import FILTER_FIELDS

FILTER_HELP = (
    "[b]Filter[/b] ([b]/[/b]): words and [b]field:value[/b] terms, every one of which must match, in any case.\n"
    "A word matches part of a charger's identity, name, location, status or vendor.\n"
    f"{', '.join(f'[b]{field}:[/b]' for field in FILTER_FIELDS)} match part of that field only "
    "(location: the location's name or id), e.g. [b]status:charging location:north vendor:abb[/b].\n"
    "Any other word with a colon is a plain word; an empty [b]field:[/b] is ignored. [b]escape[/b] clears the filter.\n"
    "In a log, [b]/[/b] keeps the lines whose charger, action or message contain the text."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.close_question"),
        Binding("q", "close", "Close", show=False, id="help.close_q"),
    ]

    def __init__(
        self, view: str, keys: list[tuple[str, str]], dimmed: set[str] | None = None, details: dict[str, str] | None = None
    ) -> None:
        """`keys` are (key, description) in markup; `details` a key's longer description, where it has one."""
        super().__init__()
        self.view = view
        self.keys = keys
        self.dimmed = dimmed or set()
        self.details = details or {}

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(f"Keys · {self.view}", classes="dialog-title", markup=False)
            # Scrolls up and down only: the keys' column stays in view.
            with VerticalScroll(id="help-keys"):
                for key, description in self.keys:
                    text = f"[b]{description}[/b]"
                    detail = self.details.get(key)
                    if detail and detail != description:
                        text += f"  {detail}"
                    dimmed = key in self.dimmed
                    with Horizontal(classes="help-key -dimmed" if dimmed else "help-key"):
                        yield Static(key, classes="help-key-name")
                        yield Static(f"{text} (not now)" if dimmed else text, classes="help-key-text")
                yield Static(FILTER_HELP, id="help-filter")
            yield Static("escape closes · ctrl+p finds a charger and its actions", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#help-keys").focus()

    def action_close(self) -> None:
        self.dismiss(None)
