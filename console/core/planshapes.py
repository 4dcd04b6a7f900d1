"""What the depot planner takes and gives, in plain Python: a session's need, a plan, the slots and their checks.

Kept apart from `planner.py` (numpy and HiGHS) so the service, the fleet file
and the API load without them; the LP is imported on the first plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, time as clock_time, timedelta
from typing import Any

SLOT_MINUTES = 15
SLOTS = 96
# A shortfall under this (kWh) is rounding: the session makes it.
MET_TOLERANCE_KWH = 0.05


class PlanInputError(ValueError):
    """An input the planner cannot take: `field` names it, as a form or an envelope shows it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class SessionNeed:
    """What one session needs from now on."""

    key: str
    # The most it can take (kW): the charger's and the vehicle's maximum, whichever is lower.
    max_kw: float
    # Energy still to deliver (kWh) before `departure`.
    energy_kwh: float
    departure: datetime
    # Higher goes first when not every need can be met.
    priority: int = 0
    # Charge at full power now, whatever it costs.
    pinned: bool = False
    # Its charger refused its profile: it draws its maximum until full, and the plan works around it.
    uncontrolled: bool = False
    # When it arrives, for a plan made ahead (the offline optimum of a night); None: it is here.
    arrival: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionPlan:
    key: str
    power_kw: tuple[float, ...]
    need_kwh: float
    planned_kwh: float
    departure: datetime
    priority: int

    @property
    def shortfall_kwh(self) -> float:
        return max(0.0, round(self.need_kwh - self.planned_kwh, 3))

    @property
    def makes_it(self) -> bool:
        return self.shortfall_kwh <= MET_TOLERANCE_KWH


@dataclass(frozen=True, slots=True)
class Plan:
    start: datetime
    slot_minutes: int
    # The power left for the sessions per slot (kW): the cap minus the base load; None when uncapped.
    available_kw: tuple[float, ...] | None
    prices: tuple[float, ...] | None
    sessions: tuple[SessionPlan, ...]
    cost: float
    # What equal shares of the cap (the console without a planner) would cost for the same needs.
    baseline_cost: float
    baseline_shortfall_kwh: float
    solve_ms: float
    status: str = "optimal"
    misses: tuple[str, ...] = field(default=())

    def session(self, key: str) -> SessionPlan | None:
        return next((item for item in self.sessions if item.key == key), None)

    def slot_start(self, index: int) -> datetime:
        return self.start + timedelta(minutes=self.slot_minutes * index)

    def total_kw(self) -> list[float]:
        return [round(sum(item.power_kw[t] for item in self.sessions), 3) for t in range(self.slots)]

    @property
    def slots(self) -> int:
        return len(self.sessions[0].power_kw) if self.sessions else (len(self.prices or self.available_kw or ()) or SLOTS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "slotMinutes": self.slot_minutes,
            "status": self.status,
            "availableKw": list(self.available_kw) if self.available_kw is not None else None,
            "prices": list(self.prices) if self.prices is not None else None,
            "cost": round(self.cost, 4),
            "baselineCost": round(self.baseline_cost, 4),
            "baselineShortfallKWh": round(self.baseline_shortfall_kwh, 3),
            "solveMs": round(self.solve_ms, 1),
            "misses": list(self.misses),
            "sessions": [
                {
                    "key": item.key,
                    "departBy": item.departure.isoformat().replace("+00:00", "Z"),
                    "priority": item.priority,
                    "needKWh": round(item.need_kwh, 3),
                    "plannedKWh": round(item.planned_kwh, 3),
                    "shortfallKWh": item.shortfall_kwh,
                    "makesIt": item.makes_it,
                    "powerKw": [round(value, 3) for value in item.power_kw],
                }
                for item in self.sessions
            ],
        }


def check_series(name: str, values: Any, slots: int, *, allow_zero: bool = True) -> tuple[float, ...]:
    """A per-slot series (tariff, base load): exactly `slots` numbers, none negative or missing."""
    if not isinstance(values, (list, tuple)) or not values:
        raise PlanInputError(name, f"{name} must be a list of {slots} numbers, one per slot")
    if len(values) != slots:
        raise PlanInputError(name, f"{name} has {len(values)} slots; it must have {slots} (a gap or an extra slot)")
    result = []
    for index, value in enumerate(values):
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PlanInputError(name, f"{name} slot {index} is missing or not a number")
        if value < 0 or (value == 0 and not allow_zero):
            raise PlanInputError(name, f"{name} slot {index} is negative ({value})")
        result.append(float(value))
    return tuple(result)


def slot_prices(tariff: list[float] | None, start: datetime, slots: int = SLOTS) -> tuple[float, ...] | None:
    """The tariff's price (per kWh, 96 slots of the UTC day) for each slot of a plan from `start`."""
    if tariff is None:
        return None
    midnight = datetime.combine(start.date(), clock_time(0), tzinfo=start.tzinfo)
    first = int((start - midnight).total_seconds() // (SLOT_MINUTES * 60))
    return tuple(float(tariff[(first + t) % len(tariff)]) for t in range(slots))


def slot_start(at: datetime) -> datetime:
    """The start of the 15-minute slot `at` is in (the tariff's slots start at 00:00 UTC)."""
    return at.replace(minute=at.minute - at.minute % SLOT_MINUTES, second=0, microsecond=0)


def departure_slots(start: datetime, departure: datetime, slot_minutes: int, slots: int) -> float:
    """How many slots (fractional) lie between `start` and `departure`, within the horizon."""
    return max(0.0, min(float(slots), (departure - start).total_seconds() / (slot_minutes * 60)))
