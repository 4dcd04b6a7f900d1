"""Everything about the selected charger, one tab each: Overview, Live, Actions, Logs, Transactions, Events, Config, Charging.

Events for the selected charger are buffered here as they arrive; `flush`
renders only the tab on show, and a tab reads its history from the backend
the first time it is shown for a charger.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Digits, Sparkline, Static, TabbedContent, TabPane

from console.core.chargerevents import ACTIONS as EVENT_ACTIONS
from console.core.chargerevents import FAILED_STATUSES
from console.core.errors import ConsoleError
from console.core.events import ActionChanged, ChargerAlert
from console.core.views import ChargerView, LocalListView, LogView, TransactionView
from console.tui.format import (
    age,
    clock_offset,
    connector_status_variable,
    gauge,
    kilowatts,
    local_stamp,
    repairs_cell,
    resample,
    short_version,
    stamp,
    station_meter,
    transaction_duration,
    transaction_energy,
    transaction_started,
)
from console.tui.themes import STATUSES
from console.tui.widgets.action_table import ActionTable
from console.tui.widgets.charging_panel import ChargingPanel
from console.tui.widgets.config_panel import ConfigPanel
from console.tui.widgets.event_table import EventsPanel
from console.tui.widgets.frame_log import LogPanel
from console.tui.widgets.paint import Readout
from console.tui.widgets.row_table import RowTable

if TYPE_CHECKING:
    from console.tui.host import ConsoleHost

LABEL_WIDTH = 22
HISTORY_MINUTES = 15
SPARK_BUCKETS = 90
LOG_HISTORY = 200
# Seconds between reads of the Transactions tab while a session runs (its energy and duration move).
TRANSACTIONS_REFRESH_S = 10
TABS = ("overview", "live", "actions", "logs", "transactions", "events", "config", "charging")


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return stamp(value)
    return str(value)


def _line(label: str, value: Any, style: str = "") -> Content:
    return Content.assemble((f"{label:<{LABEL_WIDTH}}", "$text-muted"), (_value(value), style), "\n")


def _heading(text: str) -> Content:
    return Content.styled(f"{text}\n", "bold $primary")


def _ago(moment: datetime | None, now: datetime, zone: tzinfo | None = timezone.utc) -> str | None:
    return f"{local_stamp(moment, zone)} ({age(moment, now)} ago)" if moment else None


def record_lines(charger: ChargerView, zone: tzinfo | None = timezone.utc) -> Content:
    """The charger's record as a person reads it (y shows it raw): kW, the location's name, times in `zone`."""
    lines = [_heading("Charger")]
    lines.append(_line("identity", charger.identity, "bold"))
    lines.append(_line("name", charger.name))
    lines.append(_line("vendor", " ".join(part for part in (charger.vendor_name, charger.model) if part)))
    lines.append(_line("OCPP", short_version(charger.ocpp_version)))
    connectors = f"{charger.number_of_connectors} × {charger.connector_type}" if charger.connector_type else charger.number_of_connectors
    lines.append(_line("connectors", connectors))
    lines.append(_line("max power", f"{charger.max_charging_power / 1000:g} kW"))
    lines.append(_line("location", charger.location_name or ("not found" if charger.location_id else None)))
    lines.append(_line("kind", "simulated" if charger.simulated else "real charger"))
    if charger.image_url:
        lines.append(_line("image", charger.image_url))
    lines.append(_line("created", local_stamp(charger.created_at, zone)))
    lines.append(_line("updated", local_stamp(charger.updated_at, zone)))
    if charger.tolerant:
        lines.append(_line("tolerant", "yes: quirky firmware's transaction and meter messages are taken, with a warning", "$warning"))
    lines.append(Content.styled("\ny shows the record as stored", "$text-muted"))
    return Content.assemble(*lines).rstrip()


STAGES = ("queued", "starting", "connecting", "registering", "online")
# Where a runtime that went wrong stopped, by the verdict its detail starts with.
FAILED_AT = {"boot_rejected": "registering", "boot_pending": "registering", "csms_timeout": "registering"}


def stage_line(charger: ChargerView) -> Content | None:
    """A simulated charger's provisioning stages: done ✓, now ●, failed ✗, stuck …, to come ·."""
    if not charger.simulated or not charger.runtime:
        return None
    state, detail = charger.runtime, charger.runtime_detail or ""
    verdict = detail.split(":", 1)[0].strip()
    marks: dict[str, tuple[str, str]] = {}
    if state in ("stopped", "stopping"):
        current, failed = None, None
    elif state == "crashed" or (state == "connecting" and detail.startswith("retry")):
        current, failed = FAILED_AT.get(verdict, "connecting"), verdict
    else:
        current, failed = state if state in STAGES else None, None
    reached = STAGES.index(current) if current in STAGES else -1
    for index, stage in enumerate(STAGES):
        if current is None:
            marks[stage] = ("·", "$text-muted")
        elif index < reached:
            marks[stage] = ("✓", "$success")
        elif index == reached and failed:
            marks[stage] = ("…", "$warning") if verdict == "boot_pending" else ("✗", "$error")
        elif index == reached:
            marks[stage] = ("✓" if stage == "online" else "●", "$success" if stage == "online" else "$accent")
        else:
            marks[stage] = ("·", "$text-muted")
    parts: list[str | tuple[str, str]] = [(f"{'stages':<{LABEL_WIDTH}}", "$text-muted")]
    for stage in STAGES:
        mark, style = marks[stage]
        parts += [(mark, style), f" {stage}  "]
    parts.append("\n")
    return Content.assemble(*parts)


# A firmware update's stages as the charger reports them (2.0.1 adds InstallRebooting, a signed one SignatureVerified).
FIRMWARE_STAGES = ("Downloading", "Downloaded", "Installing", "Installed")


def firmware_line(charger: ChargerView) -> Content:
    """The version it runs and, during an update, the stage reached: n of 4, in colour."""
    status = charger.firmware_status
    if not charger.firmware_version or not status:
        return _line("firmware", charger.firmware_version)
    if status in FAILED_STATUSES:
        return _line("firmware", f"{charger.firmware_version} — {status}", "$error")
    if status in FIRMWARE_STAGES:
        stage = FIRMWARE_STAGES.index(status) + 1
        style = "$success" if status == "Installed" else "$warning"
        return _line("firmware", f"{charger.firmware_version} — {status} ({stage}/{len(FIRMWARE_STAGES)})", style)
    return _line("firmware", f"{charger.firmware_version} ({status})")


def state_lines(charger: ChargerView, now: datetime, zone: tzinfo | None = timezone.utc) -> Content:
    status_style = f"bold $status-{charger.status}" if charger.status in STATUSES else "bold"
    lines = [_heading("Provisioning")]
    lines.append(_line("status", charger.provisioning))
    lines.append(_line("registration", charger.registration))
    lines.append(_line("last failure", charger.last_failure, "$error" if charger.last_failure else ""))
    lines.append(_line("offline since", _ago(charger.offline_since, now, zone)))
    lines.append(_heading("\nRuntime"))
    lines.append(_line("state", charger.status, status_style))
    meter = station_meter(charger)
    if meter is not None:
        lines.append(_line("station meter", meter))
    runtime = charger.runtime
    if runtime and charger.runtime_detail:
        runtime = f"{runtime}: {charger.runtime_detail}"
    lines.append(_line("runtime", runtime))
    stages = stage_line(charger)
    if stages is not None:
        lines.append(stages)
    lines.append(firmware_line(charger))
    if charger.upload_status:
        failed = charger.upload_status.rsplit(" ", 1)[-1] in FAILED_STATUSES
        lines.append(_line("log upload", charger.upload_status, "$error" if failed else ""))
    if charger.current_schedule:
        schedule = charger.current_schedule
        lines.append(_line("schedule", f"{schedule.get('command')} {schedule.get('execution')} {schedule.get('state')}"))
    if charger.last_action:
        action = charger.last_action
        text = f"{action.command} {action.state}" + (f" — {action.detail}" if action.detail else "")
        lines.append(_line("last action", text))
    lines.append(_heading("\nConnection"))
    lines.append(_line("connected", charger.is_connected, "$success" if charger.is_connected else "$text-muted"))
    lines.append(_line("connected since", _ago(charger.connected_since, now, zone)))
    lines.append(_line("last seen", _ago(charger.last_seen, now, zone)))
    lines.append(_line("reconnects", charger.reconnects))
    lines.append(_line("ping rtt", f"{charger.ping_rtt_ms:.0f} ms" if charger.ping_rtt_ms is not None else None))
    lines.append(_line("security profile", charger.security_profile))
    if charger.clock_offset_s is not None:
        lines.append(_line("clock", f"{clock_offset(charger.clock_offset_s)}: times shown as received", "$warning"))
    if charger.protocol_warnings:
        lines.append(_heading("\nProtocol warnings"))
        for warning in charger.protocol_warnings:
            lines.append(
                Content.assemble(
                    (f"{warning.count:>6}× ", "$warning"),
                    warning.text,
                    (f"  last {age(warning.last_at, now)} ago", "$text-muted"),
                    "\n",
                )
            )
    return Content.assemble(*lines).rstrip()


def authorization_lines(charger: ChargerView, local_list: LocalListView | None) -> Content:
    """Who may charge there: its local authorization list (version, current or behind the registry) and its reservations."""
    lines = [_heading("\nAuthorization")]
    if local_list is None:
        lines.append(_line("local list", "reading…", "$text-muted"))
    elif local_list.version == 0 and local_list.pushed_at is None:
        lines.append(_line("local list", "never sent" + ("" if local_list.current else ": the registry has tokens for it"), "$text-muted"))
    else:
        state, style = ("current", "$success") if local_list.current else ("behind the registry: push it again", "$warning")
        pushed = f", sent {stamp(local_list.pushed_at)}" if local_list.pushed_at else ""
        lines.append(_line("local list", f"version {local_list.version} · {local_list.entries} tokens · {state}{pushed}", style))
    for reservation in charger.reservations:
        lines.append(_line("reserved", reservation, "$status-reserved"))
    return Content.assemble(*lines).rstrip()


def gauge_line(label: str, value: float, limit: float | None, unit: str, note: str) -> Content:
    filled, empty = gauge(value, limit)
    amount = f"{kilowatts(value)} / {limit:g} {unit} {note}" if limit else f"{kilowatts(value)} {unit} · {note}"
    return Content.assemble(
        (f"{label:<12}", "$text-muted"), (filled, "$accent"), (empty, "$text-disabled"), "  ", (amount, "bold"), "\n"
    )


def limit_line(charger: ChargerView) -> Content:
    """The power against the limit in force, and where that limit comes from."""
    label = (f"{'vs limit':<12}", "$text-muted")
    power, limit = charger.current_power_kw, charger.limit_kw
    if limit is None:  # a server too old to say
        return Content.assemble(label, (f"{kilowatts(power)} kW · limit not known", "$text-muted"), "\n")
    filled, empty = gauge(power, limit)
    amount = f"{kilowatts(power)} / {kilowatts(limit)} kW limit ({charger.limit_source})"
    return Content.assemble(label, (filled, "$accent"), (empty, "$text-disabled"), "  ", (amount, "bold"), "\n")


def live_lines(charger: ChargerView) -> Content:
    max_kw = charger.max_charging_power / 1000
    lines = [
        gauge_line("Power", charger.current_power_kw, max_kw, "kW", "max"),
        limit_line(charger),
        current_line(charger),
        soc_line(charger),
    ]
    return Content.assemble(*lines).rstrip()


def current_line(charger: ChargerView) -> Content:
    label = (f"{'Current':<12}", "$text-muted")
    maximum = charger.max_current_a
    if charger.current_a is None:
        known = f"not reported · max {maximum:g} A" if maximum is not None else "not reported"
        return Content.assemble(label, (known, "$text-muted"), "\n")
    filled, empty = gauge(charger.current_a, maximum)
    amount = f"{charger.current_a:.1f} / {maximum:g} A max" if maximum is not None else f"{charger.current_a:.1f} A"
    return Content.assemble(label, (filled, "$accent"), (empty, "$text-disabled"), "  ", (amount, "bold"), "\n")


def soc_line(charger: ChargerView) -> Content:
    """The EV's state of charge per connector that reports one."""
    label = (f"{'SoC':<12}", "$text-muted")
    reported = [connector for connector in charger.connectors if connector.soc_percent is not None]
    if not reported:
        return Content.assemble(label, ("not reported", "$text-muted"), "\n")
    if len(reported) == 1:
        soc = reported[0].soc_percent or 0.0
        filled, empty = gauge(soc, 100)
        return Content.assemble(label, (filled, "$success"), (empty, "$text-disabled"), "  ", (f"{soc:.0f} %", "bold"), "\n")
    each = "  ".join(f"{connector.connector_id}: {connector.soc_percent:.0f} %" for connector in reported)
    return Content.assemble(label, (each, "bold"), "\n")


def lamp_lines(charger: ChargerView) -> Content:
    if not charger.connectors:
        return Content.styled("no connector has reported yet", "$text-muted")
    parts: list[Any] = []
    for connector in charger.connectors:
        variable = connector_status_variable(connector.status)
        colour = f"${variable}" if variable.removeprefix("status-") in STATUSES else "$text-muted"
        error = f" ({connector.error_code})" if connector.error_code else ""
        parts += [("●", colour), f" {connector.connector_id} ", (f"{connector.status}{error}", colour)]
        if connector.current_a is not None:
            parts.append(f" · {connector.current_a:.1f} A")
        if connector.soc_percent is not None:
            parts.append(f" · SoC {connector.soc_percent:.0f} %")
        parts.append("   ")
    return Content.assemble(*parts).rstrip()


class TransactionTable(RowTable):
    COLUMNS = (
        ("id", "Session", 10),
        ("connector", "Conn", 4),
        ("id_tag", "Id tag", 12),
        ("started", "Started", 19),
        ("stopped", "Stopped", 19),
        ("duration", "Duration", 8),
        ("energy", "kWh", 8),
        ("repairs", "Repaired", 36),
        ("reason", "Stop reason", 16),
    )

    def show(
        self,
        transactions: Iterable[TransactionView],
        charger: ChargerView | None,
        now: datetime,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """`labels`: each token's label (the vehicle, driver or cost centre) by token, casefolded."""
        self.clear()
        for transaction in transactions:
            label = (labels or {}).get(transaction.id_tag.casefold())
            self.add_row(
                escape(transaction.reference or str(transaction.id)),
                str(transaction.connector_id),
                escape(f"{transaction.id_tag} · {label}" if label else transaction.id_tag),
                transaction_started(transaction),
                stamp(transaction.stopped_at) if transaction.stopped_at else "ongoing",
                transaction_duration(transaction, now),
                transaction_energy(transaction, charger),
                escape(repairs_cell(transaction)),
                escape(transaction.stop_reason or ""),
                key=str(transaction.id),
            )


class ChargerDetail(Vertical):
    app: ConsoleHost

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.charger: ChargerView | None = None
        # Which charger each tab last read its history for.
        self._loaded: dict[str, str | None] = {}
        self._loading: set[str] = set()
        self._pending_logs: deque[LogView] = deque(maxlen=1000)
        self._pending_actions: list[ActionChanged] = []
        self._actions_stale = False
        self._samples: deque[tuple[datetime, float]] = deque(maxlen=2000)
        self._transactions_key: Any = None
        # The charger told something new since its Events tab read them.
        self._events_stale = False
        # Its local authorization list, read when the Overview shows (and again after a push).
        self._local_list: LocalListView | None = None

    def compose(self) -> ComposeResult:
        with TabbedContent(id="detail-tabs", initial="tab-overview"):
            with TabPane("Overview", id="tab-overview"):
                with VerticalScroll(id="overview"):
                    with Horizontal(id="overview-columns"):
                        yield Readout(id="overview-record")
                        yield Readout(id="overview-state")
            with TabPane("Live", id="tab-live"):
                with Vertical(id="live"):
                    with Horizontal(id="live-top"):
                        yield Readout(id="live-gauges")
                        with Vertical(id="live-energy"):
                            yield Digits("0.00", id="energy-digits")
                            yield Static("kWh this session", id="energy-label")
                    yield Static("Power, last 15 minutes", id="spark-label")
                    yield Sparkline([0.0], id="power-spark")
                    yield Readout(id="lamps")
            with TabPane("Actions", id="tab-actions"):
                yield ActionTable(id="charger-actions")
            with TabPane("Logs", id="tab-logs"):
                yield LogPanel(id="charger-logs")
            with TabPane("Transactions", id="tab-transactions"):
                yield TransactionTable(id="charger-transactions")
            with TabPane("Events", id="tab-events"):
                yield EventsPanel(id="charger-events")
            with TabPane("Config", id="tab-config"):
                yield ConfigPanel(id="charger-config")
            with TabPane("Charging", id="tab-charging"):
                yield ChargingPanel(id="charger-charging")

    @property
    def has_pending(self) -> bool:
        return bool(self._pending_logs or self._pending_actions or (self._events_stale and self.active_tab == "events"))

    @property
    def charger_id(self) -> str | None:
        return self.charger.id if self.charger else None

    @property
    def active_tab(self) -> str:
        return (self.query_one(TabbedContent).active or "tab-overview").removeprefix("tab-")

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{tab}"
        self._focus_panel(tab)

    def _focus_panel(self, tab: str) -> None:
        """The Config and Charging tabs' keys (f, enter; n, delete, g) act on their tables: focus goes there, escape brings it back."""
        if tab in ("config", "charging"):
            self.query_one(f"#tab-{tab}", TabPane).query(RowTable).first().focus()

    # -- what arrives ----------------------------------------------------------------

    def select(self, charger: ChargerView | None) -> None:
        """A new charger: drop what was buffered for the old one; every tab reads again when shown."""
        if charger is not None and charger.id == self.charger_id:
            self.take_charger(charger)
            return
        self.charger = charger
        self._loaded.clear()
        self._pending_logs.clear()
        self._pending_actions.clear()
        self._samples.clear()
        self._transactions_key = None
        self._events_stale = False
        self._local_list = None
        self.workers.cancel_node(self)
        self._loading.clear()
        self.query_one("#charger-logs", LogPanel).log.reset()
        self.query_one(ActionTable).show([], datetime.now())
        self.query_one(TransactionTable).clear()
        self.query_one(EventsPanel).show([])
        self.query_one(ConfigPanel).clear()
        self.query_one(ChargingPanel).clear()

    def resync(self) -> None:
        """After a gap in the events (attach mode, the server back): every tab reads its history again."""
        self.workers.cancel_node(self)
        self._loading.clear()
        self._loaded.clear()
        self._actions_stale = False
        self._pending_actions.clear()

    def take_charger(self, charger: ChargerView) -> None:
        if charger.id != self.charger_id:
            return
        self.charger = charger
        self._samples.append((self.app.clock.now(), charger.current_power_kw))

    def take_log(self, entry: LogView) -> None:
        if entry.charger_id is not None and entry.charger_id == self.charger_id:
            self._pending_logs.append(entry)
            if entry.direction == "out" and entry.action in EVENT_ACTIONS:
                self._events_stale = True  # answered: its event is kept

    def take_alert(self, alert: ChargerAlert) -> None:
        if alert.event.charger_id == self.charger_id:
            self._events_stale = True

    def take_action(self, change: ActionChanged) -> None:
        if change.charger_id != self.charger_id:
            return
        if change.action.command == "send_local_list":
            self._loaded.pop("locallist", None)
        if len(self._pending_actions) < 200:
            self._pending_actions.append(change)
        else:
            self._actions_stale = True

    @on(EventsPanel.FilterChanged)
    def _events_filter_changed(self) -> None:
        self._events_stale = True
        self.flush(self.app.clock.now())

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-overview":
            self._loaded.pop("locallist", None)  # the registry may have changed meanwhile
        else:
            self._focus_panel((event.pane.id or "").removeprefix("tab-"))
        self.flush(self.app.clock.now())

    # -- rendering -------------------------------------------------------------------

    def flush(self, now: datetime) -> None:
        """Render the tab on show; the others keep their buffers until they are shown."""
        if not self.display:
            return
        charger = self.charger
        tab = self.active_tab
        if charger is None:
            self.query_one("#overview-record", Readout).show(Content.styled("No charger selected", "$text-muted"))
            self.query_one("#overview-state", Readout).show("")
            return
        getattr(self, f"_flush_{tab}")(charger, now)

    def _needs(self, tab: str, charger: ChargerView) -> bool:
        """Start reading a tab's history when it has none for this charger; True once it has."""
        if self._loaded.get(tab) == charger.id:
            return True
        if tab not in self._loading:
            self._loading.add(tab)
            self.run_worker(getattr(self, f"_load_{tab}")(charger.id), group=f"detail-{tab}", exclusive=True)
        return False

    def _flush_overview(self, charger: ChargerView, now: datetime) -> None:
        self.query_one("#overview-record", Readout).show(record_lines(charger, self.app.zone))
        authorization = authorization_lines(charger, self._local_list if self._needs("locallist", charger) else None)
        self.query_one("#overview-state", Readout).show(Content.assemble(state_lines(charger, now, self.app.zone), "\n", authorization))

    def _flush_live(self, charger: ChargerView, now: datetime) -> None:
        self.query_one("#live-gauges", Readout).show(live_lines(charger))
        digits = self.query_one("#energy-digits", Digits)
        energy = f"{charger.session_energy_kwh:.2f}"
        if digits.value != energy:
            digits.update(energy)
        self.query_one("#lamps", Readout).show(lamp_lines(charger))
        if self._needs("live", charger):
            spark = self.query_one("#power-spark", Sparkline)
            # The power now ends the line, even when no sample came since the last one stored.
            samples = [*self._samples, (now, charger.current_power_kw)]
            spark.data = resample(samples, now, HISTORY_MINUTES, SPARK_BUCKETS)

    def _flush_actions(self, charger: ChargerView, now: datetime) -> None:
        if not self._needs("actions", charger):
            return
        table = self.query_one(ActionTable)
        pending, self._pending_actions = self._pending_actions, []
        if self._actions_stale or table.apply(pending, now):
            self._actions_stale = False
            self._loaded.pop("actions", None)
            self._needs("actions", charger)
        else:
            table.tick(now)

    def _flush_logs(self, charger: ChargerView, now: datetime) -> None:
        if not self._needs("logs", charger):
            return
        if self._pending_logs:
            self.query_one("#charger-logs", LogPanel).log.append(self._pending_logs)
            self._pending_logs.clear()

    def _flush_transactions(self, charger: ChargerView, now: datetime) -> None:
        # A session starts or stops with the charger's status; while one runs, its energy and
        # duration move: read again every TRANSACTIONS_REFRESH_S so the ongoing row stays true.
        running = charger.is_charging or charger.session_energy_kwh > 0
        key = (charger.id, charger.status, charger.is_charging, int(now.timestamp() // TRANSACTIONS_REFRESH_S) if running else None)
        if self._transactions_key != key:
            self._transactions_key = key
            self._loaded.pop("transactions", None)
        self._needs("transactions", charger)

    def _flush_events(self, charger: ChargerView, now: datetime) -> None:
        if self._events_stale and "events" not in self._loading:  # one read at a time; a later change waits for it
            self._events_stale = False
            self._loaded.pop("events", None)
        self._needs("events", charger)

    # -- reading history -------------------------------------------------------------

    async def _read(self, tab: str, charger_id: str, call: Any) -> Any:
        try:
            result = await call
        except ConsoleError as error:
            self.notify(str(error), title=f"Could not read {tab}", severity="error")
            result = None
        finally:
            self._loading.discard(tab)
        if charger_id != self.charger_id:
            return None
        self._loaded[tab] = charger_id
        return result

    async def _load_live(self, charger_id: str) -> None:
        backend = self.app.backend
        history = await self._read("live", charger_id, backend.power_history(charger_id, HISTORY_MINUTES))
        if history is None:
            return
        live = list(self._samples)
        self._samples.clear()
        self._samples.extend([(sample.at, sample.kw) for sample in history] + live)
        self.flush(self.app.clock.now())

    async def _load_actions(self, charger_id: str) -> None:
        backend = self.app.backend
        actions = await self._read("actions", charger_id, backend.list_actions(charger_id))
        if actions is None:
            return
        self._pending_actions.clear()
        self.query_one(ActionTable).show(actions, self.app.clock.now())

    async def _load_logs(self, charger_id: str) -> None:
        backend = self.app.backend
        entries = await self._read("logs", charger_id, backend.charger_logs(charger_id, limit=LOG_HISTORY))
        if entries is None:
            return
        log = self.query_one("#charger-logs", LogPanel).log
        log.show_history(entries)
        log.append(self._pending_logs)
        self._pending_logs.clear()

    async def _load_transactions(self, charger_id: str) -> None:
        backend = self.app.backend
        transactions = await self._read("transactions", charger_id, backend.list_transactions(charger_id))
        if transactions is None:
            return
        try:
            labels = {token.token.casefold(): token.label for token in await backend.list_tokens() if token.label}
        except ConsoleError:
            labels = {}  # the sessions without their tokens' labels, rather than none
        self.query_one(TransactionTable).show(transactions, self.charger, self.app.clock.now(), labels)

    async def _load_events(self, charger_id: str) -> None:
        panel = self.query_one(EventsPanel)
        events = await self._read(
            "events", charger_id, self.app.backend.charger_events(charger_id, kind=panel.kind, severity=panel.severity)
        )
        if events is not None:
            panel.show(events)

    def _flush_config(self, charger: ChargerView, now: datetime) -> None:
        self._needs("config", charger)

    async def _load_config(self, charger_id: str) -> None:
        view = await self._read("config", charger_id, self.app.backend.charger_configuration(charger_id))
        if view is not None and self.charger is not None:
            self.query_one(ConfigPanel).show(charger_id, self.charger.identity, view)

    def _flush_charging(self, charger: ChargerView, now: datetime) -> None:
        self._needs("charging", charger)

    async def _load_charging(self, charger_id: str) -> None:
        backend = self.app.backend
        reservations = await self._read("charging", charger_id, backend.list_reservations(charger_id))
        if reservations is None or self.charger is None:
            return
        try:
            profiles = await backend.installed_profiles(charger_id)
        except ConsoleError as error:
            self.notify(str(error), title="Could not read profiles", severity="error")
            profiles = []
        self.query_one(ChargingPanel).show(charger_id, self.charger.identity, reservations, profiles)

    async def _load_locallist(self, charger_id: str) -> None:
        local_list = await self._read("locallist", charger_id, self.app.backend.local_list(charger_id))
        if local_list is not None:
            self._local_list = local_list
            self.flush(self.app.clock.now())
