"""The Live tab's "vs limit": the limit in force and where it comes from, as the core says."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.tui.widgets.charger_table import ChargerTable
from console.tui.widgets.detail import ChargerDetail

SIZE = (160, 48)


def gauges(app: Any) -> str:
    return str(app.screen_stack[0].query_one(ChargerDetail).query_one("#live-gauges", Static).render())


async def select(pilot: Any, identity: str) -> None:
    chargers = pilot.app.screen_stack[0].query_one(ChargerTable)
    index = [chargers.get_cell(charger_id, "identity") for charger_id in chargers.shown_ids].index(identity)
    chargers.move_cursor(row=index)
    await settle(pilot)


async def test_live_tab_shows_the_limit_in_force_and_its_source(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A01")
        await pilot.press("2")
        await settle(pilot)
        assert "22.0 kW limit (charger maximum)" in gauges(app)
        assert "no limit" not in gauges(app)

        live_service.live.limit_changed("dep-0001", 7.0, "command")  # the charger accepted a 7 kW charge
        await pilot.pause(0.5)
        await settle(pilot)
        assert "7.4 / 7.0 kW limit (command)" in gauges(app)

        await select(pilot, "CP-DC1")
        live_service.live.limit_changed("dep-0006", 24.0, "location cap")  # its share of South Yard's cap
        await pilot.pause(0.5)
        await settle(pilot)
        assert "24.0 kW limit (location cap)" in gauges(app)

        await select(pilot, "CP-A01")
        live_service.live.limit_changed("dep-0001", None, "command")  # a charge without a limit lifted it
        await pilot.pause(0.5)
        await settle(pilot)
        assert "22.0 kW limit (charger maximum)" in gauges(app)
