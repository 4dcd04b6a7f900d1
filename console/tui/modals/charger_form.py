"""Create or edit a charger: every editable seed field, each with its error line.

Fields are checked against the backend as the user types (debounced) and all
at once on save; the form stays open until the backend has saved the charger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from console.core.backend import Backend
from console.core.errors import ConsoleError, ValidationFailed
from console.core.views import CONNECTOR_TYPES, OCPP_VERSIONS, ChargerView, LocationView
from console.tui.modals.form import Form

TEXT_FIELDS = (
    ("identity", "Identity", "charge-box id, e.g. CP-NORTH-A01"),
    ("name", "Name", ""),
    ("vendor_name", "Vendor", ""),
    ("model", "Model", ""),
    ("image_url", "Image URL", "https://…"),
)
NUMBER_FIELDS = (
    ("number_of_connectors", "Connectors", "1–8"),
    ("max_charging_power", "Max power (W)", "e.g. 22000"),
)
FIELD_NAMES = (
    "identity",
    "name",
    "vendor_name",
    "model",
    "image_url",
    "ocpp_version",
    "number_of_connectors",
    "max_charging_power",
    "connector_type",
    "location_id",
    "simulated",
    "tolerant",
)

Save = Callable[[dict[str, Any]], Awaitable[object]]


class ChargerForm(Form[dict[str, Any] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "save", "Save", id="form.save"),
    ]
    CHECK_DELAY = 0.3

    def __init__(
        self,
        backend: Backend,
        locations: list[LocationView],
        save: Save,
        charger: ChargerView | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.locations = locations
        self.save = save
        self.charger = charger
        self._touched: set[str] = set()
        self._check_timer: Timer | None = None

    @property
    def charger_id(self) -> str | None:
        return self.charger.id if self.charger else None

    def compose(self) -> ComposeResult:
        charger = self.charger
        title = f"Edit {charger.identity}" if charger else "New charger"
        with Vertical(id="charger-form", classes="dialog"):
            yield Static(title, classes="dialog-title", markup=False)
            with VerticalScroll(id="form-fields"):
                for name, label, placeholder in TEXT_FIELDS:
                    value = getattr(charger, name) if charger else None
                    yield from self._field(
                        name, label, Input(value or "", placeholder=placeholder, compact=True, id=f"field-{name}")
                    )
                version = charger.ocpp_version if charger else OCPP_VERSIONS[0]
                yield from self._field(
                    "ocpp_version",
                    "OCPP version",
                    Select(
                        [(v, v) for v in OCPP_VERSIONS],
                        value=version,
                        allow_blank=False,
                        compact=True,
                        id="field-ocpp_version",
                    ),
                )
                for name, label, placeholder in NUMBER_FIELDS:
                    value = str(getattr(charger, name)) if charger else ("1" if name == "number_of_connectors" else "")
                    yield from self._field(
                        name,
                        label,
                        Input(value, placeholder=placeholder, type="integer", compact=True, id=f"field-{name}"),
                    )
                yield from self._field(
                    "connector_type",
                    "Connector type",
                    Input(
                        (charger.connector_type if charger else "") or "",
                        placeholder="Type2, CCS2, CHAdeMO…",
                        suggester=SuggestFromList(CONNECTOR_TYPES, case_sensitive=False),
                        compact=True,
                        id="field-connector_type",
                    ),
                )
                location_ids = {location.id for location in self.locations}
                current = charger.location_id if charger and charger.location_id in location_ids else Select.NULL
                yield from self._field(
                    "location_id",
                    "Location",
                    Select(
                        [(location.name, location.id) for location in self.locations],
                        value=current,
                        prompt="(none)",
                        allow_blank=True,
                        compact=True,
                        id="field-location_id",
                    ),
                )
                yield from self._field(
                    "simulated",
                    "Simulated",
                    Checkbox("run a simulated charge point", charger.simulated if charger else True, compact=True, id="field-simulated"),
                )
                yield from self._field(
                    "tolerant",
                    "Tolerant",
                    Checkbox(
                        "take quirky firmware's messages, with a warning",
                        charger.tolerant if charger else False,
                        compact=True,
                        id="field-tolerant",
                    ),
                )
            yield Static("", id="form-error", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    @staticmethod
    def _field(name: str, label: str, widget: Widget) -> ComposeResult:
        with Horizontal(classes="field-row", id=f"row-{name}"):
            yield Label(label, classes="field-label")
            yield widget
        yield Static("", id=f"error-{name}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#field-identity", Input).focus()

    # -- values and problems ----------------------------------------------------------

    def values(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name in ("identity", "name", "vendor_name", "model", "image_url", "number_of_connectors", "max_charging_power", "connector_type"):
            fields[name] = self.query_one(f"#field-{name}", Input).value
        fields["ocpp_version"] = self.query_one("#field-ocpp_version", Select).value
        location = self.query_one("#field-location_id", Select).value
        fields["location_id"] = None if location is Select.NULL else location
        fields["simulated"] = self.query_one("#field-simulated", Checkbox).value
        fields["tolerant"] = self.query_one("#field-tolerant", Checkbox).value
        return fields

    def show_problems(self, problems: dict[str, str], only: set[str] | None = None) -> None:
        """Put each problem under its field; clear the fields that are fine now."""
        for name in FIELD_NAMES:
            if only is not None and name not in only:
                continue
            message = problems.get(name, "")
            self.query_one(f"#error-{name}", Static).update(message)
            self.query_one(f"#row-{name}").set_class(bool(message), "-invalid")
        others = [f"{name}: {message}" for name, message in problems.items() if name not in FIELD_NAMES]
        if only is None or others:
            self.query_one("#form-error", Static).update("; ".join(others))

    def _focus_first_problem(self, problems: dict[str, str]) -> None:
        for name in FIELD_NAMES:
            if name in problems:
                self.query_one(f"#field-{name}").focus()
                return

    # -- checking as the user types ---------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        widget_id = event.control.id or ""
        if not widget_id.startswith("field-"):
            return
        self._touched.add(widget_id.removeprefix("field-"))
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(self.CHECK_DELAY, self._check_touched)

    def _check_touched(self) -> None:
        self._check_timer = None
        self.run_worker(self._check(set(self._touched)), group="check", exclusive=True)

    async def _check(self, only: set[str]) -> None:
        try:
            problems = await self.backend.check_charger(self.values(), self.charger_id)
        except ConsoleError as error:
            self.query_one("#form-error", Static).update(str(error))
            return
        self.show_problems(problems, only)

    # -- saving -----------------------------------------------------------------------

    def submit(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
            self._check_timer = None
        self.workers.cancel_group(self, "check")
        self.run_worker(self._submit(), group="submit", exclusive=True)

    async def _submit(self) -> None:
        fields = self.values()
        try:
            problems = await self.backend.check_charger(fields, self.charger_id)
            if not problems:
                await self.save(fields)
        except ValidationFailed as error:
            problems = error.problems
        except ConsoleError as error:
            self.query_one("#form-error", Static).update(str(error))
            self.notify(str(error), title="Not saved", severity="error")
            return
        self._touched.update(FIELD_NAMES)
        self.show_problems(problems)
        if problems:
            self._focus_first_problem(problems)
            return
        self.dismiss(fields)

