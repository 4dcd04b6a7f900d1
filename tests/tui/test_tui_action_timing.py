"""Actions that wait say when they will run, in the console's time zone, and count down."""

from __future__ import annotations

from typing import Any

from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.tui.widgets.action_table import ActionTable

SIZE = (160, 48)


async def test_scheduled_and_windowed_actions_say_when_they_run(live_service: ConsoleService, clock: Any) -> None:
    # The clock reads 09:15:05 UTC.
    scheduled = await live_service.send_command("dep-0004", "idle", {}, "scheduled", start="2026-04-02T09:19:15Z")
    windowed = await live_service.send_command("dep-0003", "charge", {"powerLimit": 11}, "windowed", start="2026-04-02T22:00:00Z", end="2026-04-03T06:00:00Z")
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"actions", "enter")
        await settle(pilot)
        table = app.screen.query_one("#fleet-actions", ActionTable)
        assert table.get_cell(scheduled.id, "timing") == "in 4m 10s"
        assert table.get_cell(windowed.id, "timing") == "window 22:00–06:00"
        clock.advance(60)
        await settle(pilot)
        assert table.get_cell(scheduled.id, "timing") == "in 3m 10s"
        # Once over, how long it took.
        await live_service.cancel_action(scheduled.id)
        await settle(pilot)
        assert table.get_cell(scheduled.id, "timing").startswith("took ")
        assert table.get_cell(windowed.id, "timing") == "window 22:00–06:00"


async def test_an_action_that_made_a_call_says_its_round_trip(live_service: ConsoleService, clock: Any) -> None:
    # What the ledger records of an immediate charge the charger answered in 42 ms.
    charge = await live_service.ledger.open("dep-0001", "charge", {"idTag": "T"})
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"actions", "enter")
        await settle(pilot)
        table = app.screen.query_one("#fleet-actions", ActionTable)
        assert table.get_cell(charge.id, "timing") == "0s ago"
        await live_service.ledger.settle(charge, "sent", None, operation="RemoteStartTransaction", sent_at=clock.now())
        await live_service.ledger.settle(charge, "completed", "remote start on connector 1: Accepted", via="acknowledged", duration_ms=42.4)
        await settle(pilot)
        await pilot.pause(0.6)  # the actions view flushes its changes a few times a second
        assert table.get_cell(charge.id, "timing") == "took 42 ms"
