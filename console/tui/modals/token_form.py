"""Create or edit an id token, and import a CSV token file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from console.core.errors import ConsoleError, ValidationFailed
from console.core.views import TOKEN_STATUSES, TOKEN_TYPES, TokenView, iso
from console.tui.modals.form import Form

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

# (field, label, placeholder) of the text fields, in order.
TEXT_FIELDS = (
    ("token", "Token", "idTag / idToken, e.g. 04A2B3C4D5E6F7"),
    ("expires_at", "Expires", "e.g. 2027-01-31T00:00:00Z; empty: never"),
    ("parent_id", "Parent / group", "the parent idTag or group idToken"),
    ("label", "Label", "the vehicle, driver or cost centre"),
    ("location_ids", "Locations", "location ids, space-separated; empty: everywhere"),
)


class TokenForm(Form[TokenView | None]):
    """A token's fields; save checks them all and stays open with each field's problem under it."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="token.cancel"),
        Binding("ctrl+s", "save", "Save", id="token.save"),
    ]
    app: ConsoleHost

    def __init__(self, token: TokenView | None = None) -> None:
        super().__init__()
        self.token = token

    def _value(self, field: str) -> str:
        token = self.token
        if token is None:
            return ""
        if field == "expires_at":
            return iso(token.expires_at) or ""
        if field == "location_ids":
            return " ".join(token.location_ids)
        return getattr(token, field) or ""

    def compose(self) -> ComposeResult:
        title = f"Token · {self.token.token}" if self.token else "New token"
        with Vertical(id="token-form", classes="dialog"):
            yield Static(title, classes="dialog-title", markup=False)
            for field, label, placeholder in TEXT_FIELDS[:1]:
                yield from self._text_row(field, label, placeholder)
            with Horizontal(classes="field-row", id="row-type"):
                yield Label("Type", classes="field-label")
                yield Select(
                    [(kind, kind) for kind in TOKEN_TYPES], value=self.token.type if self.token else "ISO14443",
                    allow_blank=False, compact=True, id="field-type",
                )
            yield Static("", id="error-type", classes="field-error", markup=False)
            with Horizontal(classes="field-row", id="row-status"):
                yield Label("Status", classes="field-label")
                yield Select(
                    [(status, status) for status in TOKEN_STATUSES], value=self.token.status if self.token else "Accepted",
                    allow_blank=False, compact=True, id="field-status",
                )
            yield Static("", id="error-status", classes="field-error", markup=False)
            for field, label, placeholder in TEXT_FIELDS[1:]:
                yield from self._text_row(field, label, placeholder)
            yield Static("", id="error-form", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def _text_row(self, field: str, label: str, placeholder: str) -> ComposeResult:
        with Horizontal(classes="field-row", id=f"row-{field}"):
            yield Label(label, classes="field-label")
            yield Input(self._value(field), placeholder=placeholder, compact=True, id=f"field-{field}")
        yield Static("", id=f"error-{field}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#field-token", Input).focus()

    def fields(self) -> dict[str, Any]:
        values: dict[str, Any] = {field: self.query_one(f"#field-{field}", Input).value for field, _, _ in TEXT_FIELDS}
        values["type"] = self.query_one("#field-type", Select).value
        values["status"] = self.query_one("#field-status", Select).value
        return values

    def show_problems(self, problems: dict[str, str]) -> None:
        fields = [field for field, _, _ in TEXT_FIELDS] + ["type", "status"]
        for field in fields:
            message = problems.get(field, "")
            self.query_one(f"#error-{field}", Static).update(message)
            self.query_one(f"#row-{field}").set_class(bool(message), "-invalid")
        rest = "; ".join(f"{field}: {message}" for field, message in problems.items() if field not in fields)
        self.query_one("#error-form", Static).update(rest)

    def submit(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        self.run_worker(self._save(self.fields()), group="save", exclusive=True)

    async def _save(self, fields: dict[str, Any]) -> None:
        try:
            saved = await self.app.backend.save_token(fields, self.token.id if self.token else None)
        except ValidationFailed as error:
            self.show_problems(error.problems)
            return
        except ConsoleError as error:
            self.show_problems({"form": str(error)})
            return
        self.dismiss(saved)


class TokenImportForm(Form[int | None]):
    """A CSV token file to import: refused whole, every bad row listed here, when any row is bad."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="token_import.cancel"),
        Binding("ctrl+s", "save", "Import", id="token_import.save"),
    ]
    app: ConsoleHost

    def compose(self) -> ComposeResult:
        with Vertical(id="token-import", classes="dialog"):
            yield Static("Import tokens", classes="dialog-title", markup=False)
            yield Static(
                "A CSV file with a header line: token, and any of type, status, expires_at, parent_id, label, "
                "location_ids. Tokens held under the same token and type are changed.",
                classes="dialog-hint",
                markup=False,
            )
            with Horizontal(classes="field-row", id="row-path"):
                yield Label("File", classes="field-label")
                yield Input(placeholder="e.g. ~/tokens.csv", compact=True, id="field-path")
            yield Static("", id="error-path", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Import", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#field-path", Input).focus()

    def _problem(self, message: str) -> None:
        self.query_one("#error-path", Static).update(message)
        self.query_one("#row-path").set_class(bool(message), "-invalid")

    def submit(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        text = self.query_one("#field-path", Input).value.strip()
        if not text:
            self._problem("the CSV file to import")
            return
        try:
            content = Path(text).expanduser().read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            self._problem(f"cannot read {text}: {error}")
            return
        self.run_worker(self._import(content), group="save", exclusive=True)

    async def _import(self, content: str) -> None:
        try:
            imported = await self.app.backend.import_token_file(content)
        except ConsoleError as error:
            self._problem(str(error))
            return
        self.dismiss(imported)
