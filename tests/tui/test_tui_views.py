"""The views `:` jumps to: actions, logs, locations (caps), unknown chargers (accept/reject)."""

from __future__ import annotations

from typing import Any

from textual.widgets import ContentSwitcher, Input, Static
from tui_fleet import make_app, settle

from console.core.service import ConsoleService
from console.tui.modals.cap_form import CapForm
from console.tui.modals.confirm import ConfirmDialog
from console.tui.widgets.action_table import ActionTable
from console.tui.widgets.frame_log import FrameLog
from console.tui.widgets.header import FleetHeader
from console.tui.widgets.views import LocationTable, UnknownTable

SIZE = (160, 48)


def main(app: Any) -> Any:
    return app.screen_stack[0]


async def jump(pilot: Any, view: str) -> None:
    await pilot.press("colon", *view, "enter")
    await settle(pilot)


async def test_colon_jumps_to_each_view_and_escape_comes_back(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for view in ("actions", "logs", "locations", "unknown", "chargers"):
            await jump(pilot, view)
            assert main(app).view == view
            assert main(app).query_one(ContentSwitcher).current == f"view-{view}"
        await jump(pilot, "loc")
        assert main(app).view == "locations"
        # Charger keys do not apply outside the chargers view.
        assert main(app).check_action("charge", ()) is False
        await pilot.press("escape")
        await settle(pilot)
        assert main(app).view == "chargers"
        await jump(pilot, "nonsense")
        assert main(app).view == "chargers"
        assert any("no view" in notification.message for notification in app._notifications)


async def test_actions_view_lists_the_fleet_and_follows_changes(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await jump(pilot, "actions")
        actions = main(app).query_one("#fleet-actions", ActionTable)
        assert actions.row_count == 1 and actions.get_cell_at((0, 0)) == "CP-A02"
        await live_service.send_command("dep-0001", "idle", None, "scheduled", start="1h")
        await pilot.pause(0.5)
        await settle(pilot)
        assert actions.row_count == 2 and actions.get_cell_at((0, 0)) == "CP-A01"
        actions.move_cursor(row=0)
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert "cancelled" in actions.get_cell_at((0, 4))


async def test_logs_view_streams_the_fleet(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await jump(pilot, "logs")
        log = main(app).query_one("#fleet-logs").query_one(FrameLog)
        before = log.row_count
        assert before >= 5
        live_service.live.log_frame("CP-B01", "in", '[2,"hb-9","Heartbeat",{}]')
        await pilot.pause(0.5)
        await settle(pilot)
        assert log.row_count == before + 1
        assert log.get_cell_at((log.row_count - 1, 1)) == "CP-B01"
        await pilot.press("slash", *"CP-B01")
        await settle(pilot)
        assert log.row_count == 1


async def test_locations_view_sets_a_cap(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await jump(pilot, "locations")
        locations = main(app).query_one(LocationTable)
        assert locations.row_count == 2
        assert locations.get_cell("loc-north", "cap") == "150"
        assert locations.get_cell("loc-north", "delivered") == "7.4"
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CapForm)
        form.query_one("#field-power_cap_kw", Input).value = "-3"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "above 0" in str(form.query_one("#error-power_cap_kw", Static).render())
        form.query_one("#field-power_cap_kw", Input).value = "120"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, CapForm)
        caps = {location.id: location.power_cap_kw for location in await live_service.list_locations()}
        assert caps["loc-north"] == 120
        assert locations.get_cell("loc-north", "cap") == "120"
        header = str(main(app).query_one(FleetHeader).query_one("#header-headroom", Static).render())
        assert "North Depot 7/120 kW" in header


async def test_unknown_view_accepts_and_rejects(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await live_service.registrations.note_attempt("CP-OTHER", "10.0.0.78", "ocpp2.0.1")
        await jump(pilot, "unknown")
        unknown = main(app).query_one(UnknownTable)
        assert unknown.row_count == 2
        unknown.move_cursor(row=[row.key.value for row in unknown.ordered_rows].index("CP-STRANGER"))
        await pilot.press("a")
        await settle(pilot)
        identities = {charger.identity: charger for charger in await live_service.list_chargers()}
        assert identities["CP-STRANGER"].ocpp_version == "OCPP1.6"
        unknown.move_cursor(row=[row.key.value for row in unknown.ordered_rows].index("CP-OTHER"))
        await pilot.press("x")
        await settle(pilot)
        decisions = {charger.identity: charger.decision for charger in await live_service.list_unknown()}
        assert decisions.get("CP-OTHER") == "rejected"
        assert "CP-OTHER" not in {charger.identity for charger in await live_service.list_chargers()}


async def test_an_unknown_charger_is_told_once(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await live_service.registrations.note_attempt("CP-NEW", "10.0.0.79", "ocpp1.6")
        await live_service.registrations.note_attempt("CP-NEW", "10.0.0.79", "ocpp1.6")
        await pilot.pause(0.3)
        told = [n for n in app._notifications if "CP-NEW tried to connect" in n.message]
        assert len(told) == 1


async def test_help_lists_the_keys_of_the_view_on_show(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await jump(pilot, "unknown")
        await pilot.press("question_mark")
        await settle(pilot)
        descriptions = {description for _, description in app.screen.keys}
        assert {"Accept", "Reject", "View", "Help"} <= descriptions
        assert "Charge" not in descriptions
