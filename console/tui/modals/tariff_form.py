"""Set or remove a location's tariff for the planner: a price per kWh per 15-minute slot of the UTC day."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from console.core.errors import ConsoleError, ValidationFailed
from console.tui.modals.form import Form

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

SLOTS = 96


def parse_tariff(text: str) -> tuple[list[float] | None, str]:
    """(96 prices or None for no tariff, problem). Prices are comma-separated; `0.10x24` repeats one 24 times."""
    value = text.strip()
    if not value or value.lower() == "none":
        return None, ""
    prices: list[float] = []
    for part in value.replace(";", ",").split(","):
        price, _, count = part.strip().partition("x")
        try:
            amount = float(price)
            times = int(count) if count else 1
        except ValueError:
            return None, f"{part.strip()!r} is not a price or PRICExCOUNT (e.g. 0.10x24)"
        if amount < 0 or times < 1:
            return None, f"{part.strip()!r}: a price is 0 or more, a count 1 or more"
        prices.extend([amount] * times)
    if len(prices) != SLOTS:
        return None, f"{len(prices)} slots; a day has {SLOTS} (15 minutes each, from 00:00 UTC)"
    return prices, ""


def shorthand(prices: list[float] | None) -> str:
    """96 prices as the form shows them: runs of one price as PRICExCOUNT."""
    if not prices:
        return ""
    runs: list[list[Any]] = []
    for price in prices:
        if runs and runs[-1][0] == price:
            runs[-1][1] += 1
        else:
            runs.append([price, 1])
    return ",".join(f"{price:g}x{count}" if count > 1 else f"{price:g}" for price, count in runs)


class TariffForm(Form[dict[str, Any] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="tariff.cancel"),
        Binding("ctrl+s", "save", "Save", id="tariff.save"),
    ]
    app: ConsoleHost

    def __init__(self, location_id: str, name: str, tariff: list[float] | None) -> None:
        super().__init__()
        self.location_id = location_id
        self.name_shown = name
        self.tariff = tariff

    def compose(self) -> ComposeResult:
        with Vertical(id="tariff-form", classes="dialog"):
            yield Static(f"Tariff · {self.name_shown}", classes="dialog-title", markup=False)
            yield Static(
                "A price per kWh for each 15 minutes from 00:00 UTC (96). 0.10x24 repeats. Empty: no tariff.",
                classes="dialog-hint",
                markup=False,
            )
            with Horizontal(classes="field-row", id="row-tariff"):
                yield Label("Prices", classes="field-label")
                yield Input(shorthand(self.tariff), placeholder="e.g. 0.10x24,0.30x72", compact=True, id="field-tariff")
            yield Static("", id="error-tariff", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#field-tariff", Input).focus()

    def _problem(self, message: str) -> None:
        self.query_one("#error-tariff", Static).update(message)
        self.query_one("#row-tariff").set_class(bool(message), "-invalid")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._problem(parse_tariff(event.value)[1])

    def submit(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        tariff, problem = parse_tariff(self.query_one("#field-tariff", Input).value)
        self._problem(problem)
        if not problem:
            self.run_worker(self._save(tariff), group="save", exclusive=True)

    async def _save(self, tariff: list[float] | None) -> None:
        try:
            saved = await self.app.backend.set_location_tariff(self.location_id, tariff)
        except ValidationFailed as error:
            self._problem(error.problems.get("tariff") or str(error))
            return
        except ConsoleError as error:
            self._problem(str(error))
            return
        self.dismiss(saved)
