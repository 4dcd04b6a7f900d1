"""The planner's linear program on inputs whose answer is known by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from console.core.planner import PlanInputError, SessionNeed, check_series, plan

START = datetime(2026, 1, 1, 17, 0, tzinfo=UTC)


def need(key, max_kw, kwh, hours, priority=0, **more):
    return SessionNeed(key, max_kw, kwh, START + timedelta(hours=hours), priority=priority, **more)


def test_without_a_tariff_a_session_charges_at_once_and_stops_when_met():
    result = plan([need("a", 10, 5, 4)], START, slots=8)
    # 5 kWh at 10 kW is two 15-minute slots at full power, the first two.
    assert result.session("a").power_kw == (10, 10, 0, 0, 0, 0, 0, 0)
    assert result.session("a").makes_it


def test_the_cheapest_slots_are_chosen():
    prices = (0.4, 0.4, 0.1, 0.1, 0.4, 0.4, 0.2, 0.2)
    result = plan([need("a", 10, 5, 2)], START, prices=prices, slots=8)
    assert result.session("a").power_kw == (0, 0, 10, 10, 0, 0, 0, 0)
    assert result.cost == pytest.approx(5 * 0.1)
    # Equal shares charge at once, at the dear price.
    assert result.baseline_cost == pytest.approx(5 * 0.4)


def test_the_cap_holds_in_every_slot_and_the_cheap_slots_are_shared():
    prices = (0.3, 0.3, 0.1, 0.1)
    needs = [need("a", 10, 3, 1), need("b", 10, 3, 1)]
    result = plan(needs, START, cap_kw=12, prices=prices, slots=4)
    totals = result.total_kw()
    assert max(totals) <= 12 + 1e-6
    # The cheap half hour takes 12 kW x 0.5 h = 6 kWh: both needs, nothing in the dear slots.
    assert totals == [0, 0, 12, 12]
    assert result.cost == pytest.approx(0.6)
    assert not result.misses


def test_base_load_lowers_what_is_left():
    result = plan([need("a", 20, 5, 2)], START, cap_kw=20, base_load_kw=(15, 15, 0, 0, 0, 0, 0, 0), slots=8)
    assert result.session("a").power_kw[:4] == (5, 5, 10, 0)


def test_a_departure_ends_charging_and_an_impossible_need_says_by_how_much():
    # 1 hour at 10 kW is at most 10 kWh; 12 are asked.
    result = plan([need("a", 10, 12, 1)], START, slots=8)
    session = result.session("a")
    assert session.power_kw == (10, 10, 10, 10, 0, 0, 0, 0)
    assert session.shortfall_kwh == pytest.approx(2)
    assert result.misses == ("a",)


def test_a_departure_inside_a_slot_gives_that_slot_its_fraction():
    result = plan([need("a", 10, 20, 0.375)], START, slots=4)  # 22.5 minutes
    # Full power in both slots, but of the second only its first half counts: 2.5 + 1.25 kWh.
    assert result.session("a").power_kw == (10, 10, 0, 0)
    assert result.session("a").planned_kwh == pytest.approx(3.75)


def test_when_not_all_can_be_met_priority_then_earliest_departure_go_first():
    # 10 kW for one hour is 10 kWh for three sessions that each need 6.
    needs = [need("late", 10, 6, 1), need("early", 10, 6, 0.75), need("vip", 10, 6, 1, priority=5)]
    result = plan(needs, START, cap_kw=10, slots=4)
    assert result.session("vip").makes_it
    assert result.session("early").planned_kwh == pytest.approx(4)
    assert result.session("late").planned_kwh == pytest.approx(0)
    assert set(result.misses) == {"early", "late"}


def test_a_pinned_session_charges_at_full_power_now_even_when_dear():
    prices = (0.5, 0.5, 0.1, 0.1)
    result = plan([need("a", 10, 5, 1, pinned=True)], START, prices=prices, slots=4)
    assert result.session("a").power_kw == (10, 10, 0, 0)


def test_an_uncontrolled_session_is_planned_around():
    needs = [need("refused", 10, 5, 1, uncontrolled=True), need("b", 10, 5, 1)]
    result = plan(needs, START, cap_kw=12, slots=4)
    assert result.session("refused").power_kw == (10, 10, 0, 0)
    assert result.session("b").power_kw == (2, 2, 10, 6)
    assert not result.misses


def test_no_sessions_is_an_empty_plan():
    result = plan([], START, cap_kw=50, slots=4)
    assert result.sessions == () and result.cost == 0


@pytest.mark.parametrize(
    ("values", "text"),
    [([0.1] * 95, "95 slots"), ([0.1] * 95 + [-0.2], "negative"), ([0.1] * 95 + [None], "missing"), ("x", "list")],
)
def test_a_bad_tariff_is_refused_with_its_reason(values, text):
    with pytest.raises(PlanInputError, match=text) as error:
        check_series("tariff", values, 96)
    assert error.value.field == "tariff"


def test_a_plan_made_inside_a_slot_counts_only_the_rest_of_it():
    # Ten minutes into the first slot: 5 minutes at 12 kW is 1 kWh, then 3 kWh in the next slot.
    result = plan([need("a", 12, 4, 2)], START, now=START + timedelta(minutes=10), slots=4)
    assert result.session("a").power_kw[:2] == (12, 12)
    assert result.session("a").planned_kwh == pytest.approx(4)


def test_a_session_planned_ahead_charges_only_after_it_arrives():
    late = SessionNeed("a", 10, 5, START + timedelta(hours=2), arrival=START + timedelta(minutes=20))
    assert plan([late], START, slots=8).session("a").power_kw[:4] == (0, 0, 10, 10)


def test_a_re_plan_from_the_last_basis_finds_the_plan_made_from_nothing():
    import random

    rng = random.Random(3)
    needs = [need(f"s{i}", rng.choice((7.4, 11, 22)), rng.uniform(10, 40), rng.uniform(6, 14)) for i in range(60)]
    prices = tuple(0.1 if 24 <= t < 52 else 0.3 for t in range(96))
    warm: dict = {}
    plan(needs, START, cap_kw=250, prices=prices, warm=warm)
    assert warm["columns"] and warm["rows"]
    more = [*needs, need("late", 22, 30, 12.5)]
    again = plan(more, START, cap_kw=250, prices=prices, warm=warm)
    cold = plan(more, START, cap_kw=250, prices=prices)
    assert again.cost == pytest.approx(cold.cost, rel=1e-6)
    assert again.misses == cold.misses
