"""The detail tabs of the selected charger and the keys on chargers: commands, marks, sort, palette."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.widgets import Digits, Input, Select, Static, TabbedContent
from tui_fleet import FakeRuntime, make_app, settle

from console.core.models import Transaction
from console.core.service import ConsoleService
from console.tui.commands import ChargerCommands
from console.tui.modals.command_form import CommandForm
from console.tui.modals.confirm import ConfirmDialog
from console.tui.modals.frame_json import FrameJson
from console.tui.widgets.action_table import ActionTable
from console.tui.widgets.charger_table import ChargerTable
from console.tui.widgets.detail import ChargerDetail, TransactionTable
from console.tui.widgets.frame_log import FrameLog

SIZE = (160, 48)


def main(app: Any) -> Any:
    return app.screen_stack[0]


def table(app: Any) -> ChargerTable:
    return main(app).query_one(ChargerTable)


def row_ids(app: Any) -> list[str]:
    return table(app).shown_ids


def messages(app: Any) -> list[str]:
    return [f"{notification.title}: {notification.message}" for notification in app._notifications]


async def select(pilot: Any, identity: str) -> None:
    chargers = table(pilot.app)
    index = [chargers.get_cell(charger_id, "identity") for charger_id in chargers.shown_ids].index(identity)
    chargers.move_cursor(row=index)
    await settle(pilot)


def text_of(widget: Any) -> str:
    return str(widget.render())


async def test_tabs_switch_with_number_keys_and_show_the_live_state(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        detail = main(app).query_one(ChargerDetail)
        assert detail.active_tab == "overview"
        overview = text_of(detail.query_one("#overview-state", Static))
        assert "registration" in overview and "security profile" in overview and "reconnects" in overview
        assert "CP-A01" in text_of(detail.query_one("#overview-record", Static))
        await pilot.press("2")
        await settle(pilot)
        assert detail.active_tab == "live"
        assert detail.query_one("#energy-digits", Digits).value == "12.35"
        gauges = text_of(detail.query_one("#live-gauges", Static))
        assert "7.4 / 22 kW max" in gauges and "7.4 / 22.0 kW limit (charger maximum)" in gauges
        # The busiest phase's current against the charger's maximum, and the EV's state of charge.
        assert "10.8 / 31.9 A max" in gauges and "47 %" in gauges
        assert "Charging" in text_of(detail.query_one("#lamps", Static))
        spark = detail.query_one("#power-spark")
        assert max(spark.data) == 7.4


async def test_live_tab_follows_meter_values(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        live_service.live.meter_values(
            "dep-0001", 1, None, [(clock.now(), "Power.Active.Import", None, "W", 11_000.0)]
        )
        await pilot.pause(0.5)
        await settle(pilot)
        detail = main(app).query_one(ChargerDetail)
        assert "11.0 / 22 kW max" in text_of(detail.query_one("#live-gauges", Static))
        assert detail.query_one("#power-spark").data[-1] == 11.0


async def test_actions_tab_lists_newest_first_and_ctrl_k_cancels_once_confirmed(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A02")
        await pilot.press("3")
        await settle(pilot)
        actions = main(app).query_one("#charger-actions", ActionTable)
        assert actions.row_count == 1
        assert "scheduled" in actions.get_cell_at((0, 3))
        actions.focus()
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        stored = await live_service.list_actions("dep-0002")
        assert stored[0].state == "cancelled"
        assert "cancelled" in actions.get_cell_at((0, 3))
        assert any("Action cancelled" in message for message in messages(app))
        assert actions.check_action("cancel_action", ()) is None


async def test_logs_tab_follows_filters_and_shows_json(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        log = main(app).query_one("#charger-logs").query_one(FrameLog)
        assert log.row_count == 5
        assert log.cursor_row == 4  # following the newest line
        log.focus()
        await pilot.press("f")
        assert log.follow is False
        live_service.live.log_frame("CP-A01", "in", '[2,"hb-1","Heartbeat",{}]')
        await pilot.pause(0.5)
        await settle(pilot)
        assert log.row_count == 6 and log.cursor_row == 4
        await pilot.press("slash", *"Status")
        await settle(pilot)
        assert log.row_count == 3  # the boot answer's "status" too
        await pilot.press("enter")
        log.move_cursor(row=1)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, FrameJson)
        assert '"connectorId": 1' in text_of(app.screen.query_one("#json-text", Static))
        await pilot.press("escape")
        await settle(pilot)
        log.focus()
        await pilot.press("escape")
        await settle(pilot)
        assert log.row_count == 6


async def test_transactions_tab_shows_sessions_with_energy(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        transactions = main(app).query_one(TransactionTable)
        assert transactions.row_count == 1
        assert transactions.get_cell_at((0, 4)) == "ongoing"
        assert transactions.get_cell_at((0, 6)) == "12.35"


async def test_transactions_tab_says_what_was_repaired(live_service: ConsoleService, clock: Any) -> None:
    live = live_service.live
    first = live.open_transaction("dep-0001", 1)
    clock.advance(60)
    # a start on the busy connector closes the open session; a stop for an id never seen is reconstructed
    second = await live.transaction_started("dep-0001", 1, "TAG-0002", 30_000, clock.now())
    await live.transaction_stopped("dep-0001", 987654, 1_014_000, clock.now(), "Local")
    rows = {row.reference: row for row in await live_service.list_transactions("dep-0001")}
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        transactions = main(app).query_one(TransactionTable)
        superseded = transactions.get_row(str(first))
        assert superseded[7] == "superseded"
        assert transactions.get_row(str(second))[7] == ""
        reconstructed = transactions.get_row(str(rows["987654"].id))
        assert reconstructed[3] == "—" and reconstructed[5] == "—"  # started, duration: never reported
        assert reconstructed[6] == "—"  # one reading tells no energy
        assert reconstructed[7] == "reconstructed, start unknown"


def test_repairs_in_short_words() -> None:
    from datetime import datetime, timezone

    from console.core.views import TransactionView
    from console.tui.format import repairs_cell

    moment = datetime(2026, 4, 2, tzinfo=timezone.utc)
    base = TransactionView(
        id=1, charger_id="dep-1", reference="1", connector_id=1, id_tag="T", started_at=moment, stopped_at=moment,
        energy_kwh=None, stop_reason=None,
    )
    assert repairs_cell(base) == ""
    incomplete = replace(base, reconstructed=True, incomplete=True, missing_seq_nos="1,3", start_known=False)
    assert repairs_cell(incomplete) == "reconstructed, start unknown, incomplete: seq 1,3"
    assert repairs_cell(replace(base, closed_by="reboot", meter_anomaly="meter went backwards")) == "closed at reboot, meter"
    assert repairs_cell(replace(base, clock_skewed=True)) == "clock"


def test_overview_shows_the_station_meter_and_a_wrong_clock() -> None:
    from datetime import datetime, timezone

    from console.core.views import ChargerView
    from console.tui.widgets.detail import state_lines

    moment = datetime(2026, 4, 2, tzinfo=timezone.utc)
    base = ChargerView(
        id="dep-1", identity="CP-1", name=None, vendor_name=None, model=None, image_url=None, ocpp_version="OCPP1.6",
        number_of_connectors=1, max_charging_power=22000, connector_type=None, location_id=None,
        created_at=moment, updated_at=moment,
    )
    plain = state_lines(base, moment).plain
    assert "station meter" not in plain and "clock" not in plain
    years_behind = -54.3 * 365.25 * 86_400
    shown = state_lines(replace(base, station_power_kw=11.1, station_energy_kwh=1234.5, clock_offset_s=years_behind), moment)
    assert "station meter         11.1 kW · 1234.50 kWh" in shown.plain
    assert "clock                 54.3 years behind: times shown as received" in shown.plain
    assert "2.0 days ahead" in state_lines(replace(base, clock_offset_s=2 * 86_400), moment).plain


async def test_c_sends_an_immediate_charge_with_a_limit(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CommandForm)
        form.query_one("#field-power_limit", Input).value = "7"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, CommandForm)
        action = (await live_service.list_actions("dep-0001"))[0]
        assert action.command == "charge" and action.parameters == {"powerLimit": 7.0}
        assert any("Charge sent" in message for message in messages(app))


async def test_c_shows_errors_under_the_fields(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        form = app.screen
        form.query_one("#field-execution", Select).value = "scheduled"
        form.query_one("#field-power_limit", Input).value = "99"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CommandForm)
        assert "needs a start" in text_of(form.query_one("#error-start", Static))
        assert "at most 22 kW" in text_of(form.query_one("#error-power_limit", Static))
        # The backend's refusal lands under its field too.
        form.query_one("#field-power_limit", Input).value = ""
        form.query_one("#field-start", Input).value = "tomorrow"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CommandForm)
        assert "neither an ISO 8601" in text_of(form.query_one("#error-start", Static))
        assert len(await live_service.list_actions("dep-0001")) == 0
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, CommandForm)


async def test_a_conflict_is_shown_under_the_strategy_and_replace_works(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A02")  # already has a scheduled charge
        await pilot.press("i")
        await settle(pilot)
        form = app.screen
        form.query_one("#field-execution", Select).value = "scheduled"
        form.query_one("#field-start", Input).value = "1h"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "already has charge" in text_of(form.query_one("#error-on_conflict", Static))
        form.query_one("#field-on_conflict", Select).value = "cancel_and_replace"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, CommandForm)
        states = [(action.command, action.state) for action in await live_service.list_actions("dep-0002")]
        assert states == [("idle", "scheduled"), ("charge", "cancelled")]


async def test_space_marks_rows_and_bulk_keys_act_on_every_marked_one(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A02")
        await pilot.press("space", "space")
        await settle(pilot)
        assert table(app).marked == {"dep-0002", "dep-0003"}
        assert table(app).get_cell("dep-0002", "mark") == "✓"
        assert "2 marked" in text_of(main(app).query_one("#reason", Static))
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)  # every bulk action asks
        await pilot.press("y")
        await settle(pilot)
        assert runtime.calls == [("start", "dep-0002"), ("start", "dep-0003")]
        await pilot.press("escape")
        await settle(pilot)
        assert table(app).marked == set()


async def test_offline_charger_dims_the_online_keys_with_a_reason(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-B02")
        screen = main(app)
        for action in ("charge", "idle", "unlock", "availability"):
            assert screen.check_action(action, ()) is None
        assert screen.check_action("start", ()) is True
        assert "CP-B02 is offline" in text_of(screen.query_one("#reason", Static))
        assert "offline" in screen.active_bindings["c"].tooltip
        await pilot.press("c")
        await settle(pilot)
        assert not isinstance(app.screen, CommandForm)


async def test_a_toggles_availability(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-A03")
        await pilot.press("a")
        await settle(pilot)
        action = (await live_service.list_actions("dep-0003"))[0]
        assert action.command == "change_availability"
        assert action.parameters.get("type") == "Inoperative"
        assert any("Availability CP-A03" in message for message in messages(app))


async def test_r_on_a_real_charger_asks_first(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "CP-DC1")
        await pilot.press("r")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "OCPP Reset" in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert await live_service.list_actions("dep-0006") == []
        await pilot.press("r")
        await pilot.pause()
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert (await live_service.list_actions("dep-0006"))[0].command == "restart"
        assert any("Restart CP-DC1 failed" in message for message in messages(app))


async def test_o_cycles_the_sort_and_a_header_click_flips_it(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")  # name
        await settle(pilot)
        assert table(app).sort_column == "name"
        for _ in range(5):  # location, version, status, connection, power
            await pilot.press("o")
        await settle(pilot)
        assert table(app).sort_column == "power"
        assert row_ids(app)[0] == "dep-0001"
        table(app).sort_by("identity")
        table(app).sort_by("identity")  # the same column again: descending
        main(app).flush()
        await settle(pilot)
        assert row_ids(app) == ["dep-0006", "dep-0005", "dep-0004", "dep-0003", "dep-0002", "dep-0001"]


async def test_filter_prefixes(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status:available location:south")
        await settle(pilot)
        assert row_ids(app) == ["dep-0004"]
        main(app).query_one("#filter", Input).value = "vendor:abb"
        await settle(pilot)
        assert row_ids(app) == ["dep-0003"]


async def test_palette_finds_a_charger_and_offers_its_actions(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        provider = ChargerCommands(main(app))
        hits = sorted([hit async for hit in provider.search("charge CP-A02")], key=lambda hit: -hit.score)
        assert hits and "CP-A02" in str(hits[0].text)
        offline = [hit async for hit in provider.search("charge CP-B02")]
        assert not any("Charge CP-B02" in str(hit.text) for hit in offline)
        hits[0].command()
        await settle(pilot)
        assert isinstance(app.screen, CommandForm)
        assert app.screen.chargers[0].identity == "CP-A02"


async def test_narrow_terminal_keeps_the_table_and_enter_opens_the_detail(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main(app)
        assert table(app).compact and "location" not in table(app)._columns
        assert not screen.query_one(ChargerDetail).display
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one(ChargerDetail).display and not table(app).display
        await pilot.press("escape")
        await settle(pilot)
        assert table(app).display and not screen.query_one(ChargerDetail).display
        assert screen.query_one(TabbedContent)


def test_provisioning_stages_follow_the_runtime() -> None:
    from dataclasses import replace

    from console.tui.widgets.detail import stage_line

    from datetime import datetime, timezone

    from console.core.views import ChargerView

    moment = datetime(2026, 4, 2, tzinfo=timezone.utc)
    base = ChargerView(
        id="dep-1", identity="SIM-1", name=None, vendor_name=None, model=None, image_url=None, ocpp_version="OCPP1.6",
        number_of_connectors=1, max_charging_power=22000, connector_type=None, location_id=None,
        created_at=moment, updated_at=moment, simulated=True,
    )

    def marks(runtime: str, detail: str | None = None) -> str:
        line = stage_line(replace(base, runtime=runtime, runtime_detail=detail))
        return line.plain.split(maxsplit=1)[1] if line is not None else ""

    assert marks("connecting").split() == ["✓", "queued", "✓", "starting", "●", "connecting", "·", "registering", "·", "online"]
    assert marks("online").count("✓") == 5
    assert "✗ connecting" in marks("crashed", "csms_unreachable: connection refused")
    assert "… registering" in marks("crashed", "boot_pending: the central system answered Pending")
    assert "✗ registering" in marks("crashed", "boot_rejected: Rejected")
    assert stage_line(replace(base, simulated=False, runtime="online")) is None


async def test_an_ongoing_session_keeps_up_with_its_meter(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        transactions = main(app).query_one(TransactionTable)
        assert transactions.get_cell_at((0, 6)) == "12.35"
        duration = transactions.get_cell_at((0, 5))
        live = live_service.live
        transaction_id = live.open_transaction("dep-0001", 1)
        row = await live_service.store.run(lambda session: session.get(Transaction, transaction_id))
        register = row.meter_start_wh + (live.session_energy_wh("dep-0001", 1) or 0.0)
        clock.advance(30)
        # One kWh more on the meter than its last reading.
        live.meter_values("dep-0001", 1, transaction_id, [(clock.now(), "Energy.Active.Import.Register", None, "Wh", register + 1000)])
        await pilot.pause(0.3)
        await settle(pilot)
        assert transactions.get_cell_at((0, 6)) == "13.35"
        assert transactions.get_cell_at((0, 5)) != duration
