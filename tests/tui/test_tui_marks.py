"""Marks belong to chargers: bulk keys act on exactly the chargers marked, hidden ones only when the
operator said yes to them; a live sort never moves rows under the cursor while marking; `p` pauses."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static
from tui_fleet import FakeRuntime, make_app, settle

from console.core.service import ConsoleService
from console.tui.modals.confirm import ConfirmDialog
from console.tui.widgets.charger_table import HOLD_AFTER_MOVE, ChargerTable

SIZE = (160, 48)
# By power, highest first: CP-A01 is the one charging.
BY_POWER = ["dep-0001", "dep-0002", "dep-0003", "dep-0004", "dep-0005", "dep-0006"]


def main(app: Any) -> Any:
    return app.screen_stack[0]


def table(app: Any) -> ChargerTable:
    return main(app).query_one(ChargerTable)


def status_line(app: Any) -> str:
    return str(main(app).query_one("#reason", Static).render())


def header(app: Any) -> str:
    return str(main(app).query_one("#header-summary", Static).render())


def question(app: Any) -> str:
    assert isinstance(app.screen, ConfirmDialog), f"no question asked: {app.screen!r}"
    return str(app.screen.question)


def toasts(app: Any) -> list[str]:
    return [f"{notification.title}: {notification.message}" for notification in app._notifications]


async def press(pilot: Any, *keys: str) -> None:
    await pilot.press(*keys)
    await pilot.pause()


async def select(pilot: Any, identity: str) -> None:
    chargers = table(pilot.app)
    index = [chargers.get_cell(charger_id, "identity") for charger_id in chargers.shown_ids].index(identity)
    chargers.move_cursor(row=index)
    await settle(pilot)


async def filter_by(pilot: Any, text: str) -> None:
    await pilot.press("slash", *text, "enter")
    await settle(pilot)


async def starts_charging(service: ConsoleService, clock: Any, charger_id: str, watts: float, pilot: Any) -> None:
    """A live change that moves the charger up a sort by power, as the central system reports it."""
    await service.live.connector_status(charger_id, 1, "Charging", None)
    service.live.meter_values(charger_id, 1, None, [(clock.now(), "Power.Active.Import", None, "W", watts)])
    await pilot.pause(0.5)
    await settle(pilot)


async def sorted_by_power(pilot: Any) -> None:
    table(pilot.app).sort_by("power")
    main(pilot.app).flush()
    await settle(pilot)
    assert table(pilot.app).shown_ids == BY_POWER


# -- marks a filter hides ------------------------------------------------------------------


async def test_the_status_line_counts_the_marks_the_filter_hides(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for identity in ("CP-A01", "CP-B01"):  # CP-B01 is in South Yard
            await select(pilot, identity)
            await press(pilot, "space")
        await settle(pilot)
        assert "2 marked (0 hidden)" in status_line(app)
        await filter_by(pilot, "location:north")
        assert "2 marked (1 hidden)" in status_line(app)


async def test_a_bulk_key_on_hidden_marks_says_how_many_are_hidden(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table(app).toggle_mark("dep-0001")
        table(app).toggle_mark("dep-0004")
        await filter_by(pilot, "location:north")
        await press(pilot, "s")
        text = question(app)
        assert "2 chargers" in text and "1 of them hidden by the filter" in text
        await press(pilot, "enter")  # No
        await settle(pilot)
        assert runtime.calls == []
        await press(pilot, "s")
        await press(pilot, "y")
        await settle(pilot)
        assert sorted(runtime.calls) == [("start", "dep-0001"), ("start", "dep-0004")]


async def test_one_hidden_mark_is_asked_about_even_with_yes(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    app = make_app(live_service, clock)
    app.confirm_single = False  # --yes: one charger without a question, unless the filter hides it
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table(app).toggle_mark("dep-0004")
        await filter_by(pilot, "location:north")
        await select(pilot, "CP-A02")
        for key in "sc":
            await press(pilot, key)
            text = question(app)
            assert "CP-B01" in text and "hidden by the filter" in text
            assert "CP-A02" not in text  # the row under the cursor is not what the key acts on
            await press(pilot, "escape")
            await settle(pilot)
        assert runtime.calls == []


# -- marks under a live sort ---------------------------------------------------------------


async def test_space_marks_the_row_under_the_cursor_while_a_live_sort_would_move_it(
    live_service: ConsoleService, clock: Any
) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await sorted_by_power(pilot)
        await select(pilot, "CP-A01")
        await press(pilot, "space")  # marks CP-A01, the cursor goes down to CP-A02
        await starts_charging(live_service, clock, "dep-0004", 5_000, pilot)
        # CP-B01 now draws more than CP-A02: a live re-sort would put it under the cursor.
        assert table(app).shown_ids == BY_POWER
        assert table(app).get_cell("dep-0004", "power") == "5.0/22"  # the figures are live
        assert "order held" in str(table(app).border_title)
        await press(pilot, "space")
        assert table(app).marked == {"dep-0001", "dep-0002"}
        await press(pilot, "O")  # re-sort now
        await settle(pilot)
        assert table(app).shown_ids[:3] == ["dep-0001", "dep-0004", "dep-0002"]
        assert "order held" not in str(table(app).border_title)
        assert table(app).selected_id == "dep-0003"  # the cursor stays on its charger
        assert table(app).marked == {"dep-0001", "dep-0002"}


async def test_a_cursor_move_holds_the_order_for_a_few_seconds(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await sorted_by_power(pilot)
        await press(pilot, "down")
        await starts_charging(live_service, clock, "dep-0004", 5_000, pilot)
        assert table(app).shown_ids == BY_POWER
        assert "order held" in str(table(app).border_title)
        clock.advance(HOLD_AFTER_MOVE + 1)
        await pilot.pause(0.5)
        await settle(pilot)
        assert table(app).shown_ids[:3] == ["dep-0001", "dep-0004", "dep-0002"]
        assert "order held" not in str(table(app).border_title)


async def test_without_marks_or_a_recent_move_a_live_sort_reorders(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await sorted_by_power(pilot)
        await starts_charging(live_service, clock, "dep-0004", 5_000, pilot)
        assert table(app).shown_ids[:3] == ["dep-0001", "dep-0004", "dep-0002"]


async def test_p_pauses_live_updates_and_the_header_says_so(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "paused" not in header(app)
        await press(pilot, "p")
        await settle(pilot)
        assert "paused" in header(app)
        await starts_charging(live_service, clock, "dep-0002", 11_000, pilot)
        assert table(app).get_cell("dep-0002", "power") == "0.0/22"
        await filter_by(pilot, "CP-A")  # the operator's own keys still work on what is shown
        assert table(app).shown_ids == ["dep-0001", "dep-0002", "dep-0003"]
        await press(pilot, "escape")
        await press(pilot, "p")
        await pilot.pause(0.5)
        await settle(pilot)
        assert "paused" not in header(app)
        assert table(app).get_cell("dep-0002", "power") == "11.0/22"


# -- outcomes ------------------------------------------------------------------------------


async def test_a_bulk_action_tells_its_outcome_in_one_toast(live_service: ConsoleService, clock: Any, runtime: FakeRuntime) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for charger_id in ("dep-0001", "dep-0002", "dep-0006"):  # CP-DC1 is real and offline: its Reset fails
            table(app).toggle_mark(charger_id)
        before = len(toasts(app))
        await press(pilot, "r")
        await press(pilot, "y")
        await settle(pilot)
        told = toasts(app)[before:]
        assert len(told) == 1, told
        assert "restart: 2 done, 1 failed" in told[0] and ":actions" in told[0]
        assert "CP-DC1" in told[0]


async def test_a_bulk_charge_tells_its_outcomes_in_one_toast_once_all_are_over(
    live_service: ConsoleService, clock: Any, runtime: FakeRuntime
) -> None:
    live_service.attach(gateway=AnsweringGateway({"CP-A01", "CP-A03", "CP-B01"}, refusing="CP-B01"))
    await live_service.engine.start()
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        told: list[str] = []
        notify = app.notify

        def record(message: str, *, title: str = "", **options: Any) -> None:
            told.append(f"{title}: {message}")
            notify(message, title=title, **options)

        app.notify = record  # type: ignore[method-assign]
        for charger_id in ("dep-0001", "dep-0003", "dep-0004"):  # CP-B01 refuses its remote start
            table(app).toggle_mark(charger_id)
        await press(pilot, "c")
        await press(pilot, "y")
        await settle(pilot)
        await press(pilot, "ctrl+s")

        def outcomes() -> list[str]:
            return [toast for toast in told if toast.startswith("Charge ") and not toast.startswith("Charge sent")]

        for _ in range(50):
            clock.advance(1)
            await settle(pilot)
            if outcomes():
                break
    await live_service.engine.stop()
    assert len(outcomes()) == 1, told
    assert outcomes()[0].startswith("Charge 3 chargers") and "charge: 2 done, 1 failed (CP-B01)" in outcomes()[0], told


class AnsweringGateway:
    """The central system's side for chargers that answer every CALL at once: Accepted, or Rejected by one."""

    def __init__(self, connected: set[str], refusing: str) -> None:
        self.connected = connected
        self.refusing = refusing

    def is_connected(self, identity: str) -> bool:
        return identity in self.connected

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Rejected" if identity == self.refusing else "Accepted"}

    def disconnect(self, identity: str, reason: str) -> None:
        self.connected.discard(identity)
