"""The unit a charger takes its charging limits in: watts, or amperes where it does not take watts.

1.6 says it in ChargingScheduleAllowedChargingRateUnit ("Current", "Power" or
both), 2.0.1 in SmartChargingCtrlr.RateUnit ("A", "W" or both). The console
reads it from the charger's kept configuration; until it knows, it sends watts
(OCPP's default). A limit in amperes is the power over the supply: per phase
at the nominal voltage, over the phases the charger uses (2.0.1's SupplyPhases
when reported, otherwise three for a charger above 7.4 kW and one below).
"""

from __future__ import annotations

from dataclasses import dataclass

NOMINAL_VOLTS = 230.0
# The most a single-phase supply gives at 32 A: above it, a charger is taken as three-phase.
SINGLE_PHASE_MAX_W = 7400
RATE_UNIT_KEYS = ("ChargingScheduleAllowedChargingRateUnit", "SmartChargingCtrlr.RateUnit")


@dataclass(frozen=True, slots=True)
class ChargingRate:
    """`unit` "W" or "A"; `phases` and `volts` turn a power into a current."""

    unit: str = "W"
    phases: int = 3
    volts: float = NOMINAL_VOLTS

    def limit(self, watts: float) -> float:
        """The limit to send for `watts`, in this unit: whole tenths, rounded down (never above what was meant)."""
        value = watts if self.unit == "W" else watts / (self.volts * self.phases)
        return int(value * 10) / 10


WATTS = ChargingRate()


def takes_only_amperes(value: str | None) -> bool:
    """Whether a rate-unit value ("Current,Power", "A", "W,A", …) leaves watts out."""
    if not value:
        return False
    words = {word.strip().casefold() for word in value.replace(";", ",").split(",") if word.strip()}
    watts = bool(words & {"power", "w"})
    amperes = bool(words & {"current", "a"})
    return amperes and not watts


def default_phases(max_power_w: float) -> int:
    return 3 if max_power_w > SINGLE_PHASE_MAX_W else 1


def charging_rate(rate_unit: str | None, supply_phases: str | None, max_power_w: float) -> ChargingRate:
    """The rate a charger takes, from its configuration's rate unit and supply phases (None: not reported)."""
    if not takes_only_amperes(rate_unit):
        return WATTS
    phases = default_phases(max_power_w)
    if supply_phases and supply_phases.strip().isdigit() and 1 <= int(supply_phases) <= 3:
        phases = int(supply_phases)
    return ChargingRate("A", phases)
