"""Set or remove a location's power cap."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from console.core.errors import ConsoleError, ValidationFailed
from console.core.views import LocationView
from console.tui.modals.form import Form

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost


def parse_cap(text: str) -> tuple[float | None, str]:
    """(kW or None for no cap, problem)."""
    value = text.strip()
    if not value or value.lower() == "none":
        return None, ""
    try:
        cap = float(value)
    except ValueError:
        return None, "a number of kW, or empty for no cap"
    if not cap > 0:
        return None, "must be above 0 kW (empty removes the cap)"
    return cap, ""


class CapForm(Form[LocationView | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cap.cancel"),
        Binding("ctrl+s", "save", "Save", id="cap.save"),
    ]
    app: ConsoleHost

    def __init__(self, location: LocationView) -> None:
        super().__init__()
        self.location = location

    def compose(self) -> ComposeResult:
        location = self.location
        current = f"{location.power_cap_kw:g}" if location.power_cap_kw is not None else ""
        with Vertical(id="cap-form", classes="dialog"):
            yield Static(f"Power cap · {location.name}", classes="dialog-title", markup=False)
            yield Static(
                f"Its chargers draw {location.delivered_kw:.1f} kW now. Empty removes the cap.",
                classes="dialog-hint",
                markup=False,
            )
            with Horizontal(classes="field-row", id="row-power_cap_kw"):
                yield Label("Cap (kW)", classes="field-label")
                yield Input(current, placeholder="e.g. 90", compact=True, id="field-power_cap_kw")
            yield Static("", id="error-power_cap_kw", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#field-power_cap_kw", Input).focus()

    def _problem(self, message: str) -> None:
        self.query_one("#error-power_cap_kw", Static).update(message)
        self.query_one("#row-power_cap_kw").set_class(bool(message), "-invalid")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._problem(parse_cap(event.value)[1])

    def submit(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        cap, problem = parse_cap(self.query_one("#field-power_cap_kw", Input).value)
        self._problem(problem)
        if not problem:
            self.run_worker(self._save(cap), group="save", exclusive=True)

    async def _save(self, cap: float | None) -> None:
        try:
            saved = await self.app.backend.set_location_cap(self.location.id, cap)
        except ValidationFailed as error:
            self._problem(error.problems.get("power_cap_kw") or str(error))
            return
        except ConsoleError as error:
            self._problem(str(error))
            return
        self.dismiss(saved)

