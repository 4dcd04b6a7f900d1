"""The electric vehicle behind a simulated session: battery, acceptance, charging curve.

Pure arithmetic, no I/O, so the physics is easy to test and the same seed
always gives the same car.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

VOLTAGE = 230.0
PHASES = 3
# Above this state of charge the car draws less and less (constant-voltage phase).
TAPER_FROM_SOC = 80.0
# The lowest fraction of full power a nearly full car still draws.
TAPER_FLOOR = 0.05
# What on-board chargers and DC inlets typically accept, in W.
ACCEPTANCE_W = (7400, 11000, 11000, 22000, 50000, 100000, 150000)


@dataclass
class EV:
    battery_kwh: float
    soc: float
    max_power_w: float

    @classmethod
    def arriving(
        cls,
        rng: random.Random,
        battery_kwh: tuple[float, float] = (40.0, 100.0),
        soc: tuple[float, float] = (10.0, 60.0),
    ) -> EV:
        """A car as it plugs in: by default a 40–100 kWh battery, 10–60 % charged."""
        return cls(
            battery_kwh=round(rng.uniform(*battery_kwh), 1),
            soc=round(rng.uniform(*soc), 1),
            max_power_w=float(rng.choice(ACCEPTANCE_W)),
        )

    @property
    def full(self) -> bool:
        return self.soc >= 100.0

    def power_w(self, charger_max_w: float) -> float:
        """What the car draws now from a charger that offers `charger_max_w`."""
        if self.full:
            return 0.0
        power = min(charger_max_w, self.max_power_w)
        if self.soc > TAPER_FROM_SOC:
            power *= max(TAPER_FLOOR, (100.0 - self.soc) / (100.0 - TAPER_FROM_SOC))
        return power

    def charge(self, power_w: float, seconds: float) -> float:
        """Put `power_w` into the battery for `seconds`; returns the energy taken in Wh."""
        room_wh = (100.0 - self.soc) / 100.0 * self.battery_kwh * 1000.0
        energy_wh = min(room_wh, power_w * seconds / 3600.0)
        # Filling the room exactly makes it full, whatever the rounding says.
        self.soc = 100.0 if energy_wh >= room_wh else min(100.0, self.soc + energy_wh / (self.battery_kwh * 10.0))
        return energy_wh


def phase_current(power_w: float) -> float:
    """Current per phase of a balanced three-phase load at 230 V."""
    return power_w / (PHASES * VOLTAGE)
