"""A simulated depot night on the planner: vans arrive, charge by the plan, leave at their departure.

Each van is a simulated EV (`ev.py`: battery, state of charge, taper) on a
22 kW charger. Time runs in steps (a minute by default); the location is
re-planned as the console does it: at each arrival and departure, at every
slot boundary, and when a van draws less than planned (it is then planned at
what it draws). Each van draws what the plan gives it now, or less when its
battery takes less. The same night under equal shares of the cap (the console
without a planner) and the offline optimum (one LP knowing every arrival
ahead) give the figures to compare with.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from console.core.planner import SLOT_MINUTES, SessionNeed, equal_share, plan, slot_prices, slot_start
from console.sim.ev import EV

CHARGER_KW = 22.0
NIGHT = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
# A short draw worth re-planning for (kW).
SHORT_DRAW_KW = 1.0


@dataclass
class Van:
    key: str
    arrival: datetime
    departure: datetime
    need_kwh: float
    ev: EV
    delivered_kwh: float = 0.0
    observed_kw: float | None = None


@dataclass
class NightResult:
    policy: str
    cost: float
    max_draw_kw: float
    delivered: dict[str, float]
    needs: dict[str, float]
    # Each miss a plan said before the van left: key -> (when it was first said, the last plan's shortfall in kWh).
    reported: dict[str, tuple[datetime, float]] = field(default_factory=dict)
    plans: int = 0
    slowest_plan_ms: float = 0.0

    @property
    def misses(self) -> dict[str, float]:
        return {
            key: round(self.needs[key] - got, 3) for key, got in self.delivered.items() if self.needs[key] - got > 0.05
        }


def night_tariff() -> list[float]:
    """0.10 per kWh from 23:00 to 06:00 UTC, 0.30 otherwise."""
    return [0.10 if slot >= 92 or slot < 24 else 0.30 for slot in range(96)]


def vans(seed: int = 21, count: int = 20, start: datetime = NIGHT) -> list[Van]:
    """`count` vans arriving 17:00-20:00 needing 40-80 kWh, leaving 05:00-07:00."""
    rng = random.Random(seed)
    fleet = []
    for number in range(count):
        need = round(rng.uniform(40, 80), 1)
        fleet.append(
            Van(
                key=f"van-{number + 1:02d}",
                arrival=start + timedelta(minutes=rng.randrange(0, 180)),
                departure=start + timedelta(hours=12, minutes=rng.randrange(0, 120)),
                need_kwh=need,
                ev=EV(battery_kwh=round(rng.uniform(120, 150), 1), soc=round(rng.uniform(5, 15), 1), max_power_w=CHARGER_KW * 1000),
            )
        )
    return fleet


def offline_optimum(fleet: list[Van], cap_kw: float, tariff: list[float], start: datetime = NIGHT) -> float:
    """The cost of one LP over the night knowing every arrival ahead (the bound the planner is held to)."""
    slots = int((max(van.departure for van in fleet) - start).total_seconds() // (SLOT_MINUTES * 60)) + 1
    needs = [SessionNeed(van.key, CHARGER_KW, van.need_kwh, van.departure, arrival=van.arrival) for van in fleet]
    return plan(needs, start, cap_kw=cap_kw, prices=slot_prices(tariff, start, slots), slots=slots).cost


def run_night(
    fleet: list[Van], cap_kw: float, tariff: list[float], *, policy: str = "plan", step_s: int = 60, start: datetime = NIGHT
) -> NightResult:
    """The night as `policy` runs it: "plan" (the planner) or "equal" (equal shares of the cap)."""
    fleet = [Van(van.key, van.arrival, van.departure, van.need_kwh, EV(van.ev.battery_kwh, van.ev.soc, van.ev.max_power_w)) for van in fleet]
    result = NightResult(policy, 0.0, 0.0, {}, {van.key: van.need_kwh for van in fleet})
    end = max(van.departure for van in fleet)
    now = start
    present: list[Van] = []
    limits: dict[str, float] = {}
    replan = True
    while now < end:
        for van in fleet:
            if van.arrival <= now and van not in present and van.key not in result.delivered:
                present.append(van)
                replan = True
        for van in list(present):
            if van.departure <= now:
                present.remove(van)
                result.delivered[van.key] = round(van.delivered_kwh, 3)
                replan = True
        if now == slot_start(now):
            replan = True
        if replan and present:
            limits = _limits(present, now, cap_kw, tariff, policy, result)
            replan = False
        price = tariff[(now.hour * 60 + now.minute) // SLOT_MINUTES]
        total = 0.0
        for van in present:
            limit = limits.get(van.key, 0.0)
            draw = van.ev.power_w(limit * 1000) / 1000 if van.delivered_kwh < van.need_kwh - 1e-6 else 0.0
            # The charger meters what went in; a van never takes more than its need's remainder.
            energy = van.ev.charge(min(draw * 1000, (van.need_kwh - van.delivered_kwh) * 3_600_000 / step_s), step_s) / 1000
            van.delivered_kwh += energy
            total += energy * 3600 / step_s
            result.cost += energy * price
            if policy == "plan" and limit - draw > SHORT_DRAW_KW and draw > 0:
                van.observed_kw = draw
                replan = True
        result.max_draw_kw = max(result.max_draw_kw, total)
        now += timedelta(seconds=step_s)
    for van in present:
        result.delivered[van.key] = round(van.delivered_kwh, 3)
    return result


def _limits(present: list[Van], now: datetime, cap_kw: float, tariff: list[float], policy: str, result: NightResult) -> dict[str, float]:
    if policy == "equal":
        bounds = [CHARGER_KW if van.delivered_kwh < van.need_kwh - 1e-6 else 0.0 for van in present]
        return {van.key: kw for van, kw in zip(present, equal_share(cap_kw, bounds), strict=True)}
    start = slot_start(now)
    needs = [
        SessionNeed(
            van.key,
            min(CHARGER_KW, van.observed_kw or CHARGER_KW),
            max(0.0, van.need_kwh - van.delivered_kwh),
            van.departure,
        )
        for van in present
    ]
    began = time.perf_counter()
    current = plan(needs, start, now=now, cap_kw=cap_kw, prices=slot_prices(tariff, start))
    result.plans += 1
    result.slowest_plan_ms = max(result.slowest_plan_ms, (time.perf_counter() - began) * 1000)
    for key in current.misses:
        item = current.session(key)
        assert item is not None
        first = result.reported.get(key, (now, 0.0))[0]
        result.reported[key] = (first, item.shortfall_kwh)
    return {item.key: item.power_kw[0] for item in current.sessions}
