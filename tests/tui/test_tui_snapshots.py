"""How the console looks: fixed size, fixed fleet, a manual clock, workers finished before the shot."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input
from tui_fleet import make_app, settle

from console.core.clock import ManualClock
from console.core.service import ConsoleService

SIZE = (160, 48)


def _still_cursors(app: Any) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False


def test_main_screen(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)

    assert snap_compare(make_app(snapshot_service, clock), terminal_size=SIZE, run_before=run_before)


def test_main_screen_light_theme(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)

    app = make_app(snapshot_service, clock, theme_name="console-light")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_create_form_with_errors(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        _still_cursors(pilot.app)
        pilot.app.screen.query_one("#field-max_charging_power", Input).value = "-5"
        await pilot.press("ctrl+s")
        await settle(pilot)

    assert snap_compare(make_app(snapshot_service, clock), terminal_size=SIZE, run_before=run_before)


def test_delete_confirmation(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("down", "down")
        await settle(pilot)
        await pilot.press("ctrl+d")
        # The delete worker waits on the dialog's answer, so wait for the dialog, not for it.
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(make_app(snapshot_service, clock), terminal_size=SIZE, run_before=run_before)
