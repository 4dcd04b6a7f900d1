"""The depot: header, then one view at a time — chargers (table and detail tabs), actions, logs,
events, locations, unknown chargers — and a `:` line to jump between them.

Data in motion: one long-lived worker reads the backend's event stream into a
pending map keyed by charger id (and into each view's own buffer); a timer
flushes them a few times a second, in one batch, into the view on show only,
and only while this screen is on top.
"""

from __future__ import annotations

import gc
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.actions import SkipAction
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import ContentSwitcher, DataTable, Footer, Input, Static

from console.core.backend import Backend
from console.core.errors import ConsoleError
from console.core.events import (
    ActionChanged,
    ChargerAlert,
    ChargerRemoved,
    ChargerUpdated,
    LogAppended,
    Notice,
    ServerBack,
    ServerLost,
    Subscription,
    UnknownChargerSeen,
)
from console.core.catalogue import OperationSpec
from console.core.views import ChargerView, LocationView, OperationResult
from console.tui.format import FINAL_STATES, age, clock_time
from console.tui.messages import LocationsChanged
from console.tui.modals.charger_form import ChargerForm
from console.tui.modals.command_form import CommandForm
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.connector_picker import ConnectorPicker
from console.tui.modals.frame_json import RawRecord
from console.tui.modals.help import HelpScreen
from console.tui.modals.lab_controls import LabControls
from console.tui.modals.operation_form import OperationForm
from console.tui.modals.operations_menu import OperationsMenu
from console.tui.widgets.charger_table import ChargerTable
from console.tui.widgets.detail import TABS, ChargerDetail
from console.tui.widgets.footer import KeyFooter
from console.tui.widgets.frame_log import LogPanel
from console.tui.widgets.header import FleetHeader
from console.tui.widgets.plan_view import PlanView
from console.tui.widgets.views import VIEWS, ActionsView, EventsView, FleetView, LocationsView, LogsView, TokensView, UnknownView

if TYPE_CHECKING:
    from datetime import datetime

    from textual.screen import ActiveBinding

    from console.tui.host import ConsoleHost

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1 / 3
# Below this width the table drops columns and the detail opens over it (enter).
NARROW_WIDTH = 110
NARROW_HEIGHT = 32
# Actions that change the fleet: hidden in read-only mode.
WRITES = {"create", "update", "delete", "start", "stop", "restart", "charge", "idle", "unlock", "availability", "lab", "operations"}
# Actions on chargers: only in the chargers view.
ON_CHARGERS = WRITES | {"raw", "mark", "sort", "resort", "filter"}
# Actions on the selected charger (or the marked ones): dimmed while there is none.
ON_SELECTED = {"raw", "update", "delete", "start", "stop", "restart", "charge", "idle", "unlock", "availability", "mark", "lab", "operations"}
# Actions that need the charger connected.
ONLINE = {"charge", "idle", "unlock", "availability", "operations"}
BULK = {"start", "stop", "restart", "charge", "idle", "unlock", "availability", "operations"}
NOTICE_SEVERITIES = {"information", "warning", "error"}
# Connector states with a session in progress: what a stop, restart, inoperative or unlock ends.
IN_SESSION = {"Charging", "SuspendedEV", "SuspendedEVSE"}
# Operations that end the sessions running on a charger (its confirmation counts them).
ENDS_SESSIONS = {"Reset", "UpdateFirmware", "SignedUpdateFirmware", "RemoteStopTransaction", "RequestStopTransaction"}
# Outcomes of a bulk action's calls that count as failed.
FAILED_STATES = {"failed", "rejected", "expired"}
# The footer shows these keys at every width (escape is `back` or `clear_filter`), then the others
# in this order while they fit.
ESSENTIAL_KEYS = ("help", "command_line", "filter", "mark", "back", "clear_filter", "quit")
KEY_PRIORITY = ("charge", "restart", "stop", "idle", "start", "operations", "sort", "unlock", "availability", "lab", "create", "update", "delete", "raw")
VIEW_ALIASES = {"ch": "chargers", "charger": "chargers", "a": "actions", "action": "actions", "l": "logs", "log": "logs",
                "loc": "locations", "location": "locations", "u": "unknown", "unk": "unknown",
                "token": "tokens", "tok": "tokens", "event": "events"}
# How many final states of unwatched actions are kept for a form that has not closed yet.
RECENT_FINAL_KEPT = 1000
# More alerts than this in one batch are told in one notification.
ALERTS_TOLD_ONE_BY_ONE = 3


@dataclass
class _BulkWatch:
    """A charge or idle sent to several chargers: its outcomes are told together, once all are in."""

    verb: str
    pending: set[str]
    total: int
    failed: list[str] = field(default_factory=list)


def operation_outcome(result: OperationResult) -> str:
    """One operation's outcome for a notification: its state, why, its round trip and what the charger answered."""
    text = result.state + (f" ({result.status})" if result.status else "")
    if result.detail and result.state != "acknowledged":
        text += f": {result.detail}"
    if result.duration_ms is not None:
        text += f" in {result.duration_ms:.0f} ms"
    if result.answer and set(result.answer) - {"status"}:
        answer = json.dumps(result.answer, separators=(", ", ": "))
        text += f"\n{answer if len(answer) <= 400 else answer[:399] + '…'}"
    return text


def live_sessions(charger: ChargerView, connector_id: int | None = None) -> int:
    """The sessions in progress on a charger (or one of its connectors), as far as its status says."""
    if not charger.is_connected:
        return 0
    found = sum(1 for c in charger.connectors if c.status in IN_SESSION and connector_id in (None, c.connector_id))
    return found or int(charger.is_charging and connector_id is None)


class MainScreen(Screen[None]):
    # Help and views first: in a narrow terminal the footer keeps only what fits.
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="console.help", tooltip="List every key of this view"),
        # `:` and `/` are priority keys: handled as they arrive, so the keys queued behind them go to their input.
        Binding("colon", "command_line", "View", id="console.view", priority=True, tooltip="Jump to a view: chargers, actions, logs, locations, unknown"),
        Binding("n", "create", "New", id="console.create", tooltip="Create a charger"),
        Binding("e", "update", "Edit", id="console.update", tooltip="Edit the selected charger"),
        Binding("ctrl+d", "delete", "Delete", id="console.delete", tooltip="Delete the selected charger"),
        Binding("s", "start", "Start", id="console.start", tooltip="Start the simulated charger(s)"),
        Binding("x", "stop", "Stop", id="console.stop", tooltip="Stop the simulated charger(s)"),
        Binding("r", "restart", "Restart", id="console.restart", tooltip="Restart (simulated) or Reset (real)"),
        Binding("c", "charge", "Charge", id="console.charge", tooltip="Charge: now, scheduled or in a window"),
        Binding("i", "idle", "Idle", id="console.idle", tooltip="Idle: now or scheduled"),
        Binding("u", "unlock", "Unlock", id="console.unlock", tooltip="Unlock a connector"),
        Binding("a", "availability", "Avail.", id="console.availability", tooltip="Toggle operative/inoperative"),
        Binding("m", "operations", "Ops", id="console.operations", tooltip="Every OCPP operation the charger's version takes, each with its form"),
        Binding("v", "lab", "EV/lab", id="console.lab", tooltip="Simulated charger: plug in an EV, present a tag, fault, drop"),
        Binding("space", "mark", "Mark", id="console.mark", tooltip="Mark the row for bulk actions"),
        Binding("o", "sort", "Sort", id="console.sort", tooltip="Sort by the next column"),
        Binding("y", "raw", "Raw", id="console.raw", tooltip="The selected charger's record as stored, in JSON"),
        Binding("O", "resort", "Re-sort", show=False, id="console.resort", tooltip="Sort again now (marks or a recent cursor move hold the order)"),
        Binding("p", "pause", "Pause", show=False, id="console.pause", tooltip="Pause live updates (p again resumes)"),
        Binding("slash", "filter", "Filter", id="console.filter", priority=True, tooltip="Filter: text, status:, location:, vendor:"),
        Binding("escape", "clear_filter", "Clear filter", id="console.clear_filter"),
        Binding("escape", "back", "Back", id="console.back"),
        Binding("1", "tab('overview')", "Overview", show=False, id="console.tab_overview"),
        Binding("2", "tab('live')", "Live", show=False, id="console.tab_live"),
        Binding("3", "tab('actions')", "Actions", show=False, id="console.tab_actions"),
        Binding("4", "tab('logs')", "Logs", show=False, id="console.tab_logs"),
        Binding("5", "tab('transactions')", "Transactions", show=False, id="console.tab_transactions"),
        Binding("6", "tab('events')", "Events", show=False, id="console.tab_events"),
        Binding("7", "tab('config')", "Config", show=False, id="console.tab_config"),
        Binding("8", "tab('charging')", "Charging", show=False, id="console.tab_charging"),
        Binding("l", "tab('logs')", "Logs", show=False, id="console.logs"),
    ]

    app: ConsoleHost

    def __init__(self) -> None:
        super().__init__(id="main")
        self._chargers: dict[str, ChargerView] = {}
        # None marks a charger removed since the last flush.
        self._pending: dict[str, ChargerView | None] = {}
        self._locations: list[LocationView] = []
        self._selected: str | None = None
        self._filter = ""
        self._dirty = False
        self._rendered_second: Any = None
        self._subscription: Subscription | None = None
        # Actions this console asked for, told about when they are over: id -> identity.
        # action id -> (charger identity, the bulk command it belongs to, if any).
        self._watched: dict[str, tuple[str, _BulkWatch | None]] = {}
        # The last final states seen of actions nobody watched yet: a quick charger can answer
        # before the form that sent the command has closed and said what it watches.
        self._recent_final: OrderedDict[str, ActionChanged] = OrderedDict()
        self._unknown_told: set[str] = set()
        self.view = "chargers"
        # Attach mode: why the server cannot be reached, while it cannot.
        self._lost: str | None = None
        self._lost_at: datetime | None = None
        # What the charger keys looked like when the footer was last drawn (see `_refresh_keys`).
        self._keys_shown: tuple[tuple[bool | None, str], ...] = ()
        # `p`: live changes wait in `_pending`; only the operator's own keys redraw.
        self.paused = False

    @property
    def backend(self) -> Backend:
        return self.app.backend

    @property
    def selected(self) -> ChargerView | None:
        return self._chargers.get(self._selected or "")

    @property
    def table(self) -> ChargerTable:
        return self.query_one(ChargerTable)

    @property
    def detail(self) -> ChargerDetail:
        return self.query_one(ChargerDetail)

    def compose(self) -> ComposeResult:
        yield FleetHeader(id="fleet-header")
        yield Input(placeholder="filter: text, status:charging, location:north, vendor:abb", id="filter")
        with ContentSwitcher(id="views", initial="view-chargers"):
            with Vertical(id="view-chargers"):
                yield ChargerTable(self.app.clock, id="chargers")
                yield Static("", id="reason")
                yield ChargerDetail(id="detail")
            yield ActionsView(id="view-actions")
            yield LogsView(id="view-logs")
            yield EventsView(id="view-events")
            yield LocationsView(id="view-locations")
            yield UnknownView(id="view-unknown")
            yield TokensView(id="view-tokens")
            yield PlanView(id="view-plan")
        yield Input(
            placeholder=f"view: {', '.join(VIEWS)}",
            suggester=SuggestFromList(VIEWS, case_sensitive=False),
            id="command-line",
        )
        yield KeyFooter(ESSENTIAL_KEYS, KEY_PRIORITY)

    def on_mount(self) -> None:
        self.query_one("#chargers").border_title = "Chargers"
        self.detail.border_title = "Charger"
        for view in VIEWS[1:]:
            self.query_one(f"#view-{view}").border_title = view.capitalize()
        # Subscribe before the first read, so nothing between the two is lost.
        self._subscription = self.backend.subscribe()
        self.run_worker(self._follow_events(self._subscription), name="events", group="events")
        self.run_worker(self._load_fleet(), name="load fleet", group="load")
        self.set_interval(FLUSH_INTERVAL, self.flush, name="flush")
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.table.focus()

    def on_unmount(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW_WIDTH or self.size.height < NARROW_HEIGHT
        self.set_class(narrow, "-narrow")
        self.table.set_compact(self.size.width < NARROW_WIDTH)
        # An 80-column footer fits help, views and the main keys only when packed; the palette is in help.
        footer = self.query_one(Footer)
        footer.compact = narrow
        footer.show_command_palette = not narrow
        self._dirty = True

    def _theme_changed(self, _theme: object) -> None:
        self._dirty = True
        self.flush()

    # -- data in ----------------------------------------------------------------------

    async def _load_fleet(self) -> None:
        try:
            chargers = await self.backend.list_chargers()
            self._locations = await self.backend.list_locations()
        except ConsoleError as error:
            self.notify(str(error), title="Could not load the fleet", severity="error")
            return
        for charger in chargers:
            # An event that arrived meanwhile is newer than this read.
            self._pending.setdefault(charger.id, charger)
        self.flush()
        # What is loaded now (the fleet, the widgets) lives as long as the console: a full
        # collection walking it again was a 100 ms pause every few seconds at 1,000 chargers.
        gc.collect()
        gc.freeze()

    async def _follow_events(self, subscription: Subscription) -> None:
        detail = self.detail
        actions = self.query_one(ActionsView)
        logs = self.query_one(LogsView)
        unknown = self.query_one(UnknownView)
        charger_events = self.query_one(EventsView)
        while True:
            try:
                events = await subscription.next_batch()
            except StopAsyncIteration:
                return
            alerts: list[ChargerAlert] = []
            for event in events:
                if isinstance(event, ChargerUpdated):
                    self._pending[event.charger.id] = event.charger
                    detail.take_charger(event.charger)
                elif isinstance(event, LogAppended):
                    detail.take_log(event.entry)
                    logs.take(event.entry)
                    charger_events.take_log(event.entry)
                elif isinstance(event, ActionChanged):
                    detail.take_action(event)
                    actions.take(event)
                    self._tell_outcome(event)
                elif isinstance(event, ChargerAlert):
                    detail.take_alert(event)
                    charger_events.take_alert(event)
                    alerts.append(event)
                elif isinstance(event, ChargerRemoved):
                    self._pending[event.charger_id] = None
                elif isinstance(event, UnknownChargerSeen):
                    unknown.take(event.charger)
                    self._tell_unknown(event)
                elif isinstance(event, Notice):
                    severity = event.severity if event.severity in NOTICE_SEVERITIES else "information"
                    self.notify(event.message, severity=severity)  # type: ignore[arg-type]
                elif isinstance(event, ServerLost):
                    self._server_lost(event)
                elif isinstance(event, ServerBack):
                    self._server_back()
            self._tell_alerts(alerts)

    def _tell_outcome(self, event: ActionChanged) -> None:
        """A command's final state: told on its own, or, for a bulk command, once all of them are over, in one toast."""
        action = event.action
        if action.state not in FINAL_STATES:
            return
        watched = self._watched.pop(action.id, None)
        if watched is None:
            self._recent_final[action.id] = event
            if len(self._recent_final) > RECENT_FINAL_KEPT:
                self._recent_final.popitem(last=False)
            return
        identity, bulk = watched
        failed = action.state in ("failed", "rejected", "expired")
        if bulk is not None:
            bulk.pending.discard(action.id)
            if failed:
                bulk.failed.append(identity)
            if not bulk.pending:
                self._tell_counts(bulk.verb, bulk.total, bulk.failed)
            return
        detail = f": {action.detail}" if action.detail else ""
        self.notify(f"{action.state}{detail}", title=f"{action.command.capitalize()} {identity}", severity="error" if failed else "information")

    def _server_lost(self, event: ServerLost) -> None:
        """Attach mode: until the server is back, every figure on screen is the last one known, and looks it."""
        self._lost = f"lost the server at {event.url}"
        self._lost_at = self.app.clock.now()
        self.add_class("-stale")
        self._dirty = True
        self._show_reason()

    def _server_back(self) -> None:
        """Every charger has been sent again; every pane reads its history again, the gap with it."""
        self._lost = None
        self._lost_at = None
        self.remove_class("-stale")
        self.detail.resync()
        for view in self.query(FleetView):
            view.reload()
        self._dirty = True
        self._show_reason()

    def _tell_alerts(self, alerts: list[ChargerAlert]) -> None:
        """A fault, a security event, an alerting NotifyEvent: each told, or a burst of them in one line."""
        if not alerts:
            return
        worst = "error" if any(alert.event.severity == "alert" for alert in alerts) else "warning"
        if len(alerts) > ALERTS_TOLD_ONE_BY_ONE:
            chargers = len({alert.event.charger_id for alert in alerts})
            self.notify(f"{len(alerts)} alerts from {chargers} charger{'' if chargers == 1 else 's'}: :events to read them", title="Charger alerts", severity=worst)
            return
        for alert in alerts:
            event = alert.event
            severity = "error" if event.severity == "alert" else "warning"
            self.notify(escape(event.text), title=f"{event.identity}: {event.kind}", severity=severity)

    def _tell_unknown(self, event: UnknownChargerSeen) -> None:
        charger = event.charger
        if charger.decision != "pending" or charger.identity in self._unknown_told:
            return
        self._unknown_told.add(charger.identity)
        self.notify(f"{charger.identity} tried to connect; :unknown to accept or reject it", title="Unknown charger", severity="warning")

    def flush(self) -> None:
        """Render what changed since the last flush, in one batch, into the view on show."""
        if self.app.screen is not self:
            return  # a dialog is on top: keep the pending changes for later
        now = self.app.clock.now()
        second = now.replace(microsecond=0)
        if self.paused:
            if not (self._dirty or self.table.resorted):
                return
        else:
            quiet = not (self._pending or self._dirty or second != self._rendered_second or self.table.resorted)
            if quiet and self.view == "chargers" and not self.detail.has_pending:
                return
        self._rendered_second = second
        # Only what changed is redrawn, unless something changed how every row looks.
        changed: set[str] | None = None if self._dirty or self.table.resorted else set(self._pending)
        self._dirty = False
        pending: dict[str, ChargerView | None] = {}
        if not self.paused:
            pending, self._pending = self._pending, {}
        for charger_id, charger in pending.items():
            if charger is None:
                self._chargers.pop(charger_id, None)
                self.table.marked.discard(charger_id)
            else:
                self._chargers[charger_id] = charger
        with self.app.batch_update():
            self.query_one(FleetHeader).show(
                self.backend.info, self._chargers.values(), self._locations, now, narrow=self.has_class("-narrow"), paused=self.paused
            )
            if self.view == "chargers":
                table = self.table
                table.show(self._chargers, now, self._filter, changed)
                title = "Chargers · order held: O re-sorts" if table.order_held else "Chargers"
                if table.border_title != title:
                    table.border_title = title
                self._select(table.selected_id)
                self._refresh_keys()  # the selected charger may have gone offline or come back
                if not self.paused:
                    self.detail.flush(now)
                self._show_reason()
            else:
                self.query_one(f"#view-{self.view}", FleetView).flush(now, self._chargers)

    # -- selection --------------------------------------------------------------------

    @on(ChargerTable.Highlighted)
    def _row_highlighted(self, event: ChargerTable.Highlighted) -> None:
        self._select(event.charger_id)
        self.detail.flush(self.app.clock.now())

    @on(ChargerTable.Selected)
    def _row_selected(self, event: ChargerTable.Selected) -> None:
        """Enter: open the detail (over the table when the terminal is narrow)."""
        if self.has_class("-narrow"):
            self.add_class("-detail-open")
            self.detail.flush(self.app.clock.now())
        self.query_one("#detail-tabs").query_one("Tabs").focus()

    def _select(self, charger_id: str | None) -> None:
        if charger_id == self._selected:
            charger = self.selected
            if charger is not None and self.detail.charger is not charger:
                self.detail.take_charger(charger)
            return
        self._selected = charger_id
        charger = self.selected
        self.detail.select(charger)
        self.detail.border_title = f"Charger · {charger.identity}" if charger else "Charger"
        self._refresh_keys()
        self._show_reason()

    def _refresh_keys(self) -> None:
        """Redraw the footer when a charger key's state (or why it is dimmed) changed, and only then.

        Moving the cursor between chargers that allow the same keys costs nothing;
        a footer recompose is the most expensive thing a key press could trigger.
        """
        keys = tuple(self.why_not(action) for action in sorted(ON_SELECTED | WRITES))
        if keys != self._keys_shown:
            self._keys_shown = keys
            self.refresh_bindings()

    def targets(self) -> list[ChargerView]:
        """The marked chargers, or else the selected one: what a bulk key acts on."""
        marked = [self._chargers[charger_id] for charger_id in sorted(self.table.marked) if charger_id in self._chargers]
        if marked:
            return marked
        return [self.selected] if self.selected else []

    def why_not(self, action: str, chargers: list[ChargerView] | None = None) -> tuple[bool | None, str]:
        """Whether a charger key can run now (True, None dimmed, False hidden) and why not."""
        if action in WRITES and self.backend.info.read_only:
            return False, "the console is read-only"
        if action not in ON_SELECTED:
            return True, ""
        if chargers is None:
            chargers = self.targets() if action in BULK else ([self.selected] if self.selected else [])
        if not chargers:
            return None, "no charger selected"
        if action in ONLINE and not any(charger.is_connected for charger in chargers):
            names = ", ".join(charger.identity for charger in chargers[:3])
            return None, f"{names} {'is' if len(chargers) == 1 else 'are'} offline"
        if action in ("start", "stop") and not any(charger.simulated for charger in chargers):
            return None, "a real charger has no simulated runtime"
        if action == "lab":
            if not chargers[0].simulated:
                return None, "only a simulated charger takes lab controls"
            if not chargers[0].is_connected:
                return None, f"{chargers[0].identity} is offline"
        return True, ""

    def _show_reason(self) -> None:
        parts: list[str] = []
        if self._lost and self._lost_at is not None:
            since = f"{age(self._lost_at, self.app.clock.now())} ago"
            parts.append(f"[b]{escape(self._lost)}[/b] {since}: every figure is as of {clock_time(self._lost_at)} UTC, reconnecting")
        marked = len(self.table.marked)
        if marked:
            hidden = len(self.table.hidden_marks)
            parts.append(f"[b]{marked} marked ({hidden} hidden)[/b]: s x r c i u a m act on all of them (space unmarks, escape clears)")
        state, reason = self.why_not("charge")
        if state is None and reason != "no charger selected":
            parts.append(f"{escape(reason)}: charge, idle, unlock, availability and operations wait for it to connect")
        if self.backend.info.read_only:
            parts.append("read-only: watching only")
        text = " · ".join(parts)
        line = self.query_one("#reason", Static)
        line.update(text)
        line.display = bool(text)

    # -- keys -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Textual: False hides the key, None shows it dimmed.
        if action in ON_CHARGERS and self.view != "chargers":
            return False
        if action == "clear_filter":
            return self.query_one("#filter", Input).display
        if action == "back":
            # Dimmed, not hidden, when there is nothing to go back from: the footer always has escape.
            return self._can_go_back() or None
        if action == "tab":
            return True
        return self.why_not(action)[0]

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """A dimmed key's tooltip says why it cannot run now."""
        bindings = super().active_bindings
        for key, active in bindings.items():
            if not active.enabled and active.node is self:
                reason = self.why_not(active.binding.action)[1]
                if reason:
                    bindings[key] = active._replace(tooltip=f"{active.binding.description}: not now, {reason}")
        return bindings

    def action_create(self) -> None:
        self.run_worker(self._open_form(None), name="open form", group="form", exclusive=True)

    def action_update(self) -> None:
        if self._selected is not None:
            self.run_worker(self._open_form(self._selected), name="open form", group="form", exclusive=True)

    async def _open_form(self, charger_id: str | None) -> None:
        try:
            locations = await self.backend.list_locations()
            charger = await self.backend.get_charger(charger_id) if charger_id else None
        except ConsoleError as error:
            self.notify(str(error), title="Cannot open the form", severity="error")
            return

        async def save(fields: dict[str, Any]) -> None:
            if charger is None:
                saved = await self.backend.create_charger(fields)
                self.notify(f"Created {saved.identity}", title="Charger created")
            else:
                saved = await self.backend.update_charger(charger.id, fields)
                self.notify(f"Saved {saved.identity}", title="Charger updated")
            self._pending[saved.id] = saved

        self.app.push_screen(ChargerForm(self.backend, locations, save, charger))

    def action_delete(self) -> None:
        charger = self.selected
        if charger is not None:
            self.run_worker(self._delete(charger), name="delete", group="commands")

    async def _delete(self, charger: ChargerView) -> None:
        what = f"{charger.identity} ({charger.name})" if charger.name else charger.identity
        question = f"Delete charger {what}?\nIts frames, sessions and actions go with it."
        if not await self.app.push_screen_wait(ConfirmDialog(question, yes_label="Delete")):
            return
        try:
            await self.backend.delete_charger(charger.id)
        except ConsoleError as error:
            self.notify(str(error), title=f"{charger.identity} not deleted", severity="error")
            return
        self._pending[charger.id] = None
        self.notify(f"Deleted {charger.identity}", title="Charger deleted")

    def action_start(self) -> None:
        self._each("start", lambda charger: self.backend.start_charger(charger.id))

    def action_stop(self) -> None:
        self._each("stop", lambda charger: self.backend.stop_charger(charger.id), live_sessions)

    def action_restart(self) -> None:
        chargers = self.targets()
        if chargers:
            self.run_worker(self._restart(chargers), name="restart", group="commands")

    async def _restart(self, chargers: list[ChargerView]) -> None:
        real = [charger.identity for charger in chargers if not charger.simulated]
        note = ""
        if real:
            names = ", ".join(real)
            note = f"{names} {'is a real charger' if len(real) == 1 else 'are real chargers'}: restart sends an OCPP Reset."
        sessions = sum(live_sessions(charger) for charger in chargers)
        if await self._confirmed("Restart", chargers, sessions, note=note, yes_label="Reset" if real else "Restart"):
            await self._run_each("restart", chargers, lambda charger: self.backend.restart_charger(charger.id))

    async def _confirmed(self, what: str, chargers: list[ChargerView], sessions: int, note: str = "", yes_label: str = "") -> bool:
        """Ask before `what` (default No), naming the chargers and the live sessions that will end.

        Several chargers are always asked about, and marked ones the filter hides; one only when
        a session will end (unless `--yes`) or when there is a `note` to read (a real charger's Reset).
        """
        hidden = self._hidden(chargers)
        if len(chargers) == 1 and not note and not hidden and (sessions == 0 or not self.app.confirm_single):
            return True
        shown = ", ".join(charger.identity for charger in chargers[:8])
        more = f" and {len(chargers) - 8} more" if len(chargers) > 8 else ""
        who = shown if len(chargers) == 1 else f"{len(chargers)} chargers ({shown}{more})"
        ends = f"{sessions} live session{'' if sessions == 1 else 's'} will end." if sessions else "No live session will end."
        unseen = ""
        if len(chargers) == 1 and hidden:
            unseen = f"{hidden[0]} is hidden by the filter."
        elif hidden:
            unseen = f"{len(hidden)} of them hidden by the filter: {', '.join(hidden[:8])}{'…' if len(hidden) > 8 else ''}."
        question = "\n".join(line for line in (f"{what} {who}?", unseen, ends, note) if line)
        return bool(await self.app.push_screen_wait(ConfirmDialog(question, yes_label=yes_label or what.split()[0])))

    def _hidden(self, chargers: list[ChargerView]) -> list[str]:
        """The identities of the marked chargers among `chargers` that the filter hides."""
        hidden = self.table.hidden_marks
        return [charger.identity for charger in chargers if charger.id in hidden]

    def _each(
        self, verb: str, call: Callable[[ChargerView], Awaitable[Any]], ends: Callable[[ChargerView], int] | None = None
    ) -> None:
        """Run `call` on every target, once confirmed: `ends` counts the live sessions it ends on a charger."""
        chargers = self.targets()
        if not chargers:
            return

        async def run() -> None:
            sessions = sum(ends(charger) for charger in chargers) if ends else 0
            if await self._confirmed(verb.capitalize(), chargers, sessions):
                await self._run_each(verb, chargers, call)

        self.run_worker(run(), name=verb, group="commands")

    async def _run_each(self, verb: str, chargers: list[ChargerView], call: Callable[[ChargerView], Awaitable[Any]]) -> None:
        """Run `call` on each charger: one charger's outcome is told as it is, several in one toast of counts."""
        failed: list[str] = []
        for charger in chargers:
            title = f"{verb[:1].upper() + verb[1:]} {charger.identity}"
            try:
                outcome = await call(charger)
            except ConsoleError as error:
                text, severity, title = str(error), "error", f"{title} failed"
            except Exception as error:  # a front end must outlive a failing backend call
                log.exception("%s %s", verb, charger.identity)
                text, severity, title = f"{type(error).__name__}: {error}", "error", f"{title} failed"
            else:
                if isinstance(outcome, str):
                    text, severity = outcome, "information"
                else:
                    # An OperationResult: the action is over by now.
                    detail = outcome.detail or f"{outcome.operation} {outcome.state}"
                    text = f"{outcome.state}: {detail}" if outcome.detail else detail
                    severity = "error" if outcome.state in FAILED_STATES else "information"
            if severity == "error":
                failed.append(charger.identity)
            if len(chargers) == 1:
                self.notify(text, title=title, severity=severity)  # type: ignore[arg-type]
        if len(chargers) > 1:
            self._tell_counts(verb, len(chargers), failed)

    def _tell_counts(self, verb: str, total: int, failed: list[str]) -> None:
        """One toast for a bulk action: "restart: 18 done, 2 failed (CP-A01, CP-B02) — see :actions"."""
        text = f"{verb}: {total - len(failed)} done, {len(failed)} failed"
        if failed:
            text += f" ({', '.join(failed[:5])}{'…' if len(failed) > 5 else ''}) — see :actions"
        self.notify(text, title=f"{verb[:1].upper() + verb[1:]} {total} chargers", severity="error" if failed else "information")

    def action_charge(self) -> None:
        self._command_form("charge")

    def action_idle(self) -> None:
        self._command_form("idle")

    def _command_form(self, command: str) -> None:
        chargers = self.targets()
        if chargers:
            self.run_worker(self._open_command_form(command, chargers), name=command, group="commands")

    async def _open_command_form(self, command: str, chargers: list[ChargerView]) -> None:
        sessions = sum(live_sessions(charger) for charger in chargers) if command == "idle" else 0
        if (len(chargers) > 1 or self._hidden(chargers)) and not await self._confirmed(command.capitalize(), chargers, sessions):
            return
        executions = self.backend.charger_commands().get(command, {}).get("execution", ["immediate"])

        def sent(actions: list[Any] | None) -> None:
            if not actions:
                return
            bulk = _BulkWatch(command, {action.id for action in actions}, len(actions)) if len(actions) > 1 else None
            for action in actions:
                self._watched[action.id] = (action.identity, bulk)
            for action in actions:
                if (over := self._recent_final.pop(action.id, None)) is not None:
                    self._tell_outcome(over)
            names = ", ".join(action.identity for action in actions[:3]) + ("…" if len(actions) > 3 else "")
            self.notify(f"{actions[0].execution} {command} for {names}: {actions[0].state}", title=f"{command.capitalize()} sent")

        self.app.push_screen(CommandForm(command, chargers, list(executions)), sent)

    def action_unlock(self) -> None:
        chargers = [charger for charger in self.targets() if charger.is_connected] or self.targets()
        if chargers:
            self.run_worker(self._unlock(chargers), name="unlock", group="commands")

    async def _unlock(self, chargers: list[ChargerView]) -> None:
        most = max(charger.number_of_connectors for charger in chargers)
        connector = 1
        if most > 1:
            statuses = {connector.connector_id: connector.status for connector in chargers[0].connectors}
            choices = [(number, statuses.get(number, "")) for number in range(1, most + 1)]
            who = chargers[0].identity if len(chargers) == 1 else f"{len(chargers)} chargers"
            picked = await self.app.push_screen_wait(ConnectorPicker(f"Unlock which connector of {who}?", choices))
            if picked is None:
                return
            connector = picked
        sessions = sum(live_sessions(charger, connector) for charger in chargers)
        if await self._confirmed(f"Unlock connector {connector} of", chargers, sessions, yes_label="Unlock"):
            await self._run_each("unlock", chargers, lambda charger: self.backend.unlock(charger.id, connector))

    def action_lab(self) -> None:
        charger = self.selected
        if charger is not None:
            self.run_worker(self._lab(charger), name="lab", group="commands")

    async def _lab(self, charger: ChargerView) -> None:
        control = await self.app.push_screen_wait(LabControls(charger.identity))
        if control is None:
            return
        connector = 1
        if control != "drop_connection" and charger.number_of_connectors > 1:
            statuses = {c.connector_id: c.status for c in charger.connectors}
            choices = [(number, statuses.get(number, "")) for number in range(1, charger.number_of_connectors + 1)]
            picked = await self.app.push_screen_wait(ConnectorPicker(f"Which connector of {charger.identity}?", choices))
            if picked is None:
                return
            connector = picked
        calls = {
            "plug_in": lambda c: self.backend.plug_in(c.id, connector),
            "present_id_tag": lambda c: self.backend.present_id_tag(c.id, connector, "OPERATOR"),
            "unplug": lambda c: self.backend.unplug(c.id, connector),
            "inject_fault": lambda c: self.backend.inject_fault(c.id, connector, "OtherError"),
            "clear_fault": lambda c: self.backend.clear_fault(c.id, connector),
            "drop_connection": lambda c: self.backend.drop_connection(c.id),
        }
        await self._run_each(control.replace("_", " "), [charger], calls[control])

    def action_availability(self) -> None:
        chargers = self.targets()
        if chargers:
            self.run_worker(self._availability(chargers), name="availability", group="commands")

    async def _availability(self, chargers: list[ChargerView]) -> None:
        def toggle(charger: ChargerView) -> Awaitable[Any]:
            # Connector 0 is the whole charger; an unavailable one is made operative again.
            return self.backend.change_availability(charger.id, 0, charger.status == "unavailable")

        going = [charger for charger in chargers if charger.status != "unavailable"]
        if len(chargers) == 1:
            what = "Make operative" if not going else "Make inoperative"
        else:
            what = f"Make {len(going)} inoperative, {len(chargers) - len(going)} operative:"
        sessions = sum(live_sessions(charger) for charger in going)
        if await self._confirmed(what, chargers, sessions, yes_label="Yes"):
            await self._run_each("availability", chargers, toggle)

    def action_mark(self) -> None:
        charger_id = self.table.selected_id
        if charger_id is None:
            return
        self.table.toggle_mark(charger_id)
        self.table.action_cursor_down()
        self.refresh_bindings()
        self._show_reason()

    def action_raw(self) -> None:
        charger = self.selected
        if charger is None:
            return
        shown = {*ChargerView.SEED_FIELDS, "organization_id", "user_id", "simulated", "tolerant"}
        record = {name: value for name, value in charger.to_dict().items() if name in shown}
        self.app.push_screen(RawRecord(f"{charger.identity} · record", record))

    def action_resort(self) -> None:
        self.table.resort()
        self.flush()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._dirty = True
        self.flush()

    def action_sort(self) -> None:
        column = self.table.cycle_sort()
        self._dirty = True
        self.flush()
        self.notify(f"sorted by {column}", timeout=1.5)

    def action_tab(self, tab: str) -> None:
        if self.view != "chargers":
            self.show_view("chargers")
        if tab in TABS:
            if self.has_class("-narrow"):
                self.add_class("-detail-open")
            self.detail.show_tab(tab)

    # -- filter, views, help ----------------------------------------------------------

    def action_filter(self) -> None:
        focused = self.focused
        if any(isinstance(node, LogPanel) for node in (focused.ancestors_with_self if focused else [])):
            raise SkipAction()  # the detail's log has a `/` filter of its own
        self._open_input(self.query_one("#filter", Input))

    def _open_input(self, field: Input) -> None:
        """Show `field` and focus it now: the app hands each key to the widget focused when the key
        is handled, and `focus()` would move it only after the keys queued behind `/` or `:`."""
        if isinstance(self.focused, Input):
            raise SkipAction()  # a `/` or `:` typed into an input is text
        field.display = True
        self.set_focus(field)
        self.refresh_bindings()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value
        self._dirty = True
        self.flush()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self._filter = ""
        self._dirty = True
        self.flush()
        self.table.focus()
        self.refresh_bindings()

    def _can_go_back(self) -> bool:
        focused = self.focused
        panel = next((node for node in (focused.ancestors_with_self if focused else []) if isinstance(node, LogPanel)), None)
        return bool(
            self.query_one("#command-line", Input).display
            or (panel is not None and panel.query_one(".log-filter", Input).display)
            or self.table.marked
            or self.has_class("-detail-open")
            or (focused is not None and self.detail in focused.ancestors)
            or self.view != "chargers"
        )

    def action_back(self) -> None:
        """Escape: close the innermost thing open — the `:` line, a log filter, marks, the detail, a view."""
        command_line = self.query_one("#command-line", Input)
        focused = self.focused
        panel = next((node for node in (focused.ancestors_with_self if focused else []) if isinstance(node, LogPanel)), None)
        if command_line.display:
            command_line.value = ""
            command_line.display = False
            self._focus_view()
        elif panel is not None and panel.clear_filter():
            pass
        elif self.view != "chargers":
            self.show_view("chargers")
        elif self.table.marked:
            self.table.clear_marks()
            self._show_reason()
        elif self.has_class("-detail-open"):
            self.remove_class("-detail-open")
            self.table.focus()
        else:
            self.table.focus()
        self.refresh_bindings()

    def action_command_line(self) -> None:
        field = self.query_one("#command-line", Input)
        field.value = ""
        self._open_input(field)

    @on(Input.Submitted, "#command-line")
    def _command_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip().lower().lstrip(":")
        view = VIEW_ALIASES.get(name, name)
        matches = [candidate for candidate in VIEWS if candidate.startswith(view)] if view else []
        event.input.display = False
        event.input.value = ""
        if view in VIEWS or len(matches) == 1:
            self.show_view(view if view in VIEWS else matches[0])
        else:
            self.notify(f"no view {name!r}: one of {', '.join(VIEWS)}", title="Views", severity="warning")
            self._focus_view()
        self.refresh_bindings()

    def show_view(self, view: str) -> None:
        self.view = view
        self.query_one(ContentSwitcher).current = f"view-{view}"
        self._dirty = True
        self.flush()
        self._focus_view()
        self.refresh_bindings()

    def _focus_view(self) -> None:
        if self.view == "chargers":
            self.table.focus()
            return
        container = self.query_one(f"#view-{self.view}")
        target = container.query("DataTable, FrameLog").first()
        target.focus()

    def action_help(self) -> None:
        keys: list[tuple[str, str]] = []
        dimmed: set[str] = set()
        details: dict[str, str] = {}
        seen: set[str] = set()
        for key, active in self.active_bindings.items():
            binding = active.binding
            # The console's own keys (each has an id), not Textual's focus/copy defaults.
            if binding.id is None or not binding.description or key in seen:
                continue
            seen.add(key)
            shown = escape(self.app.get_key_display(binding))
            keys.append((shown, escape(binding.description)))
            if binding.tooltip:
                details[shown] = escape(binding.tooltip)
            if not active.enabled:
                dimmed.add(shown)
        keys.append(("ctrl+p", "Palette: find a charger, act on it"))
        self.app.push_screen(HelpScreen(self.view, keys, dimmed, details))

    @on(LocationsChanged)
    def _locations_changed(self, message: LocationsChanged) -> None:
        self._locations = message.locations
        self._dirty = True

    # -- the palette's way in ---------------------------------------------------------

    def run_on(self, charger_id: str, action: str) -> None:
        """Select a charger in the table and run a key's action on it (from the command palette)."""
        if self.view != "chargers":
            self.show_view("chargers")
        if self._filter:
            self.action_clear_filter()
        self.table.clear_marks()
        self.table.show(self._chargers, self.app.clock.now(), self._filter)
        if charger_id in self.table.shown_ids:
            self.table.move_cursor(row=self.table.get_row_index(charger_id), animate=False)
            self._select(charger_id)
        if action != "select":
            self.call_later(self.run_action, action)

    # -- the operations menu (m): every operation of the catalogue ----------------------

    def action_operations(self) -> None:
        chargers = [charger for charger in self.targets() if charger.is_connected] or self.targets()
        if chargers:
            self.run_worker(self._operations(chargers), name="operations", group="commands")

    async def _operations(self, chargers: list[ChargerView]) -> None:
        """Pick an operation from the menu, fill in its form, confirm what asks for it, send it to each charger."""
        try:
            by_version: dict[str, list[OperationSpec]] = {}
            for charger in chargers:
                if charger.ocpp_version not in by_version:
                    by_version[charger.ocpp_version] = await self.backend.operation_catalogue(charger.id)
        except ConsoleError as error:
            self.notify(str(error), title="Cannot list the operations", severity="error")
            return
        first = chargers[0]
        specs = by_version[first.ocpp_version]
        if len(chargers) > 1:
            # The marked set takes what every one of its versions has, with the same parameters for all.
            common = set.intersection(*({spec.name for spec in found} for found in by_version.values()))
            specs = [spec for spec in specs if spec.name in common and spec.bulk]
            title = f"Operations · {len(chargers)} marked chargers ({', '.join(sorted(by_version))})"
        else:
            title = f"Operations · {first.identity} ({first.ocpp_version})"
        spec = await self.app.push_screen_wait(OperationsMenu(title, specs))
        if spec is None:
            return
        target = first.identity if len(chargers) == 1 else f"{len(chargers)} marked chargers"
        values = await self.app.push_screen_wait(OperationForm(spec, target))
        if values is None:
            return
        question = spec.confirmation(values)
        if question is not None or len(chargers) > 1 or self._hidden(chargers):
            sessions = sum(live_sessions(charger) for charger in chargers) if spec.name in ENDS_SESSIONS else 0
            if not await self._confirmed(f"{spec.name} on", chargers, sessions, note=question or "", yes_label="Send"):
                return
        if len(chargers) > 1:
            await self._run_each(spec.name, chargers, lambda charger: self.backend.run_operation(charger.id, spec.name, values))
            return
        try:
            result = await self.backend.run_operation(first.id, spec.name, values)
        except ConsoleError as error:
            self.notify(str(error), title=f"{spec.name} to {first.identity} not sent", severity="error", markup=False)
            return
        severity = "error" if result.state in FAILED_STATES else "information"
        self.notify(operation_outcome(result), title=f"{result.operation} · {first.identity}", severity=severity, markup=False)

