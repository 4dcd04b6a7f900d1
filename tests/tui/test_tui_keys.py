"""What each key does, driven through the app over the real console service."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Static
from tui_fleet import FakeRuntime, make_app, settle

from console.core.service import ConsoleService
from console.tui.modals.charger_form import ChargerForm
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.help import HelpScreen
from console.tui.widgets.charger_table import LABELS, ChargerTable

SIZE = (160, 48)


def table(app: Any) -> ChargerTable:
    return app.screen_stack[0].query_one(ChargerTable)


def row_ids(app: Any) -> list[str]:
    return table(app).shown_ids


def messages(app: Any) -> list[str]:
    return [notification.message for notification in app._notifications]


async def select(pilot: Any, identity: str) -> None:
    chargers = table(pilot.app)
    index = [chargers.get_cell(charger_id, "identity") for charger_id in chargers.shown_ids].index(identity)
    chargers.move_cursor(row=index)
    await settle(pilot)


async def test_the_table_shows_the_fleet_sorted_by_identity(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        chargers = table(app)
        assert row_ids(app) == ["dep-0001", "dep-0002", "dep-0003", "dep-0004", "dep-0005", "dep-0006"]
        assert chargers.get_cell("dep-0001", "power") == "7.4/22"
        # Connected, and its last message 3 s ago (not "connected for 3 s").
        assert LABELS["connected"] == "Last msg"
        assert chargers.get_cell("dep-0001", "connected") == "● 3s ago"
        assert chargers.get_cell("dep-0005", "connected") == "○ offline"
        assert "charging" in chargers.get_cell("dep-0001", "status")
        assert chargers.get_cell("dep-0001", "energy") == "12.35"
        assert chargers.get_cell("dep-0001", "version") == "1.6"
        assert chargers.get_cell("dep-0004", "version") == "2.0.1"


async def test_n_creates_a_charger(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ChargerForm)
        await pilot.press(*"CP-NEW-01")
        app.screen.query_one("#field-max_charging_power", Input).value = "11000"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ChargerForm)
        identities = [charger.identity for charger in await live_service.list_chargers()]
        assert "CP-NEW-01" in identities
        assert any("Created CP-NEW-01" in message for message in messages(app))
        await settle(pilot)
        assert len(row_ids(app)) == 7


async def test_n_with_an_empty_identity_shows_the_error_under_the_field(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#field-max_charging_power", Input).value = "0"
        await pilot.press("ctrl+s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ChargerForm)
        assert "required" in str(form.query_one("#error-identity", Static).render())
        assert "more than 0 W" in str(form.query_one("#error-max_charging_power", Static).render())
        assert str(form.query_one("#error-name", Static).render()) == ""
        assert len(await live_service.list_chargers()) == 6
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ChargerForm)
        assert len(await live_service.list_chargers()) == 6


async def test_the_form_checks_fields_as_they_are_typed(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"CP-A01")
        await pilot.pause(ChargerForm.CHECK_DELAY + 0.2)
        await settle(pilot)
        assert "already used" in str(app.screen.query_one("#error-identity", Static).render())
        # An untouched field is not flagged while typing.
        assert str(app.screen.query_one("#error-max_charging_power", Static).render()) == ""


async def test_e_updates_the_selected_charger(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A02")
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ChargerForm)
        assert form.query_one("#field-identity", Input).value == "CP-A02"
        form.query_one("#field-name", Input).value = "Bay A02 (renamed)"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ChargerForm)
        assert (await live_service.get_charger("dep-0002")).name == "Bay A02 (renamed)"
        await settle(pilot)
        assert table(app).get_cell("dep-0002", "name") == "Bay A02 (renamed)"


async def test_ctrl_d_asks_and_no_keeps_the_charger(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-B01")
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.focused is not None and app.screen.focused.id == "no"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert "dep-0004" in row_ids(app)
        await live_service.get_charger("dep-0004")


async def test_ctrl_d_then_yes_deletes_the_charger(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-B01")
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert "dep-0004" in row_ids(app)
        await pilot.press("ctrl+d")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert "dep-0004" not in row_ids(app)
        assert "dep-0004" not in [charger.id for charger in await live_service.list_chargers()]
        assert any("Deleted CP-B01" in message for message in messages(app))


async def test_s_x_r_call_the_runtime_and_tell_the_outcome(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-B01")
        for key in "sxr":
            await pilot.press(key)
            await settle(pilot)
        assert runtime.calls == [("start", "dep-0004"), ("stop", "dep-0004"), ("restart", "dep-0004")]
        assert {"dep-0004 started", "dep-0004 stopped", "dep-0004 restarted"} <= set(messages(app))
        await settle(pilot)
        assert table(app).get_cell("dep-0004", "action") == "restart completed"


async def test_start_on_a_real_charger_is_dimmed_with_the_reason(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-DC1")  # a real charger: no runtime to start
        main = app.screen_stack[0]
        assert main.check_action("start", ()) is None
        assert "no simulated runtime" in main.active_bindings["s"].tooltip
        await pilot.press("s")
        await settle(pilot)
        assert runtime.calls == []
        assert app.is_running


async def test_the_footer_dims_charge_when_the_selected_charger_goes_offline(
    live_service: ConsoleService, clock: Any
) -> None:
    from textual.widgets._footer import FooterKey

    def charge_key_dimmed(app: Any) -> bool:
        key = next(key for key in app.screen.query(FooterKey) if key.action == "charge")
        return key.has_class("-disabled")

    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A01")
        assert not charge_key_dimmed(app)
        # The charger drops while selected: no key press, the next flush dims what needs it online.
        await live_service.live.disconnected("dep-0001")
        await settle(pilot)
        assert charge_key_dimmed(app)
        assert "offline" in app.screen.active_bindings["c"].tooltip
        await live_service.live.connected("dep-0001")
        await settle(pilot)
        assert not charge_key_dimmed(app)


async def test_a_failing_operation_is_an_error_notification(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A01")  # connected as far as the core knows, but no central system to send through
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)  # its session would end
        await pilot.press("y")
        await settle(pilot)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "offline" in errors[0].message
        actions = await live_service.list_actions("dep-0001")
        assert actions[0].command == "unlock" and actions[0].state == "failed"
        assert app.is_running


async def test_slash_filters_and_escape_restores(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"south")
        await settle(pilot)
        assert row_ids(app) == ["dep-0004", "dep-0005", "dep-0006"]
        await pilot.press("escape")
        await settle(pilot)
        assert len(row_ids(app)) == 6
        assert not app.screen.query_one("#filter", Input).display


async def test_filter_matches_status_and_vendor(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"faulted")
        await settle(pilot)
        assert row_ids(app) == ["dep-0003"]
        app.screen.query_one("#filter", Input).value = "kempower"
        await settle(pilot)
        assert row_ids(app) == ["dep-0006"]


async def test_question_mark_lists_every_key(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        descriptions = {description for _, description in app.screen.keys}
        assert {"New", "Edit", "Delete", "Start", "Stop", "Restart", "Charge", "Idle", "Unlock", "Avail.", "Mark", "Sort", "Filter", "View", "Help", "Quit"} <= descriptions
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_keys_that_cannot_apply_are_disabled(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = app.screen_stack[0]
        assert main.check_action("start", ()) is True
        assert main.check_action("clear_filter", ()) is False
        await pilot.press("slash")
        assert main.check_action("clear_filter", ()) is True



async def test_read_only_console_hides_the_write_keys(live_service: ConsoleService, clock: Any) -> None:
    watcher = ConsoleService(live_service.store, clock=clock, read_only=True)
    await watcher.open()
    app = make_app(watcher, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = app.screen_stack[0]
        for action in ("create", "update", "delete", "start", "stop", "restart", "charge", "idle", "unlock", "availability"):
            assert main.check_action(action, ()) is False
        assert main.check_action("filter", ()) is True
        await pilot.press("n")
        assert not isinstance(app.screen, ChargerForm)
    await watcher.close()


async def test_live_events_reach_the_table_after_a_flush(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).get_cell("dep-0002", "power") == "0.0/22"
        await live_service.live.connector_status("dep-0002", 1, "Charging", None)
        live_service.live.meter_values(
            "dep-0002", 1, None, [(clock.now(), "Power.Active.Import", None, "W", 11_000.0)]
        )
        await pilot.pause(0.5)
        assert table(app).get_cell("dep-0002", "power") == "11.0/22"
        assert "charging" in table(app).get_cell("dep-0002", "status")
        clock.advance(60)
        await pilot.pause(0.5)
        assert table(app).get_cell("dep-0001", "connected") == "● 1m ago"


async def test_lab_controls_on_a_simulated_charger(live_service: ConsoleService, clock: Any, runtime: FakeRuntime) -> None:
    from console.tui.modals.lab_controls import LabControls

    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A01")
        await pilot.press("v")
        for _ in range(3):
            await pilot.pause()  # the lab worker waits on the dialog: do not wait for it
        assert isinstance(app.screen, LabControls)
        await pilot.press("enter")  # the first control: plug in an EV
        await settle(pilot)
        assert runtime.calls == [("plug_in", "dep-0001")]
        await select(pilot, "CP-DC1")  # a real charger: dimmed, with the reason
        main = app.screen_stack[0]
        assert main.check_action("lab", ()) is None
        assert "simulated" in main.active_bindings["v"].tooltip


async def test_form_buttons_save_and_cancel(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ChargerForm)
        await pilot.click("#save")  # nothing filled in: the form stays, with the error under the field
        await settle(pilot)
        assert isinstance(app.screen, ChargerForm)
        assert "required" in str(app.screen.query_one("#error-identity", Static).render())
        await pilot.click("#cancel")
        await settle(pilot)
        assert not isinstance(app.screen, ChargerForm)
