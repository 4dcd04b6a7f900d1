"""Reserve a connector for a token until a time; a bad field keeps the form open with its problem under it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from console.core.errors import ConsoleError, ValidationFailed
from console.core.views import ReservationView
from console.tui.modals.form import Form

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

FIELDS = (("connector_id", "Connector", "1 (0: any)"), ("id_tag", "Id tag", "the token it is held for"), ("expires", "Until", "30m, 2h or ISO 8601"))


class ReservationForm(Form[ReservationView | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="reservation.cancel"),
        Binding("ctrl+s", "save", "Reserve", id="reservation.save"),
    ]
    app: ConsoleHost

    def __init__(self, charger_id: str, identity: str) -> None:
        super().__init__()
        self.charger_id = charger_id
        self.identity = identity

    def compose(self) -> ComposeResult:
        defaults = {"connector_id": "1", "id_tag": "", "expires": "30m"}
        with Vertical(id="reservation-form", classes="dialog"):
            yield Static(f"Reserve a connector · {self.identity}", classes="dialog-title", markup=False)
            for name, label, hint in FIELDS:
                with Horizontal(classes="field-row", id=f"row-{name}"):
                    yield Label(label, classes="field-label")
                    yield Input(defaults[name], placeholder=hint, compact=True, id=f"field-{name}")
                yield Static("", id=f"error-{name}", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Reserve", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#field-id_tag", Input).focus()

    def _problems(self, problems: dict[str, str]) -> None:
        for name, _, _ in FIELDS:
            message = problems.get(name, "")
            self.query_one(f"#error-{name}", Static).update(message)
            self.query_one(f"#row-{name}").set_class(bool(message), "-invalid")

    def submit(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        values = {name: self.query_one(f"#field-{name}", Input).value.strip() for name, _, _ in FIELDS}
        if not values["connector_id"].isdigit():
            self._problems({"connector_id": "a connector number, 0 for any"})
            return
        self.run_worker(self._save(int(values["connector_id"]), values["id_tag"], values["expires"]), group="save", exclusive=True)

    async def _save(self, connector_id: int, id_tag: str, expires: str) -> None:
        try:
            held = await self.app.backend.reserve(self.charger_id, connector_id, id_tag, expires)
        except ValidationFailed as error:
            self._problems(error.problems)
            return
        except ConsoleError as error:
            self._problems({"expires": str(error)})
            return
        self.dismiss(held)
