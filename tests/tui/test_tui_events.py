"""The charger's own events: an over-temperature NotifyEvent from a real 2.0.1 charger is in its Events tab, in
`:events`, and told as a notification; the filters narrow both."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.v201 import call
from rich.text import Text
from textual.widgets import Select
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.tui.widgets.charger_table import ChargerTable
from console.tui.widgets.event_table import EventsPanel, EventTable

sys.path.insert(0, str(Path(__file__).parents[1] / "csms"))
from ocpp_clients import charge_point  # noqa: E402  (the real OCPP clients of tests/csms)

SIZE = (160, 48)
T0 = "2026-04-02T09:15:00Z"
OVER_TEMPERATURE = {
    "eventId": 7, "timestamp": T0, "trigger": "Alerting", "actualValue": "92",
    "component": {"name": "TemperatureSensor"}, "variable": {"name": "Temperature"},
    "eventNotificationType": "HardWiredNotification",
}
PERIODIC = {**OVER_TEMPERATURE, "eventId": 8, "trigger": "Periodic", "actualValue": "41"}


@pytest.fixture
async def central(live_service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(live_service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


def rows(table: EventTable) -> list[list[str]]:
    return [[Text.from_markup(cell).plain for cell in table.get_row_at(index)] for index in range(table.row_count)]


async def select(pilot: Any, identity: str) -> None:
    chargers = pilot.app.screen_stack[0].query_one(ChargerTable)
    index = [chargers.get_cell(charger_id, "identity") for charger_id in chargers.shown_ids].index(identity)
    chargers.move_cursor(row=index)
    await settle(pilot)


async def until(pilot: Any, condition: Any) -> None:
    for _ in range(40):
        await pilot.pause(0.05)
        await settle(pilot)
        if condition():
            return
    raise AssertionError("never came")


async def test_an_over_temperature_event_is_in_the_events_tab_and_told(
    live_service: ConsoleService, clock: Any, central: CentralSystem
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-B01")
        main = app.screen_stack[0]
        main.action_tab("events")
        await settle(pilot)
        panel = main.query_one("#charger-events", EventsPanel)
        assert panel.table.row_count == 0
        async with charge_point(central.url, "CP-B01", "ocpp2.0.1") as cs:
            await cs.call(call.NotifyEvent(generated_at=T0, seq_no=0, event_data=[PERIODIC]))
            await cs.call(call.NotifyEvent(generated_at=T0, seq_no=1, event_data=[OVER_TEMPERATURE]))
        await until(pilot, lambda: panel.table.row_count == 2)
        newest, older = rows(panel.table)
        assert newest[1:] == ["alert", "NotifyEvent", "TemperatureSensor Temperature = 92 (Alerting)"]
        assert older[1:] == ["info", "NotifyEvent", "TemperatureSensor Temperature = 41 (Periodic)"]
        # The alert, not the periodic reading, is told.
        told = [n for n in app._notifications if n.title == "CP-B01: NotifyEvent"]
        assert [(n.message, n.severity) for n in told] == [("TemperatureSensor Temperature = 92 (Alerting)", "error")]

        panel.query_one(".event-severity", Select).value = "alert"
        await until(pilot, lambda: panel.table.row_count == 1)
        assert rows(panel.table)[0][1] == "alert"


async def test_the_events_view_lists_the_fleet_and_filters_by_kind(
    live_service: ConsoleService, clock: Any, central: CentralSystem
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"events", "enter")
        await settle(pilot)
        main = app.screen_stack[0]
        assert main.view == "events"
        panel = main.query_one("#fleet-events", EventsPanel)
        # The fixed fleet's CP-A03 went Faulted before the console started.
        await until(pilot, lambda: panel.table.row_count == 1)
        assert [row[2:] for row in rows(panel.table)] == [["alert", "StatusNotification", "connector 1 Faulted (GroundFailure)"]]
        async with charge_point(central.url, "CP-B01", "ocpp2.0.1") as cs:
            await cs.call(call.NotifyEvent(generated_at=T0, seq_no=0, event_data=[OVER_TEMPERATURE]))
            await cs.call(call.SecurityEventNotification(type="TamperDetectionActivated", timestamp=T0))
        await until(pilot, lambda: panel.table.row_count == 3)
        assert [(row[0], row[2], row[3]) for row in rows(panel.table)] == [
            ("CP-B01", "security", "SecurityEvent"), ("CP-B01", "alert", "NotifyEvent"), ("CP-A03", "alert", "StatusNotification"),
        ]
        panel.query_one(".event-kind", Select).value = "SecurityEvent"
        await until(pilot, lambda: panel.table.row_count == 1)
        assert rows(panel.table)[0][4] == "TamperDetectionActivated"
        assert {n.title for n in app._notifications} >= {"CP-B01: NotifyEvent", "CP-B01: SecurityEvent"}
