"""The fleet at a glance: header, charger table, detail of the selected charger and its frames.

Data in motion: one long-lived worker reads the backend's event stream into a
pending map keyed by charger id; a timer flushes that map into the widgets a
few times a second, in one batch, and only while this screen is on top.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from console.core.backend import Backend
from console.core.errors import ConsoleError
from console.core.events import ChargerRemoved, ChargerUpdated, LogAppended, Notice, Subscription
from console.core.views import ChargerView, LogView
from console.tui.modals.charger_form import ChargerForm
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.help import HelpScreen
from console.tui.widgets.charger_table import ChargerTable
from console.tui.widgets.detail import ChargerDetail
from console.tui.widgets.frame_log import FrameLog
from console.tui.widgets.header import FleetHeader

if TYPE_CHECKING:
    from console.tui.app import ConsoleApp

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1 / 3
LOG_HISTORY = 200
# Actions that change the fleet: hidden in read-only mode.
WRITES = {"create", "update", "delete", "start", "stop", "restart"}
# Actions on the selected charger: dimmed while none is selected.
ON_SELECTED = {"update", "delete", "start", "stop", "restart"}
NOTICE_SEVERITIES = {"information", "warning", "error"}


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "create", "New", id="console.create", tooltip="Create a charger"),
        Binding("e", "update", "Edit", id="console.update", tooltip="Edit the selected charger"),
        Binding("ctrl+d", "delete", "Delete", id="console.delete", tooltip="Delete the selected charger"),
        Binding("s", "start", "Start", id="console.start", tooltip="Start the simulated charger"),
        Binding("x", "stop", "Stop", id="console.stop", tooltip="Stop the simulated charger"),
        Binding("r", "restart", "Restart", id="console.restart", tooltip="Restart (simulated) or Reset (real)"),
        Binding("slash", "filter", "Filter", id="console.filter", tooltip="Filter the chargers by text"),
        Binding("escape", "clear_filter", "Clear filter", id="console.clear_filter"),
        Binding("question_mark", "help", "Help", id="console.help", tooltip="List every key"),
    ]

    app: ConsoleApp

    def __init__(self) -> None:
        super().__init__(id="main")
        self._chargers: dict[str, ChargerView] = {}
        # None marks a charger removed since the last flush.
        self._pending: dict[str, ChargerView | None] = {}
        self._pending_logs: deque[LogView] = deque(maxlen=LOG_HISTORY * 5)
        self._selected: str | None = None
        self._logs_loading = False
        self._filter = ""
        self._dirty = False
        self._rendered_second: Any = None
        self._subscription: Subscription | None = None

    @property
    def backend(self) -> Backend:
        return self.app.backend

    @property
    def selected(self) -> ChargerView | None:
        return self._chargers.get(self._selected or "")

    def compose(self) -> ComposeResult:
        yield FleetHeader(id="fleet-header")
        yield Input(placeholder="filter: identity, name, location, status or vendor", id="filter")
        yield ChargerTable(id="chargers")
        with Horizontal(id="lower"):
            with VerticalScroll(id="detail-pane"):
                yield ChargerDetail(id="detail")
            yield FrameLog(id="frames")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#chargers").border_title = "Chargers"
        self.query_one("#detail-pane").border_title = "Charger"
        self.query_one("#frames").border_title = "Frames"
        # Subscribe before the first read, so nothing between the two is lost.
        self._subscription = self.backend.subscribe()
        self.run_worker(self._follow_events(self._subscription), name="events", group="events")
        self.run_worker(self._load_fleet(), name="load fleet", group="load")
        self.set_interval(FLUSH_INTERVAL, self.flush, name="flush")
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.query_one(ChargerTable).focus()

    def on_unmount(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def _theme_changed(self, _theme: object) -> None:
        self._dirty = True
        self.flush()

    # -- data in ----------------------------------------------------------------------

    async def _load_fleet(self) -> None:
        try:
            chargers = await self.backend.list_chargers()
        except ConsoleError as error:
            self.notify(str(error), title="Could not load the fleet", severity="error")
            return
        for charger in chargers:
            # An event that arrived meanwhile is newer than this read.
            self._pending.setdefault(charger.id, charger)
        self.flush()

    async def _follow_events(self, subscription: Subscription) -> None:
        while True:
            try:
                events = await subscription.next_batch()
            except StopAsyncIteration:
                return
            for event in events:
                if isinstance(event, ChargerUpdated):
                    self._pending[event.charger.id] = event.charger
                elif isinstance(event, ChargerRemoved):
                    self._pending[event.charger_id] = None
                elif isinstance(event, LogAppended):
                    if event.entry.charger_id is not None and event.entry.charger_id == self._selected:
                        self._pending_logs.append(event.entry)
                elif isinstance(event, Notice):
                    severity = event.severity if event.severity in NOTICE_SEVERITIES else "information"
                    self.notify(event.message, severity=severity)  # type: ignore[arg-type]

    def flush(self) -> None:
        """Render what changed since the last flush, in one batch."""
        if self.app.screen is not self:
            return  # a dialog is on top: keep the pending changes for later
        now = self.app.clock.now()
        second = now.replace(microsecond=0)
        if not (self._pending or self._pending_logs or self._dirty or second != self._rendered_second):
            return
        self._rendered_second = second
        self._dirty = False
        pending, self._pending = self._pending, {}
        for charger_id, charger in pending.items():
            if charger is None:
                self._chargers.pop(charger_id, None)
            else:
                self._chargers[charger_id] = charger
        table = self.query_one(ChargerTable)
        with self.app.batch_update():
            table.show(self._chargers, now, self._filter)
            self.query_one(FleetHeader).show(self.backend.info, self._chargers.values(), now)
            self._select(table.selected_id)
            self.query_one(ChargerDetail).show(self.selected, now)
            if not self._logs_loading and self._pending_logs:
                self.query_one(FrameLog).append(self._pending_logs)
                self._pending_logs.clear()

    # -- selection and its frames -----------------------------------------------------

    @on(DataTable.RowHighlighted, "#chargers")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select(event.row_key.value)
        self.query_one(ChargerDetail).show(self.selected, self.app.clock.now())

    def _select(self, charger_id: str | None) -> None:
        if charger_id == self._selected:
            return
        self._selected = charger_id
        self._pending_logs.clear()
        frames = self.query_one(FrameLog)
        frames.reset()
        charger = self.selected
        frames.border_title = f"Frames · {charger.identity}" if charger else "Frames"
        self.refresh_bindings()
        if charger_id is not None:
            self._logs_loading = True
            self.run_worker(self._load_logs(charger_id), name="load logs", group="logs", exclusive=True)

    async def _load_logs(self, charger_id: str) -> None:
        try:
            entries = await self.backend.charger_logs(charger_id, limit=LOG_HISTORY)
        except ConsoleError as error:
            entries = []
            self.notify(str(error), title="Could not load the frames", severity="error")
        if charger_id != self._selected:
            return
        frames = self.query_one(FrameLog)
        frames.show_history(entries)
        frames.append(self._pending_logs)
        self._pending_logs.clear()
        self._logs_loading = False

    # -- keys -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Textual: False hides the key, None shows it dimmed.
        if action in WRITES and self.backend.info.read_only:
            return False
        if action in ON_SELECTED and self.selected is None:
            return None
        if action == "clear_filter":
            return self.query_one("#filter", Input).display
        return True

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
        self._command("start", self.backend.start_charger)

    def action_stop(self) -> None:
        self._command("stop", self.backend.stop_charger)

    def action_restart(self) -> None:
        self._command("restart", self.backend.restart_charger)

    def _command(self, verb: str, call: Any) -> None:
        charger = self.selected
        if charger is None:
            return
        self.run_worker(self._run_command(verb, charger, call(charger.id)), name=verb, group="commands")

    async def _run_command(self, verb: str, charger: ChargerView, outcome: Awaitable[str]) -> None:
        try:
            message = await outcome
        except ConsoleError as error:
            self.notify(str(error), title=f"{verb.capitalize()} {charger.identity} failed", severity="error")
            return
        except Exception as error:  # a front end must outlive a failing backend call
            log.exception("%s %s", verb, charger.identity)
            self.notify(f"{type(error).__name__}: {error}", title=f"{verb.capitalize()} {charger.identity} failed", severity="error")
            return
        self.notify(message, title=f"{verb.capitalize()} {charger.identity}")

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()
        self.refresh_bindings()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value
        self._dirty = True
        self.flush()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one(ChargerTable).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self._filter = ""
        self._dirty = True
        self.flush()
        self.query_one(ChargerTable).focus()
        self.refresh_bindings()

    def action_help(self) -> None:
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for node in (self, self.app):
            for _, binding in node._bindings:
                # The console's own keys (each has an id), not Textual's focus/copy defaults.
                if binding.id is None or not binding.description or binding.key in seen:
                    continue
                seen.add(binding.key)
                keys.append((escape(self.app.get_key_display(binding)), escape(binding.description)))
        self.app.push_screen(HelpScreen(keys))
