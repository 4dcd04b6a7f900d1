"""The `:plan` view: a location's plan read through the backend, the planner switched on and off from it."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from console.core.planner import SessionNeed, plan
from console.core.service import ConsoleService
from console.tui.widgets.plan_view import PlanView, timeline
from test_tui_detail import SIZE, make_app, settle, text_of
from test_tui_views import jump


def test_a_timeline_is_one_bar_per_slot() -> None:
    assert timeline([0, 5, 10], 10) == " ▄█"
    assert timeline([1, 2], 0) == "  "


async def test_plan_view_switches_the_planner_and_shows_the_plan(live_service: ConsoleService, clock: Any) -> None:
    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await jump(pilot, "plan")
        view = app.screen.query_one(PlanView)
        await pilot.pause()
        await settle(pilot)
        summary = view.query_one("#plan-summary", Static)
        assert "planner off" in text_of(summary)
        location_id = view.location_id
        await pilot.press("o")
        await settle(pilot)
        assert live_service.planner.planned(location_id)
        assert "0 sessions" in text_of(summary) or "no plan yet" in text_of(summary)
        # A plan with sessions, as the API gives it, is drawn row by row with its total, cap and tariff.
        now = clock.now()
        made = plan([SessionNeed("dep-x/1", 11, 20, now.replace(hour=23) if now.hour < 22 else now)], now, cap_kw=20, prices=(0.2,) * 96)
        view.data = {"locationId": location_id, "enabled": True, "plan": made.to_dict()}
        view._show()
        await pilot.pause()
        assert "every session makes it" in text_of(summary) or "will miss" in text_of(summary)
        assert view.query_one("#plan-table").row_count == 4  # the session, total, cap, tariff
        await pilot.press("o")
        await settle(pilot)
        assert not live_service.planner.planned(location_id)


def test_a_tariff_is_typed_in_runs_and_checked() -> None:
    from console.tui.modals.tariff_form import parse_tariff, shorthand

    prices, problem = parse_tariff("0.10x24, 0.30x72")
    assert problem == "" and prices is not None and len(prices) == 96 and prices[23] == 0.1 and prices[24] == 0.3
    assert shorthand(prices) == "0.1x24,0.3x72"
    assert "90 slots" in parse_tariff("0.1x90")[1]
    assert "0 or more" in parse_tariff("-0.1x96")[1]
    assert parse_tariff("") == (None, "")


async def test_t_sets_the_locations_tariff(live_service: ConsoleService, clock: Any) -> None:
    from textual.widgets import Input

    from console.tui.modals.tariff_form import TariffForm

    app = make_app(live_service, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await jump(pilot, "plan")
        await pilot.pause()
        await settle(pilot)
        view = app.screen.query_one(PlanView)
        location_id = view.location_id
        view.query_one("#plan-table").focus()
        await pilot.press("t")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, TariffForm)
        form.query_one("#field-tariff", Input).value = "0.1x95"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "95 slots" in text_of(form.query_one("#error-tariff", Static))
        form.query_one("#field-tariff", Input).value = "0.1x32,0.25x64"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, TariffForm)
        assert live_service.planner.settings[location_id].tariff == [0.1] * 32 + [0.25] * 64
