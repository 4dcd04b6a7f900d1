"""The Charging tab (8): a connector reserved with `n` and cancelled with `delete`, the composite schedule drawn
with `g`, against a real 1.6 charger."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call_result
from textual.widgets import Input, Static
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.reservation_form import ReservationForm
from console.tui.widgets.charging_panel import ChargingPanel, ReservationTable

sys.path.insert(0, str(Path(__file__).parents[1] / "csms"))
from ocpp_clients import charge_point, eventually  # noqa: E402
from test_reservations import Reserving16  # noqa: E402
from test_tui_events import select, until  # noqa: E402

SIZE = (160, 48)


class Scheduled16(Reserving16):
    @on("GetCompositeSchedule")
    def composite(self, connector_id: int, duration: int, **_: Any) -> call_result.GetCompositeSchedule:
        return call_result.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start="2026-04-02T09:15:00Z",
            charging_schedule={
                "duration": duration, "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 11000}, {"start_period": 1800, "limit": 3700}],
            },
        )


@pytest.fixture
async def central(live_service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(live_service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


async def test_the_charging_tab_reserves_cancels_and_draws_the_schedule(live_service: ConsoleService, clock: Any, central: CentralSystem) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot, charge_point(central.url, "CP-A02", "ocpp1.6", client=Scheduled16) as cp:
        await eventually(lambda: central.is_connected("CP-A02"))
        await settle(pilot)
        await select(pilot, "CP-A02")
        await pilot.press("8")
        await settle(pilot)
        main = app.screen_stack[0]
        panel = main.query_one("#charger-charging", ChargingPanel)
        assert main.detail.active_tab == "charging"
        table = panel.query_one(ReservationTable)
        table.focus()
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ReservationForm)
        app.screen.query_one("#field-id_tag", Input).value = "VAN-7"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: table.row_count == 1)
        assert not isinstance(app.screen, ReservationForm)
        assert table.get_row_at(0)[2] == "VAN-7" and table.get_row_at(0)[4] == "accepted"
        (held,) = cp.reserved.values()
        assert held["id_tag"] == "VAN-7"

        table.focus()
        await pilot.press("delete")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await until(pilot, lambda: table.get_row_at(0)[4] == "cancelled")
        assert cp.reserved == {}

        await pilot.press("g")
        chart = panel.query_one("#schedule-chart", Static)
        await until(pilot, lambda: "11000 W" in str(chart.render()))
        assert "3700 W" in str(chart.render()) and "+0:30:00" in str(chart.render())
