"""How the console looks: fixed size, fixed fleet, a manual clock, workers finished before the shot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.widgets import Input, Select
from tui_fleet import make_app, settle

from console.core.clock import ManualClock
from console.core.service import ConsoleService

SIZE = (160, 48)


def _still_cursors(app: Any) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False


def shot(
    snap_compare: Any,
    service: ConsoleService,
    clock: ManualClock,
    steps: Callable[[Any], Awaitable[None]] | None = None,
    size: tuple[int, int] = SIZE,
    theme: str | None = None,
) -> bool:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        if steps is not None:
            await steps(pilot)
            await settle(pilot)
        _still_cursors(pilot.app)

    return snap_compare(make_app(service, clock, theme_name=theme), terminal_size=size, run_before=run_before)


def test_main_screen(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    assert shot(snap_compare, snapshot_service, clock)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_main_screen_sizes(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock, size: tuple[int, int]) -> None:
    assert shot(snap_compare, snapshot_service, clock, size=size)


def test_detail_open_at_80x24(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("enter")

    assert shot(snap_compare, snapshot_service, clock, steps, size=(80, 24))


@pytest.mark.parametrize("theme", ["console-light", "console-high-contrast", "textual-dark"])
def test_themes(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock, theme: str) -> None:
    assert shot(snap_compare, snapshot_service, clock, theme=theme)


@pytest.mark.parametrize("tab", ["live", "actions", "logs", "transactions", "events"])
def test_detail_tab(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock, tab: str) -> None:
    keys = {"live": "2", "actions": "3", "logs": "4", "transactions": "5"}

    async def steps(pilot: Any) -> None:
        if tab == "actions":
            await pilot.press("down")  # CP-A02 has a scheduled charge
            await settle(pilot)
        if tab == "events":
            await pilot.press("down", "down")  # CP-A03 went Faulted
            await settle(pilot)
            pilot.app.screen_stack[0].action_tab("events")
            return
        await pilot.press(keys[tab])

    assert shot(snap_compare, snapshot_service, clock, steps)


@pytest.mark.parametrize("view", ["actions", "logs", "events", "locations", "unknown"])
def test_view(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock, view: str) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("colon", *view, "enter")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_marked_rows(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("space", "space", "slash", *"location:north")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_create_form_with_errors(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("n")
        await settle(pilot)
        _still_cursors(pilot.app)
        pilot.app.screen.query_one("#field-max_charging_power", Input).value = "-5"
        await pilot.press("ctrl+s")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_charge_form_with_errors(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("c")
        await settle(pilot)
        form = pilot.app.screen
        form.query_one("#field-execution", Select).value = "windowed"
        form.query_one("#field-power_limit", Input).value = "99"
        form.query_one("#field-connector", Input).value = "3"
        await pilot.press("ctrl+s")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_idle_form_with_errors(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    # A conflict's message names the open action by its (random) id, so the shot shows the form's own checks.
    async def steps(pilot: Any) -> None:
        await pilot.press("i")
        await settle(pilot)
        form = pilot.app.screen
        form.query_one("#field-execution", Select).value = "scheduled"
        form.query_one("#field-connector", Input).value = "0"
        await pilot.press("ctrl+s")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_cap_form_with_an_error(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("colon", *"locations", "enter")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        pilot.app.screen.query_one("#field-power_cap_kw", Input).value = "lots"

    assert shot(snap_compare, snapshot_service, clock, steps)


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


def test_reset_confirmation(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("end")
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(make_app(snapshot_service, clock), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("question_mark")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_frame_json(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("4")
        await settle(pilot)
        pilot.app.screen.query_one("#charger-logs").log.focus()
        await pilot.press("up", "up", "up", "y")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_command_line(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("colon", "l", "o")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_update_form_with_errors(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("e")
        await settle(pilot)
        form = pilot.app.screen
        form.query_one("#field-identity", Input).value = "CP-A02"  # another charger's
        form.query_one("#field-number_of_connectors", Input).value = "9"
        await pilot.press("ctrl+s")

    assert shot(snap_compare, snapshot_service, clock, steps)


def test_lab_controls(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("v")
        # The lab worker waits on the dialog's answer, so wait for the dialog, not for it.
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(make_app(snapshot_service, clock), terminal_size=SIZE, run_before=run_before)


def test_command_palette(snap_compare: Any, snapshot_service: ConsoleService, clock: ManualClock) -> None:
    async def steps(pilot: Any) -> None:
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"A02")
        await pilot.pause(0.5)  # the palette searches in the background

    assert shot(snap_compare, snapshot_service, clock, steps)
