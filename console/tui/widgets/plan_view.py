"""The `:plan` view: a location's charging plan, each session's need and whether it makes it.

One location at a time (`n` for the next). The summary says the planner's
state, the cap, the plan's cost against equal shares and the sessions that
will miss. Each session row shows its need, what it has, what it will have at
departure, and a timeline of its planned power per slot (the next 12 hours, one
character per 15 minutes); the last rows are the total against the cap and the
tariff. `p` pins the selected session at full power now (or unpins it), `o`
switches the location's planner on or off (equal shares), `t` sets its tariff. The plan is read
again every few seconds while the view is on show.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual.widgets._data_table import CellDoesNotExist

from console.core.errors import ConsoleError
from console.core.views import ChargerView
from console.tui.modals.tariff_form import TariffForm
from console.tui.widgets.paint import paint
from console.tui.widgets.row_table import RowTable
from console.tui.widgets.views import FleetView

BARS = " ▁▂▃▄▅▆▇█"
TIMELINE_SLOTS = 48
REREAD_S = 3.0


def timeline(values: Sequence[float], top: float, slots: int = TIMELINE_SLOTS) -> str:
    """One bar character per slot, its height the value against `top`."""
    if top <= 0:
        return " " * min(slots, len(values))
    return "".join(BARS[min(8, max(0, round(value / top * 8)))] for value in values[:slots])


class PlanTable(RowTable):
    COLUMNS = (
        ("session", "Session", 16),
        ("source", "Need from", 9),
        ("depart", "Depart", 6),
        ("need", "Need kWh", 8),
        ("have", "Has kWh", 8),
        ("expected", "At dep.", 8),
        ("makes", "Makes it", 12),
        ("now", "kW now/plan", 12),
        ("timeline", "Next 12 h (15 min per mark)", TIMELINE_SLOTS + 1),
    )


class PlanView(FleetView):
    BINDINGS = [
        Binding("n", "next_location", "Next location", id="plan.next_location", tooltip="Show the next location's plan"),
        Binding("p", "pin", "Pin/unpin", id="plan.pin", tooltip="Charge the selected session at full power now, or back to the plan"),
        Binding("o", "toggle_planner", "Planner on/off", id="plan.toggle", tooltip="Switch the location's planner on or off (equal shares)"),
        Binding("t", "tariff", "Tariff", id="plan.tariff", tooltip="Set or remove the location's tariff (a price per 15 minutes)"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.location_ids: list[str] = []
        self.names: dict[str, str] = {}
        self.index = 0
        self.data: dict[str, Any] | None = None
        self._read_at = 0.0
        self._reading = False

    def compose(self) -> ComposeResult:
        yield Static("", id="plan-summary", markup=True)
        yield PlanTable(id="plan-table")

    @property
    def location_id(self) -> str | None:
        return self.location_ids[self.index % len(self.location_ids)] if self.location_ids else None

    async def load(self) -> None:
        locations = await self.app.backend.list_locations()
        self.location_ids = [location.id for location in locations]
        self.names = {location.id: location.name for location in locations}
        await self._read()

    async def _read(self) -> None:
        self._read_at = time.monotonic()
        location_id = self.location_id
        self.data = None if location_id is None else await self.app.backend.location_plan(location_id)
        self._show()

    async def _reread(self) -> None:
        try:
            await self._read()
        except ConsoleError as error:
            self.notify(str(error), title="Could not read the plan", severity="error")
        finally:
            self._reading = False

    def render_pending(self, now: datetime, chargers: Mapping[str, ChargerView]) -> None:
        if not self._reading and time.monotonic() - self._read_at >= REREAD_S:
            self._reading = True
            self.run_worker(self._reread(), group="plan-read", exclusive=True)

    def _show(self) -> None:
        summary = self.query_one("#plan-summary", Static)
        table = self.query_one(PlanTable)
        table.clear()
        data, location_id = self.data, self.location_id
        if data is None or location_id is None:
            summary.update("No location to plan: add one with the fleet file or the API.")
            return
        name = escape(self.names.get(location_id, location_id))
        plan = data.get("plan")
        if not data.get("enabled"):
            summary.update(f"{name}: planner off — equal shares of the cap. [b]o[/b] switches it on.")
            return
        if plan is None:
            summary.update(f"{name}: planner on, no plan yet.")
            return
        misses = plan["misses"]
        available = plan.get("availableKw")
        cap = "no cap" if available is None else f"cap {max(available):g} kW"
        tariff = "no tariff" if plan.get("prices") is None else "tariff set"
        verdict = (
            paint(self.app, "success", "every session makes it")
            if not misses
            else paint(self.app, "error", f"{len(misses)} will miss their need")
        )
        summary.update(
            f"{name}: {len(plan['sessions'])} sessions, {cap}, {tariff} · cost {plan['cost']:.2f} "
            f"(equal shares {plan['baselineCost']:.2f}) · {verdict}"
        )
        top = max([*(available or []), *(max(item["powerKw"], default=0) for item in plan["sessions"])], default=0)
        for item in plan["sessions"]:
            table.add_row(*self._cells(item, top), key=item["key"])
        totals = [sum(item["powerKw"][t] for item in plan["sessions"]) for t in range(len(plan["sessions"][0]["powerKw"]))] if plan["sessions"] else []
        if totals:
            table.add_row("total", "", "", "", "", "", "", f"{totals[0]:.1f}", timeline(totals, top), key="total")
        if available is not None:
            table.add_row("cap", "", "", "", "", "", "", f"{available[0]:.1f}", timeline(available, top), key="cap")
        prices = plan.get("prices")
        if prices:
            table.add_row("tariff", "", "", "", "", "", "", f"{prices[0]:g}", timeline(prices, max(prices)), key="tariff")

    def _cells(self, item: dict[str, Any], top: float) -> tuple[str, ...]:
        session = f"{item.get('identity', item['key'])}/{item.get('connectorId', '')}"
        if item.get("refused"):
            makes = paint(self.app, "warning", "refused")
        elif item["makesIt"]:
            makes = paint(self.app, "success", "yes")
        else:
            makes = paint(self.app, "error", f"short {item['shortfallKWh']:.1f}")
        pinned = " pinned" if item.get("pinned") else ""
        planned_now = item["powerKw"][0] if item["powerKw"] else 0.0
        return (
            escape(session),
            escape(item.get("source", "") + pinned),
            item["departBy"][11:16],
            f"{item.get('targetKWh', item['needKWh']):.1f}",
            f"{item.get('deliveredKWh', 0.0):.1f}",
            f"{item.get('expectedKWh', item['plannedKWh']):.1f}",
            makes,
            f"{item.get('drawingKw', 0.0):.1f}/{planned_now:.1f}",
            timeline(item["powerKw"], top),
        )

    @property
    def selected(self) -> dict[str, Any] | None:
        table = self.query_one(PlanTable)
        if not table.row_count or self.data is None or not self.data.get("plan"):
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return next((item for item in self.data["plan"]["sessions"] if item["key"] == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pin", "toggle_planner") and self.app.backend.info.read_only:
            return None
        if action == "pin":
            return True if self.selected is not None and "chargerId" in self.selected else None
        if action in ("toggle_planner", "tariff"):
            return True if self.location_id is not None else None
        return True

    async def action_next_location(self) -> None:
        if self.location_ids:
            self.index = (self.index + 1) % len(self.location_ids)
            await self._reread_now()

    async def action_pin(self) -> None:
        item = self.selected
        if item is None:
            return
        try:
            await self.app.backend.pin_session(item["chargerId"], item["connectorId"], not item.get("pinned"))
        except ConsoleError as error:
            self.notify(str(error), title="Pin", severity="error")
            return
        self.notify(f"{item['key']} {'unpinned' if item.get('pinned') else 'pinned at full power'}", title="Plan")
        await self._reread_now()

    async def action_toggle_planner(self) -> None:
        location_id = self.location_id
        if location_id is None:
            return
        enabled = not (self.data or {}).get("enabled")
        try:
            await self.app.backend.set_location_planner(location_id, enabled)
        except ConsoleError as error:
            self.notify(str(error), title="Planner", severity="error")
            return
        self.notify(f"planner {'on' if enabled else 'off: equal shares'}", title=self.names.get(location_id, location_id))
        await self._reread_now()

    def action_tariff(self) -> None:
        location_id = self.location_id
        if location_id is None:
            return

        def saved(result: dict[str, Any] | None) -> None:
            if result is not None:
                self.notify("tariff saved" if result.get("tariff") else "tariff removed", title=self.names.get(location_id, location_id))
                self.run_worker(self._reread_now(), group="plan-read", exclusive=True)

        tariff = (self.data or {}).get("tariff")
        self.app.push_screen(TariffForm(location_id, self.names.get(location_id, location_id), tariff), saved)

    async def _reread_now(self) -> None:
        try:
            await self._read()
        except ConsoleError as error:
            self.notify(str(error), title="Could not read the plan", severity="error")
        self.screen.refresh_bindings()
