"""One operation's parameters, a field per catalogue parameter: checked as the backend will check them,
each problem under its field. Submitting gives the values as typed (the backend reads them by kind)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from console.core.catalogue import BOOL, CHOICE, INT, OperationSpec, Param, check_params
from console.core.errors import ValidationFailed
from console.tui.modals.form import Form

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost


class OperationForm(Form[dict[str, Any] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="operation.cancel"),
        Binding("ctrl+s", "send", "Send", id="operation.send"),
    ]
    app: ConsoleHost

    def __init__(self, spec: OperationSpec, target: str) -> None:
        super().__init__()
        self.spec = spec
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(id="operation-form", classes="dialog"):
            yield Static(f"{self.spec.name} · {self.target}", classes="dialog-title", markup=False)
            yield Static(self.spec.summary, classes="dialog-hint", markup=False)
            with VerticalScroll(id="form-fields"):
                if not self.spec.params:
                    yield Static("No parameters: Send sends it.", markup=False)
                for param in self.spec.params:
                    with Horizontal(classes="field-row", id=f"row-{param.name}"):
                        yield Label(param.name + (" *" if param.required else ""), classes="field-label")
                        yield self._widget(param)
                    yield Static("", id=f"error-{param.name}", classes="field-error", markup=False)
            yield Static("", id="form-error", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Send", id="send", variant="primary")

    @staticmethod
    def _widget(param: Param) -> Widget:
        name = f"field-{param.name}"
        if param.kind == CHOICE:
            options = [(choice, choice) for choice in param.choices]
            value = param.default if param.default in param.choices else Select.NULL
            return Select(options, value=value, allow_blank=not param.required or value is Select.NULL, compact=True, id=name)
        if param.kind == BOOL:
            return Checkbox(param.help, bool(param.default), compact=True, id=name)
        default = "" if param.default is None else str(param.default)
        kind = "integer" if param.kind == INT else "text"
        return Input(default, placeholder=param.help, type=kind, compact=True, id=name, tooltip=param.help)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        fields = self.query(".field-row Input, .field-row Select, .field-row Checkbox")
        (fields.first() if fields else self.query_one("#send", Button)).focus()

    def values(self) -> dict[str, Any]:
        """What was filled in; an empty field is left out."""
        found: dict[str, Any] = {}
        for param in self.spec.params:
            widget = self.query_one(f"#field-{param.name}")
            if isinstance(widget, Select):
                if widget.value is not Select.NULL:
                    found[param.name] = widget.value
            elif isinstance(widget, Checkbox):
                found[param.name] = widget.value
            elif isinstance(widget, Input) and widget.value.strip():
                found[param.name] = widget.value.strip()
        return found

    def show_problems(self, problems: dict[str, str]) -> None:
        names = {param.name for param in self.spec.params}
        for name in names:
            self.query_one(f"#error-{name}", Static).update(problems.get(name, ""))
            self.query_one(f"#row-{name}").set_class(name in problems, "-invalid")
        rest = "; ".join(f"{name}: {problem}" for name, problem in problems.items() if name not in names)
        self.query_one("#form-error", Static).update(rest)

    def submit(self) -> None:
        self.action_send()

    def action_send(self) -> None:
        values = self.values()
        try:
            check_params(self.spec, values, self.app.clock.now())
        except ValidationFailed as error:
            self.show_problems(error.problems)
            return
        self.dismiss(values)
