"""Destructive keys ask first (default No), naming the chargers and the live sessions that will end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static
from tui_fleet import FakeRuntime, make_app, settle

from console.cli import _console_app, build_parser
from console.core.service import ConsoleService
from console.tui.app import ConsoleApp
from console.tui.modals.confirm import ConfirmDialog
from console.tui.widgets.action_table import ActionTable
from console.tui.widgets.charger_table import ChargerTable

SIZE = (160, 48)


def main(app: Any) -> Any:
    return app.screen_stack[0]


def table(app: Any) -> ChargerTable:
    return main(app).query_one(ChargerTable)


def question(app: Any) -> str:
    assert isinstance(app.screen, ConfirmDialog), f"no question asked: {app.screen!r}"
    return str(app.screen.query_one("#confirm-question", Static).render())


async def select(pilot: Any, identity: str) -> None:
    chargers = table(pilot.app)
    index = [chargers.get_cell(charger_id, "identity") for charger_id in chargers.shown_ids].index(identity)
    chargers.move_cursor(row=index)
    await settle(pilot)


async def press(pilot: Any, *keys: str) -> None:
    await pilot.press(*keys)
    await pilot.pause()


async def test_stop_and_restart_mid_session_ask_and_default_to_no(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A01")  # charging: one live session
        for key in "xr":
            await press(pilot, key)
            text = question(app)
            assert "CP-A01" in text and "1 live session will end" in text
            await press(pilot, "enter")  # the focused button is No
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmDialog)
        assert runtime.calls == []
        await press(pilot, "x")
        await press(pilot, "y")
        await settle(pilot)
        assert runtime.calls == [("stop", "dep-0001")]


async def test_inoperative_and_unlock_mid_session_ask(live_service: ConsoleService, clock: Any, runtime: FakeRuntime) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A01")
        await press(pilot, "a")
        text = question(app)
        assert "inoperative" in text and "CP-A01" in text and "1 live session will end" in text
        await press(pilot, "escape")
        await press(pilot, "u")
        text = question(app)
        assert "Unlock" in text and "CP-A01" in text and "1 live session will end" in text
        await press(pilot, "n")
        await settle(pilot)
        assert await live_service.list_actions("dep-0001") == []


async def test_a_charger_without_a_session_is_stopped_at_once(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-B01")
        await press(pilot, "x")
        await settle(pilot)
        assert runtime.calls == [("stop", "dep-0004")]


async def test_every_bulk_action_asks_naming_the_chargers(live_service: ConsoleService, clock: Any, runtime: FakeRuntime) -> None:
    app = make_app(live_service, clock)
    app.confirm_single = False  # --yes
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table(app).toggle_mark("dep-0001")
        table(app).toggle_mark("dep-0004")
        for key in "sxr":
            await press(pilot, key)
            text = question(app)
            assert "2 chargers" in text and "CP-A01" in text and "CP-B01" in text
            await press(pilot, "escape")
            await settle(pilot)
        await press(pilot, "x")
        assert "1 live session will end" in question(app)
        await press(pilot, "escape")
        await press(pilot, "s")
        await press(pilot, "y")
        await settle(pilot)
        assert sorted(runtime.calls) == [("start", "dep-0001"), ("start", "dep-0004")]


async def test_yes_skips_the_question_for_one_charger(live_service: ConsoleService, clock: Any, runtime: FakeRuntime) -> None:
    app = make_app(live_service, clock)
    app.confirm_single = False  # --yes
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A01")
        await press(pilot, "x")
        await settle(pilot)
        assert runtime.calls == [("stop", "dep-0001")]


async def test_cancel_is_ctrl_k_and_asks_k_only_moves(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "colon", *"actions", "enter")
        await settle(pilot)
        actions = main(app).query_one("#fleet-actions", ActionTable)
        assert app.focused is actions and actions.row_count == 1
        await press(pilot, "k")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert (await live_service.list_actions("dep-0002"))[0].state == "scheduled"
        await press(pilot, "ctrl+k")
        text = question(app)
        assert "charge" in text and "CP-A02" in text
        await press(pilot, "enter")
        await settle(pilot)
        assert (await live_service.list_actions("dep-0002"))[0].state == "scheduled"
        await press(pilot, "ctrl+k")
        await press(pilot, "y")
        await settle(pilot)
        assert (await live_service.list_actions("dep-0002"))[0].state == "cancelled"


async def test_the_app_asks_for_single_chargers_by_default(live_service: ConsoleService, clock: Any) -> None:
    assert ConsoleApp(live_service, clock).confirm_single is True
    assert ConsoleApp(live_service, clock, confirm_single=False).confirm_single is False


async def test_yes_flag_and_setting_turn_off_the_single_charger_question(
    live_service: ConsoleService, clock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    parser = build_parser()
    assert parser.parse_args(["--yes"]).yes and parser.parse_args(["attach", "http://depot:8080", "--yes"]).yes
    assert not parser.parse_args([]).yes and not parser.parse_args(["attach", "http://depot:8080"]).yes
    assert _console_app(live_service, clock, None).confirm_single is True
    assert _console_app(live_service, clock, None, yes=True).confirm_single is False
    (tmp_path / "ocpp-console").mkdir()
    (tmp_path / "ocpp-console" / "settings.json").write_text(json.dumps({"confirm_single_charger": False}))
    assert _console_app(live_service, clock, None).confirm_single is False
