"""An action an API key asked for says which key in the Actions view (its id, never the key)."""

from __future__ import annotations

from typing import Any

from tui_fleet import make_app, settle

from console.core.models import acting_key
from console.core.service import ConsoleService
from console.tui.widgets.action_table import ActionTable

SIZE = (160, 48)


async def test_the_actions_view_names_the_key_that_asked(live_service: ConsoleService, clock: Any) -> None:
    token = acting_key.set("key_0a1b2c3d4e5f")  # as the REST API sets it for a request's work
    try:
        by_key = await live_service.send_command("dep-0004", "idle", {}, "scheduled", start="2026-04-02T09:19:15Z")
    finally:
        acting_key.reset(token)
    by_operator = await live_service.send_command("dep-0003", "idle", {}, "scheduled", start="2026-04-02T09:19:15Z")
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"actions", "enter")
        await settle(pilot)
        table = app.screen.query_one("#fleet-actions", ActionTable)
        assert str(table.get_cell(by_key.id, "detail")).startswith("key_0a1b2c3d4e5f: ")
        assert "key_" not in str(table.get_cell(by_operator.id, "detail"))
