"""An action whose outcome is unknown (the console stopped before the charger answered) reads apart and offers a check."""

from __future__ import annotations

from typing import Any

from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.tui.widgets.action_table import ActionTable
from console.tui.widgets.paint import state_cell

SIZE = (160, 48)


async def test_an_unknown_outcome_has_its_own_colour_and_ctrl_o_reads_the_charger(live_service: ConsoleService, clock: Any) -> None:
    charge = await live_service.ledger.open("dep-0001", "charge", {"idTag": "T"})
    await live_service.ledger.settle(charge, "sent", None, operation="RemoteStartTransaction", sent_at=clock.now())
    await live_service.ledger.settle(charge, "unknown", "outcome unknown: check the charger", reason="interrupted")
    failed = await live_service.ledger.open("dep-0002", "charge", {"idTag": "T"})
    await live_service.ledger.settle(failed, "failed", "offline", reason="offline")
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"actions", "enter")
        await settle(pilot)
        table = app.screen.query_one("#fleet-actions", ActionTable)
        unknown_cell = table.get_cell(charge.id, "state")
        assert unknown_cell == state_cell(app, "unknown") and "unknown" in unknown_cell
        assert unknown_cell.split("]")[0] != table.get_cell(failed.id, "state").split("]")[0]
        table.focus()
        table.move_cursor(row=table.get_row_index(failed.id))
        await settle(pilot)
        assert table.check_action("check_outcome", ()) is False
        table.move_cursor(row=table.get_row_index(charge.id))
        await settle(pilot)
        assert table.check_action("check_outcome", ()) is True
        await pilot.press("ctrl+o")
        await settle(pilot)
        told = [(notification.title, notification.message) for notification in app._notifications]
        assert any(title == "charge on CP-A01: outcome unknown" and "see whether it did the charge" in message for title, message in told), told
