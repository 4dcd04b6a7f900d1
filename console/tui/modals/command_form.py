"""Charge or idle one charger or the marked set: execution, times, power limit, connector, conflicts.

Fields are checked as typed; the backend's refusal (`CommandRefused.field`)
lands under the field it is about. The form stays open until at least one
charger took the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from console.core.errors import CommandRefused, ConsoleError
from console.core.views import ActionView, ChargerView
from console.tui.modals.form import Form

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

FIELDS = ("execution", "start", "end", "power_limit", "depart_by", "need", "connector", "on_conflict", "stop_session")
CONFLICT_CHOICES = (
    ("none: refuse if one is open", "none"),
    ("cancel_and_replace", "cancel_and_replace"),
    ("queue_after", "queue_after"),
)
# The form's field for each part of a request the engine may refuse (`CommandRefused.field`).
REQUEST_FIELDS = {
    "execution": "execution",
    "start": "start",
    "end": "end",
    "parameters.powerLimit": "power_limit",
    "parameters.departBy": "depart_by",
    "parameters.energyKWh": "need",
    "parameters.targetSoC": "need",
    "parameters.batteryKWh": "need",
    "parameters.connectorId": "connector",
    "parameters.stopSession": "stop_session",
    "onConflict": "on_conflict",
}


class CommandForm(Form[list[ActionView] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="command.cancel"),
        Binding("ctrl+s", "send", "Send", id="command.send"),
    ]
    app: ConsoleHost

    def __init__(self, command: str, chargers: list[ChargerView], executions: list[str]) -> None:
        super().__init__()
        self.command = command
        self.chargers = chargers
        self.executions = executions or ["immediate"]
        self._touched: set[str] = set()

    def compose(self) -> ComposeResult:
        if len(self.chargers) == 1:
            target = self.chargers[0].identity
        else:
            target = f"{len(self.chargers)} marked chargers"
        with Vertical(id="command-form", classes="dialog"):
            yield Static(f"{self.command.capitalize()} · {target}", classes="dialog-title", markup=False)
            yield from self._field(
                "execution",
                "Execution",
                Select([(name, name) for name in self.executions], value=self.executions[0], allow_blank=False, compact=True, id="field-execution"),
            )
            yield from self._field("start", "Start", Input(placeholder="ISO 8601 or relative: 30m, 2h", compact=True, id="field-start"))
            yield from self._field("end", "End", Input(placeholder="ISO 8601 or relative: 3h", compact=True, id="field-end"))
            if self.command == "charge":
                most = min(charger.max_charging_power for charger in self.chargers) / 1000
                yield from self._field(
                    "power_limit", "Power limit (kW)", Input(placeholder=f"empty: no limit (max {most:g})", compact=True, id="field-power_limit")
                )
                yield from self._field(
                    "depart_by", "Depart by", Input(placeholder="for the planner: ISO 8601 or 8h", compact=True, id="field-depart_by")
                )
                yield from self._field(
                    "need", "Need", Input(placeholder="kWh (40), or SoC%/battery kWh (80%/60)", compact=True, id="field-need")
                )
            else:
                yield from self._field(
                    "stop_session", "Stop session", Checkbox("end the running session", False, compact=True, id="field-stop_session")
                )
            connectors = max(charger.number_of_connectors for charger in self.chargers)
            yield from self._field(
                "connector", "Connector", Input(placeholder=f"empty: every connector (1–{connectors})", compact=True, id="field-connector")
            )
            yield from self._field(
                "on_conflict",
                "On conflict",
                Select(CONFLICT_CHOICES, value="none", allow_blank=False, compact=True, id="field-on_conflict"),
            )
            yield Static("", id="form-error", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Send", id="send", variant="primary")

    @staticmethod
    def _field(name: str, label: str, widget: Widget) -> ComposeResult:
        with Horizontal(classes="field-row", id=f"row-{name}"):
            yield Label(label, classes="field-label")
            yield widget
        yield Static("", id=f"error-{name}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self._execution_changed()
        self.query_one("#field-execution", Select).focus()

    @property
    def execution(self) -> str:
        return str(self.query_one("#field-execution", Select).value)

    def _execution_changed(self) -> None:
        execution = self.execution
        self.query_one("#field-start", Input).disabled = execution == "immediate"
        self.query_one("#field-end", Input).disabled = execution != "windowed"

    # -- values and problems ----------------------------------------------------------

    def _text(self, name: str) -> str:
        return self.query_one(f"#field-{name}", Input).value.strip()

    def request(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The command's arguments, and the problems found before asking the backend."""
        problems: dict[str, str] = {}
        execution = self.execution
        parameters: dict[str, Any] = {}
        start = self._text("start") if execution != "immediate" else ""
        end = self._text("end") if execution == "windowed" else ""
        if execution != "immediate" and not start:
            problems["start"] = f"a {execution} command needs a start (e.g. 30m or 2026-04-02T18:00Z)"
        if execution == "windowed" and not end:
            problems["end"] = "a windowed command needs an end (e.g. 3h)"
        if self.command == "charge" and (limit := self._text("power_limit")):
            try:
                value = float(limit)
            except ValueError:
                problems["power_limit"] = "a number of kW, e.g. 7.4"
            else:
                most = min(charger.max_charging_power for charger in self.chargers) / 1000
                if not value > 0:
                    problems["power_limit"] = "must be more than 0 kW (empty: no limit)"
                elif value > most:
                    problems["power_limit"] = f"at most {most:g} kW, the charger's maximum"
                else:
                    parameters["powerLimit"] = value
        if self.command == "charge":
            self._need(parameters, problems)
        if self.command == "idle" and self.query_one("#field-stop_session", Checkbox).value:
            parameters["stopSession"] = True
        if connector := self._text("connector"):
            most = min(charger.number_of_connectors for charger in self.chargers)
            if not connector.isdigit() or not 1 <= int(connector) <= most:
                problems["connector"] = f"a connector number from 1 to {most}"
            else:
                parameters["connectorId"] = int(connector)
        conflict = str(self.query_one("#field-on_conflict", Select).value)
        arguments = {
            "parameters": parameters,
            "execution": execution,
            "start": start or None,
            "end": end or None,
            "on_conflict": None if conflict == "none" else conflict,
        }
        return arguments, problems

    def _need(self, parameters: dict[str, Any], problems: dict[str, str]) -> None:
        """The session's need for the planner: a departure, and kWh or a target SoC with the battery's capacity."""
        depart_by, need = self._text("depart_by"), self._text("need")
        if not depart_by and not need:
            return
        if not depart_by:
            problems["depart_by"] = "a need needs a departure (e.g. 8h or 2026-04-03T05:30Z)"
        else:
            parameters["departBy"] = depart_by
        if not need:
            problems["need"] = "kWh (e.g. 40), or a target SoC with the battery (80%/60)"
            return
        try:
            if "%" in need:
                soc, _, battery = need.partition("%")
                parameters["targetSoC"] = float(soc)
                parameters["batteryKWh"] = float(battery.strip().lstrip("/"))
            else:
                parameters["energyKWh"] = float(need)
        except ValueError:
            problems["need"] = "kWh (e.g. 40), or a target SoC with the battery (80%/60)"

    def show_problems(self, problems: dict[str, str], general: str = "") -> None:
        self._touched.update(name for name in FIELDS if self.query(f"#error-{name}"))
        for name in FIELDS:
            if not self.query(f"#error-{name}"):
                continue
            message = problems.get(name, "")
            self.query_one(f"#error-{name}", Static).update(message)
            self.query_one(f"#row-{name}").set_class(bool(message), "-invalid")
        self.query_one("#form-error", Static).update(general)

    @on(Select.Changed, "#field-execution")
    def _execution_selected(self, event: Select.Changed) -> None:
        self._execution_changed()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        self._touched.add((event.input.id or "").removeprefix("field-"))
        problems = self.request()[1]
        for name in self._touched:
            message = problems.get(name, "")
            self.query_one(f"#error-{name}", Static).update(message)
            self.query_one(f"#row-{name}").set_class(bool(message), "-invalid")

    # -- sending ----------------------------------------------------------------------

    def submit(self) -> None:
        self.action_send()

    def action_send(self) -> None:
        arguments, problems = self.request()
        self.show_problems(problems)
        if problems:
            return
        self.run_worker(self._send(arguments), group="send", exclusive=True)

    async def _send(self, arguments: dict[str, Any]) -> None:
        backend = self.app.backend
        sent: list[ActionView] = []
        refused: list[tuple[ChargerView, ConsoleError]] = []
        for charger in self.chargers:
            try:
                sent.append(await backend.send_command(charger.id, self.command, **arguments))
            except ConsoleError as error:
                refused.append((charger, error))
        if not refused:
            self.dismiss(sent)
            return
        problems: dict[str, str] = {}
        general: list[str] = []
        for charger, error in refused:
            prefix = f"{charger.identity}: " if len(self.chargers) > 1 else ""
            field = REQUEST_FIELDS.get(error.field or "") if isinstance(error, CommandRefused) else None
            if field is not None and field in FIELDS:
                problems.setdefault(field, f"{prefix}{error}")
            else:
                general.append(f"{prefix}{error}")
        if sent:
            # Some chargers took it: sending again would repeat it on them, so close and tell.
            for charger, error in refused:
                self.notify(str(error), title=f"{self.command} refused by {charger.identity}", severity="error")
            self.dismiss(sent)
            return
        self.show_problems(problems, "; ".join(general))
        for name in FIELDS:
            if name in problems:
                self.query_one(f"#field-{name}").focus()
                break

