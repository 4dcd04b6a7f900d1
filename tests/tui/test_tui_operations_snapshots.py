"""How the operations menu (m) and an operation's form look, at the snapshots' fixed size."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, OptionList
from tui_fleet import make_app, settle

from console.core.clock import ManualClock
from console.core.service import ConsoleService

SIZE = (160, 48)


def shot(snap_compare: Any, service: ConsoleService, clock: ManualClock, steps: Any) -> bool:
    """The menu's worker waits on each modal, so the steps end without `settle` (which would wait for it)."""

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await steps(pilot)
        pilot.app.screen_stack[0].flush()
        await pilot.pause()

    return snap_compare(make_app(service, clock), terminal_size=SIZE, run_before=run_before)


async def _wait_for(pilot: Any, name: str) -> None:
    for _ in range(100):
        await pilot.pause(0.02)
        if type(pilot.app.screen).__name__ == name:
            return
    raise AssertionError(pilot.app.screen)


def test_operations_menu(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("m")
        await _wait_for(pilot, "OperationsMenu")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_operation_form_with_errors(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("m")
        await _wait_for(pilot, "OperationsMenu")
        options = pilot.app.screen.query_one(OptionList)
        options.highlighted = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == "ReserveNow")
        await pilot.press("enter")
        await _wait_for(pilot, "OperationForm")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        pilot.app.screen.query_one("#field-expiry", Input).value = "whenever"
        await pilot.press("ctrl+s")
        await pilot.pause()

    assert shot(snap_compare, snapshot_service, clock, steps)
