"""A simulated depot night on the planner: 20 vans, a 150 kW cap, a night tariff; and the same night at 60 kW."""

from __future__ import annotations

import pytest

from console.sim.depotrun import night_tariff, offline_optimum, run_night, vans


def test_every_van_leaves_full_enough_under_the_cap_at_the_optimal_cost() -> None:
    fleet, tariff = vans(), night_tariff()
    night = run_night(fleet, 150, tariff)
    baseline = run_night(fleet, 150, tariff, policy="equal")
    optimum = offline_optimum(fleet, 150, tariff)
    print(f"planned {night.cost:.2f}, offline optimum {optimum:.2f}, equal shares {baseline.cost:.2f}")
    assert night.misses == {} and not night.reported
    assert night.max_draw_kw <= 150 + 1e-6
    assert night.cost == pytest.approx(optimum, rel=0.01)
    assert night.cost < 0.7 * baseline.cost


def test_a_cap_too_low_for_every_need_reports_the_misses_before_departure_as_planned() -> None:
    fleet, tariff = vans(), night_tariff()
    night = run_night(fleet, 60, tariff)
    assert night.max_draw_kw <= 60 + 1e-6
    assert night.misses
    departures = {van.key: van.departure for van in fleet}
    for key, shortfall in night.misses.items():
        said_at, planned = night.reported[key]
        assert said_at < departures[key]
        assert planned == pytest.approx(shortfall, abs=1.0)
