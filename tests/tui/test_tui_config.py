"""The Config tab (7): a real 1.6 charger's 200 keys fetched with `f`, shown again without asking, one changed with
`enter` after a confirmation that warns when the key can strand the charger."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.setting_form import SettingForm
from console.tui.widgets.config_panel import ConfigPanel

sys.path.insert(0, str(Path(__file__).parents[1] / "csms"))
from ocpp_clients import charge_point, eventually  # noqa: E402
from test_configuration import Big16  # noqa: E402
from test_tui_events import select, until  # noqa: E402

SIZE = (160, 48)


@pytest.fixture
async def central(live_service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(live_service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


def row_of(panel: ConfigPanel, key: str) -> int:
    return [panel.table.get_row_at(index)[0] for index in range(panel.table.row_count)].index(key)


async def test_the_config_tab_fetches_shows_and_changes_keys(live_service: ConsoleService, clock: Any, central: CentralSystem) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot, charge_point(central.url, "CP-A02", "ocpp1.6", client=Big16) as cp:
        await eventually(lambda: central.is_connected("CP-A02"))
        await settle(pilot)
        await select(pilot, "CP-A02")
        await pilot.press("7")
        await settle(pilot)
        main = app.screen_stack[0]
        panel = main.query_one("#charger-config", ConfigPanel)
        assert main.detail.active_tab == "config" and panel.table.row_count == 0
        assert "never fetched" in str(panel.query_one("#config-status", Static).render())

        panel.table.focus()
        await pilot.press("f")
        await until(pilot, lambda: panel.table.row_count == 200)
        status = str(panel.query_one("#config-status", Static).render())
        assert "200 keys, fetched" in status
        assert "fetched 2026-04-02 09:15:05 UTC " in status, status  # a time says its zone, as everywhere in the console

        panel.table.move_cursor(row=row_of(panel, "HeartbeatInterval"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SettingForm)
        app.screen.query_one("#field-value", Input).value = "300"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog) and "from 60 to 300" in app.screen.question
        assert "strand" not in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: cp.changes == [("HeartbeatInterval", "300")])
        await until(pilot, lambda: panel.table.get_row_at(row_of(panel, "HeartbeatInterval"))[1] == "300")
        assert panel.table.get_row_at(panel.table.cursor_row)[0] == "HeartbeatInterval"  # the cursor stays on the key

        panel.table.move_cursor(row=row_of(panel, "CentralSystemURL"))
        await pilot.press("enter")
        await settle(pilot)
        assert "strand" in str(app.screen.query_one("#setting-warning", Static).render())
        app.screen.query_one("#field-value", Input).value = "ws://elsewhere/ocpp"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog) and "strand the charger" in app.screen.question
        await pilot.press("escape")  # No: nothing is sent
        await settle(pilot)
        assert cp.changes == [("HeartbeatInterval", "300")]

        # Another charger and back: what was kept shows without asking the charger again.
        await select(pilot, "CP-A01")
        await select(pilot, "CP-A02")
        await until(pilot, lambda: panel.table.row_count == 200)
        fetches = [a for a in await live_service.list_actions("dep-0002") if a.command == "get_configuration"]
        assert len(fetches) == 1
