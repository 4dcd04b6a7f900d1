"""Session arithmetic that must hold whatever a charger sends: energy that is never negative,
meters read per phase, and the seqNos of a 2.0.1 transaction with their gaps.

Plain functions, no store and no clock: the live state applies them as frames arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
# Phases whose readings add up to the whole (line to neutral, or a line as such); not N, not L1-L2.
LINE_PHASES = frozenset({"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"})

Sample = tuple[datetime, str, str | None, str | None, float]
# A signed reading: (time, measurand, phase, context, the signed data as sent, the plain value if any).
SignedSample = tuple[datetime, str, str | None, str | None, Any, float | None]


# Units read as thousands, in any case: 2.0.1's unit is free text, and firmware writes "kwh" too.
KILO_UNITS = frozenset({"kW", "kw", "KW", "Kw", "kWh", "kwh", "KWH", "KWh", "Kwh"})


def in_base_unit(value: float, unit: str | None) -> float:
    """W or Wh from W, Wh, kW or kWh (in any case)."""
    return value * 1000.0 if unit in KILO_UNITS else value


def _by_time(samples: Iterable[Sample], measurand: str) -> dict[datetime, float]:
    """A measurand's readings (W, Wh) by time: the total where a time has one, else the sum of its phases."""
    totals: dict[datetime, float] = {}
    phases: dict[datetime, float] = {}
    for at, name, phase, unit, value in samples:
        if name != measurand:
            continue
        if phase is None:
            totals[at] = in_base_unit(value, unit)
        elif phase in LINE_PHASES:
            phases[at] = phases.get(at, 0.0) + in_base_unit(value, unit)
    for at, summed in phases.items():
        totals.setdefault(at, summed)
    return totals


def register_readings(samples: Iterable[Sample]) -> list[tuple[datetime, float]]:
    """The energy register readings (Wh) among samples, in time order (meters that report per phase only are summed)."""
    return sorted(_by_time(samples, ENERGY).items())


def power_of(samples: Iterable[Sample]) -> float | None:
    """The power (W) at the latest time among samples: its total, else the sum of its phases."""
    readings = _by_time(samples, POWER)
    return readings[max(readings)] if readings else None


@dataclass(slots=True)
class Meter:
    """A session's energy register as its readings arrive: the forward steps are summed, and a
    step backwards (a meter swapped, rolled over or reset) is set aside, never counted negative:
    the energy across the jump itself is unknown, so it is left out rather than guessed."""

    last_wh: float | None = None
    forward_wh: float = 0.0
    count: int = 0
    jumps: list[tuple[float, float]] | None = None

    def read(self, value: float) -> None:
        last = self.last_wh
        if last is not None:
            if value >= last:
                self.forward_wh += value - last
            else:
                if self.jumps is None:
                    self.jumps = []
                self.jumps.append((last, value))
        self.last_wh = value
        self.count += 1

    @property
    def energy_wh(self) -> float | None:
        """None until two readings tell something (a meter that only went backwards tells nothing)."""
        if self.count < 2 or (self.jumps and not self.forward_wh):
            return None
        return self.forward_wh

    @property
    def anomaly(self) -> str | None:
        if not self.jumps:
            return None
        jumps = ", ".join(f"{before:g} -> {after:g} Wh" for before, after in self.jumps)
        return f"meter went backwards ({jumps}): energy counted from the readings on either side"


def seq_ranges(seen: Iterable[int]) -> str:
    """{0, 1, 2, 5, 7, 8} -> "0-2,5,7-8"."""
    numbers = sorted(set(seen))
    parts: list[str] = []
    start = previous = None
    for number in numbers:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(f"{start}-{previous}" if previous != start else str(start))
        start = previous = number
    if start is not None:
        parts.append(f"{start}-{previous}" if previous != start else str(start))
    return ",".join(parts)


def parse_seq_ranges(text: str | None) -> set[int]:
    seen: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        seen.update(range(int(first), int(last or first) + 1))
    return seen


def seq_gaps(seen: set[int]) -> list[int]:
    """The seqNos missing between the lowest and the highest received."""
    if not seen or max(seen) - min(seen) + 1 == len(seen):
        return []
    return [number for number in range(min(seen), max(seen)) if number not in seen]


def as_utc(moment: datetime) -> datetime:
    """A time read back from the store (naive there, always UTC) made aware again."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


# Why a session a Pending charger starts is not taken as valid (OCPP 1.6 §4.2.1 leaves transactions
# before acceptance to the charger's configuration; the central system need not honour them).
PENDING_SESSION = "the charger was Pending registration"


def session_refusal(registration: str) -> str | None:
    """Why a session started now on a charger of this registration is not valid; None when it is."""
    return PENDING_SESSION if registration == "pending" else None
