"""The charge form carries a session's need for the planner: departure and kWh or target SoC, refusals under the fields."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Static

from console.core.service import ConsoleService
from console.tui.modals.command_form import CommandForm
from test_tui_detail import SIZE, make_app, settle, text_of


async def test_the_charge_form_sends_a_need_and_shows_its_refusals(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CommandForm)
        form.query_one("#field-need", Input).value = "40"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "needs a departure" in text_of(form.query_one("#error-depart_by", Static))
        # A departure the charger cannot fill 40 kWh by: the backend's refusal, under the need.
        form.query_one("#field-depart_by", Input).value = "1h"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CommandForm)
        assert "can deliver before departure" in text_of(form.query_one("#error-need", Static))
        form.query_one("#field-depart_by", Input).value = "8h"
        form.query_one("#field-need", Input).value = "80%/60"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, CommandForm)
        action = (await live_service.list_actions("dep-0001"))[0]
        assert action.parameters == {"departBy": "8h", "targetSoC": 80.0, "batteryKWh": 60.0}
        need = live_service.planner.need_of("dep-0001", 1)
        assert need is not None and need.target_soc == 80 and need.battery_kwh == 60
