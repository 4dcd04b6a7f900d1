"""The fleet-wide views `:` jumps to: actions, logs, events, locations, unknown chargers, id tokens.

Each buffers the events it cares about while hidden and renders them in
`flush` only while it is the view on show; it reads its history the first
time it is shown.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets._data_table import CellDoesNotExist

from console.core.chargerevents import ACTIONS as EVENT_ACTIONS
from console.core.errors import ConsoleError
from console.core.events import ActionChanged, ChargerAlert
from console.core.views import ChargerView, LocationView, LogView, TokenView, UnknownChargerView
from console.tui.format import gauge, kilowatts, stamp
from console.tui.messages import LocationsChanged
from console.tui.modals.cap_form import CapForm
from console.tui.modals.token_form import TokenForm, TokenImportForm
from console.tui.widgets.action_table import ActionTable
from console.tui.widgets.event_table import EventsPanel
from console.tui.widgets.frame_log import LogPanel
from console.tui.widgets.paint import paint
from console.tui.widgets.row_table import RowTable
from console.core.versions import OcppVersion

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

VIEWS = ("chargers", "actions", "logs", "events", "locations", "unknown", "tokens", "plan")
# The fleet's events are read again at most this often while chargers keep telling new ones (s).
EVENTS_REREAD_S = 1.0


def location_load(chargers: Iterable[ChargerView]) -> dict[str, float]:
    """kW drawn now per location id."""
    load: dict[str, float] = {}
    for charger in chargers:
        if charger.location_id:
            load[charger.location_id] = load.get(charger.location_id, 0.0) + charger.current_power_kw
    return load


class FleetView(Vertical):
    """A view that reads its history once, then follows events."""

    app: ConsoleHost

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = False
        self._loading = False

    def flush(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None:
        if not self.loaded:
            if not self._loading:
                self._loading = True
                self.run_worker(self._load_once(), group="view-load", exclusive=True)
            return
        self.render_pending(now, chargers)

    async def _load_once(self) -> None:
        try:
            await self.load()
            self.loaded = True
            self.screen.refresh_bindings()
        except ConsoleError as error:
            self.notify(str(error), title="Could not read the view", severity="error")
        finally:
            self._loading = False

    def reload(self) -> None:
        self.loaded = False

    async def load(self) -> None: ...

    def render_pending(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None: ...


class ActionsView(FleetView):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pending: list[ActionChanged] = []
        self._stale = False

    def compose(self) -> ComposeResult:
        yield ActionTable(fleet=True, id="fleet-actions")

    def take(self, change: ActionChanged) -> None:
        if len(self._pending) < 500:
            self._pending.append(change)
        else:
            self._stale = True

    async def load(self) -> None:
        actions = await self.app.backend.list_actions()
        self._pending.clear()
        self.query_one(ActionTable).show(actions, self.app.clock.now())

    def render_pending(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None:
        pending, self._pending = self._pending, []
        table = self.query_one(ActionTable)
        if self._stale or table.apply(pending, now):
            self._stale = False
            self.reload()
        else:
            table.tick(now)


class LogsView(FleetView):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pending: deque[LogView] = deque(maxlen=1000)

    def compose(self) -> ComposeResult:
        yield LogPanel(fleet=True, id="fleet-logs")

    def take(self, entry: LogView) -> None:
        self._pending.append(entry)

    async def load(self) -> None:
        entries = await self.app.backend.fleet_logs()
        log = self.query_one(LogPanel).log
        log.show_history(entries)
        log.append(self._pending)
        self._pending.clear()

    def render_pending(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None:
        if self._pending:
            self.query_one(LogPanel).log.append(self._pending)
            self._pending.clear()


class EventsView(FleetView):
    """Every charger's events, newest first; read again when a charger tells something new."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stale = False
        self._read_at = 0.0  # monotonic

    def compose(self) -> ComposeResult:
        yield EventsPanel(fleet=True, id="fleet-events")

    def take_alert(self, alert: ChargerAlert) -> None:
        self._stale = True

    def take_log(self, entry: LogView) -> None:
        if entry.direction == "out" and entry.action in EVENT_ACTIONS:
            self._stale = True  # answered: its event is kept

    async def load(self) -> None:
        panel = self.query_one(EventsPanel)
        self._stale = False
        self._read_at = time.monotonic()
        panel.show(await self.app.backend.fleet_events(kind=panel.kind, severity=panel.severity))

    def render_pending(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None:
        if self._stale and time.monotonic() - self._read_at >= EVENTS_REREAD_S:
            self.reload()

    def on_events_panel_filter_changed(self) -> None:
        self.reload()
        self.flush(self.app.clock.now(), {})


class LocationTable(RowTable):
    COLUMNS = (
        ("name", "Location", 18),
        ("chargers", "Chargers", 8),
        ("delivered", "kW now", 8),
        ("cap", "Cap kW", 8),
        ("headroom", "Headroom kW", 12),
        ("gauge", "Load", 22),
        # Last: an 80-column terminal cuts the address, not the figures.
        ("address", "Address", 22),
    )


class LocationsView(FleetView):
    BINDINGS = [
        Binding("e", "set_cap", "Set cap", id="locations.set_cap", tooltip="Set or remove the location's power cap"),
        Binding("enter", "set_cap", "Set cap", show=False, id="locations.set_cap_enter"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.locations: dict[str, LocationView] = {}
        self._cells: dict[str, tuple[str, ...]] = {}

    def compose(self) -> ComposeResult:
        yield LocationTable(id="locations-table")

    async def load(self) -> None:
        self.locations = {location.id: location for location in await self.app.backend.list_locations()}
        self.query_one(LocationTable).clear()
        self._cells.clear()
        self.post_message(LocationsChanged(list(self.locations.values())))

    def _cells_of(self, location: LocationView, count: int, delivered: float) -> tuple[str, ...]:
        cap = location.power_cap_kw
        if cap is None:
            cap_text, headroom, bar = "none", "—", ""
        else:
            left = cap - delivered
            headroom = paint(self.app, "error" if left < 0 else "success", f"{left:.1f}")
            cap_text = f"{cap:g}"
            filled, empty = gauge(delivered, cap)
            bar = paint(self.app, "accent", filled) + paint(self.app, "panel-lighten-2", empty)
        return (
            escape(location.name),
            str(count),
            kilowatts(delivered),
            cap_text,
            headroom,
            bar,
            escape(location.address or ""),
        )

    def render_pending(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None:
        table = self.query_one(LocationTable)
        load = location_load(chargers.values())
        counts: dict[str, int] = {}
        for charger in chargers.values():
            if charger.location_id:
                counts[charger.location_id] = counts.get(charger.location_id, 0) + 1
        added = False
        for location in self.locations.values():
            cells = self._cells_of(location, counts.get(location.id, 0), load.get(location.id, 0.0))
            before = self._cells.get(location.id)
            if before is None:
                table.add_row(*cells, key=location.id)
                added = True
            else:
                for (column, _, _), new, old in zip(LocationTable.COLUMNS, cells, before):
                    if new != old:
                        table.update_cell(location.id, column, new)
            self._cells[location.id] = cells
        if added:
            self.screen.refresh_bindings()  # "Set cap" can run now that a location is selected

    @property
    def selected(self) -> LocationView | None:
        table = self.query_one(LocationTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return self.locations.get(key or "")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "set_cap":
            if self.app.backend.info.read_only:
                return False
            return True if self.selected is not None else None
        return True

    def action_set_cap(self) -> None:
        location = self.selected
        if location is not None:
            self.app.push_screen(CapForm(location), self._cap_set)

    def _cap_set(self, saved: LocationView | None) -> None:
        if saved is None:
            return
        self.locations[saved.id] = saved
        cap = f"{saved.power_cap_kw:g} kW" if saved.power_cap_kw is not None else "no cap"
        self.notify(f"{saved.name}: {cap}", title="Power cap set")
        self.post_message(LocationsChanged(list(self.locations.values())))


class UnknownTable(RowTable):
    COLUMNS = (
        ("identity", "Identity", 20),
        ("attempts", "Attempts", 8),
        ("first_seen", "First seen", 19),
        ("last_seen", "Last seen", 19),
        ("address", "From", 21),
        ("offered", "Offered", 18),
        ("decision", "Decision", 10),
    )


def version_offered(offered: str | None) -> str:
    """The OCPP version to accept an unknown charger as, from the subprotocols it offered."""
    offers = {item.strip() for item in (offered or "").lower().split(",")}
    return next((version for version in reversed(OcppVersion) if version.subprotocol in offers), OcppVersion.V16)


class UnknownView(FleetView):
    BINDINGS = [
        Binding("a", "accept", "Accept", id="unknown.accept", tooltip="Add the charger to the fleet and let it in"),
        Binding("x", "reject", "Reject", id="unknown.reject", tooltip="Refuse the charger from now on"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unknown: dict[str, UnknownChargerView] = {}
        self._pending: dict[str, UnknownChargerView] = {}

    def compose(self) -> ComposeResult:
        yield UnknownTable(id="unknown-table")

    def take(self, charger: UnknownChargerView) -> None:
        self._pending[charger.identity] = charger

    async def load(self) -> None:
        self.unknown = {charger.identity: charger for charger in await self.app.backend.list_unknown()}
        table = self.query_one(UnknownTable)
        table.clear()
        for charger in self.unknown.values():
            table.add_row(*self._cells(charger), key=charger.identity)
        self.render_pending(self.app.clock.now(), {})

    def _cells(self, charger: UnknownChargerView) -> tuple[str, ...]:
        variable = {"accepted": "success", "rejected": "error"}.get(charger.decision, "warning")
        return (
            escape(charger.identity),
            str(charger.attempts),
            stamp(charger.first_seen),
            stamp(charger.last_seen),
            escape(charger.remote_address or ""),
            escape(charger.offered or ""),
            paint(self.app, variable, charger.decision),
        )

    def render_pending(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None:
        pending, self._pending = self._pending, {}
        table = self.query_one(UnknownTable)
        for identity, charger in pending.items():
            cells = self._cells(charger)
            if identity in self.unknown and identity in table.rows:
                for (column, _, _), value in zip(UnknownTable.COLUMNS, cells):
                    table.update_cell(identity, column, value)
            else:
                table.add_row(*cells, key=identity)
            self.unknown[identity] = charger
        self.refresh_bindings()

    @property
    def selected(self) -> UnknownChargerView | None:
        table = self.query_one(UnknownTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return self.unknown.get(key or "")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("accept", "reject"):
            if self.app.backend.info.read_only:
                return False
            return True if self.selected is not None else None
        return True

    def action_accept(self) -> None:
        charger = self.selected
        if charger is not None:
            self.run_worker(self._decide(charger, accept=True), group="decide")

    def action_reject(self) -> None:
        charger = self.selected
        if charger is not None:
            self.run_worker(self._decide(charger, accept=False), group="decide")

    async def _decide(self, charger: UnknownChargerView, accept: bool) -> None:
        backend = self.app.backend
        try:
            if accept:
                created = await backend.accept_unknown(charger.identity, version_offered(charger.offered))
                self.notify(f"{created.identity} joined the fleet as {created.ocpp_version}", title="Accepted")
            else:
                await backend.reject_unknown(charger.identity)
                self.notify(f"{charger.identity} will be refused", title="Rejected")
        except ConsoleError as error:
            self.notify(str(error), title=f"{charger.identity}: no decision", severity="error")
            return
        self.reload()


class TokenTable(RowTable):
    COLUMNS = (
        ("token", "Token", 22),
        ("type", "Type", 10),
        ("status", "Status", 9),
        ("expires", "Expires", 19),
        ("parent", "Parent/group", 14),
        ("label", "Label", 22),
        ("locations", "Locations", 18),
    )


STATUS_PAINT = {"Accepted": "success", "Blocked": "error", "Expired": "warning", "Invalid": "error"}


class TokensView(FleetView):
    """The organization's id tokens: who may charge, and where."""

    BINDINGS = [
        Binding("n", "new_token", "New", id="tokens.new", tooltip="Create a token"),
        Binding("e", "edit_token", "Edit", id="tokens.edit", tooltip="Edit the token"),
        Binding("enter", "edit_token", "Edit", show=False, id="tokens.edit_enter"),
        Binding("b", "block_token", "Block", id="tokens.block", tooltip="Block the token: chargers are told Blocked"),
        Binding("i", "import_tokens", "Import", id="tokens.import", tooltip="Import a CSV token file"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens: dict[str, TokenView] = {}

    def compose(self) -> ComposeResult:
        yield TokenTable(id="tokens-table")

    async def load(self) -> None:
        self.tokens = {token.id: token for token in await self.app.backend.list_tokens()}
        table = self.query_one(TokenTable)
        table.clear()
        for token in self.tokens.values():
            table.add_row(*self._cells(token), key=token.id)
        self.refresh_bindings()

    def _cells(self, token: TokenView) -> tuple[str, ...]:
        return (
            escape(token.token),
            token.type,
            paint(self.app, STATUS_PAINT.get(token.status, "foreground"), token.status),
            stamp(token.expires_at) if token.expires_at else "never",
            escape(token.parent_id or ""),
            escape(token.label or ""),
            escape(" ".join(token.location_ids) or "everywhere"),
        )

    def render_pending(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None:
        return None  # tokens change through this view only: each change is drawn as it is saved

    def _saved(self, token: TokenView | None) -> None:
        if token is None:
            return
        table = self.query_one(TokenTable)
        if token.id in self.tokens and token.id in table.rows:
            for (column, _, _), value in zip(TokenTable.COLUMNS, self._cells(token)):
                table.update_cell(token.id, column, value)
        else:
            table.add_row(*self._cells(token), key=token.id)
        self.tokens[token.id] = token
        self.refresh_bindings()

    @property
    def selected(self) -> TokenView | None:
        table = self.query_one(TokenTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return self.tokens.get(key or "")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("new_token", "edit_token", "block_token", "import_tokens"):
            if self.app.backend.info.read_only:
                return False
            if action in ("edit_token", "block_token"):
                return True if self.selected is not None else None
        return True

    def action_new_token(self) -> None:
        self.app.push_screen(TokenForm(), self._told("created"))

    def action_edit_token(self) -> None:
        token = self.selected
        if token is not None:
            self.app.push_screen(TokenForm(token), self._told("saved"))

    def _told(self, what: str) -> Any:
        def saved(token: TokenView | None) -> None:
            if token is not None:
                self._saved(token)
                self.notify(f"{token.token} ({token.type}) {what}: {token.status}", title="Token")

        return saved

    def action_block_token(self) -> None:
        token = self.selected
        if token is not None and token.status != "Blocked":
            self.run_worker(self._block(token), group="block")

    async def _block(self, token: TokenView) -> None:
        try:
            blocked = await self.app.backend.save_token({"status": "Blocked"}, token.id)
        except ConsoleError as error:
            self.notify(str(error), title=f"{token.token}: not blocked", severity="error")
            return
        self._saved(blocked)
        self.notify(f"{blocked.token} is blocked; a running session on it is reported", title="Token blocked")

    def action_import_tokens(self) -> None:
        self.app.push_screen(TokenImportForm(), self._imported)

    def _imported(self, imported: int | None) -> None:
        if imported is not None:
            self.notify(f"{imported} tokens imported", title="Tokens")
            self.reload()
